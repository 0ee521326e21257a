/// The server's loop: backends that work on other threads hand results back
/// through it. `post` is the only method callable from any thread.
public protocol CompletionQueue: AnyObject {
    func post(_ work: @escaping () -> Void)
    func post(all work: [() -> Void])
}
