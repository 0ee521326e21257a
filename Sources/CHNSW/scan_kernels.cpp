// The exact scan's kernels: one query against many rows. Each row's
// arithmetic is fixed — one 16-lane accumulator summed in order, one
// reduction tree, then the tail — so a document has one score however it was
// reached (the scan, the graph's hits, a filter's candidates). How many rows
// a call walks side by side depends on the machine, as measured (the scan is
// bound by memory): with AVX-512 (an Intel Xeon) four rows, each 64-byte load
// of the query serving four, scanned 13% faster than one through the proxy;
// with AVX2 (an AMD EPYC) one row at a time is 17% faster than four (a
// C bench of this kernel, 100,000 × 384, BENCHMARKS.md).
#include "hnsw_shim.h"

#include <cstring>

#include "simd_clones.h"

namespace {

typedef float V16 __attribute__((vector_size(64)));
typedef float V8 __attribute__((vector_size(32)));
typedef float V4 __attribute__((vector_size(16)));

// Macros, not functions: a 64-byte vector may not cross a call on the
// clones without AVX-512 (it would change the ABI).
#define LOAD16(p) ({ V16 v_; std::memcpy(&v_, (p), sizeof v_); v_; })
#define SUM16(a)                                                                                             \
    ({                                                                                                       \
        V8 s8_ = __builtin_shufflevector(a, a, 0, 1, 2, 3, 4, 5, 6, 7) +                                     \
                 __builtin_shufflevector(a, a, 8, 9, 10, 11, 12, 13, 14, 15);                                \
        V4 s4_ = __builtin_shufflevector(s8_, s8_, 0, 1, 2, 3) + __builtin_shufflevector(s8_, s8_, 4, 5, 6, 7); \
        (s4_[0] + s4_[2]) + (s4_[1] + s4_[3]);                                                               \
    })

// TERM(x, v): what a component adds (x·v, or (x − v)²); both kernels are this
// one loop around it.
#define ROWS_KERNEL(name, TERM, GROUP)                                                                       \
    HNSW_SIMD_CLONES void name(const float *q, const float *rows, size_t d, size_t count, float *out) {     \
        size_t r = 0, whole = d / 16 * 16;                                                                   \
        for (; GROUP == 4 && r + 4 <= count; r += 4) {                                                       \
            const float *v0 = rows + r * d, *v1 = v0 + d, *v2 = v1 + d, *v3 = v2 + d;                        \
            V16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};                                                      \
            for (size_t i = 0; i < whole; i += 16) {                                                         \
                V16 x = LOAD16(q + i);                                                                       \
                a0 += TERM(x, LOAD16(v0 + i));                                                               \
                a1 += TERM(x, LOAD16(v1 + i));                                                               \
                a2 += TERM(x, LOAD16(v2 + i));                                                               \
                a3 += TERM(x, LOAD16(v3 + i));                                                               \
            }                                                                                                \
            float s0 = SUM16(a0), s1 = SUM16(a1), s2 = SUM16(a2), s3 = SUM16(a3);                            \
            for (size_t i = whole; i < d; i++) {                                                             \
                s0 += TERM(q[i], v0[i]);                                                                     \
                s1 += TERM(q[i], v1[i]);                                                                     \
                s2 += TERM(q[i], v2[i]);                                                                     \
                s3 += TERM(q[i], v3[i]);                                                                     \
            }                                                                                                \
            out[r] = s0, out[r + 1] = s1, out[r + 2] = s2, out[r + 3] = s3;                                  \
        }                                                                                                    \
        for (; r < count; r++) {                                                                             \
            const float *v0 = rows + r * d;                                                                  \
            V16 a0 = {0};                                                                                    \
            for (size_t i = 0; i < whole; i += 16) a0 += TERM(LOAD16(q + i), LOAD16(v0 + i));                \
            float s0 = SUM16(a0);                                                                            \
            for (size_t i = whole; i < d; i++) s0 += TERM(q[i], v0[i]);                                      \
            out[r] = s0;                                                                                     \
        }                                                                                                    \
    }

#define PRODUCT(x, v) ((x) * (v))
#define SQUARED_DIFFERENCE(x, v) ({ auto d_ = (x) - (v); d_ * d_; })

ROWS_KERNEL(dotRows4, PRODUCT, 4)
ROWS_KERNEL(dotRows1, PRODUCT, 1)
ROWS_KERNEL(squaredDistanceRows4, SQUARED_DIFFERENCE, 4)
ROWS_KERNEL(squaredDistanceRows1, SQUARED_DIFFERENCE, 1)

// The four-row kernels where the AVX-512 clone runs (see the top).
bool fourRows() {
#if defined(__x86_64__) && !defined(HNSW_SANITIZED)
    static const bool avx512 = __builtin_cpu_supports("avx512f");
    return avx512;
#else
    return false;
#endif
}

}  // namespace

void vector_dot_rows(const float *q, const float *rows, size_t dimension, size_t count, float *scores) {
    (fourRows() ? dotRows4 : dotRows1)(q, rows, dimension, count, scores);
}

void vector_squared_distance_rows(const float *q, const float *rows, size_t dimension, size_t count, float *scores) {
    (fourRows() ? squaredDistanceRows4 : squaredDistanceRows1)(q, rows, dimension, count, scores);
}

void vector_rows_by_kernel(const float *q, const float *rows, size_t dimension, size_t count, float *scores, bool l2, bool four) {
    if (l2) (four ? squaredDistanceRows4 : squaredDistanceRows1)(q, rows, dimension, count, scores);
    else (four ? dotRows4 : dotRows1)(q, rows, dimension, count, scores);
}
