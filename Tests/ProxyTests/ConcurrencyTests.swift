import Foundation
import ProxyCore
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

@Suite("Read-through cache under concurrency")
struct ReadThroughRaceTests {
    @Test("readers never see a task older than the last acknowledged write", arguments: TestBackend.allCases)
    func noStaleReads(backend: TestBackend) throws {
        let proxy = try ProxyProcess(backend: backend)
        let setup = try proxy.client()
        _ = try setup.result("save_task", ["task": sampleTask(id: "hot", extra: [("status", "0")])])
        let acknowledged = Locked<Int>(0)
        let stop = Locked<Bool>(false)
        let stale = Locked<[String]>([])
        let readers = (0..<4).map { _ in
            Thread {
                guard let c = try? proxy.client() else { return }
                while !stop.withLock({ $0 }) {
                    let floor = acknowledged.withLock { $0 }  // acknowledged before this read is sent
                    guard let t = try? c.result("get_task", ["task_id": "hot"]),
                          let seen = t.objectValue?["status"]?.stringValue.flatMap({ Int($0) }) else { continue }
                    if seen < floor { stale.withLock { $0.append("saw \(seen) after \(floor) was acknowledged") } }
                }
            }
        }
        readers.forEach { $0.start() }
        let writer = try proxy.client()
        for version in 1...1000 {
            _ = try writer.result("update_task_status", ["task_id": "hot", "status": .string(String(version))])
            acknowledged.withLock { $0 = version }
        }
        stop.withLock { $0 = true }
        usleep(100_000)
        #expect(stale.withLock { $0 }.isEmpty, "\(stale.withLock { $0.prefix(5) })")
        #expect(try setup.result("get_task", ["task_id": "hot"]).objectValue?["status"] == "1000")
    }
}
