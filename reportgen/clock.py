"""Time helpers: clock readings as written, syslog year inference, zones.

A *reading* is what a clock wrote on a line, kept as microseconds since
1970-01-01 of a naive wall clock: no zone applied and never corrected. Lines
without a year (RFC 3164 syslog, Snort's fast alerts) are read into
:data:`YEARLESS_BASE` and get their year from :func:`infer_year` once the whole
bundle has been read, because the evidence for the year is spread over files.
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

US = 1_000_000
DAY_US = 86_400 * US

YEARLESS_BASE = 2000
"""Year that yearless readings are parsed into: a leap year, so Feb 29 parses."""

MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}

ROLLOVER_GAP_DAYS = 180
"""A reading this many days before the previous line of a file starts a new year."""


def _epoch_us(year: int, month: int, day: int, hh: int, mm: int, ss: int, us: int = 0) -> int:
    """Naive wall-clock fields to microseconds since 1970, validating them."""
    datetime(year, month, day, hh, mm, ss)  # raises ValueError for Feb 30, 25:00 ...
    return (calendar.timegm((year, month, day, hh, mm, ss, 0, 0, 0)) * US) + us


@lru_cache(maxsize=1 << 12)
def _month_day_us(month: str, day: str) -> int:
    return _epoch_us(YEARLESS_BASE, MONTHS[month.lower()], int(day), 0, 0, 0)


def month_day_reading(month: str, day: str, hms: str) -> int:
    """``("Mar", " 1", "10:02:16")`` to a reading in :data:`YEARLESS_BASE`.

    Raises KeyError or ValueError for an unknown month or impossible date/time.
    Called once per syslog line, so only the date part is cached.
    """
    if hms > "23:59:60" or hms[3] > "5" or hms[6] > "6":
        raise ValueError(f"impossible time of day: {hms!r}")
    return (
        _month_day_us(month, day) + (int(hms[0:2]) * 3600 + int(hms[3:5]) * 60 + int(hms[6:8])) * US
    )


@lru_cache(maxsize=1 << 12)
def _date_us(year: int, month: int, day: int) -> int:
    return _epoch_us(year, month, day, 0, 0, 0)


def date_time_reading(
    year: int, month: int, day: int, hh: int, mm: int, ss: int, us: int = 0
) -> int:
    """A reading from numeric fields; the date part is cached (logs repeat days)."""
    if not (0 <= hh < 24 and 0 <= mm < 60 and 0 <= ss < 61):
        raise ValueError("time of day out of range")
    return _date_us(year, month, day) + ((hh * 60 + mm) * 60 + ss) * US + us


def text_reading(
    year: str, month: str, day: str, hh: str, mm: str, ss: str, fraction: str | None
) -> int:
    """A reading from the text fields of a dated stamp (``month`` by name); raises
    KeyError or ValueError for impossible values."""
    return date_time_reading(
        int(year),
        MONTHS[month.lower()],
        int(day),
        int(hh),
        int(mm),
        int(ss),
        int((fraction or "0").ljust(6, "0")[:6]),
    )


def offset_seconds(text: str) -> int:
    """``"-0500"`` or ``"+05:30"`` to seconds east of UTC; raises ValueError."""
    m = re.fullmatch(r"([+-])(\d\d):?(\d\d)", text)
    if m is None:
        raise ValueError(f"not a UTC offset: {text!r}")
    sign = -1 if m.group(1) == "-" else 1
    hours, minutes = int(m.group(2)), int(m.group(3))
    if hours > 14 or minutes > 59:
        raise ValueError(f"UTC offset out of range: {text!r}")
    return sign * (hours * 3600 + minutes * 60)


def format_offset(seconds: int) -> str:
    """Seconds east of UTC to ``+HH:MM``."""
    sign = "-" if seconds < 0 else "+"
    seconds = abs(seconds)
    return f"{sign}{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def reading_to_datetime(reading: int) -> datetime:
    """A reading (naive wall clock) as a naive datetime."""
    return datetime(1970, 1, 1) + timedelta(microseconds=reading)


def datetime_to_reading(value: datetime) -> int:
    """A naive datetime (a wall-clock reading) as microseconds since 1970."""
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None)
    delta = value - datetime(1970, 1, 1)
    return (delta.days * 86_400 + delta.seconds) * US + delta.microseconds


@dataclass(frozen=True)
class Zone:
    """A host's zone: a fixed offset or a named (DST-aware) zone."""

    name: str
    """``UTC``, ``+05:30`` or an IANA name such as ``Europe/Berlin``."""
    fixed_offset: int | None
    """Seconds east of UTC when the zone is a fixed offset, else None."""

    def tzinfo(self) -> tzinfo:
        """The zone as a tzinfo."""
        if self.fixed_offset is not None:
            return timezone(timedelta(seconds=self.fixed_offset))
        return ZoneInfo(self.name)


