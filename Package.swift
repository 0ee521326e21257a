// swift-tools-version:6.0
import PackageDescription

// Language mode 5: the server bridges C callbacks and worker threads by hand
// (see ARCHITECTURE.md); every type that crosses threads says why it is safe.
let v5: [SwiftSetting] = [.swiftLanguageMode(.v5)]

// The commit `--version`, `server.status` and `/metrics` report ("+dirty" with uncommitted changes);
// without a git checkout (a Docker build), $STORAGE_PROXY_COMMIT.
let commit: String = {
    guard let git = Context.gitInformation else { return Context.environment["STORAGE_PROXY_COMMIT"] ?? "unknown" }
    return String(git.currentCommit.prefix(12)) + (git.hasUncommittedChanges ? "+dirty" : "")
}()

let package = Package(
    name: "StorageProxy",
    products: [
        .executable(name: "storage-proxy", targets: ["storage-proxy"]),
        .library(name: "StorageProxyClient", targets: ["StorageProxyClient"]),
        // Preloaded by `bench` into its own proxy to count allocations per request; nothing links it.
        .library(name: "AllocationCounter", type: .dynamic, targets: ["AllocationCounter"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", exact: "5.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", exact: "1.8.2"),
    ],
    targets: [
        // C libraries, used directly through module maps (Debian's -dev packages).
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CSQLite", pkgConfig: "sqlite3", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .systemLibrary(name: "CLibPQ", pkgConfig: "libpq", providers: [.apt(["libpq-dev"])]),
        .systemLibrary(name: "CLibCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CLibSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        .systemLibrary(name: "CH2O", pkgConfig: "libh2o", providers: [.apt(["libh2o-dev"])]),

        // The commit the binary was built from (a C define: Swift targets take no valued defines).
        .target(name: "AllocationCounter"),
        .target(name: "CBuildInfo", cSettings: [.define("STORAGE_PROXY_COMMIT", to: "\"\(commit)\"")]),

        // The wire and the model: JSON codec, JSON-RPC messages and ProxyError, records, time,
        // job queues and worker threads (and Threading, re-exported). No Foundation, no Yams.
        .target(name: "ProxyCore", dependencies: ["Threading"], swiftSettings: v5),
        // Threads meeting: Locked, ReadWriteLocked, the CompletionQueue a loop offers workers, and
        // LoopThread (loop-only code checks its thread in debug builds). Imports only Glibc.
        .target(name: "Threading", swiftSettings: v5),
        // What a backend is to the server: storage/cache protocols, read-through, in-process caches, table copy.
        .target(name: "StoragePorts", dependencies: ["ProxyCore", "VectorSearch"], swiftSettings: v5),
        // The configuration model and its YAML loader.
        .target(name: "ProxyConfig", dependencies: ["ProxyCore", .product(name: "Yams", package: "Yams")], swiftSettings: v5),
        // The SQL of both backends, written once: dialect, schema and migration runner,
        // statements, row codec, the table store of copy/export/checksum.
        .target(name: "SQLStore", dependencies: ["ProxyCore", "StoragePorts", "Scheduling", "VectorSearch"], swiftSettings: v5),
        // When a task runs next: cron, intervals and once, in a task's time zone; claims' outcomes.
        .target(name: "Scheduling", dependencies: ["ProxyCore", "StoragePorts"], swiftSettings: v5),
        // hnswlib 0.8.0 (vendored, header-only C++) behind a C face: the approximate neighbour graph.
        // Optimized even in debug builds: the tests build graphs of thousands of vectors.
        // Its prefetches stay on but under the sanitizers (see hnsw_shim.cpp).
        .target(name: "CHNSW", exclude: ["hnswlib/LICENSE"],
                cxxSettings: [.headerSearchPath("hnswlib"), .unsafeFlags(["-O3"])]),
        // Nearest-neighbour search over in-memory float32 vectors (the exact scan and the HNSW graph),
        // keyword ranking (BM25 over an inverted index).
        .target(name: "VectorSearch", dependencies: ["CHNSW"], swiftSettings: v5),
        // The vector store (`vector.*`) over any backend: in-memory matrices kept current per collection,
        // keyword, vector and hybrid search, scans on worker threads.
        .target(name: "VectorStore", dependencies: ["ProxyCore", "StoragePorts", "VectorSearch"], swiftSettings: v5),
        // StorageAdapter on sqlite3: one group-committing writer + reader threads.
        .target(name: "SQLiteStorage", dependencies: ["ProxyCore", "StoragePorts", "SQLStore", "Scheduling", "ProxyConfig", "CSQLite"], swiftSettings: v5),
        // Child processes by posix_spawn/waitpid (the CLI's private proxy, the benchmark's tools, the tests).
        .target(name: "Spawn", swiftSettings: v5),
        // TLS over memory (OpenSSL): contexts from PEM files, sessions whose bytes travel on our own sockets.
        .target(name: "TLS", dependencies: ["CLibSSL"], swiftSettings: v5),
        // The libuv bridge: loop, streams, timers, polls, the hand-off from worker threads.
        .target(name: "EventLoop", dependencies: ["Threading", "CLibUV"], swiftSettings: v5),
        // The vector store's optional embedder: an OpenAI-compatible /v1/embeddings endpoint over libcurl's
        // multi interface, driven by the loop.
        .target(name: "Embedder", dependencies: ["ProxyCore", "ProxyConfig", "EventLoop", "VectorStore", "CLibCurl"], swiftSettings: v5),
        // StorageAdapter on libpq, non-blocking on the loop: pool, migrations, transactions.
        .target(name: "PostgresStorage", dependencies: ["ProxyCore", "StoragePorts", "SQLStore", "Scheduling", "ProxyConfig", "EventLoop", "CLibPQ"], swiftSettings: v5),
        // Redis on the loop (hiredis async): the shared read-through cache and `cache.*`.
        .target(name: "RedisCache", dependencies: ["ProxyCore", "StoragePorts", "ProxyConfig", "EventLoop", "CHiredis"], swiftSettings: v5),
        // Listeners, connections, framing, dispatch, transactions; the HTTP endpoint (h2o) for metrics and probes.
        .target(name: "ProxyServer", dependencies: ["ProxyCore", "StoragePorts", "SQLStore", "ProxyConfig", "EventLoop", "Scheduling", "VectorStore", "CH2O", "CBuildInfo", "TLS"],
                swiftSettings: v5),
        // Client over the wire contract (used by `call`, `bench` and the tests).
        .target(name: "StorageProxyClient", dependencies: ["ProxyCore", "TLS"], swiftSettings: v5),
        // The benchmark's parts (not the product's): a bare libuv line-echo, the load driver, pgbench and
        // redis-benchmark runners. `storage-proxy bench` drives them.
        .target(name: "ProxyBench", dependencies: ["ProxyCore", "EventLoop", "SQLStore", "StorageProxyClient", "Spawn", "VectorSearch"], swiftSettings: v5),
        .executableTarget(
            name: "storage-proxy",
            dependencies: [
                "ProxyCore", "StoragePorts", "ProxyConfig", "SQLStore", "SQLiteStorage", "PostgresStorage", "RedisCache",
                "EventLoop", "ProxyServer", "StorageProxyClient", "ProxyBench", "Spawn", "Embedder", "VectorStore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: v5),

        .testTarget(name: "ProxyCoreTests", dependencies: ["ProxyCore"], swiftSettings: v5),
        .testTarget(name: "StoragePortsTests", dependencies: ["ProxyCore", "StoragePorts"], swiftSettings: v5),
        .testTarget(name: "SQLStoreTests", dependencies: ["ProxyCore", "StoragePorts", "SQLStore"], swiftSettings: v5),
        .testTarget(name: "SchedulingTests", dependencies: ["ProxyCore", "StoragePorts", "Scheduling"], swiftSettings: v5),
        .testTarget(name: "ProxyConfigTests", dependencies: ["ProxyCore", "ProxyConfig"], swiftSettings: v5),
        .testTarget(name: "VectorSearchTests", dependencies: ["VectorSearch"], swiftSettings: v5),
        .testTarget(name: "PoolPolicyTests", dependencies: ["PostgresStorage", "ProxyCore"], swiftSettings: v5),
        .testTarget(name: "PostgresStorageTests", dependencies: ["PostgresStorage", "EventLoop", "ProxyCore", "ProxyConfig", "SQLStore"], swiftSettings: v5),
        .testTarget(
            name: "ProxyTests",
            dependencies: ["ProxyCore", "StoragePorts", "ProxyConfig", "StorageProxyClient", "Spawn", "ProxyBench", "storage-proxy"],
            exclude: ["Fixtures"],  // read from the source tree by path (import-files)
            swiftSettings: v5),
    ]
)

// libFuzzer targets, only when `scripts/fuzz` builds them: they need
// `-sanitize=fuzzer,address -parse-as-library`, which an ordinary build must
// not get. Each feeds one reader of client input and checks what it must
// never do: crash, hang, or break its own invariants.
if Context.environment["STORAGE_PROXY_FUZZ"] == "1" {
    package.targets += [
        .target(name: "FuzzDriver", path: "Tests/Fuzz/FuzzDriver", swiftSettings: v5),
        .executableTarget(name: "fuzz-line-framer", dependencies: ["FuzzDriver", "ProxyCore"], path: "Tests/Fuzz/LineFramer", swiftSettings: v5),
        .executableTarget(name: "fuzz-json-parser", dependencies: ["FuzzDriver", "ProxyCore"], path: "Tests/Fuzz/JSONParser", swiftSettings: v5),
        .executableTarget(name: "fuzz-request-decoder", dependencies: ["FuzzDriver", "ProxyCore", "ProxyServer"], path: "Tests/Fuzz/RequestDecoder", swiftSettings: v5),
    ]
}
