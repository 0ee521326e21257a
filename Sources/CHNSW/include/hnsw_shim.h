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

size_t hnsw_capacity(const hnsw_index *index);
/// About what the graph holds in memory: vectors, links, locks, label map.
size_t hnsw_bytes(const hnsw_index *index, size_t search_threads);

#ifdef __cplusplus
}
#endif

#endif