def parse_zone(text: str) -> Zone:
    """``UTC``, ``Z``, ``-0500``, ``+05:30`` or an IANA name; raises ValueError."""
    text = text.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return Zone("UTC", 0)
    if text[:1] in "+-":
        seconds = offset_seconds(text)
        return Zone(format_offset(seconds), seconds)
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone: {text!r}") from exc
    return Zone(text, None)


# --- year inference ---------------------------------------------------------


@dataclass(frozen=True)
class YearlessSpan:
    """The readings of one rotation set of yearless files, before a year is known.

    ``first`` and ``last`` are readings in :data:`YEARLESS_BASE` after the
    in-file Dec->Jan rollovers have been applied (so ``last`` may fall in the
    following year); ``mtime`` is the newest modification time of the set.
    """

    first: int
    last: int
    mtime: float | None
    has_feb29: bool = False


@dataclass(frozen=True)
class YearChoice:
    """The year given to a yearless span and why."""

    year: int
    basis: str
    """``--year``, ``bundle``, ``mtime`` or ``default``."""
    detail: str


def shift_years(reading: int, years: int) -> int:
    """Move a reading by whole years (Feb 29 becomes Feb 28 in common years)."""
    dt = reading_to_datetime(reading)
    year = dt.year + years
    day = dt.day
    if dt.month == 2 and day == 29 and not calendar.isleap(year):
        day = 28
    return datetime_to_reading(dt.replace(year=year, day=day))


def infer_year(
    span: YearlessSpan,
    anchors: Sequence[tuple[int, int]],
    override: int | None = None,
) -> YearChoice:
    """Choose the year of a yearless span.

    Evidence, strongest first: the user's ``--year``; readings that carry a year
    elsewhere in the bundle (``anchors``: (first, last) readings of yeared
    sources), choosing the year that puts the span nearest to (ideally inside)
    them; the file's modification time, choosing the latest year in which the
    span ends before it (copies made later only push mtime forward, so this
    can still be wrong, and says so); finally the year of the Unix epoch's
    default, flagged as a guess.
    """
    if override is not None:
        return YearChoice(override, "--year", f"year {override} given on the command line")
    if anchors:
        lo = min(a for a, _ in anchors)
        hi = max(b for _, b in anchors)
        years = range(reading_to_datetime(lo).year - 1, reading_to_datetime(hi).year + 2)
        best: tuple[tuple[int, int, int], int] | None = None
        for year in years:
            if span.has_feb29 and not calendar.isleap(year):
                continue
            delta = year - YEARLESS_BASE
            first, last = shift_years(span.first, delta), shift_years(span.last, delta)
            gap = max(0, lo - last, first - hi)
            overlap = max(0, min(last, hi) - max(first, lo))
            key = (gap, -overlap, abs(year - reading_to_datetime(hi).year))
            if best is None or key < best[0]:
                best = (key, year)
        if best is not None:
            gap_days = best[0][0] / DAY_US
            where = "inside" if gap_days == 0 else f"{gap_days:.0f} days from"
            return YearChoice(
                best[1],
                "bundle",
                f"year {best[1]} puts these readings {where} the dated lines of the bundle",
            )
    if span.mtime is not None:
        mtime_reading = datetime_to_reading(datetime.fromtimestamp(span.mtime, UTC))
        year = reading_to_datetime(mtime_reading).year
        for candidate in range(year, year - 10, -1):
            if span.has_feb29 and not calendar.isleap(candidate):
                continue
            if shift_years(span.last, candidate - YEARLESS_BASE) <= mtime_reading + DAY_US:
                return YearChoice(
                    candidate,
                    "mtime",
                    f"no dated lines in the bundle; year {candidate} is the latest that ends "
                    "before the file's modification time, which copying may have changed",
                )
    return YearChoice(
        YEARLESS_BASE,
        "default",
        f"no evidence for the year; {YEARLESS_BASE} is a placeholder, pass --year",
    )
