// bench_mux.cc - TS mux throughput on real frames (goal: parse + mux >= 2.5 GB/s per core,
// docs/PERF.md section 2). Bytes counted are input frame bytes.
//
// Media: $IVCS_MEDIA_DIR/full_h264.h264 + full_aac.aac (60 s 1080p, scripts/make-media --full) if present, else
// clip_h264.h264 + clip_aac.aac, else a clip generated with ffmpeg into /tmp.
//
// Benchmarks (same frames, 4 s slices cut at key frames, output into one 188 KiB buffer that
// is overwritten, as `ivcs mux` and a TLS writer use it):
//   BM_memcpy            baseline: copy the frame bytes into that buffer
//   BM_mux               ivcs_ts_slice_size + begin/read/end over pre-split frames
//   BM_parse_mux         + ivcs_nalu_frame_info per video frame, ivcs_adts_parse per audio frame
//   BM_split_parse_mux   + ivcs_nalu_next_au splitting the raw file (all `ivcs mux` does in memory)
//   BM_size              ivcs_ts_slice_size alone (the closed form)
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/codec/adts.h"
#include "engine/codec/nalu.h"
#include "engine/mux/ts_mux.h"

namespace
{

constexpr size_t kOutBuf = IVCS_TS_PACKET * 1024;
constexpr uint64_t kSliceMs = 4000;
constexpr uint64_t kFps = 25;

struct Media {
    std::vector<uint8_t> video, audio;
    std::vector<ivcs_ts_frame_s> frames; // interleaved, audio first on equal PTS
    std::vector<size_t> cuts;            // slice starts (indexes into frames), + frames.size()
    uint64_t bytes = 0;
    std::string what;
    bool ok = false;
};

bool read_file(const std::string &path, std::vector<uint8_t> *out)
{
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) return false;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    out->resize(n > 0 ? (size_t)n : 0);
    bool ok = n > 0 && fread(out->data(), 1, (size_t)n, f) == (size_t)n;
    fclose(f);
    return ok;
}

bool load_pair(const std::string &dir, const char *v, const char *a, Media *m)
{
    return read_file(dir + "/" + v, &m->video) && read_file(dir + "/" + a, &m->audio);
}

// Splits and interleaves the way tools/cmd_mux.c does.
bool build(Media *m)
{
    struct VF {
        const uint8_t *p;
        uint32_t len;
        uint8_t key;
    };
    std::vector<VF> vf;
    for (size_t off = 0; off < m->video.size();) {
        int64_t l =
            ivcs_nalu_next_au(IVCS_CODEC_H264, m->video.data() + off, m->video.size() - off, 1);
        if (l <= 0) return false;
        ivcs_frame_info_s info;
        if (ivcs_nalu_frame_info(IVCS_CODEC_H264, m->video.data() + off, (size_t)l, &info) != 0)
            return false;
        vf.push_back({m->video.data() + off, (uint32_t)l, info.is_key});
        off += (size_t)l;
    }
    struct AF {
        const uint8_t *p;
        uint32_t len;
        uint64_t samples;
    };
    std::vector<AF> af;
    uint64_t samples = 0;
    uint32_t rate = 48000;
    for (size_t off = 0; off < m->audio.size();) {
        ivcs_adts_hdr_s h;
        int r = ivcs_adts_parse(m->audio.data() + off, m->audio.size() - off, &h);
        if (r <= 0) return false;
        rate = h.sample_rate;
        af.push_back({m->audio.data() + off, (uint32_t)r, samples});
        samples += h.samples;
        off += (size_t)r;
    }
    std::vector<uint64_t> ms;
    for (size_t i = 0, j = 0; i < vf.size() || j < af.size();) {
        uint64_t v = i < vf.size() ? i * 1000 / kFps : UINT64_MAX;
        uint64_t a = j < af.size() ? af[j].samples * 1000 / rate : UINT64_MAX;
        if (a <= v) {
            m->frames.push_back({af[j].p, af[j].len, IVCS_TS_AUDIO, 0, a * 90});
            ms.push_back(a);
            j++;
        } else {
            m->frames.push_back({vf[i].p, vf[i].len, IVCS_TS_VIDEO, vf[i].key, v * 90});
            ms.push_back(v);
            i++;
        }
    }
    size_t start = 0;
    m->cuts.push_back(0);
    for (size_t i = 1; i < m->frames.size(); i++) {
        const ivcs_ts_frame_s &f = m->frames[i];
        if (f.stream == IVCS_TS_VIDEO && f.key && ms[i] >= ms[start] + kSliceMs) {
            m->cuts.push_back(i);
            start = i;
        }
    }
    m->cuts.push_back(m->frames.size());
    for (const auto &f : m->frames)
        m->bytes += f.len;
    return !vf.empty();
}

