// bench_ring.cc - cost of moving a frame through the SPSC ring, against a
// memcpy of the same bytes into a buffer of the same size in the same
// binary (docs/PERF.md section 1 reports the ratio).
//
//   BM_memcpy/<len>                  memcpy into a rolling 1 MiB buffer
//   BM_ring_push_pop/<len>           push (copy) + next + release, one thread
//   BM_ring_reserve_commit_pop/<len> reserve + memcpy + commit + next + release
//   BM_ring_push_threaded/<len>/<touch>
//       push from the benchmark thread while a consumer thread drains the
//       ring (touch=1: it also reads every cache line of each payload, as the
//       muxer will); counters: p50/p99 of one push in ns, and the share of
//       pushes that found the ring full and retried.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <vector>

#include "engine/ring/ring.h"

namespace {

inline void cpu_relax()
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

constexpr size_t kCap = 1 << 20;

struct Ring {
    void *mem = nullptr;
    ivcs_ring_s *r = nullptr;
    Ring()
    {
        size_t len = ivcs_ring_mem_size(kCap);
        mem = std::aligned_alloc(IVCS_RING_MEM_ALIGN, len);
        if (!mem) std::abort();
        std::memset(mem, 0, len); // fault the pages in, like the memcpy target
        if (ivcs_ring_init(&r, mem, len, kCap) != 0) std::abort();
    }
    ~Ring()
    {
        std::free(mem);
    }
};

std::vector<uint8_t> frame(size_t len)
{
    std::vector<uint8_t> f(len);
    for (size_t i = 0; i < len; i++)
        f[i] = static_cast<uint8_t>(i * 131 + 7);
    return f;
}

void BM_memcpy(benchmark::State &state)
{
    const size_t len = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> src = frame(len);
    auto *dst = static_cast<uint8_t *>(std::aligned_alloc(64, kCap));
    std::memset(dst, 0, kCap);
    // Same footprint as the ring: each copy lands where the ring would put it.
    const size_t stride = ivcs_ring_record_size(len);
    size_t off = 0;
    for (auto _ : state) {
        if (off + stride > kCap) off = 0;
        std::memcpy(dst + off + IVCS_RING_HDR_SIZE, src.data(), len);
        benchmark::ClobberMemory();
        off += stride;
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * len));
    std::free(dst);
}

void BM_ring_push_pop(benchmark::State &state)
{
    const size_t len = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> src = frame(len);
    Ring ring;
    ivcs_ring_rec_s rec{};
    rec.len = static_cast<uint32_t>(len);
    ivcs_ring_view_s v;
    for (auto _ : state) {
        rec.seq++;
        if (ivcs_ring_push(ring.r, &rec, src.data()) != 0) state.SkipWithError("push");
        if (ivcs_ring_next(ring.r, &v) != 1) state.SkipWithError("next");
        benchmark::DoNotOptimize(v.data);
        if (ivcs_ring_release(ring.r, v.next) != 0) state.SkipWithError("release");
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * len));
}

void BM_ring_reserve_commit_pop(benchmark::State &state)
{
    const size_t len = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> src = frame(len);
    Ring ring;
    ivcs_ring_rec_s rec{};
    rec.len = static_cast<uint32_t>(len);
    ivcs_ring_view_s v;
    for (auto _ : state) {
        void *p;
        if (ivcs_ring_reserve(ring.r, len, &p) != 0) state.SkipWithError("reserve");
        std::memcpy(p, src.data(), len);
        rec.seq++;
        if (ivcs_ring_commit(ring.r, &rec) != 0) state.SkipWithError("commit");
        if (ivcs_ring_next(ring.r, &v) != 1) state.SkipWithError("next");
        benchmark::DoNotOptimize(v.data);
        if (ivcs_ring_release(ring.r, v.next) != 0) state.SkipWithError("release");
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * len));
}

void BM_ring_push_threaded(benchmark::State &state)
{
    const size_t len = static_cast<size_t>(state.range(0));
    const bool touch = state.range(1) != 0;
    std::vector<uint8_t> src = frame(len);
    Ring ring;
    std::atomic<bool> stop{false};
    std::thread consumer([&] {
        ivcs_ring_view_s v;
        uint64_t sum = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            int rc = ivcs_ring_next(ring.r, &v);
            if (rc != 1) {
                cpu_relax();
                continue;
            }
            if (touch)
                for (size_t i = 0; i + 8 <= v.rec->len; i += 64) {
                    uint64_t w;
                    std::memcpy(&w, v.data + i, 8);
                    sum += w;
                }
            if (ivcs_ring_release(ring.r, v.next) != 0) std::abort();
        }
        benchmark::DoNotOptimize(sum);
    });

    std::vector<uint32_t> ns;
    ns.reserve(1 << 20);
    ivcs_ring_rec_s rec{};
    rec.len = static_cast<uint32_t>(len);
    int64_t full = 0;
    for (auto _ : state) {
        rec.seq++;
        auto t0 = std::chrono::steady_clock::now();
        int rc;
        while ((rc = ivcs_ring_push(ring.r, &rec, src.data())) == IVCS_ERR_BUFFER_FULL) {
            full++;
            cpu_relax();
        }
        auto t1 = std::chrono::steady_clock::now();
        if (rc < 0) state.SkipWithError("push");
        if (ns.size() < ns.capacity())
            ns.push_back(static_cast<uint32_t>(
                std::chrono::duration_cast<std::chrono::nanoseconds>(t1 - t0).count()));
    }
    stop.store(true, std::memory_order_relaxed);
    consumer.join();
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * len));
    if (!ns.empty()) {
        std::sort(ns.begin(), ns.end());
        state.counters["p50_ns"] = ns[ns.size() / 2];
        state.counters["p99_ns"] = ns[ns.size() * 99 / 100];
    }
    state.counters["full_retry"] =
        static_cast<double>(full) / static_cast<double>(std::max<int64_t>(1, state.iterations()));
}

} // namespace

BENCHMARK(BM_memcpy)->Arg(1024)->Arg(20480);
BENCHMARK(BM_ring_push_pop)->Arg(1024)->Arg(20480);
BENCHMARK(BM_ring_reserve_commit_pop)->Arg(1024)->Arg(20480);
BENCHMARK(BM_ring_push_threaded)
    ->Args({1024, 0})
    ->Args({20480, 0})
    ->Args({20480, 1})
    ->UseRealTime();

BENCHMARK_MAIN();
