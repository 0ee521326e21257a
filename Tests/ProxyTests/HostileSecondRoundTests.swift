import Foundation
import ProxyCore
import StorageProxyClient
import Testing

/// The surfaces added after the first hardening (HTTP, scoped auth, schedules,
/// the vector store), tried as a hostile or broken client would: each costs
/// the client alone, is bounded by a limit, and is answered clearly. One test
/// at a time: each loads the machine on purpose, and measures what others see.
@Suite("Hostile clients, second round", .serialized)
struct HostileSecondRoundTests {
    /// Another client's `health_check`, timed while `busy` runs: the worst of them.
    static func othersWorstWait(_ proxy: ProxyProcess, while busy: () throws -> Void) throws -> Double {
        let stop = Locked(false), worst = Locked(0.0)
        let prober = try proxy.client()
        let thread = Thread {
            while !stop.withLock({ $0 }) {
                let asked = MonotonicClock.seconds()
                guard (try? prober.result("health_check")) != nil else { return }
                let waited = MonotonicClock.seconds() - asked
                worst.withLock { $0 = max($0, waited) }
                usleep(5_000)
            }
        }
        thread.start()
        usleep(50_000)
        defer { stop.withLock { $0 = true } }
        try busy()
        usleep(20_000)
        return worst.withLock { $0 }
    }