Media *media()
{
    static Media m;
    static bool done = false;
    if (done) return &m;
    done = true;
    const char *env = getenv("IVCS_MEDIA_DIR");
    std::string dir = env ? env : "media";
    if (load_pair(dir, "full_h264.h264", "full_aac.aac", &m)) {
        m.what = dir + "/full_h264.h264 + full_aac.aac";
    } else if (load_pair(dir, "clip_h264.h264", "clip_aac.aac", &m)) {
        m.what = dir + "/clip_h264.h264 + clip_aac.aac";
    } else {
        std::string t = "/tmp/ivcs_bench_mux";
        std::string cmd =
            "mkdir -p " + t + " && cd " + t +
            " && { [ -s in.h264 ] || ffmpeg -y -v error -nostdin -f lavfi -i "
            "'testsrc2=size=1920x1080:rate=25,noise=alls=6:allf=t' -t 20 -c:v libx264 -preset "
            "veryfast -pix_fmt yuv420p -b:v 4M -maxrate 4M -bufsize 8M -g 50 -keyint_min 50 "
            "-sc_threshold 0 -bf 0 -f h264 in.h264; } && { [ -s in.aac ] || ffmpeg -y -v error "
            "-nostdin -f lavfi -i 'sine=frequency=440:sample_rate=48000:duration=20' -ac 2 -c:a "
            "aac -b:a 128k -f adts in.aac; }";
        if (system(cmd.c_str()) != 0 || !load_pair(t, "in.h264", "in.aac", &m)) return &m;
        m.what = "generated " + t + "/in.h264 + in.aac (20 s 1080p)";
    }
    m.ok = build(&m);
    if (m.ok)
        fprintf(stderr, "bench_mux: %s: %zu frames, %zu slices, %.1f MB\n", m.what.c_str(),
                m.frames.size(), m.cuts.size() - 1, (double)m.bytes / 1e6);
    return &m;
}

