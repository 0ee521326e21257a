import ProxyCore
import StoragePorts

/// Where a subscription's events go: its connection.
protocol EventOutlet: AnyObject {
    /// Queues the event, or counts it as dropped when the connection's
    /// unsent output is over its bound (then a `lagged` event comes first
    /// once there is room).
    /// Returns false when it was dropped.
    func push(_ frame: EventFrame, for subscription: Subscription) -> Bool
    /// Sends the subscription's `lagged` event now if there is room (else before its next event).
    func sendLagged(_ subscription: Subscription) -> Bool
}

/// Live events: every connection's subscriptions, and the fan-out of the
/// storage's committed changes to them. The storage's change feed runs
/// only while somebody subscribes: it starts with the first subscription
/// (whose answer waits until the feed is ready) and stops after the last
/// one is gone. Loop thread only.
final class EventHub {
    private enum FeedState {
        case off
        case starting(waiting: [(Result<Void, ProxyError>) -> Void])
        case on
    }

    private let feed: ChangeFeed
    var maxPerConnection: Int  // SIGHUP may change it
    private var feedState = FeedState.off
    /// In the order they were made: a change reaches them in that order.
    private var subscriptions: [Subscription] = []
    private var answeringWaiters = false
    private var made = 0
    /// Changes the feed reported; events queued for subscribers; events dropped for slow ones.
    private(set) var published = 0
    private(set) var delivered = 0
    private(set) var dropped = 0

    init(feed: ChangeFeed, maxPerConnection: Int) {
        self.feed = feed
        self.maxPerConnection = maxPerConnection
    }

    var count: Int { subscriptions.count }
    var isFeedOn: Bool { if case .on = feedState { return true } else { return false } }

    /// Makes a subscription once the feed is ready; the caller answers the
    /// client and then calls `activate`, so no event precedes the answer.
    func subscribe(_ filter: Subscription.Filter, for session: Session,
                   _ done: @escaping (Result<Subscription, ProxyError>) -> Void) {
        guard session.subscriptions.count < maxPerConnection else {
            return done(.failure(.overloaded("too many subscriptions on this connection "
                                             + "(server.max_subscriptions_per_connection: \(maxPerConnection))")))
        }
        whenFeedReady { [self] result in
            switch result {
            case .failure(let error): done(.failure(error))
            case .success:
                made += 1
                done(.success(Subscription(id: "s\(made)", filter: filter, session: session)))
            }
        }
    }

    /// From now on the subscription gets events (unless its connection closed meanwhile).
    func activate(_ subscription: Subscription) {
        guard !subscription.session.isClosed else {
            if !answeringWaiters { stopFeedIfUnused() }  // else the feed's start checks once all have answered
            return
        }
        subscriptions.append(subscription)
        subscription.session.subscriptions[subscription.id] = subscription
    }

    /// False when the session has no such subscription.
    func unsubscribe(_ id: String, for session: Session) -> Bool {
        guard session.subscriptions.removeValue(forKey: id) != nil else { return false }
        subscriptions.removeAll { $0.id == id }
        stopFeedIfUnused()
        return true
    }

    /// The connection closed: its subscriptions end.
    func sessionClosed(_ session: Session) {
        guard !session.subscriptions.isEmpty else { return }
        session.subscriptions.removeAll()
        subscriptions.removeAll { $0.session === session }
        stopFeedIfUnused()
    }

    // MARK: - The feed

    private func whenFeedReady(_ then: @escaping (Result<Void, ProxyError>) -> Void) {
        switch feedState {
        case .on: then(.success(()))
        case .starting(let waiting): feedState = .starting(waiting: waiting + [then])
        case .off:
            feedState = .starting(waiting: [then])
            feed.startChanges({ [weak self] in self?.publish($0) }, lost: { [weak self] in self?.missed($0) }) { [weak self] result in
                guard let self, case .starting(let waiting) = feedState else { return }
                feedState = result.isSuccess ? .on : .off
                if !result.isSuccess { feed.stopChanges() }
                answeringWaiters = true
                for w in waiting { w(result) }
                answeringWaiters = false
                stopFeedIfUnused()  // every waiter's connection may have closed meanwhile
            }
        }
    }

    private func stopFeedIfUnused() {
        guard subscriptions.isEmpty, case .on = feedState else { return }
        feedState = .off
        feed.stopChanges()
    }

    private func missed(_ reason: String) {
        for subscription in subscriptions {
            subscription.missed(reason)
            _ = subscription.session.outlet?.sendLagged(subscription)
        }
    }

    private func publish(_ changes: [Change]) {
        LoopThread.check()
        for change in changes {
            published += 1
            var frame: EventFrame?
            for subscription in subscriptions where subscription.filter.matches(change) {
                if frame == nil { frame = EventFrame(change) }
                if subscription.session.outlet?.push(frame!, for: subscription) == true { delivered += 1 } else { dropped += 1 }
            }
        }
    }
}

extension Result {
    var isSuccess: Bool { if case .success = self { return true } else { return false } }
}
