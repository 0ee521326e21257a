"""The proxy's schedules against croniter, a well-known implementation: the
same next runs for thousands of generated expressions, instants and time
zones, with instants crowded around daylight-saving changes."""

import asyncio
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import CroniterBadDateError, croniter

from storage_proxy import InvalidParams, StorageProxyClient

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Australia/Sydney", "Asia/Kolkata", "Australia/Lord_Howe",
         "America/Sao_Paulo", "Pacific/Chatham"]
MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"]


def field(rng: random.Random, low: int, high: int, names=None) -> str:
    def value(v: int) -> str:
        return names[v - low] if names and rng.random() < 0.3 else str(v)
    kind = rng.random()
    if kind < 0.3:
        return "*"
    if kind < 0.45:
        return f"*/{rng.randint(2, max(2, (high - low) // 2))}"
    a = rng.randint(low, high)
    if kind < 0.65:
        return value(a)
    # Not a range of one value (`5-5`): croniter reads it as the whole field
    # (`*`), Vixie cron and the proxy as that one value.
    b = rng.randint(a + 1, high) if a < high else None
    if b is None:
        return value(a)
    if kind < 0.8:
        return f"{value(a)}-{value(b)}"
    if kind < 0.9:
        return f"{a}-{b}/{rng.randint(1, 5)}"
    return ",".join(str(v) for v in sorted(rng.sample(range(low, high + 1), rng.randint(2, 4))))


def expression(rng: random.Random) -> str:
    return " ".join([field(rng, 0, 59), field(rng, 0, 23), field(rng, 1, 28 if rng.random() < 0.8 else 31),
                     field(rng, 1, 12, MONTHS), field(rng, 0, 6, DAYS)])


def transitions(zone: str):
    """Instants just around the zone's offset changes in 2025-2028."""
    tz = ZoneInfo(zone)
    t = datetime(2025, 1, 1, tzinfo=timezone.utc)
    found = []
    while t.year < 2029:
        nxt = t + timedelta(hours=6)
        if t.astimezone(tz).utcoffset() != nxt.astimezone(tz).utcoffset():
            found.append(t)
        t = nxt
    return found


def cases(count: int, seed: int = 20261202):
    rng = random.Random(seed)
    edges = {zone: transitions(zone) for zone in ZONES}
    for i in range(count):
        zone = ZONES[i % len(ZONES)]
        if edges[zone] and rng.random() < 0.6:
            start = rng.choice(edges[zone]) + timedelta(minutes=rng.randint(-600, 600))
        else:
            start = datetime(2025, 1, 1, tzinfo=timezone.utc) + timedelta(seconds=rng.randint(0, 4 * 365 * 86400))
        yield expression(rng), zone, start.replace(second=rng.choice([0, 0, 17]), microsecond=0)


def reference(expr: str, zone: str, start: datetime, count: int):
    it = croniter(expr, start.astimezone(ZoneInfo(zone)))
    return [it.get_next(datetime).astimezone(timezone.utc) for _ in range(count)]


def test_cron_agrees_with_croniter(personal):
    count, runs = 3000, 4
    todo, expected = [], []
    for expr, zone, after in cases(count):
        try:
            want = reference(expr, zone, after, runs)
        except CroniterBadDateError:
            continue  # never matches (30 February): the proxy refuses it, tested below
        todo.append((expr, zone, after))
        expected.append(want)
    assert len(todo) > count * 0.9

    async def compute():
        async with StorageProxyClient(personal.address) as c:
            answers = []
            for start in range(0, len(todo), 250):
                chunk = todo[start:start + 250]
                answers += await asyncio.gather(*[
                    c.next_runs("cron", expr, time_zone=zone, after=after, count=runs) for expr, zone, after in chunk])
            return answers

    ours = asyncio.run(compute())
    mismatches = []
    for (expr, zone, after), got, want in zip(todo, ours, expected):
        if got != want:
            mismatches.append(f"{expr!r} in {zone} after {after.isoformat()}: proxy {[g.isoformat() for g in got]}, "
                              f"croniter {[w.isoformat() for w in want]}")
    assert not mismatches, f"{len(mismatches)} of {count} differ, e.g.\n" + "\n".join(mismatches[:8])


def test_lord_howe_repeats_its_repeated_half_hour(personal):
    """The one zone where croniter and the proxy differ (PROTOCOL.md): clocks go back
    from 02:00 to 01:30, and 01:42 happens twice, so it runs twice."""
    async def check():
        async with StorageProxyClient(personal.address) as c:
            runs = await c.next_runs("cron", "42 1 * * *", time_zone="Australia/Lord_Howe",
                                     after=datetime(2025, 4, 5, 12, 0, tzinfo=timezone.utc), count=3)
            assert runs == [datetime(2025, 4, 5, 14, 42, tzinfo=timezone.utc), datetime(2025, 4, 5, 15, 12, tzinfo=timezone.utc),
                            datetime(2025, 4, 6, 15, 12, tzinfo=timezone.utc)]
    asyncio.run(check())


def test_interval_and_once(personal):
    async def check():
        async with StorageProxyClient(personal.address) as c:
            after = datetime(2026, 3, 28, 8, 0, tzinfo=timezone.utc)
            daily = await c.next_runs("interval", "P1D", time_zone="Europe/Berlin", after=after, count=2)
            assert daily == [datetime(2026, 3, 29, 7, 0, tzinfo=timezone.utc), datetime(2026, 3, 30, 7, 0, tzinfo=timezone.utc)]
            assert await c.next_runs("interval", "90", after=after, count=2) == [after + timedelta(seconds=90),
                                                                                after + timedelta(seconds=180)]
            once = await c.next_runs("once", "2026-12-24T18:00:00+01:00", count=3)
            assert once == [datetime(2026, 12, 24, 17, 0, tzinfo=timezone.utc)]
            with pytest.raises(InvalidParams) as bad:
                await c.next_runs("cron", "0 0 30 2 *")
            assert bad.value.field == "schedule_value"
            with pytest.raises(InvalidParams) as zone:
                await c.next_runs("cron", "* * * * *", time_zone="Nowhere/Atlantis")
            assert zone.value.field == "time_zone"
    asyncio.run(check())
