import Foundation

/// A time zone as a schedule needs it: the UTC offset at an instant and the
/// next instant it changes. Wall-clock time is seconds counted as if the
/// zone's local time were UTC ("wall seconds"). Foundation's `TimeZone`
/// supplies the IANA rules; schedules are computed off the hot path.
struct ZoneClock {
    private let zone: TimeZone?  // nil: UTC

    static let utc = ZoneClock(zone: nil)

    /// An IANA name (`Europe/Berlin`), or UTC for nil, "" and "UTC".
    init(identifier: String?) throws(ScheduleError) {
        guard let identifier, !identifier.isEmpty, identifier != "UTC" else { self.zone = nil; return }
        guard identifier.utf8.count <= 64, let zone = TimeZone(identifier: identifier) else {
            throw ScheduleError("is not a known IANA time zone name, e.g. Europe/Berlin")
        }
        self.zone = zone
    }

    private init(zone: TimeZone?) { self.zone = zone }

    func offset(at seconds: Int64) -> Int64 {
        guard let zone else { return 0 }
        return Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
    }

    /// The first daylight-saving change after `seconds` (what Foundation
    /// reports). A zone that moves its standard offset without one (rare,
    /// historical) is read at the wrong offset until its next DST change.
    func nextTransition(after seconds: Int64) -> Int64? {
        guard let zone, let next = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: TimeInterval(seconds)))
        else { return nil }
        return Int64(next.timeIntervalSince1970.rounded(.up))
    }

    /// The instants whose wall-clock time is `wall`: one, two (the repeated
    /// hour when clocks go back) or none (the hour skipped when they go forward).
    func instants(atWall wall: Int64) -> [Int64] {
        let offsets = Set([offset(at: wall - 86_400), offset(at: wall), offset(at: wall + 86_400)])
        return offsets.map { wall - $0 }.filter { offset(at: $0) == wall - $0 }.sorted()
    }
}
