"""The culture report's periods: whole days in UK time, ``end`` inclusive, beside the period of equal length
before it; weeks are 7-day steps from a period's first day (the last may be shorter, and rates per week use its
real length). UK time because the report is read by UK care providers: a post at 00:30 on 1 March belongs to 1
March, not to the day before in UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
MAX_DAYS = 366
DEFAULT_DAYS = 84


class PeriodError(ValueError):
    """A period the report cannot be made for (the API answers 422 with this message)."""


@dataclass(frozen=True)
class Period:
    first: date
    last: date  # inclusive

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        return Period(self.first - timedelta(days=self.days), self.first - timedelta(days=1))

    def weeks(self) -> list[date]:
        return [self.first + timedelta(days=d) for d in range(0, self.days, 7)]

    def week_days(self, start: date) -> int:
        return min(7, (self.last - start).days + 1)

    def describe(self) -> dict[str, Any]:
        weeks = [
            {"key": w.isoformat(), "start": w.isoformat(), "days": self.week_days(w)} for w in self.weeks()
        ]
        return {
            "start": self.first.isoformat(),
            "end": self.last.isoformat(),
            "days": self.days,
            "weeks": weeks,
        }


def parse_period(start: str | None, end: str | None, *, today: date | None = None) -> Period:
    """``YYYY-MM-DD`` dates, ``end`` inclusive; the default is the last 12 weeks to today (UK time)."""
    today = today or datetime.now(LONDON).date()

    def day(value: str | None, name: str, default: date) -> date:
        if value is None or not value.strip():
            return default
        try:
            d = date.fromisoformat(value.strip())
        except ValueError as exc:
            raise PeriodError(f"{name} must be a date as YYYY-MM-DD") from exc
        if not 2000 <= d.year <= 2200:
            raise PeriodError(f"{name} must be between the years 2000 and 2200")
        return d

    last = day(end, "end", today)
    first = day(start, "start", last - timedelta(days=DEFAULT_DAYS - 1))
    if last < first:
        raise PeriodError("end must not be before start")
    if (last - first).days + 1 > MAX_DAYS:
        raise PeriodError(f"the period may be at most {MAX_DAYS} days")
    return Period(first, last)


def instant(d: date) -> datetime:
    """Midnight UK time at the start of ``d``, in UTC."""
    return datetime(d.year, d.month, d.day, tzinfo=LONDON).astimezone(UTC)


@dataclass(frozen=True)
class Frame:
    """The two periods, their weekly buckets and the edges the storage queries cut by."""

    current: Period
    previous: Period

    @classmethod
    def of(cls, period: Period) -> Frame:
        return cls(period, period.previous())

    def period(self, name: str) -> Period:
        return self.current if name == "current" else self.previous

    @property
    def weekly(self) -> list[tuple[str, str]]:
        """(period, week key) per bucket, in time order."""
        return [("previous", w.isoformat()) for w in self.previous.weeks()] + [
            ("current", w.isoformat()) for w in self.current.weeks()
        ]

    @property
    def weekly_edges(self) -> list[datetime]:
        starts = [*self.previous.weeks(), *self.current.weeks()]
        return [instant(d) for d in starts] + [instant(self.current.last + timedelta(days=1))]

    @property
    def period_edges(self) -> list[datetime]:
        return [
            instant(self.previous.first),
            instant(self.current.first),
            instant(self.current.last + timedelta(days=1)),
        ]

    def zeros(self, name: str) -> dict[str, int]:
        return {w.isoformat(): 0 for w in self.period(name).weeks()}
