// bench_copy.cc - the push's copy into a frame ring, taken apart: which
// way of writing a frame into a ring whose lines the consumer (the engine's
// MD5 + mux passes) reads on the other core is cheapest, and where a push's
// time goes. Lab figures for docs/PERF.md section 1 (why the push path
// keeps glibc's memcpy).
//
//   BM_memcpy_baseline/<len>/<ring_sized>
//       memcpy from rotating cold sources into a hot buffer (0) or at an
//       advancing offset of a 4 MiB buffer (1); nothing else running.
//   BM_ring_copy/<routine>/<len>/<consumer>
//     routine  0 memcpy (glibc)   1 non-temporal AVX2 stores (no
//              read-for-ownership)   2 prefetchw of every destination line,
//              then memcpy   3 rep movsb
//     consumer 0 none: the producer releases each record itself
//              1 a thread that reads every byte of each record and releases
//              2 a thread that MD5s each record (ivcs_md5, the engine's
//                first pass) and releases it
//     Counters: copy_p50/p90/p99 (the copy only), total (reserve + copy +
//     commit).
//   BM_push_parts/<pad_to>
//       the push's steps on the clip's frames padded to pad_to (0: as they
//       are), MD5 consumer: validation, copy, commit, per copy variant
//       (see kVariantName), including copy first + validate the ring copy.
//
//   BM_cross_cpu_wake/<same_cpu>
//       what waking a thread that sleeps in recv() on a socketpair costs the
//       waker (the engine's wake-up: one send()), per wake: the sleeper on
//       the other CPU (0) or on the waker's (1); 2 ms between wakes.
//
// Sources rotate over >= 6 MB of frames (cold, like an encoder's output
// buffer); the producer waits, untimed, while the ring is half full (as
// bench_push does). The ring is 4 MiB, the engine's video ring of an 8 MiB
// channel. IVCS_BENCH_PIN=1 pins the producer to CPU 0, the consumer to 1.
#include <benchmark/benchmark.h>

#include "smoke.h"

#include <immintrin.h>
#include <pthread.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "engine/codec/nalu.h"
#include "engine/net/hash.h"
#include "engine/ring/ring.h"

