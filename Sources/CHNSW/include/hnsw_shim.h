// A C face for hnswlib's HierarchicalNSW (C++, vendored in ../hnswlib): the
// few calls the vector store makes, every C++ exception caught and turned
// into a false return with its message. Labels are the caller's numbers.
#ifndef HNSW_SHIM_H
#define HNSW_SHIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hnsw_index hnsw_index;

/// Whether a label may be returned (a metadata filter); called on search threads.
typedef bool (*hnsw_filter)(void *context, uint64_t label);

/// A graph for `capacity` vectors of `dimension` floats, compared by
/// squared Euclidean distance (`l2`) or by the negated inner product.
/// NULL (and the reason in `error`) when memory fails.
hnsw_index *hnsw_new(size_t dimension, bool l2, size_t capacity, size_t m, size_t ef_construction,
                     size_t seed, char *error, size_t error_size);
void hnsw_free(hnsw_index *index);

/// Room for `capacity` vectors (never less than it holds). No search may run meanwhile.
bool hnsw_reserve(hnsw_index *index, size_t capacity, char *error, size_t error_size);

/// Adds the vector under `label`, or replaces the one it has (a deleted
/// label comes back). Safe beside searches and other adds of other labels.
bool hnsw_add(hnsw_index *index, const float *vector, uint64_t label, char *error, size_t error_size);

/// Marks the label's vector deleted: still a path in the graph, never a result.
void hnsw_delete(hnsw_index *index, uint64_t label);

/// The `k` nearest labels the filter admits (all when NULL), nearest first,
/// exploring `ef` candidates (at least `k`); returns how many were written.
size_t hnsw_search(const hnsw_index *index, const float *query, size_t k, size_t ef, hnsw_filter filter,
                   void *context, uint64_t *labels, float *distances);

/// Writes the graph to `path` (hnswlib's format: vectors, links, labels).
bool hnsw_save(const hnsw_index *index, const char *path, char *error, size_t error_size);

/// A graph read from `path` with room for `capacity` vectors, checked for
/// this dimension and shape and for links that stay inside it (a search
/// trusts them); NULL and the reason in `error` otherwise.
hnsw_index *hnsw_load(const char *path, size_t dimension, bool l2, size_t capacity, size_t m, size_t ef_construction,
                      char *error, size_t error_size);

/// The labels not deleted: writes up to `capacity`, returns how many there are.
size_t hnsw_live_labels(const hnsw_index *index, uint64_t *labels, size_t capacity);

/// The stored vector of a label not deleted (`dimension` floats, valid until
/// the next add), or NULL.
const float *hnsw_vector(const hnsw_index *index, uint64_t label);

/// The exact scan's scores (scan_kernels.cpp): for each of `count` rows of
/// `dimension` floats from `rows`, Σ q[i]·row[i] (or Σ (q[i] − row[i])²)
/// into `scores`, with the widest SIMD this machine has (AVX-512, AVX2 or
/// SSE, chosen when the program loads). A row's score does not depend on
/// `count` or on its place among the rows.
void vector_dot_rows(const float *q, const float *rows, size_t dimension, size_t count, float *scores);
void vector_squared_distance_rows(const float *q, const float *rows, size_t dimension, size_t count, float *scores);
/// The same, by the four-row kernel or the one-row one, whichever this
/// machine would not pick (tests: both must give every row the same score).
void vector_rows_by_kernel(const float *q, const float *rows, size_t dimension, size_t count, float *scores, bool l2, bool four);

/// Asks the kernel to back the whole 2 MiB pages inside [start, start +
/// bytes) with transparent huge pages: memory not touched yet gets them
/// when first written; with `collapse`, pages already written are merged
/// now (Linux 6.1+, a copy). Best effort: nothing happens where huge pages
/// are off or unsupported. One TLB entry then covers 512 times the memory
/// (the scan over 150 MiB read ~10% faster: BENCHMARKS.md).
void vector_memory_prefer_huge_pages(void *start, size_t bytes, bool collapse);

size_t hnsw_capacity(const hnsw_index *index);
/// About what the graph holds in memory: vectors, links, locks, label map.
size_t hnsw_bytes(const hnsw_index *index, size_t search_threads);

#ifdef __cplusplus
}
#endif

#endif
