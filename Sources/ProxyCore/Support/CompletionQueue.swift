/// How a backend reports a result. Backends call it on the server's loop
/// thread (through `CompletionQueue`), or synchronously when they already
/// have the answer (a cache hit), never on a worker thread.
public typealias Completion<T> = (Result<T, ProxyError>) -> Void

/// The server's loop: backends that work on other threads hand results back
/// through it. `post` is the only method callable from any thread.
public protocol CompletionQueue: AnyObject {
    func post(_ work: @escaping () -> Void)
    func post(all work: [() -> Void])
}
