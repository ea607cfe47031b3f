// bench_spool.cc - the local spool (engine/spool/spool.h) on the file system
// of $IVCS_SPOOL_BENCH_DIR (default: the working directory).
//
//   BM_spool_write/<kib>/<sync>/<loop>  put + poll to completion of one
//       slice of <kib> KiB (2048 = 4 s at 4 Mbit/s) in two iovecs, then
//       remove it; sync=1 with the two fsyncs, 0 without; loop=1 through a
//       loop (io_uring unless IVCS_IO_BACKEND=epoll), as the engine does,
//       0 plain syscalls (ivcs spool, tests). bytes_per_second = spool
//       write throughput; CPU time per iteration / MiB = CPU per MB;
//       counter fsyncs = fsyncs per slice.
//   BM_spool_open/<deep>  open (scan + verify) of a spool of 512 entries of
//       2 MiB (1 GiB, written once, page cache warm unless dropped by hand);
//       deep=0 header + size per entry, deep=1 every byte's CRC32C + MD5.
//   BM_crc32c  the software CRC32C (slice-by-8) over 1 MiB.
#include <benchmark/benchmark.h>

#include "smoke.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>
#include <vector>

extern "C" {
#include "engine/net/hash.h"
#include "engine/net/loop.h"
#include "engine/spool/spool.h"
}

