// bench_audio_enc.cc - the engine-thread cost of G.711/PCM audio: one
// 1024-sample frame expanded (G.711) and encoded to AAC-LC ADTS
// (engine/codec/aac_enc.h), per format. The input is the test clips
// ($IVCS_MEDIA_DIR, made by scripts/make-media), cycled frame by frame.
//
//   BM_encode/<clip>   time per input frame; counters: frames/s one core
//                      can encode and the AAC bit rate produced. A real-time
//                      stream has rate/1024 frames/s: its share of a core is
//                      that times the time per frame (docs/PERF.md).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/codec/aac_enc.h"
#include "engine/core/alloc.h"

namespace
{

std::vector<uint8_t> slurp(const std::string &name)
{
    const char *dir = std::getenv("IVCS_MEDIA_DIR");
    std::string path = std::string(dir ? dir : "build/media") + "/" + name;
    std::vector<uint8_t> v;
    FILE *f = std::fopen(path.c_str(), "rb");
    if (!f) return v;
    uint8_t buf[65536];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) v.insert(v.end(), buf, buf + n);
    std::fclose(f);
    return v;
}

void BM_encode(benchmark::State &state, const char *clip, iv_cm_aenc_type_e type, uint32_t rate,
               unsigned ch)
{
    std::vector<uint8_t> in = slurp(clip);
    uint32_t fb = ivcs_aac_enc_frame_bytes(type, ch);
    if (in.size() < fb) {
        state.SkipWithError("clip missing: run scripts/make-media and set IVCS_MEDIA_DIR");
        return;
    }
    ivcs_aac_enc_s *e = nullptr;
    if (ivcs_aac_enc_new(ivcs_allocator_libc(), type, rate, ch, &e) != 0) {
        state.SkipWithError("encoder init failed");
        return;
    }
    size_t frames = in.size() / fb, i = 0;
    std::vector<uint8_t> out(IVCS_AAC_ENC_MAX_FRAME(ch));
    int64_t bytes = 0;
    for (auto _ : state) {
        int n = ivcs_aac_enc_encode(e, in.data() + (i++ % frames) * fb, out.data(), out.size());
        if (n <= 0) {
            state.SkipWithError("encode failed");
            break;
        }
        bytes += n;
        benchmark::DoNotOptimize(out.data());
    }
    ivcs_aac_enc_free(e);
    double per_s = static_cast<double>(rate) / 1024.0;
    state.counters["frames_per_s"] =
        benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["aac_kbit_s"] =
        state.iterations() ? static_cast<double>(bytes) * 8.0 * per_s /
                                 static_cast<double>(state.iterations()) / 1000.0
                           : 0.0;
}

BENCHMARK_CAPTURE(BM_encode, g711a_8k_mono, "clip_alaw.alaw", IV_CM_AENC_TYPE_G711A, 8000, 1);
BENCHMARK_CAPTURE(BM_encode, g711u_8k_mono, "clip_ulaw.ulaw", IV_CM_AENC_TYPE_G711U, 8000, 1);
BENCHMARK_CAPTURE(BM_encode, pcm_16k_mono, "clip_pcm16k.s16le", IV_CM_AENC_TYPE_PCM, 16000, 1);
BENCHMARK_CAPTURE(BM_encode, pcm_48k_stereo, "clip_pcm48k_stereo.s16le", IV_CM_AENC_TYPE_PCM,
                  48000, 2);

} // namespace

BENCHMARK_MAIN();
