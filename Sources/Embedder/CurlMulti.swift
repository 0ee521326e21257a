import CLibCurl
import EventLoop
import ProxyCore

/// HTTP POSTs on the loop through libcurl's multi interface (as curl's own
/// `multi-uv.c` example): libcurl says which sockets to watch and when to
/// wake it (its socket and timer callbacks), libuv watches them (one
/// `UVPoll` per socket, one timer) and hands readiness back through
/// `curl_multi_socket_action`. No thread, no blocking call. This file is
/// the only one that touches libcurl. Loop thread only.
final class CurlMulti {
    struct Response {
        let status: Int
        let body: [UInt8]
    }

    /// One transfer: libcurl's easy handle, what it has received, who waits.
    final class Transfer {
        let easy: UnsafeMutableRawPointer
        var headers: UnsafeMutablePointer<curl_slist>?
        var body: [UInt8] = []
        let maxBytes: Int
        var tooLarge = false
        let done: (Result<Response, ProxyError>) -> Void

        init(easy: UnsafeMutableRawPointer, maxBytes: Int, done: @escaping (Result<Response, ProxyError>) -> Void) {
            self.easy = easy; self.maxBytes = maxBytes; self.done = done
        }
    }

    private let loop: UVLoop
    private let multi: UnsafeMutableRawPointer
    private var timer: UVCallback!
    private var polls: [Int32: UVPoll] = [:]
    private var transfers: [UnsafeMutableRawPointer: Transfer] = [:]

    private static let globalInit: Void = { curl_global_init(Int(CURL_GLOBAL_DEFAULT)) }()

    init(loop: UVLoop) {
        _ = Self.globalInit
        self.loop = loop
        multi = curl_multi_init()
        timer = UVCallback(loop: loop, .timer) { [unowned self] in act(on: -1, flags: 0) }  // CURL_SOCKET_TIMEOUT
        let me = Unmanaged.passUnretained(self).toOpaque()  // `close` ends libcurl's use of it
        shim_multi_setopt_pointer(multi, CURLMOPT_SOCKETDATA, me)
        shim_multi_setopt_pointer(multi, CURLMOPT_TIMERDATA, me)
        shim_multi_setopt_socket(multi) { _, fd, what, context, _ in
            Unmanaged<CurlMulti>.fromOpaque(context!).takeUnretainedValue().watch(fd, what)
            return 0
        }
        shim_multi_setopt_timer(multi) { _, timeoutMs, context in
            let me = Unmanaged<CurlMulti>.fromOpaque(context!).takeUnretainedValue()
            if timeoutMs < 0 { me.timer.stopTimer() } else { me.timer.startTimer(ms: UInt64(timeoutMs)) }
            return 0
        }
    }

    var inFlight: Int { transfers.count }

