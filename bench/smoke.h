// smoke.h - IVCS_BENCH_SMOKE=1 (scripts/bench --smoke, the CI bench smoke):
// every benchmark runs, briefly. Fixed iteration counts, durations and data
// sizes go through these helpers, which shrink them under the smoke; the
// figures of a smoke run mean nothing, only that each benchmark ran without
// an error.
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

inline bool ivcs_bench_smoke()
{
    const char *s = std::getenv("IVCS_BENCH_SMOKE");
    return s && *s && std::strcmp(s, "0") != 0;
}

// a fixed iteration count: 1/100 of it under the smoke (at least 1)
inline benchmark::IterationCount ivcs_bench_iters(benchmark::IterationCount n)
{
    return ivcs_bench_smoke() ? std::max<benchmark::IterationCount>(1, n / 100) : n;
}

// a count of frames, entries, milliseconds...: n, or smoke under the smoke
template <typename T> inline T ivcs_bench_n(T n, T smoke)
{
    return ivcs_bench_smoke() ? smoke : n;
}