void set_rate(benchmark::State &st, uint64_t bytes)
{
    st.SetBytesProcessed((int64_t)(bytes * st.iterations()));
    st.counters["GB/s"] =
        benchmark::Counter((double)bytes / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

// One slice through size + begin/read/end; returns bytes produced.
int64_t mux_slice(ivcs_ts_mux_s *mux, const ivcs_ts_frame_s *f, size_t n, uint8_t *buf)
{
    ivcs_ts_array_src_s arr;
    ivcs_ts_src_s src;
    ivcs_ts_array_src_init(&src, &arr, f, n);
    int64_t size = ivcs_ts_slice_size(mux, &src);
    ivcs_ts_slice_s s;
    if (size < 0 || ivcs_ts_slice_begin(mux, &s, &src) != 0) return -1;
    int64_t got, total = 0;
    while ((got = ivcs_ts_slice_read(&s, buf, kOutBuf)) > 0) {
        benchmark::DoNotOptimize(buf[0]);
        total += got;
    }
    if (got < 0 || total != size || ivcs_ts_slice_end(mux, &s) != 0) return -1;
    return total;
}

void BM_memcpy(benchmark::State &st)
{
    Media *m = media();
    if (!m->ok) return st.SkipWithError("no media");
    std::vector<uint8_t> buf(kOutBuf);
    for (auto _ : st) {
        size_t off = 0;
        for (const auto &f : m->frames) {
            for (uint32_t done = 0; done < f.len;) {
                size_t n = std::min<size_t>(f.len - done, kOutBuf - off);
                memcpy(buf.data() + off, f.data + done, n);
                done += (uint32_t)n;
                off = (off + n) % kOutBuf;
            }
        }
        benchmark::DoNotOptimize(buf.data());
        benchmark::ClobberMemory();
    }
    set_rate(st, m->bytes);
}

void BM_mux(benchmark::State &st)
{
    Media *m = media();
    if (!m->ok) return st.SkipWithError("no media");
    std::vector<uint8_t> buf(kOutBuf);
    ivcs_ts_mux_s mux;
    if (ivcs_ts_mux_init(&mux, IVCS_CODEC_H264, IVCS_ACODEC_AAC) != 0)
        return st.SkipWithError("init");
    for (auto _ : st) {
        for (size_t c = 0; c + 1 < m->cuts.size(); c++)
            if (mux_slice(&mux, &m->frames[m->cuts[c]], m->cuts[c + 1] - m->cuts[c], buf.data()) <
                0)
                return st.SkipWithError("mux failed");
    }
    set_rate(st, m->bytes);
}

void BM_parse_mux(benchmark::State &st)
{
    Media *m = media();
    if (!m->ok) return st.SkipWithError("no media");
    std::vector<uint8_t> buf(kOutBuf);
    std::vector<ivcs_ts_frame_s> fr(m->frames.size());
    ivcs_ts_mux_s mux;
    if (ivcs_ts_mux_init(&mux, IVCS_CODEC_H264, IVCS_ACODEC_AAC) != 0)
        return st.SkipWithError("init");
    for (auto _ : st) {
        for (size_t c = 0; c + 1 < m->cuts.size(); c++) {
            // Describe each frame as the engine does when it is pushed.
            for (size_t i = m->cuts[c]; i < m->cuts[c + 1]; i++) {
                fr[i] = m->frames[i];
                if (fr[i].stream == IVCS_TS_VIDEO) {
                    ivcs_frame_info_s info;
                    if (ivcs_nalu_frame_info(IVCS_CODEC_H264, fr[i].data, fr[i].len, &info) != 0)
                        return st.SkipWithError("frame_info");
                    fr[i].key = info.is_key;
                } else {
                    ivcs_adts_hdr_s h;
                    if (ivcs_adts_parse(fr[i].data, fr[i].len, &h) <= 0)
                        return st.SkipWithError("adts");
                }
            }
            if (mux_slice(&mux, &fr[m->cuts[c]], m->cuts[c + 1] - m->cuts[c], buf.data()) < 0)
                return st.SkipWithError("mux failed");
        }
    }
    set_rate(st, m->bytes);
}

void BM_split_parse_mux(benchmark::State &st)
{
    Media *m = media();
    if (!m->ok) return st.SkipWithError("no media");
    std::vector<uint8_t> buf(kOutBuf);
    std::vector<ivcs_ts_frame_s> fr;
    fr.reserve(m->frames.size());
    ivcs_ts_mux_s mux;
    if (ivcs_ts_mux_init(&mux, IVCS_CODEC_H264, IVCS_ACODEC_AAC) != 0)
        return st.SkipWithError("init");
    for (auto _ : st) {
        // Split both files again (the timestamps and cuts are taken from the prepared list:
        // the frames come out identical, which the size check of mux_slice confirms).
        fr.clear();
        const uint8_t *v = m->video.data(), *a = m->audio.data();
        size_t vo = 0, ao = 0;
        for (const auto &f : m->frames) {
            ivcs_ts_frame_s x = f;
            if (f.stream == IVCS_TS_VIDEO) {
                int64_t l = ivcs_nalu_next_au(IVCS_CODEC_H264, v + vo, m->video.size() - vo, 1);
                ivcs_frame_info_s info;
                if (l <= 0 || ivcs_nalu_frame_info(IVCS_CODEC_H264, v + vo, (size_t)l, &info) != 0)
                    return st.SkipWithError("split");
                x.data = v + vo;
                x.len = (uint32_t)l;
                x.key = info.is_key;
                vo += (size_t)l;
            } else {
                ivcs_adts_hdr_s h;
                int r = ivcs_adts_parse(a + ao, m->audio.size() - ao, &h);
                if (r <= 0) return st.SkipWithError("adts");
                x.data = a + ao;
                x.len = (uint32_t)r;
                ao += (size_t)r;
            }
            fr.push_back(x);
        }
        for (size_t c = 0; c + 1 < m->cuts.size(); c++)
            if (mux_slice(&mux, &fr[m->cuts[c]], m->cuts[c + 1] - m->cuts[c], buf.data()) < 0)
                return st.SkipWithError("mux failed");
    }
    set_rate(st, m->bytes);
}

void BM_size(benchmark::State &st)
{
    Media *m = media();
    if (!m->ok) return st.SkipWithError("no media");
    ivcs_ts_mux_s mux;
    if (ivcs_ts_mux_init(&mux, IVCS_CODEC_H264, IVCS_ACODEC_AAC) != 0)
        return st.SkipWithError("init");
    for (auto _ : st) {
        for (size_t c = 0; c + 1 < m->cuts.size(); c++) {
            ivcs_ts_array_src_s arr;
            ivcs_ts_src_s src;
            ivcs_ts_array_src_init(&src, &arr, &m->frames[m->cuts[c]], m->cuts[c + 1] - m->cuts[c]);
            benchmark::DoNotOptimize(ivcs_ts_slice_size(&mux, &src));
        }
    }
    st.counters["frames/s"] =
        benchmark::Counter((double)m->frames.size(), benchmark::Counter::kIsIterationInvariantRate);
}

} // namespace

BENCHMARK(BM_memcpy)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_mux)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_parse_mux)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_split_parse_mux)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_size)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
