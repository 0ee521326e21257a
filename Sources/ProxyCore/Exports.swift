// Locked, ReadWriteLocked, CompletionQueue and LoopThread live in `Threading`
// (which the libuv bridge needs without the rest of this module); everything
// that imports ProxyCore sees them as before.
@_exported import Threading
