#if canImport(Glibc)
import Glibc
#endif

/// Creates the folders a file path needs (`mkdir -p` of its parent).
/// Returns the folder that could not be made, if one could not.
public func createParentDirectories(of path: String) -> String? {
    let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
    var prefix = ""
    for (i, part) in parts.enumerated() {
        prefix += (i == 0 ? "" : "/") + part
        guard !prefix.isEmpty, part != ".", part != ".." else { continue }
        if mkdir(prefix, 0o755) != 0 && errno != EEXIST { return prefix }
    }
    return nil
}
