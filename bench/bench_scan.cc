// bench_scan.cc - Annex-B start-code scan (ivcs_nalu_find_start) against
// memchr on the same buffers, in the same binary.
//
// Buffers look like H.264 slice data: random bytes with emulation prevention
// applied (so 00 00 0x, x <= 3, only occurs as 00 00 03), split into NAL
// units by 4-byte start codes. The byte 0xA5 never occurs, so memchr(0xA5)
// must read every byte: the speed of a memchr that finds nothing is the bar
// (docs/PERF.md). Reported as GB/s (10^9 bytes per second).
//
//   frame20k  one 20 KB frame: SPS + PPS + one slice, scanned NAL by NAL
//   buf1m     1 MB of 20 KB frames, scanned NAL by NAL
//   memchr/*  memchr(0xA5) over the same bytes
//   bytewise  a byte-at-a-time scanner, for scale
//   real_file $IVCS_MEDIA_DIR/clip_h264.h264 (when present), scanned NAL by NAL
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "engine/codec/nalu.h"

namespace
{

constexpr uint8_t kAbsent = 0xA5;

uint64_t rng_state = 0x243F6A8885A308D3ull;
uint8_t rnd_byte()
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    auto b = static_cast<uint8_t>(rng_state >> 29);
    return b == kAbsent ? 0xA4 : b;
}

// Appends one NAL unit of n payload bytes, escaped as an encoder would.
void put_nal(std::vector<uint8_t> &out, uint8_t header, size_t n)
{
    static const uint8_t sc[4] = {0, 0, 0, 1};
    out.insert(out.end(), sc, sc + 4);
    out.push_back(header);
    int zeros = 0;
    for (size_t i = 0; i < n; i++) {
        uint8_t c = rnd_byte();
        if (zeros >= 2 && c <= 3) {
            out.push_back(3);
            zeros = 0;
        }
        out.push_back(c);
        zeros = c == 0 ? zeros + 1 : 0;
    }
    if (out.back() == 0) out.back() = 0x80; // rbsp stop bit: a NAL never ends in 00
}

std::vector<uint8_t> make_frame(size_t size)
{
    std::vector<uint8_t> f;
    put_nal(f, 0x67, 20);
    put_nal(f, 0x68, 4);
    put_nal(f, 0x65, size - f.size() - 5);
    return f;
}

const std::vector<uint8_t> &frame20k()
{
    static std::vector<uint8_t> f = make_frame(20 * 1024);
    return f;
}

const std::vector<uint8_t> &buf1m()
{
    static std::vector<uint8_t> b = [] {
        std::vector<uint8_t> v;
        while (v.size() < 1024 * 1024 - 20 * 1024) {
            auto f = make_frame(20 * 1024);
            v.insert(v.end(), f.begin(), f.end());
        }
        auto f = make_frame(1024 * 1024 - v.size());
        v.insert(v.end(), f.begin(), f.end());
        v.resize(1024 * 1024);
        return v;
    }();
    return b;
}

const std::vector<uint8_t> &real_file()
{
    static std::vector<uint8_t> b = [] {
        std::vector<uint8_t> v;
        const char *dir = getenv("IVCS_MEDIA_DIR");
        std::string path = std::string(dir ? dir : "media") + "/clip_h264.h264";
        FILE *f = fopen(path.c_str(), "rb");
        if (!f) return v;
        uint8_t tmp[65536];
        size_t n;
        while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
            v.insert(v.end(), tmp, tmp + n);
        fclose(f);
        return v;
    }();
    return b;
}

// Walks every start code of the buffer; returns how many it found.
size_t scan_all(const uint8_t *p, size_t len)
{
    size_t off = 0, count = 0, sc = 0;
    while (off < len) {
        size_t k = ivcs_nalu_find_start(p + off, len - off, &sc);
        if (sc == 0) break;
        count++;
        off += k + sc;
    }
    return count;
}

size_t scan_bytewise(const uint8_t *p, size_t len)
{
    size_t count = 0;
    for (size_t i = 0; i + 2 < len; i++)
        if (p[i] == 0 && p[i + 1] == 0 && p[i + 2] == 1) count++;
    return count;
}

void report(benchmark::State &state, size_t bytes)
{
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * bytes));
    state.counters["GB/s"] = benchmark::Counter(static_cast<double>(bytes),
                                                benchmark::Counter::kIsIterationInvariantRate,
                                                benchmark::Counter::OneK::kIs1000);
}

void check_nals(benchmark::State &state, size_t found, size_t want)
{
    if (found != want) state.SkipWithError("start-code count differs from the bytewise scan");
}

void BM_find_start(benchmark::State &state, const std::vector<uint8_t> &(*get)())
{
    const auto &b = get();
    if (b.empty()) {
        state.SkipWithError("no input (set IVCS_MEDIA_DIR)");
        return;
    }
    size_t want = scan_bytewise(b.data(), b.size()), found = 0;
    for (auto _ : state) {
        found = scan_all(b.data(), b.size());
        benchmark::DoNotOptimize(found);
    }
    check_nals(state, found, want);
    state.counters["nals"] = static_cast<double>(found);
    report(state, b.size());
}

void BM_memchr(benchmark::State &state, const std::vector<uint8_t> &(*get)())
{
    const auto &b = get();
    for (auto _ : state) {
        const void *r = memchr(b.data(), kAbsent, b.size());
        benchmark::DoNotOptimize(r);
        if (r) state.SkipWithError("absent byte found");
    }
    report(state, b.size());
}

void BM_bytewise(benchmark::State &state, const std::vector<uint8_t> &(*get)())
{
    const auto &b = get();
    for (auto _ : state) {
        size_t n = scan_bytewise(b.data(), b.size());
        benchmark::DoNotOptimize(n);
    }
    report(state, b.size());
}

} // namespace

BENCHMARK_CAPTURE(BM_find_start, frame20k, frame20k);
BENCHMARK_CAPTURE(BM_memchr, frame20k, frame20k);
BENCHMARK_CAPTURE(BM_find_start, buf1m, buf1m);
BENCHMARK_CAPTURE(BM_memchr, buf1m, buf1m);
BENCHMARK_CAPTURE(BM_bytewise, buf1m, buf1m);
BENCHMARK_CAPTURE(BM_find_start, real_file, real_file);

BENCHMARK_MAIN();
