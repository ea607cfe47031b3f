/*
 * engine.h - engine internals that tests and benchmarks (C or C++) may use
 * without the C11-atomics layout of engine_internal.h.
 */
#ifndef IVCS_CLOUD_ENGINE_H
#define IVCS_CLOUD_ENGINE_H

#include <stdint.h>

#include "ivcs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CPU time the engine thread has used, in seconds (0 if unknown). Any thread. */
double ivcs_engine_thread_cpu_s(ivcs_engine_s *e);

#ifdef __cplusplus
}
#endif
#endif
