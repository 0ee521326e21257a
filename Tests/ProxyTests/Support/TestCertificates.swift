import Foundation
import Testing

/// Throwaway certificates made with `openssl` for one test: an authority,
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
        let script = """
            set -e
            cd '\(dir)'
            key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
            key ca.key; openssl req -x509 -key ca.key -out ca.pem -days 2 -subj '/CN=\(name) CA' 2>/dev/null
            key other-ca.key; openssl req -x509 -key other-ca.key -out other-ca.pem -days 2 -subj '/CN=other CA' 2>/dev/null
            printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nextendedKeyUsage=serverAuth\\n' > server.ext
            printf 'extendedKeyUsage=clientAuth\\n' > client.ext
            key server.key; openssl req -new -key server.key -out server.csr -subj '/CN=localhost' 2>/dev/null
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext 2>/dev/null
            openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out expired.pem -days 0 -extfile server.ext 2>/dev/null
            key client.key; openssl req -new -key client.key -out client.csr -subj '/CN=agent' 2>/dev/null
            openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext 2>/dev/null
            chmod 644 *.pem *.key
            """
        let r = try runProgram("/bin/sh", ["-c", script])
        try #require(r.status == 0, "openssl: \(r.err)")
    }

    /// `server.tls` in YAML, with `cert` (default: the valid one).
    func serverYAML(cert: String? = nil, clientCA: String? = nil) -> String {
        "  tls:\n    cert: \(cert ?? serverCert)\n    key: \(serverKey)\n" + (clientCA.map { "    client_ca: \($0)\n" } ?? "")
    }
}
