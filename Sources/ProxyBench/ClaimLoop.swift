import Foundation
import ProxyCore
import StorageProxyClient

/// Competing schedulers, as fast as they can: each worker (its own thread and
/// connection) claims one due task, completes it with a next run in the past
/// (so the task is due again at once), and goes on. A cycle is two durable
/// writes: the claim and the completion. (That no task is claimed twice is
/// the behaviour suites' job: `ClaimTests`.)
public struct ClaimLoop {
    public struct Figures {
        public var cycles: Int
        public var empty: Int
        public var errors: Int
        public var seconds: Double
        public var perSecond: Double { Double(cycles) / seconds }
    }

    let address: ProxyAddress
    let workers: Int
    let duration: Double

    public init(address: ProxyAddress, workers: Int, duration: Double) {
        self.address = address; self.workers = workers; self.duration = duration
    }

    /// `count` tasks due long ago, cycled by the workers.
    public static func seedLines(count: Int) -> [String] {
        (0..<count).map { i in
            #"{"id":\#(i),"method":"save_task","params":{"task":{"id":"claim-\#(i)","agent_name":"bench","task_prompt":"p","schedule_type":"manual","schedule_value":"-","next_run":"2020-01-01T00:00:00Z"}}}"#
        }
    }

    public func run() throws -> Figures {
        let counts = Locked<(cycles: Int, empty: Int, errors: Int)>((0, 0, 0))
        let start = MonotonicClock.seconds()
        let deadline = start + duration
        let finished = DispatchSemaphore(value: 0)
        for w in 0..<workers {
            let client = try LineClient(address)
            let worker = "bench-worker-\(w)"
            Thread {
                // Requests are fixed text and answers are scanned, not parsed: the
                // driver must cost little next to pgbench's C client.
                let claim = #"{"id":1,"method":"claim_due_tasks","params":{"worker":"\#(worker)","limit":1,"lease_seconds":60}}"# + "\n"
                var cycles = 0, empty = 0, errors = 0
                while MonotonicClock.seconds() < deadline {
                    guard (try? client.send(claim)) != nil, let answer = try? client.readLine() else { errors += 1; continue }
                    guard let id = Self.firstTaskID(answer) else {
                        if answer.hasPrefix(#"{"jsonrpc":"2.0","id":1,"result":[]"#) { empty += 1 } else { errors += 1 }
                        continue
                    }
                    let complete = #"{"id":2,"method":"complete_task","params":{"task_id":"\#(id)","worker":"\#(worker)","status":"completed","next_run":"2020-01-01T00:00:00Z"}}"# + "\n"
                    guard (try? client.send(complete)) != nil, let done = try? client.readLine(), done.contains(#""result":{"#) else {
                        errors += 1
                        continue
                    }
                    cycles += 1
                }
                client.close()
                counts.withLock { $0.cycles += cycles; $0.empty += empty; $0.errors += errors }
                finished.signal()
            }.start()
        }
        for _ in 0..<workers { finished.wait() }
        let c = counts.withLock { $0 }
        return Figures(cycles: c.cycles, empty: c.empty, errors: c.errors, seconds: MonotonicClock.seconds() - start)
    }

    /// The first task's id in a claim's answer (`…"result":[{"id":"…"`).
    static func firstTaskID(_ answer: String) -> String? {
        guard let start = answer.range(of: #""result":[{"id":""#) else { return nil }
        let rest = answer[start.upperBound...]
        guard let end = rest.firstIndex(of: "\"") else { return nil }
        return String(rest[..<end])
    }
}
