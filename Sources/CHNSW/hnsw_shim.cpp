// hnswlib 0.8.0 (Apache-2.0, ../hnswlib/LICENSE; headers as in the PyPI
// sdist hnswlib-0.8.0.tar.gz, sha256 cb6d037e…51c44c), behind a C face.
// Why vendored rather than Debian's libhnswlib-dev 0.6.2: 0.6.2 has no
// filter functor (a metadata filter inside the graph walk) and no way to
// bring a deleted label back in place. The distance functions are our own:
// hnswlib picks SIMD at compile time, these at run time (target_clones), so
// one binary is fast on AVX-512, AVX2 and plain x86-64 alike.
#include "hnsw_shim.h"

#include <cstring>
#include <new>
#include <stdexcept>
#include <string>

#include "simd_clones.h"

// hnswlib's walk prefetches each next neighbour's vector and visited mark
// while it scores this one: a walk is a chain of cache misses, and on this
// machine the prefetches cut a search's walk by about a fifth (100,000
// × 384, ef 64; BENCHMARKS.md, "Search"). To find the last neighbour's next
// one it reads the slot after the list: inside the node on level 0 (its
// vector follows), 4 bytes past an upper level's block, which no allocator
// maps apart, but which AddressSanitizer rightly reports: sanitized builds go
// without (NO_MANUAL_VECTORIZATION; hnswlib's own SIMD distances are unused
// either way, the shim has its own).
#ifdef HNSW_SANITIZED
#define NO_MANUAL_VECTORIZATION
#endif
#include "hnswlib.h"

namespace {

// The walk's distances: plain loops the compiler vectorizes for each clone,
// allowed to reorder the sum and fuse multiply-adds (as FAISS's kernels
// are): four 16-lane FMA chains on AVX-512, for the short latency a walk
// (one random node after another) needs. The scores a search answers come
// from the matrix's kernels (scan_kernels.cpp), the walk only navigates.
HNSW_SIMD_CLONES float innerProduct(const float *a, const float *b, size_t n) {
#pragma clang fp reassociate(on) contract(fast)
    float sum = 0;
    for (size_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}

HNSW_SIMD_CLONES float squaredDistance(const float *a, const float *b, size_t n) {
#pragma clang fp reassociate(on) contract(fast)
    float sum = 0;
    for (size_t i = 0; i < n; i++) {
        float d = a[i] - b[i];
        sum += d * d;
    }
    return sum;
}

}  // namespace

namespace {

// hnswlib keeps the smallest distances: a larger inner product is nearer.
float negatedInnerProduct(const void *a, const void *b, const void *dimension) {
    return -innerProduct(static_cast<const float *>(a), static_cast<const float *>(b), *static_cast<const size_t *>(dimension));
}

float l2Distance(const void *a, const void *b, const void *dimension) {
    return squaredDistance(static_cast<const float *>(a), static_cast<const float *>(b), *static_cast<const size_t *>(dimension));
}

class Space : public hnswlib::SpaceInterface<float> {
   public:
    Space(size_t dimension, bool l2) : dimension(dimension), l2(l2) {}
    size_t get_data_size() override { return dimension * sizeof(float); }
    hnswlib::DISTFUNC<float> get_dist_func() override { return l2 ? l2Distance : negatedInnerProduct; }
    void *get_dist_func_param() override { return &dimension; }

   private:
    size_t dimension;
    bool l2;
};

class Filter : public hnswlib::BaseFilterFunctor {
   public:
    Filter(hnsw_filter admit, void *context) : admit(admit), context(context) {}
    bool operator()(hnswlib::labeltype label) override { return admit(context, label); }

