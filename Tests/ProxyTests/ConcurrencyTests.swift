import Foundation
import StorageCore
import StorageProxyClient
import Testing

@Suite("Concurrency")
struct ConcurrencyTests {
    @Test("200 concurrent connections, no cross-talk", arguments: TestBackend.allCases)
    func manyConnections(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let failures = Locked<[String]>([])
        let done = DispatchGroup()
        for n in 0..<200 {
            done.enter()
            Thread {
                defer { done.leave() }
                do {
                    let c = try proxy.client()
                    for i in 0..<10 {
                        let key = "c\(n)-\(i)"
                        _ = try c.result("save_metadata", ["key": .string(key), "value": ["conn": .int(Int64(n)), "i": .int(Int64(i))]])
                        let r = try c.call("get_metadata", ["key": .string(key)], id: Int64(n * 1000 + i))
                        if r["id"] != .int(Int64(n * 1000 + i)) || r["result"] != ["conn": .int(Int64(n)), "i": .int(Int64(i))] {
                            failures.withLock { $0.append("\(key): \(r)") }
                        }
                    }
                } catch {
                    failures.withLock { $0.append("connection \(n): \(error)") }
                }
            }.start()
        }
        done.wait()
        #expect(failures.withLock { $0 }.isEmpty, "\(failures.withLock { $0.prefix(5) })")
    }

    @Test("a client that does not read is paused; others are served and nothing is lost")
    func backpressure() throws {
        let proxy = try ProxyProcess()
        let slow = try proxy.client()
        let n = 100_000
        let line = #"{"id":1,"method":"cache.get","params":{"key":"some-key-that-is-not-there"}}"# + "\n"
        let sender = Thread { try? slow.send(Array(String(repeating: line, count: n).utf8)) }
        sender.start()
        usleep(300_000)
        let other = try proxy.client()
        #expect(try other.result("health_check") == .bool(true))
        var count = 0
        while count < n, let l = try slow.readLine() {
            if l.contains("\"result\":null") { count += 1 }
        }
        #expect(count == n)
    }
}