    /// POSTs `body`; `done` runs on the loop with the status and body, or a
    /// `-32003` naming what failed (never the headers: they carry the key).
    func post(url: String, headers: [String], body: [UInt8], timeoutMs: Int, maxResponseBytes: Int,
              _ done: @escaping (Result<Response, ProxyError>) -> Void) {
        guard let easy = curl_easy_init() else {
            return done(.failure(.backendUnavailable("the HTTP client could not start a request", retryAfterMs: 1000)))
        }
        let transfer = Transfer(easy: easy, maxBytes: maxResponseBytes, done: done)
        for h in headers { transfer.headers = curl_slist_append(transfer.headers, h) }
        shim_easy_setopt_string(easy, CURLOPT_URL, url)
        shim_easy_setopt_string(easy, CURLOPT_PROTOCOLS_STR, "http,https")  // no file://, no other scheme
        shim_easy_setopt_long(easy, CURLOPT_NOSIGNAL, 1)
        shim_easy_setopt_long(easy, CURLOPT_TIMEOUT_MS, timeoutMs)
        shim_easy_setopt_long(easy, CURLOPT_POST, 1)
        shim_easy_setopt_long(easy, CURLOPT_POSTFIELDSIZE, body.count)  // before COPYPOSTFIELDS: no strlen
        body.withUnsafeBytes { _ = shim_easy_setopt_pointer(easy, CURLOPT_COPYPOSTFIELDS, UnsafeMutableRawPointer(mutating: $0.baseAddress)) }
        shim_easy_setopt_pointer(easy, CURLOPT_HTTPHEADER, UnsafeMutableRawPointer(transfer.headers))
        shim_easy_setopt_pointer(easy, CURLOPT_WRITEDATA, Unmanaged.passUnretained(transfer).toOpaque())  // `transfers` keeps it
        shim_easy_setopt_write(easy) { data, size, count, context in
            let t = Unmanaged<Transfer>.fromOpaque(context!).takeUnretainedValue()
            let n = size * count
            guard t.body.count + n <= t.maxBytes else {
                t.tooLarge = true
                return 0  // aborts the transfer
            }
            t.body.append(contentsOf: UnsafeRawBufferPointer(start: data, count: n))
            return n
        }
        transfers[easy] = transfer
        if curl_multi_add_handle(multi, easy) != CURLM_OK {
            finish(transfer, .failure(.backendUnavailable("the HTTP client could not queue a request", retryAfterMs: 1000)))
        }
    }

    // MARK: - libcurl's callbacks, carried out on libuv

    private func watch(_ fd: Int32, _ what: Int32) {
        if what == CURL_POLL_REMOVE {
            polls.removeValue(forKey: fd)?.close()  // before libcurl closes the socket
            return
        }
        var poll = polls[fd]
        if poll == nil {
            poll = UVPoll(loop: loop, fd: fd)
            poll?.onEvent = { [unowned self] status, events in
                var flags: Int32 = 0
                if events.contains(.readable) { flags |= CURL_CSELECT_IN }
                if events.contains(.writable) { flags |= CURL_CSELECT_OUT }
                if status < 0 { flags |= CURL_CSELECT_ERR }
                act(on: fd, flags: flags)
            }
            polls[fd] = poll  // nil when libuv refuses the fd: the transfer then times out
        }
        var events: UVPoll.Events = []
        if what & CURL_POLL_IN != 0 { events.insert(.readable) }
        if what & CURL_POLL_OUT != 0 { events.insert(.writable) }
        poll?.start(events)
    }

    private func act(on fd: Int32, flags: Int32) {
        var running: Int32 = 0
        curl_multi_socket_action(multi, fd, flags, &running)
        var finished: [(Transfer, CURLcode)] = []
        var left: Int32 = 0
        while let message = curl_multi_info_read(multi, &left) {
            guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle,
                  let t = transfers[easy] else { continue }
            finished.append((t, shim_message_result(message)))
        }
        // Answered after the loop: a completion may start the next request.
        for (t, code) in finished {
            if code == CURLE_OK {
                var status = 0
                shim_easy_getinfo_long(t.easy, CURLINFO_RESPONSE_CODE, &status)
                finish(t, .success(Response(status: status, body: t.body)))
            } else if t.tooLarge {
                finish(t, .failure(.backendUnavailable("the answer passed \(t.maxBytes) bytes", retryAfterMs: 1000)))
            } else {
                finish(t, .failure(.backendUnavailable(String(cString: curl_easy_strerror(code)), retryAfterMs: 1000)))
            }
        }
    }

    private func finish(_ t: Transfer, _ result: Result<Response, ProxyError>) {
        transfers[t.easy] = nil
        curl_multi_remove_handle(multi, t.easy)
        curl_easy_cleanup(t.easy)
        curl_slist_free_all(t.headers)
        t.done(result)
    }

    /// Fails what is in flight, stops watching, frees libcurl's state.
    func close() {
        for t in Array(transfers.values) {
            finish(t, .failure(.backendUnavailable("the proxy is stopping", retryAfterMs: 1000)))
        }
        for p in polls.values { p.close() }
        polls = [:]
        timer.close()
        curl_multi_cleanup(multi)
    }
}
