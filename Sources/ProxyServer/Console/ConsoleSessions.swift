import ProxyCore

/// The console's logins. A login with an admin token opens a session: a
/// random id in an `HttpOnly`, `SameSite=Strict` cookie (never in a URL or
/// in the page's storage), and a CSRF token of its own that every request
/// acting with the session must send back in `X-CSRF-Token` (a header no
/// cross-site form can set, and a cross-site script cannot read the token).
/// Bounded: at most `maxSessions` (the oldest goes first), each ending
/// `idleSeconds` after its last use or `lifeSeconds` after the login.
/// Loop thread only.
final class ConsoleSessions {
    struct Entry {
        let scope: Scope
        let csrf: String
        let opened: Double
        var used: Double
    }

    static let cookieName = "sp_console"
    let maxSessions = 64
    let idleSeconds = 30 * 60.0
    let lifeSeconds = 12 * 3600.0
    private var entries: [String: Entry] = [:]

    /// A new session for `scope`: its id (the cookie's value) and CSRF token.
    func open(_ scope: Scope, now: Double) -> (id: String, csrf: String) {
        expire(now: now)
        if entries.count >= maxSessions, let oldest = entries.min(by: { $0.value.used < $1.value.used })?.key {
            entries[oldest] = nil
        }
        let id = Self.randomToken(), csrf = Self.randomToken()  // 32 random bytes each
        entries[id] = Entry(scope: scope, csrf: csrf, opened: now, used: now)
        return (id, csrf)
    }

    /// The session a request's `Cookie` header names, if it is still open (its use is noted).
    func find(cookie: String?, now: Double) -> (id: String, entry: Entry)? {
        guard let id = Self.sessionID(in: cookie), let entry = entries[id] else { return nil }
        guard now - entry.used < idleSeconds, now - entry.opened < lifeSeconds else {
            entries[id] = nil
            return nil
        }
        entries[id]?.used = now
        return (id, entry)
    }

    func close(_ id: String) { entries[id] = nil }

    private func expire(now: Double) {
        entries = entries.filter { now - $0.value.used < idleSeconds && now - $0.value.opened < lifeSeconds }
    }

    /// `sp_console=<id>` among a `Cookie` header's pairs.
    static func sessionID(in cookie: String?) -> String? {
        guard let cookie else { return nil }
        for pair in cookie.split(separator: ";") {
            let trimmed = pair.drop { $0 == " " }
            if trimmed.hasPrefix(cookieName + "=") { return String(trimmed.dropFirst(cookieName.count + 1)) }
        }
        return nil
    }

    /// 32 random bytes as hex: two of the transactions' handles (the system's generator).
    static func randomToken() -> String { Identifier.randomToken() + Identifier.randomToken() }
}
