import Foundation

/// A progress bar on standard error, drawn only when it is a terminal.
struct ProgressBar {
    let total: Int
    private var done = 0, drawn = -1
    private let visible = isatty(STDERR_FILENO) == 1

    init(total: Int) { self.total = total }

    mutating func advance(by n: Int = 1) {
        done += n
        let percent = total == 0 ? 100 : done * 100 / total
        guard visible, percent != drawn else { return }
        drawn = percent
        let bar = String(repeating: "#", count: percent / 4) + String(repeating: ".", count: 25 - percent / 4)
        fputs("\r[\(bar)] \(percent)% \(done)/\(total)", stderr)
    }

    func finish() { if visible && drawn >= 0 { fputs("\n", stderr) } }
}
