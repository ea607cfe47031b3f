// smoke_selftest.cc - benchmarks that break on purpose, for the tests of
// the bench smoke (bench/CMakeLists.txt: bench.smoke.selftest.*): the smoke
// must pass BM_ok and fail BM_error (SkipWithError) and BM_abort.
// Not a bench_*.cc: scripts/bench never runs it.
#include <benchmark/benchmark.h>

#include <cstdlib>

namespace {
void BM_ok(benchmark::State &state)
{
    int x = 0;
    for (auto _ : state) benchmark::DoNotOptimize(x += 1);
}
BENCHMARK(BM_ok);

void BM_error(benchmark::State &state)
{
    for (auto _ : state) {
        state.SkipWithError("broken on purpose");
        break;
    }
}
BENCHMARK(BM_error);

void BM_abort(benchmark::State &state)
{
    for (auto _ : state) std::abort();
}
BENCHMARK(BM_abort);
} // namespace

BENCHMARK_MAIN();