   private:
    hnsw_filter admit;
    void *context;
};

void report(const std::exception &e, char *error, size_t size) {
    if (error && size > 0) {
        std::strncpy(error, e.what(), size - 1);
        error[size - 1] = 0;
    }
}

}  // namespace

struct hnsw_index {
    Space space;
    hnswlib::HierarchicalNSW<float> graph;
    hnsw_index(size_t dimension, bool l2, size_t capacity, size_t m, size_t efConstruction, size_t seed)
        : space(dimension, l2), graph(&space, capacity, m, efConstruction, seed) {
        preferHugePages(false);
    }
    hnsw_index(size_t dimension, bool l2, const char *path, size_t capacity)
        : space(dimension, l2), graph(&space, std::string(path), false, capacity) {
        preferHugePages(true);  // read in already: merge what the file filled
    }
    // A walk jumps between nodes all over the vectors and links (level 0,
    // one block), a TLB miss a step with 4 KiB pages. Not measured on its
    // own; the walks at 1,000,000 run at their best with it (BENCHMARKS.md, `58adf78`).
    void preferHugePages(bool collapse) {
        vector_memory_prefer_huge_pages(graph.data_level0_memory_, graph.max_elements_ * graph.size_data_per_element_, collapse);
    }
};

hnsw_index *hnsw_new(size_t dimension, bool l2, size_t capacity, size_t m, size_t ef_construction, size_t seed,
                     char *error, size_t error_size) {
    try {
        return new hnsw_index(dimension, l2, capacity < 1 ? 1 : capacity, m, ef_construction, seed);
    } catch (const std::exception &e) {
        report(e, error, error_size);
        return nullptr;
    }
}

void hnsw_free(hnsw_index *index) { delete index; }

bool hnsw_reserve(hnsw_index *index, size_t capacity, char *error, size_t error_size) {
    try {
        if (capacity > index->graph.max_elements_) {
            index->graph.resizeIndex(capacity);
            index->preferHugePages(false);  // the room added is not written yet
        }
        return true;
    } catch (const std::exception &e) {
        report(e, error, error_size);
        return false;
    }
}

bool hnsw_add(hnsw_index *index, const float *vector, uint64_t label, char *error, size_t error_size) {
    try {
        index->graph.addPoint(vector, label);
        return true;
    } catch (const std::exception &e) {
        report(e, error, error_size);
        return false;
    }
}

void hnsw_delete(hnsw_index *index, uint64_t label) {
    try {
        index->graph.markDelete(label);
    } catch (const std::exception &) {
        // Unknown or already deleted: nothing to do.
    }
}

// searchKnn with the caller's ef (hnswlib's `ef_` is one per graph, and
// searches run side by side with different ones).
size_t hnsw_search(const hnsw_index *index, const float *query, size_t k, size_t ef, hnsw_filter filter,
                   void *context, uint64_t *labels, float *distances) {
    const auto &g = index->graph;
    if (g.cur_element_count == 0 || k == 0) return 0;
    hnswlib::tableint current = g.enterpoint_node_;
    float best = g.fstdistfunc_(query, g.getDataByInternalId(current), g.dist_func_param_);
    for (int level = g.maxlevel_; level > 0; level--) {
        for (bool changed = true; changed;) {
            changed = false;
            unsigned int *links = (unsigned int *)g.get_linklist(current, level);
            int size = g.getListCount(links);
            hnswlib::tableint *neighbours = (hnswlib::tableint *)(links + 1);
            for (int i = 0; i < size; i++) {
                float d = g.fstdistfunc_(query, g.getDataByInternalId(neighbours[i]), g.dist_func_param_);
                if (d < best) {
                    best = d;
                    current = neighbours[i];
                    changed = true;
                }
            }
        }
    }
    Filter admit(filter, context);
    hnswlib::BaseFilterFunctor *allowed = filter ? &admit : nullptr;
    size_t width = ef < k ? k : ef;
    auto found = (g.num_deleted_ == 0 && !allowed) ? g.searchBaseLayerST<true>(current, query, width, allowed)
                                                    : g.searchBaseLayerST<false>(current, query, width, allowed);
    while (found.size() > k) found.pop();
    size_t n = found.size();
    for (size_t i = n; i-- > 0;) {  // the queue gives the farthest first
        labels[i] = g.getExternalLabel(found.top().second);
        distances[i] = found.top().first;
        found.pop();
    }
    return n;
}

size_t hnsw_capacity(const hnsw_index *index) { return index->graph.max_elements_; }

size_t hnsw_bytes(const hnsw_index *index, size_t search_threads) {
    const auto &g = index->graph;
    size_t capacity = g.max_elements_, count = g.cur_element_count;
    size_t perSlot = g.size_data_per_element_ + sizeof(void *) + sizeof(int) + sizeof(std::mutex);
    size_t upperLevels = g.M_ > 1 ? count * g.size_links_per_element_ / (g.M_ - 1) : 0;  // a node reaches level l with odds M^-l
    size_t labelMap = count * 48;                                                          // an unordered_map node and its bucket
    size_t visited = (search_threads + 1) * capacity * sizeof(hnswlib::vl_type);
    return capacity * perSlot + upperLevels + labelMap + visited + g.label_op_locks_.size() * sizeof(std::mutex);
}

bool hnsw_save(const hnsw_index *index, const char *path, char *error, size_t error_size) {
    try {
        const_cast<hnswlib::HierarchicalNSW<float> &>(index->graph).saveIndex(path);
        return true;
    } catch (const std::exception &e) {
        report(e, error, error_size);
        return false;
    }
}

namespace {

// What loadIndex leaves unchecked and a search would trust: the layout of a
// node (this dimension's), every level's link count and every link inside
// the graph, the entry point on the top level.
const char *inconsistency(const hnswlib::HierarchicalNSW<float> &g, size_t dimension, size_t m, size_t efConstruction) {
    if (g.data_size_ != dimension * sizeof(float) || g.offsetLevel0_ != 0 || g.offsetData_ != g.size_links_level0_ ||
        g.label_offset_ != g.size_links_level0_ + g.data_size_ ||
        g.size_data_per_element_ != g.label_offset_ + sizeof(hnswlib::labeltype))
        return "another dimension or layout";
    if (g.M_ != m || g.maxM_ != m || g.maxM0_ != 2 * m || g.ef_construction_ != efConstruction) return "another hnsw_m or hnsw_ef_construction";
    size_t n = g.cur_element_count;
    if (n > 0 && (g.enterpoint_node_ >= n || g.maxlevel_ < 0 || g.element_levels_[g.enterpoint_node_] != g.maxlevel_))
        return "a bad entry point";
    for (size_t i = 0; i < n; i++) {
        int levels = g.element_levels_[i];
        if (levels < 0 || levels > g.maxlevel_) return "a bad level";
        for (int level = 0; level <= levels; level++) {
            const unsigned int *list = g.get_linklist_at_level(i, level);
            size_t count = g.getListCount(const_cast<unsigned int *>(list));
            if (count > (level == 0 ? g.maxM0_ : g.maxM_)) return "a link list too long";
            for (size_t j = 0; j < count; j++)
                if (list[1 + j] >= n) return "a link outside the graph";
        }
    }
    return nullptr;
}

}  // namespace

hnsw_index *hnsw_load(const char *path, size_t dimension, bool l2, size_t capacity, size_t m, size_t ef_construction,
                      char *error, size_t error_size) {
    try {
        auto index = new hnsw_index(dimension, l2, path, capacity);
        if (const char *why = inconsistency(index->graph, dimension, m, ef_construction)) {
            delete index;
            throw std::runtime_error(std::string("the saved graph has ") + why);
        }
        return index;
    } catch (const std::exception &e) {
        report(e, error, error_size);
        return nullptr;
    }
}

size_t hnsw_live_labels(const hnsw_index *index, uint64_t *labels, size_t capacity) {
    const auto &g = index->graph;
    size_t written = 0;
    for (size_t i = 0; i < g.cur_element_count; i++) {
        if (g.isMarkedDeleted(i)) continue;
        if (written < capacity) labels[written] = g.getExternalLabel(i);
        written++;
    }
    return written;
}

const float *hnsw_vector(const hnsw_index *index, uint64_t label) {
    const auto &g = index->graph;
    auto found = g.label_lookup_.find(label);
    if (found == g.label_lookup_.end() || g.isMarkedDeleted(found->second)) return nullptr;
    return reinterpret_cast<const float *>(g.getDataByInternalId(found->second));
}
