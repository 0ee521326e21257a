import Foundation
import Testing

/// Throwaway certificates for one test (scripts/make-test-certificates): an authority,
/// a server certificate for localhost and 127.0.0.1 signed by it, one that
/// has already expired, a client certificate, and an unrelated authority.
struct TestCertificates {
    let dir: String
    var ca: String { dir + "/ca.pem" }
    var serverCert: String { dir + "/server.pem" }
    var serverKey: String { dir + "/server.key" }
    var expiredCert: String { dir + "/expired.pem" }
    var clientCert: String { dir + "/client.pem" }
    var clientKey: String { dir + "/client.key" }
    var otherCA: String { dir + "/other-ca.pem" }

    init(dir: String = ProxyProcess.makeTempDir(), name: String = "test") throws {
        self.dir = dir
        let r = try runProgram(DeploymentFilesTests.root + "/scripts/make-test-certificates", [dir, name])
        try #require(r.status == 0, "openssl: \(r.err)")
    }

    /// `server.tls` in YAML, with `cert` (default: the valid one).
    func serverYAML(cert: String? = nil, clientCA: String? = nil) -> String {
        "  tls:\n    cert: \(cert ?? serverCert)\n    key: \(serverKey)\n" + (clientCA.map { "    client_ca: \($0)\n" } ?? "")
    }
}
