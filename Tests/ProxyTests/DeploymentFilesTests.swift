import Foundation
import Testing

/// The container files, checked without a Docker engine: docker-compose.yml
/// is valid for `docker-compose config` (Debian's docker-compose) with the
/// documented .env.example, refuses to start without the passwords, and uses
/// no variable that .env.example does not list.
@Suite("Deployment files")
struct DeploymentFilesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    func compose(envFile: String) throws -> CLIRun {
        try runProgram("/usr/bin/docker-compose", ["--env-file", envFile, "-f", Self.root + "/docker-compose.yml", "config"], cwd: Self.root)
    }

    @Test("docker-compose config accepts the compose file with .env.example, and resolves every service")
    func composeIsValid() throws {
        let run = try compose(envFile: Self.root + "/.env.example")
        #expect(run.status == 0, "\(run.err)")
        for service in ["postgres:", "redis:", "storage-proxy-1:", "storage-proxy-2:", "lb:", "qwen-agent-1:", "qwen-agent-2:"] {
            #expect(run.out.contains("  \(service)"), "no service \(service)")
        }
        #expect(run.out.contains("image: postgres:16-alpine") && run.out.contains("image: redis:7-alpine"))
        #expect(run.out.contains("DB_PASSWORD: change-me-db-password"))  // taken from the env file
        #expect(run.out.contains("condition: service_healthy"))
        // The two agents run the example scheduler, built from the Python client.
        #expect(run.out.components(separatedBy: "image: storage-proxy-scheduler:latest").count == 3)
        let agentImage = try String(contentsOfFile: Self.root + "/clients/python/Dockerfile", encoding: .utf8)
        #expect(agentImage.contains("examples/scheduler.py"))
        #expect(run.out.contains("--maxmemory-policy volatile-lru"), "Redis has a ceiling and an eviction policy")
        #expect(run.out.contains("REDIS_MAXMEMORY: 256mb"))
        #expect(run.out.contains("max_connections=200") && run.out.contains("nofile: 8192"), "sized as DEPLOYMENT.md says")
    }

    @Test("the load balancer checks /readyz on each proxy's HTTP port: no token to escape in haproxy.cfg")
    func loadBalancerProbesReadiness() throws {
        let haproxy = try String(contentsOfFile: Self.root + "/config/haproxy.cfg", encoding: .utf8)
        #expect(haproxy.contains("option httpchk GET /readyz") && haproxy.contains("check port 7601"))
        #expect(!haproxy.contains("PROXY_AUTH_TOKEN"))
        let enterprise = try String(contentsOfFile: Self.root + "/config/storage.enterprise.yaml", encoding: .utf8)
        #expect(enterprise.contains("http_listen: \"0.0.0.0:7601\""))
    }

    @Test("without the passwords docker-compose refuses, naming the missing one")
    func passwordsAreMandatory() throws {
        let empty = ProxyProcess.makeTempDir() + "/.env"
        try "".write(toFile: empty, atomically: true, encoding: .utf8)
        let run = try compose(envFile: empty)
        #expect(run.status != 0)
        #expect(run.err.contains("set DB_PASSWORD in .env") || run.err.contains("set REDIS_PASSWORD in .env")
                || run.err.contains("set PROXY_AUTH_TOKEN in .env"), "\(run.err)")
    }

    @Test("every variable docker-compose.yml and the load balancer use is in .env.example")
    func variablesAreDocumented() throws {
        let documented = Set(try String(contentsOfFile: Self.root + "/.env.example", encoding: .utf8)
            .split(separator: "\n").filter { !$0.hasPrefix("#") && $0.contains("=") }
            .map { String($0.split(separator: "=")[0]) })
        var used = Set<String>()
        for file in ["docker-compose.yml", "config/haproxy.cfg"] {
            let text = try String(contentsOfFile: Self.root + "/" + file, encoding: .utf8)
            let pattern = try NSRegularExpression(pattern: #"(?<!\$)\$\{([A-Z_][A-Z0-9_]*)"#)
            for m in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                used.insert(String(text[Range(m.range(at: 1), in: text)!]))
            }
        }
        #expect(used.count >= 5)
        #expect(used.subtracting(documented).isEmpty, "not in .env.example: \(used.subtracting(documented).sorted())")
    }
}
