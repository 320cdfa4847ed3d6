/*
 * mlbridge_bench.h: the floors the benchmarks compare a MetaCall call with.
 *
 * Both are cffi `extern "Python"` functions (bridge/_cabi.py): the cheapest possible call from
 * C into the embedded runtime, with no lookup and no value conversion.
 */
#ifndef MLBRIDGE_BENCH_H
#define MLBRIDGE_BENCH_H 1

#include <metacall/metacall_api.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A Python function of two ints that returns 0 (MetaCall's benchmark shape). */
METACALL_API long mlbridge_bench_floor(long a, long b);
/* A Python function of no arguments that returns 0. */
METACALL_API int mlbridge_bench_noop(void);

#ifdef __cplusplus
}
#endif

#endif /* MLBRIDGE_BENCH_H */