namespace {

std::string base_dir()
{
    const char *d = std::getenv("IVCS_SPOOL_BENCH_DIR");
    return d && *d ? d : ".";
}

std::string make_dir(const char *name)
{
    std::string p = base_dir() + "/" + name;
    mkdir(p.c_str(), 0700);
    return p;
}

void done_cb(ivcs_spool_put_s *p, int res)
{
    *static_cast<int *>(p->arg) = res;
}

void BM_spool_write(benchmark::State &state)
{
    size_t n = static_cast<size_t>(state.range(0)) << 10;
    int sync = static_cast<int>(state.range(1));
    int use_loop = state.range(2) != 0;
    std::string dir = make_dir("bench_spool_write");
    std::vector<uint8_t> body(n);
    for (size_t i = 0; i < n; i++) body[i] = static_cast<uint8_t>(i * 131 + (i >> 9));
    uint8_t md5[16];
    ivcs_md5(body.data(), n, md5);
    ivcs_spool_config_s cfg = {dir.c_str(), 0, 0, !sync, nullptr, nullptr};
    ivcs_spool *s = nullptr;
    if (ivcs_spool_open(&s, nullptr, &cfg, nullptr) != 0) {
        state.SkipWithError("cannot open the spool");
        return;
    }
    ivcs_loop *loop = nullptr;
    if (use_loop) {
        if (ivcs_loop_new(&loop, nullptr, 8) != 0) {
            ivcs_spool_close(s);
            state.SkipWithError("cannot make a loop");
            return;
        }
        ivcs_spool_set_loop(s, loop);
        state.SetLabel(ivcs_loop_backend(loop) == IVCS_IO_URING ? "io_uring" : "epoll");
    }
    const char key[] = "cam-0001/ch0/rec/2026-12-04/1764806400000_4000_0badc0de_1k.ts";
    struct iovec iov[2] = {{body.data(), n / 2}, {body.data() + n / 2, n - n / 2}};
    int res = 1;
    uint64_t slices = 0;
    for (auto _ : state) {
        ivcs_spool_put_s p{};
        p.kind = IVCS_SPOOL_SLICE;
        p.created_ms = 1764806400000LL;
        p.key = key;
        p.key_len = sizeof key - 1;
        p.body = iov;
        p.body_cnt = 2;
        p.md5 = md5;
        p.frames = 120;
        p.done = done_cb;
        p.arg = &res;
        if (ivcs_spool_put(s, &p) != 0) {
            state.SkipWithError("put refused");
            break;
        }
        ivcs_spool_drain(s); /* with a loop: runs it until the write is done */
        if (res != 0) {
            state.SkipWithError("put failed");
            break;
        }
        (void)ivcs_spool_remove(s, p.seq);
        slices++;
    }
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(s, &st);
    state.SetBytesProcessed(static_cast<int64_t>(slices * n));
    state.counters["fsyncs"] =
        benchmark::Counter(slices ? static_cast<double>(st.fsyncs) / static_cast<double>(slices) : 0);
    if (loop) ivcs_loop_destroy(loop);
    ivcs_spool_close(s);
}
BENCHMARK(BM_spool_write)
    ->Args({256, 1, 0})->Args({256, 1, 1})->Args({2048, 1, 0})->Args({2048, 1, 1})
    ->Args({2048, 0, 0})->Args({2048, 0, 1})->Args({8192, 1, 0})->Args({8192, 1, 1})
    ->Unit(benchmark::kMillisecond)->UseRealTime();

// 1 GiB of entries; 16 MiB under the smoke (in another folder)
const unsigned kEntries = ivcs_bench_n(512u, 8u);
constexpr size_t kEntry = 2u << 20;

void BM_spool_open(benchmark::State &state)
{
    int deep = static_cast<int>(state.range(0));
    std::string dir = make_dir(ivcs_bench_smoke() ? "bench_spool_smoke" : "bench_spool_1g");
    ivcs_spool_config_s cfg = {dir.c_str(), 0, 0, 1, nullptr, nullptr};
    ivcs_spool *s = nullptr;
    if (ivcs_spool_open(&s, nullptr, &cfg, nullptr) != 0) {
        state.SkipWithError("cannot open the spool");
        return;
    }
    ivcs_spool_stats_s st;
    ivcs_spool_get_stats(s, &st);
    if (st.entries < kEntries) { // fill once (no fsync: contents are what counts)
        std::vector<uint8_t> body(kEntry);
        for (size_t i = 0; i < kEntry; i++) body[i] = static_cast<uint8_t>(i * 7 + (i >> 11));
        uint8_t md5[16];
        ivcs_md5(body.data(), kEntry, md5);
        struct iovec iov = {body.data(), kEntry};
        int res = 0;
        for (uint64_t i = st.entries; i < kEntries; i++) {
            ivcs_spool_put_s p{};
            p.kind = IVCS_SPOOL_SLICE;
            p.key = "k";
            p.key_len = 1;
            p.body = &iov;
            p.body_cnt = 1;
            p.md5 = md5;
            p.done = done_cb;
            p.arg = &res;
            if (ivcs_spool_put(s, &p) != 0) break;
            ivcs_spool_drain(s);
        }
    }
    ivcs_spool_close(s);
    cfg.deep_scan = deep;
    uint64_t entries = 0, scan_us = 0;
    for (auto _ : state) {
        if (ivcs_spool_open(&s, nullptr, &cfg, nullptr) != 0) {
            state.SkipWithError("open failed");
            break;
        }
        ivcs_spool_get_stats(s, &st);
        entries = st.recovered;
        scan_us = st.scan_us;
        ivcs_spool_close(s);
    }
    state.counters["entries"] = static_cast<double>(entries);
    state.counters["scan_ms"] = static_cast<double>(scan_us) / 1000.0;
    state.SetBytesProcessed(deep ? static_cast<int64_t>(state.iterations() * kEntries * kEntry) : 0);
}
BENCHMARK(BM_spool_open)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond)->UseRealTime();

void BM_crc32c(benchmark::State &state)
{
    std::vector<uint8_t> b(1 << 20, 0x5a);
    uint32_t c = 0;
    for (auto _ : state) {
        c = ivcs_crc32c(c, b.data(), b.size());
        benchmark::DoNotOptimize(c);
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * (1 << 20));
}
BENCHMARK(BM_crc32c);

} // namespace

BENCHMARK_MAIN();