namespace {

constexpr size_t kCap = 4u << 20;

void pin(int cpu)
{
    const char *p = getenv("IVCS_BENCH_PIN");
    if (!p || strcmp(p, "1") != 0) return;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

__attribute__((target("avx2"))) void copy_nt_avx2(void *dst, const void *src, size_t n)
{
    auto *d = static_cast<uint8_t *>(dst);
    auto *s = static_cast<const uint8_t *>(src);
    size_t head = (32 - ((uintptr_t)d & 31)) & 31;
    if (head > n) head = n;
    std::memcpy(d, s, head);
    d += head, s += head, n -= head;
    for (; n >= 128; n -= 128, d += 128, s += 128) {
        __m256i a = _mm256_loadu_si256((const __m256i *)(const void *)s);
        __m256i b = _mm256_loadu_si256((const __m256i *)(const void *)(s + 32));
        __m256i c = _mm256_loadu_si256((const __m256i *)(const void *)(s + 64));
        __m256i e = _mm256_loadu_si256((const __m256i *)(const void *)(s + 96));
        _mm256_stream_si256((__m256i *)(void *)d, a);
        _mm256_stream_si256((__m256i *)(void *)(d + 32), b);
        _mm256_stream_si256((__m256i *)(void *)(d + 64), c);
        _mm256_stream_si256((__m256i *)(void *)(d + 96), e);
    }
    _mm_sfence();
    std::memcpy(d, s, n);
}

void copy_prefetchw(void *dst, const void *src, size_t n)
{
    auto *d = static_cast<uint8_t *>(dst);
    for (size_t i = 0; i < n; i += 64) __builtin_prefetch(d + i, 1, 3);
    std::memcpy(dst, src, n);
}

void copy_rep_movsb(void *dst, const void *src, size_t n)
{
    __asm__ __volatile__("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

void run_copy(int routine, void *d, const void *s, size_t n)
{
    switch (routine) {
    case 0: std::memcpy(d, s, n); break;
    case 1: copy_nt_avx2(d, s, n); break;
    case 2: copy_prefetchw(d, s, n); break;
    default: copy_rep_movsb(d, s, n); break;
    }
}

uint64_t pct(std::vector<uint64_t> &v, double p)
{
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, (size_t)(p * (double)v.size()))];
}

inline uint64_t ns_since(std::chrono::steady_clock::time_point a,
                         std::chrono::steady_clock::time_point b)
{
    return (uint64_t)std::chrono::duration_cast<std::chrono::nanoseconds>(b - a).count();
}

void BM_ring_copy(benchmark::State &state)
{
    const int routine = (int)state.range(0);
    const size_t len = (size_t)state.range(1);
    const int consumer = (int)state.range(2);
    pin(0);
    size_t memlen = ivcs_ring_mem_size(kCap);
    void *mem = std::aligned_alloc(IVCS_RING_MEM_ALIGN, memlen);
    std::memset(mem, 0, memlen); // fault the pages in
    ivcs_ring_s *r;
    if (ivcs_ring_init(&r, mem, memlen, kCap) != 0) std::abort();
    const size_t nsrc = std::max<size_t>(1, (6u << 20) / len);
    std::vector<uint8_t> src(nsrc * len);
    for (size_t i = 0; i < src.size(); i++) src[i] = (uint8_t)(i * 131 + 7);

    std::atomic<bool> stop{false};
    std::thread cons;
    if (consumer)
        cons = std::thread([&] {
            pin(1);
            ivcs_ring_view_s v;
            uint64_t sum = 0;
            uint8_t md[IVCS_MD5_LEN];
            while (!stop.load(std::memory_order_relaxed)) {
                if (ivcs_ring_next(r, &v) != 1) {
                    std::this_thread::sleep_for(std::chrono::microseconds(50));
                    continue;
                }
                if (consumer == 1) {
                    for (size_t i = 0; i + 8 <= v.rec->len; i += 8) {
                        uint64_t w;
                        std::memcpy(&w, v.data + i, 8);
                        sum += w;
                    }
                } else {
                    (void)ivcs_md5(v.data, v.rec->len, md);
                    sum += md[0];
                }
                if (ivcs_ring_release(r, v.next) != 0) std::abort();
            }
            benchmark::DoNotOptimize(sum);
        });

    std::vector<uint64_t> tc, tt;
    tc.reserve(state.max_iterations);
    tt.reserve(state.max_iterations);
    ivcs_ring_rec_s rec{};
    rec.len = (uint32_t)len;
    uint64_t k = 0;
    auto one = [&](bool timed) {
        const uint8_t *s = src.data() + (k++ % nsrc) * len;
        if (consumer) {
            while (ivcs_ring_used(r) >= kCap / 2)
                std::this_thread::sleep_for(std::chrono::microseconds(200));
        }
        void *d;
        auto t0 = std::chrono::steady_clock::now();
        if (ivcs_ring_reserve(r, len, &d) != 0) std::abort();
        auto t1 = std::chrono::steady_clock::now();
        run_copy(routine, d, s, len);
        auto t2 = std::chrono::steady_clock::now();
        rec.seq++;
        if (ivcs_ring_commit(r, &rec) < 0) std::abort();
        auto t3 = std::chrono::steady_clock::now();
        if (timed) {
            tc.push_back(ns_since(t1, t2));
            tt.push_back(ns_since(t0, t3));
        }
        if (!consumer) {
            ivcs_ring_view_s v;
            if (ivcs_ring_next(r, &v) != 1 || ivcs_ring_release(r, v.next) != 0) std::abort();
        }
    };
    // untimed warm-up: two passes over the ring
    for (size_t w = 0; w < 2 * kCap; w += len) one(false);
    for (auto _ : state) one(true);
    stop.store(true);
    if (cons.joinable()) cons.join();
    state.counters["copy_p50_ns"] = (double)pct(tc, 0.5);
    state.counters["copy_p90_ns"] = (double)pct(tc, 0.9);
    state.counters["copy_p99_ns"] = (double)pct(tc, 0.99);
    state.counters["total_p50_ns"] = (double)pct(tt, 0.5);
    state.counters["total_p99_ns"] = (double)pct(tt, 0.99);
    std::free(mem);
}

// A memcpy into a hot buffer and into a ring-sized one with nothing else
// going on: the baselines of the push goal, with the same rotating sources.
void BM_memcpy_baseline(benchmark::State &state)
{
    const size_t len = (size_t)state.range(0);
    const bool ring_sized = state.range(1) != 0;
    pin(0);
    const size_t nsrc = std::max<size_t>(1, (6u << 20) / len);
    std::vector<uint8_t> src(nsrc * len);
    for (size_t i = 0; i < src.size(); i++) src[i] = (uint8_t)(i * 131 + 7);
    std::vector<uint8_t> dst(ring_sized ? kCap : len, 0);
    std::vector<uint64_t> tc;
    tc.reserve(state.max_iterations);
    uint64_t k = 0;
    size_t off = 0;
    for (auto _ : state) {
        const uint8_t *s = src.data() + (k++ % nsrc) * len;
        if (off + len > dst.size()) off = 0;
        auto t0 = std::chrono::steady_clock::now();
        std::memcpy(dst.data() + off, s, len);
        benchmark::ClobberMemory();
        auto t1 = std::chrono::steady_clock::now();
        tc.push_back(ns_since(t0, t1));
        if (ring_sized) off += ivcs_ring_record_size(len);
    }
    state.counters["copy_p50_ns"] = (double)pct(tc, 0.5);
    state.counters["copy_p90_ns"] = (double)pct(tc, 0.9);
    state.counters["copy_p99_ns"] = (double)pct(tc, 0.99);
}

// The push's parts on the engine's frames: $IVCS_MEDIA_DIR/clip_h264.h264
// padded to `len` with a filler NAL unit (as bench_push does), 3 copies of
// them rotating (cold sources). Per push, timed separately: validation
// (ivcs_nalu_frame_info: the first pass over the cold source), reserve +
// copy (the source is now hot, the destination is the ring's), commit.
std::vector<std::vector<uint8_t>> clip_frames(size_t pad_to, int copies)
{
    std::vector<std::vector<uint8_t>> out;
    const char *dir = getenv("IVCS_MEDIA_DIR");
    std::string path = std::string(dir ? dir : ".") + "/clip_h264.h264";
    FILE *f = fopen(path.c_str(), "rb");
    if (!f) return out;
    std::vector<uint8_t> m(8 << 20);
    m.resize(fread(m.data(), 1, m.size(), f));
    fclose(f);
    for (int c = 0; c < copies; c++)
        for (size_t off = 0; off < m.size();) {
            int64_t l = ivcs_nalu_next_au(IVCS_CODEC_H264, m.data() + off, m.size() - off, 1);
            if (l <= 0) break;
            std::vector<uint8_t> fr(m.data() + off, m.data() + off + l);
            if (pad_to && fr.size() + 6 < pad_to) {
                fr.insert(fr.end(), {0, 0, 1, 12});
                fr.resize(pad_to - 1, 0xFF);
                fr.push_back(0x80);
            }
            out.push_back(std::move(fr));
            off += (size_t)l;
        }
    return out;
}

// Variants, run in alternating blocks of 256 pushes in one run (the
// machine's noise drifts by the second; blocks share it):
//   0 memcpy   1 non-temporal AVX2   2 prefetchw of the destination, memcpy
//   3 memcpy, then after the commit prefetchw of the next 24 KB after the
//     record (the next push's destination, owned before it comes)
//   4 copy first, then validate the copy in the ring (one cold pass over
//     the source instead of two: what fusing validation into the copy
//     would give; "validate" is then the scan of the hot ring copy)
constexpr int kVariants = 5;
const char *const kVariantName[kVariants] = {"memcpy", "nt", "pfw", "pfw_next",
                                             "copy_then_validate"};

void BM_push_parts(benchmark::State &state)
{
    const size_t pad_to = (size_t)state.range(0);
    auto fr = clip_frames(pad_to, 3);
    if (fr.empty()) {
        state.SkipWithError("no $IVCS_MEDIA_DIR/clip_h264.h264");
        return;
    }
    pin(0);
    size_t memlen = ivcs_ring_mem_size(kCap);
    void *mem = std::aligned_alloc(IVCS_RING_MEM_ALIGN, memlen);
    std::memset(mem, 0, memlen);
    ivcs_ring_s *r;
    if (ivcs_ring_init(&r, mem, memlen, kCap) != 0) std::abort();
    const uint8_t *ring_end = (const uint8_t *)mem + memlen;
    std::atomic<bool> stop{false};
    std::thread cons([&] {
        pin(1);
        ivcs_ring_view_s v;
        uint8_t md[IVCS_MD5_LEN];
        uint64_t sum = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            if (ivcs_ring_next(r, &v) != 1) {
                std::this_thread::sleep_for(std::chrono::microseconds(50));
                continue;
            }
            (void)ivcs_md5(v.data, v.rec->len, md);
            sum += md[0];
            if (ivcs_ring_release(r, v.next) != 0) std::abort();
        }
        benchmark::DoNotOptimize(sum);
    });
    std::vector<uint64_t> tv[kVariants], tc[kVariants], tm[kVariants], tt[kVariants];
    uint64_t k = 0;
    ivcs_ring_rec_s rec{};
    auto one = [&](bool timed) {
        const int var = (int)((k / 256) % kVariants);
        const auto &f = fr[k++ % fr.size()];
        while (ivcs_ring_used(r) >= kCap / 2)
            std::this_thread::sleep_for(std::chrono::microseconds(200));
        ivcs_frame_info_s fi;
        void *d;
        auto t0 = std::chrono::steady_clock::now();
        if (var == 4) {
            if (ivcs_ring_reserve(r, f.size(), &d) != 0) std::abort();
            std::memcpy(d, f.data(), f.size());
        }
        auto t0b = std::chrono::steady_clock::now();
        const uint8_t *vsrc = var == 4 ? (const uint8_t *)d : f.data();
        if (ivcs_nalu_frame_info(IVCS_CODEC_H264, vsrc, f.size(), &fi) != 0) std::abort();
        auto t1 = std::chrono::steady_clock::now();
        if (var != 4 && ivcs_ring_reserve(r, f.size(), &d) != 0) std::abort();
        switch (var) {
        case 4: break;
        case 1: copy_nt_avx2(d, f.data(), f.size()); break;
        case 2: copy_prefetchw(d, f.data(), f.size()); break;
        default: std::memcpy(d, f.data(), f.size()); break;
        }
        auto t2 = std::chrono::steady_clock::now();
        rec.len = (uint32_t)f.size();
        rec.seq++;
        if (ivcs_ring_commit(r, &rec) < 0) std::abort();
        if (var == 3) {
            const uint8_t *nx = (const uint8_t *)d + ivcs_ring_record_size(f.size());
            for (size_t i = 0; i < 24576 && nx + i < ring_end; i += 64)
                __builtin_prefetch(nx + i, 1, 3);
        }
        auto t3 = std::chrono::steady_clock::now();
        if (timed) {
            tv[var].push_back(ns_since(t0b, t1));
            tc[var].push_back(var == 4 ? ns_since(t0, t0b) : ns_since(t1, t2));
            tm[var].push_back(ns_since(t2, t3));
            tt[var].push_back(ns_since(t0, t3));
        }
    };
    for (size_t w = 0; w < 2 * kCap;) {
        w += fr[k % fr.size()].size();
        one(false);
    }
    for (auto _ : state) one(true);
    stop.store(true);
    cons.join();
    for (int v = 0; v < kVariants; v++) {
        std::string n = kVariantName[v];
        state.counters[n + "_validate_p50"] = (double)pct(tv[v], 0.5);
        state.counters[n + "_copy_p50"] = (double)pct(tc[v], 0.5);
        state.counters[n + "_commit_p50"] = (double)pct(tm[v], 0.5);
        state.counters[n + "_total_p50"] = (double)pct(tt[v], 0.5);
        state.counters[n + "_total_p99"] = (double)pct(tt[v], 0.99);
    }
    std::free(mem);
}

void pin_to(int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    pthread_setaffinity_np(pthread_self(), sizeof s, &s);
}

void BM_cross_cpu_wake(benchmark::State &state)
{
    if (std::thread::hardware_concurrency() < 2) {
        state.SkipWithError("needs 2 CPUs");
        return;
    }
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) std::abort();
    std::atomic<int> parked{0};
    const int rx_cpu = state.range(0) ? 0 : 1;
    std::thread rx([&] {
        pin_to(rx_cpu);
        char b[64];
        for (;;) {
            parked.store(1);
            if (recv(sv[0], b, sizeof b, 0) <= 0) return;
        }
    });
    cpu_set_t was;
    pthread_getaffinity_np(pthread_self(), sizeof was, &was);
    pin_to(0);
    std::vector<uint64_t> t;
    for (auto _ : state) {
        state.PauseTiming();
        while (!parked.load()) std::this_thread::yield();
        parked.store(0);
        std::this_thread::sleep_for(std::chrono::milliseconds(2)); // it is asleep by now
        state.ResumeTiming();
        auto t0 = std::chrono::steady_clock::now();
        if (send(sv[1], "x", 1, MSG_DONTWAIT | MSG_NOSIGNAL) != 1) std::abort();
        t.push_back(ns_since(t0, std::chrono::steady_clock::now()));
    }
    shutdown(sv[1], SHUT_RDWR);
    rx.join();
    close(sv[0]);
    close(sv[1]);
    pthread_setaffinity_np(pthread_self(), sizeof was, &was);
    state.counters["wake_p50_ns"] = (double)pct(t, 0.5);
    state.counters["wake_p99_ns"] = (double)pct(t, 0.99);
}

} // namespace

BENCHMARK(BM_memcpy_baseline)
    ->Args({5240, 0})
    ->Args({5240, 1})
    ->Args({20000, 0})
    ->Args({20000, 1})
    ->Iterations(ivcs_bench_iters(20000));
BENCHMARK(BM_ring_copy)
    ->ArgsProduct({{0, 1, 2, 3}, {5240, 20000}, {0, 1, 2}})
    ->Iterations(ivcs_bench_iters(20000))
    ->UseRealTime();

BENCHMARK(BM_push_parts)->Arg(0)->Arg(20000)->Arg(100000)->Iterations(ivcs_bench_iters(50000))
    ->UseRealTime();

BENCHMARK(BM_cross_cpu_wake)->Arg(0)->Arg(1)->Iterations(ivcs_bench_iters(300))->UseRealTime();

BENCHMARK_MAIN();
