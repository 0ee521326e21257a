// Which SIMD a kernel is compiled for: AVX-512, AVX2+FMA and baseline x86-64
// clones, the widest the machine has chosen when the program loads.
#ifndef SIMD_CLONES_H
#define SIMD_CLONES_H

// A clone's resolver runs while the dynamic loader relocates, before a
// sanitizer's runtime is up, and instrumented it crashes: sanitized builds
// take the plain version.
#if defined(__has_feature)
#if __has_feature(thread_sanitizer) || __has_feature(address_sanitizer)
#define HNSW_SANITIZED 1
#endif
#endif

#if defined(__x86_64__) && defined(__clang__) && !defined(HNSW_SANITIZED)
#define HNSW_SIMD_CLONES __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define HNSW_SIMD_CLONES
#endif

#endif