    @Test("schedule.next_runs of a sparse schedule, pipelined by one client, never holds up the others (computed off the loop)")
    func sparseSchedulesOffTheLoop() throws {
        let proxy = try ProxyProcess()
        let c = try proxy.client()
        let request = #"{"id":1,"method":"schedule.next_runs","params":{"schedule_type":"cron","schedule_value":"0 0 29 2 *","#
            + #""time_zone":"America/New_York","count":100,"after":"2026-01-01T00:00:00Z"}}"# + "\n"
        let n = 600
        var answers: [String] = []
        let started = MonotonicClock.seconds()
        let worst = try Self.othersWorstWait(proxy) {
            let sender = Thread { try? c.send(String(repeating: request, count: n)) }
            sender.start()
            for _ in 0..<n { answers.append(try #require(try c.readLine())) }
        }
        let took = MonotonicClock.seconds() - started
        #expect(answers.count == n && answers.allSatisfy { $0.contains("\"2028-02-29T05:00:00.000000Z\"") && $0.contains("2424-02-29") })
        #expect(worst < 1.0, "another client waited \(worst) s while \(n) schedules took \(took) s")
    }

    @Test("POST / of a batch whose answer is 30 times max_output_bytes streams out in pieces; the proxy's memory stays bounded")
    func hugeHTTPAnswer() throws {
        let maxOutput = underSanitizer ? 256 << 10 : 1 << 20
        let (proxy, port) = try HTTPEndpointTests.proxy(config: "server:\n  max_output_bytes: \(maxOutput)\n")
        // Just over 30 answers of max_output_bytes, however large rpc.discover's answer has grown.
        let one = try HTTPExchange(port: port, "POST", "/", body: #"{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}"#).body.utf8.count
        let n = 30 * maxOutput / one + 20
        let before = try proxy.peakMemoryKiB()
        let batch = "[" + Array(repeating: #"{"jsonrpc":"2.0","id":1,"method":"rpc.discover"}"#, count: n).joined(separator: ",") + "]"
        var worst = 0.0
        var http: HTTPExchange?
        worst = try Self.othersWorstWait(proxy) { http = try HTTPExchange(port: port, "POST", "/", body: batch, timeoutSeconds: 60) }
        let answer = try #require(http)
        let grew = try proxy.peakMemoryKiB() - before
        #expect(answer.status == 200 && answer.headers["transfer-encoding"] == "chunked", "\(answer.status) \(answer.headers)")
        #expect(answer.body.utf8.count > 30 * maxOutput && answer.body.hasPrefix("[{") && answer.body.hasSuffix("}]\n"))
        #expect(answer.body.components(separatedBy: #"{"jsonrpc":"2.0","id":1,"result":{"openrpc""#).count - 1 == n)
        // (A sanitizer's quarantine keeps freed memory: the figure means nothing there.)
        if !underSanitizer {
            #expect(grew < 16 << 10, "peak memory grew by \(grew) KiB for a \(answer.body.utf8.count >> 20) MiB answer")
        }
        // Not asserted: with a 60 MiB transfer in this process too, the figure is the machine's as much as the proxy's.
        print("memory: a \(answer.body.utf8.count >> 20) MiB HTTP answer raised the proxy's peak by \(grew) KiB; others waited \(worst) s at most")
    }

    @Test("HTTP request-smuggling shapes (Content-Length with Transfer-Encoding, two different Content-Lengths) get 400 and a closed connection")
    func smugglingShapesAreRefused() throws {
        let (proxy, port) = try HTTPEndpointTests.proxy()
        defer { withExtendedLifetime(proxy) {} }
        let hidden = "GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        let both = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \(5 + hidden.utf8.count)\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + hidden
        let twoLengths = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 32\r\nContent-Length: 5\r\n\r\n"
            + #"{"id":1,"method":"health_check"}"# + hidden
        for raw in [both, twoLengths] {
            let answer = try HTTPExchange.roundTrip(port: port, Array(raw.utf8))
            #expect(answer.hasPrefix("HTTP/1.1 400 "), "\(answer)")
            #expect(answer.components(separatedBy: "HTTP/1.1 ").count == 2, "one answer, then the connection closed: \(answer)")
            #expect(!answer.contains("smuggled") && !answer.contains("404"), "\(answer)")
        }
        // Keep-alive itself is untouched: two pipelined requests, two answers.
        let two = try HTTPExchange.roundTrip(port: port, Array(("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
                                                                + "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").utf8))
        #expect(two.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "\(two)")
    }

    @Test("wrong tokens: delayed, counted and the connection closed at server.max_auth_failures, on a line (queued requests never run) and over HTTP (/metrics, POST /)")
    func tokenGuessingIsThrottledEverywhere() throws {
        let token = "t-\(UInt64.random(in: 0...UInt64.max))"
        let (proxy, port) = try HTTPEndpointTests.proxy(
            config: "server:\n  listen: \"127.0.0.1:0\"\n  auth_token: \"\(token)\"\n  max_auth_failures: 3\n  auth_failure_delay_ms: 200\n")
        // A line: five wrong tokens, then the right one and a call, all pipelined.
        let line = try LineClient(.tcp(host: "127.0.0.1", port: try #require(proxy.tcpPort)))
        let wrong = (1...5).map { #"{"id":\#($0),"method":"auth","params":{"token":"wrong-\#($0)"}}"# }
        try line.send((wrong + [#"{"id":6,"method":"auth","params":{"token":"\#(token)"}}"#, #"{"id":7,"method":"server.status"}"#])
            .joined(separator: "\n") + "\n")
        var answers: [String] = []
        while let l = try line.readLine() { answers.append(l) }
        #expect(answers.count == 3 && answers.allSatisfy { $0.contains("-32007") }, "\(answers)")
        #expect(answers.last?.contains("the connection closes") == true)

        // HTTP: five requests with a wrong bearer token on one kept-alive connection, to /metrics and to POST /.
        for request in ["GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\n\r\n",
                        "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer nope\r\nContent-Length: 32\r\n\r\n"
                            + #"{"id":1,"method":"health_check"}"#] {
            let asked = MonotonicClock.seconds()
            let raw = try HTTPExchange.roundTrip(port: port, Array(String(repeating: request, count: 5).utf8))
            let took = MonotonicClock.seconds() - asked
            #expect(raw.components(separatedBy: "HTTP/1.1 401 ").count - 1 == 3, "three answers, then the connection closed: \(raw)")
            #expect(raw.contains("too many wrong tokens"), "\(raw)")
            #expect(took >= 0.55, "each wrong token answered after server.auth_failure_delay_ms: \(took) s for three")
        }
        let metrics = try HTTPExchange(port: port, "GET", "/metrics", headers: ["Authorization": "Bearer \(token)"])
        let counted = metrics.body.split(separator: "\n").first { $0.hasPrefix("storage_proxy_auth_failures_total ") }
        #expect(counted.flatMap { Double($0.split(separator: " ")[1]) } == 9, "\(counted ?? "no counter")")
    }

    @Test("failed handshakes on the HTTPS port are counted in storage_proxy_tls_failures_total")
    func httpsHandshakeFailuresAreCounted() throws {
        let certs = try TestCertificates()
        let proxy = try TLSTests.proxy(certs)
        let port = try #require(proxy.httpPort)
        func failures() throws -> Double? {
            let page = try runProgram("/usr/bin/curl", ["-s", "--cacert", certs.ca, "https://localhost:\(port)/metrics"]).out
            return page.split(separator: "\n").first { $0.hasPrefix("storage_proxy_tls_failures_total ") }
                .flatMap { Double($0.split(separator: " ")[1]) }
        }
        let before = try #require(try failures())
        // A client that does not trust the certificate, and one that speaks plain HTTP to the HTTPS port.
        #expect(try runProgram("/usr/bin/curl", ["-s", "--cacert", certs.otherCA, "https://localhost:\(port)/healthz"]).status != 0)
        let plain = try HTTPExchange.roundTrip(port: port, Array("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(!plain.contains("200 OK"))
        let after = try failures()
        #expect(after == before + 2, "\(before) → \(String(describing: after))")
    }

    @Test("vector.max_memory_bytes counts what a loaded collection holds (ids and metadata too): past it a search is -32006, memory stays bounded")
    func vectorMemoryCountsMetadata() throws {
        let proxy = try ProxyProcess(arguments: ["--config", try writeConfig("vector:\n  max_memory_bytes: 4194304\n")])
        let c = try proxy.client()
        _ = try c.result("vector.create_collection", ["name": "wide", "dimension": 4, "metric": "l2"])
        // 20,000 documents of 4 floats (320 KB of vectors) with 64 metadata keys each (tens of MB in memory).
        let metadata: JSONValue = .object(JSONObject((0..<64).map { ("k\($0)", .string("v\($0)")) }))
        for start in stride(from: 0, to: 20_000, by: 500) {
            let ids = (start..<start + 500).map { JSONValue.string("document-with-a-long-id-\($0)") }
            _ = try c.result("vector.add_documents", ["collection": "wide", "ids": .array(ids), "documents": .array(ids),
                                                      "metadata": .array(Array(repeating: metadata, count: 500)),
                                                      "embeddings": .array((start..<start + 500).map { [.double(Double($0)), 1, 2, 3] })])
        }
        let before = try proxy.peakMemoryKiB()
        let refused = try c.call("vector.search", ["collection": "wide", "embedding": [1, 1, 1, 1], "top_k": 3])
        let error = try #require(refused["error"]?.objectValue, "the collection was loaded: \(refused)")
        #expect(error["code"] == -32006 && error["message"]?.stringValue?.contains("vector.max_memory_bytes") == true, "\(error)")
        let grew = try proxy.peakMemoryKiB() - before
        if !underSanitizer {  // a sanitizer's quarantine keeps freed memory
            #expect(grew < 16 << 10, "peak memory grew by \(grew) KiB")
        }
        let status = try c.result("server.status").objectValue?["vectors"]?.objectValue?["memory_bytes"]?.doubleValue ?? -1
        #expect(status <= 4_194_304, "server.status reports \(status) bytes")
    }

    @Test("vectors within float32 are never lost at search: cosine takes any length; dot and l2 refuse one whose scores would overflow",
          arguments: TestBackend.allCases)
    func hugeVectors(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let c = try proxy.client()
        let big = (0..<8).map { JSONValue.double($0 % 2 == 0 ? 3e38 : -1e38) }
        for metric in ["cosine", "dot", "l2"] {
            _ = try c.result("vector.create_collection", ["name": .string(metric), "dimension": 8, "metric": .string(metric)])
            let added = try c.call("vector.add_documents", ["collection": .string(metric), "ids": ["huge"], "documents": ["huge"],
                                                           "embeddings": [.array(big)]])
            if metric == "cosine" {
                #expect(added["result"] == ["huge"], "\(added)")
                let hits = try c.result("vector.search", ["collection": "cosine", "embedding": .array(big), "top_k": 3]).arrayValue ?? []
                #expect(hits.count == 1 && hits.first?.objectValue?["score"]?.doubleValue.map { abs($0 - 1) < 1e-5 } == true, "\(hits)")
            } else {
                let error = try #require(added["error"]?.objectValue, "\(metric) took a vector whose scores overflow: \(added)")
                #expect(error["code"] == -32602 && error["data"]?.objectValue?["field"] == "embeddings[0]", "\(error)")
                // Long but within the bound: found, with a number for a score.
                let long = (0..<8).map { JSONValue.double($0 == 0 ? 9e17 : 1e16) }
                _ = try c.result("vector.add_documents", ["collection": .string(metric), "ids": ["long"], "documents": ["long"],
                                                          "embeddings": [.array(long)]])
                let hits = try c.result("vector.search", ["collection": .string(metric), "embedding": .array(long), "top_k": 3]).arrayValue ?? []
                #expect(hits.count == 1 && hits.first?.objectValue?["score"]?.doubleValue?.isFinite == true, "\(hits)")
                #expect(try c.errorCode("vector.search", ["collection": .string(metric), "embedding": .array(big)]) == -32602)
            }
        }
    }

    @Test("one client pipelining heavy keyword searches: the others' health_check (its own lane) and reads (their turn) are not held up",
          arguments: TestBackend.allCases)
    func heavyReadsShareTheReaders(backend: TestBackend) throws {
        // PostgreSQL runs the statements of every client on the same cores: a client's share is its reads in flight
        // (server.max_reads_in_flight); statements pipelined on one connection wait for those before them, so
        // isolating clients there means no pipelining (storage.postgresql.pipeline_depth: 1).
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", try writeConfig(
            "server:\n  max_reads_in_flight: 4\nstorage:\n  postgresql:\n    pipeline_depth: 1\n")])
        let c = try proxy.client()
        _ = try c.result("save_task", ["task": sampleTask(id: "t")])
        // 3,000 documents of 8-30 words from a vocabulary of 500: common words match thousands.
        var rng = SystemRandomNumberGenerator()
        let vocabulary = (0..<500).map { "word\($0)" }
        for start in stride(from: 0, to: 3_000, by: 1_000) {
            let texts = (0..<1_000).map { _ in JSONValue.string((0..<Int.random(in: 8...30, using: &rng)).map { _ in
                vocabulary[min(Int(Double(vocabulary.count) * pow(Double.random(in: 0..<1, using: &rng), 3)), vocabulary.count - 1)]
            }.joined(separator: " ")) }
            _ = try c.result("vector.add_documents", ["ids": .array((start..<start + 1_000).map { .string("d\($0)") }), "documents": .array(texts)])
        }
        let query = vocabulary.prefix(64).joined(separator: " ")
        let search = #"{"id":1,"method":"vector.search","params":{"query":"\#(query)","top_k":10}}"# + "\n"
        let hog = try proxy.client()
        let reader = try proxy.client()
        let n = 60  // each about 40-60 ms on either backend (debug build, two cores): a few seconds of searching
        let worstRead = Locked(0.0)
        let began = MonotonicClock.seconds()
        let worstHealth = try Self.othersWorstWait(proxy) {
            let sender = Thread { try? hog.send(String(repeating: search, count: n)) }
            sender.start()
            let readerStop = Locked(false)
            let readerThread = Thread {
                while !readerStop.withLock({ $0 }) {
                    let asked = MonotonicClock.seconds()
                    guard (try? reader.result("get_task", ["task_id": "t"])) != nil else { return }
                    let waited = MonotonicClock.seconds() - asked
                    worstRead.withLock { $0 = max($0, waited) }
                    usleep(5_000)
                }
            }
            readerThread.start()
            for _ in 0..<n { _ = try #require(try hog.readLine()) }
            readerStop.withLock { $0 = true }
        }
        #expect(worstHealth < 1.0, "health_check waited \(worstHealth) s behind another client's searches")
        #expect(worstRead.withLock { $0 } < 2.0, "get_task waited \(worstRead.withLock { $0 }) s behind another client's searches")
        print("\(backend): while one client ran \(n) pipelined searches (\(MonotonicClock.seconds() - began) s), others waited at most \(worstHealth) s (health_check), "
              + "\(worstRead.withLock { $0 }) s (get_task)")
    }

    @Test("a TLS handshake that never finishes ends at server.idle_timeout; the others are served meanwhile")
    func stalledHandshakes() throws {
        let certs = try TestCertificates()
        let proxy = try TLSTests.proxy(certs, extra: "  idle_timeout: 1\n")
        let port = try #require(proxy.tcpPort)
        // Ten clients that connect and send half a ClientHello, then nothing.
        let stalled = try (0..<10).map { _ -> Int32 in
            let fd = try HTTPExchange.connectLoopback(port: port)
            let partial: [UInt8] = [0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]
            _ = partial.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            var timeout = timeval(tv_sec: 10, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            return fd
        }
        let client = try LineClient(try #require(ProxyAddress("tls://127.0.0.1:\(port)?ca=\(certs.ca)")))
        #expect(try client.result("health_check") == true, "served while the others stall")
        let asked = MonotonicClock.seconds()
        for fd in stalled {
            var byte: UInt8 = 0
            #expect(recv(fd, &byte, 1, 0) <= 0, "closed, not answered")
            close(fd)
        }
        #expect(MonotonicClock.seconds() - asked < 8, "closed by idle_timeout (1 s), not left open")
    }

    @Test("claims past their bounds are clear errors: limit over 1000, a lease past server.max_lease_seconds or year 9999",
          arguments: TestBackend.allCases)
    func claimBounds(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend, arguments: ["--config", try writeConfig("server:\n  max_lease_seconds: 600\n")])
        let c = try proxy.client()
        #expect(try c.errorCode("claim_due_tasks", ["worker": "w", "limit": 1001]) == -32602)
        #expect(try c.errorCode("claim_due_tasks", ["worker": "w", "lease_seconds": 601]) == -32602)
        #expect(try c.errorCode("claim_due_tasks", ["worker": "w", "now": "9999-12-31T23:59:30Z", "lease_seconds": 60]) == -32602)
        #expect(try c.result("claim_due_tasks", ["worker": "w", "now": "9999-12-31T23:58:00Z", "lease_seconds": 60]) == [])
    }
}
