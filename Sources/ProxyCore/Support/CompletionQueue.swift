/// How a backend reports a result. Backends call it on the server's loop
/// thread (through `CompletionQueue`), or synchronously when they already
/// have the answer (a cache hit), never on a worker thread.
public typealias Completion<T> = (Result<T, ProxyError>) -> Void
