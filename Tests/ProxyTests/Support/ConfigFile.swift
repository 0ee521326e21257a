import Foundation

/// Writes a YAML config for one test and returns its path.
func writeConfig(_ yaml: String) throws -> String {
    let path = ProxyProcess.makeTempDir() + "/proxy.yaml"
    try yaml.write(toFile: path, atomically: true, encoding: .utf8)
    return path
}
