import Foundation
import StorageCore
import StorageProxyClient
import Testing

/// The Enterprise Edition's point: several proxies, one PostgreSQL.
@Suite("PostgreSQL: proxies sharing one database")
struct PostgresSharingTests {
    @Test("what one proxy acknowledged, the other reads at once, even after reading it before")
    func twoProxiesOneDatabase() throws {
        let a = try ProxyProcess(backend: .postgresql)
        // The second proxy serves the first one's database (same folder name → same database).
        let b = try ProxyProcess(backend: .postgresql, arguments: ["--database", try TestPostgres.database(named: a.dir)])
        let ca = try a.client(), cb = try b.client()
        _ = try ca.result("save_task", ["task": sampleTask(id: "shared")])
        #expect(try cb.result("get_task", ["task_id": "shared"]).objectValue?["status"] == "pending")
        #expect(try cb.result("list_tasks").arrayValue?.count == 1)
        for status in ["running", "done"] {
            _ = try ca.result("update_task_status", ["task_id": "shared", "status": .string(status)])
            #expect(try cb.result("get_task", ["task_id": "shared"]).objectValue?["status"] == .string(status))
            #expect(try cb.result("list_tasks", ["status": .string(status)]).arrayValue?.count == 1)
        }
        _ = try cb.result("delete_task", ["task_id": "shared"])
        #expect(try ca.result("get_task", ["task_id": "shared"]) == .null)
    }
}
