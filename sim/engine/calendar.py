"""Simulated seconds and civil time, and the diurnal profiles demand follows.

Simulated time is seconds since the scenario's ``start`` (an aware datetime,
China Standard Time in the shipped scenarios). Demand rates follow hourly
profiles in local time; a profile is 24 weights normalised to mean 1, so a
daily rate is preserved whatever the profile's shape.
"""

from __future__ import annotations

import datetime as dt
import math

import attrs
import numpy as np
import numpy.typing as npt

__all__ = ["BUILTIN_PROFILES", "Clock", "hourly_weights", "open_fraction_by_hour", "open_weights"]

# Hourly weights, 00:00-01:00 first. Shapes are assumptions (no public hourly
# figures were found); they encode opening hours and the familiar double peak.
BUILTIN_PROFILES: dict[str, tuple[float, ...]] = {
    "flat": (1.0,) * 24,
    # Hospital outpatient desks: emergency trickle at night, morning peak, afternoon shoulder.
    "office_hours": (
        0.05,
        0.04,
        0.03,
        0.03,
        0.03,
        0.05,
        0.15,
        0.6,
        1.9,
        2.4,
        2.3,
        1.8,
        0.9,
        1.1,
        1.9,
        2.0,
        1.7,
        1.1,
        0.5,
        0.3,
        0.2,
        0.15,
        0.1,
        0.06,
    ),
    # Inpatient discharge settlement: ward rounds first, discharges late morning to afternoon.
    "inpatient_discharge": (
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.05,
        0.3,
        1.5,
        2.6,
        3.0,
        2.6,
        1.4,
        1.8,
        2.4,
        2.2,
        1.5,
        0.7,
        0.2,
        0.1,
        0.05,
        0.03,
        0.02,
        0.02,
    ),
    # Public libraries: quiet mornings, busiest mid-afternoon and after work/school.
    "library": (
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.02,
        0.1,
        0.6,
        1.3,
        1.5,
        1.3,
        1.1,
        1.5,
        1.9,
        2.0,
        1.9,
        1.7,
        1.6,
        1.5,
        1.2,
        0.6,
        0.1,
        0.02,
    ),
    # Metro and bus fare taps: morning rush 07-09, evening rush 17-19, little at night.
    "transit_rush": (
        0.05,
        0.02,
        0.01,
        0.01,
        0.02,
        0.15,
        0.6,
        2.6,
        3.0,
        1.4,
        0.9,
        0.9,
        1.0,
        0.9,
        0.9,
        1.0,
        1.3,
        2.6,
        2.8,
        1.5,
        0.9,
        0.7,
        0.4,
        0.15,
    ),
    # Bank counters and ATMs: daytime, peak late morning, ATMs carry the evening.
    "banking": (
        0.1,
        0.05,
        0.03,
        0.03,
        0.03,
        0.05,
        0.2,
        0.6,
        1.3,
        2.0,
        2.2,
        2.0,
        1.6,
        1.5,
        1.8,
        1.8,
        1.6,
        1.3,
        1.1,
        1.0,
        0.8,
        0.6,
        0.4,
        0.2,
    ),
    # Designated pharmacies: open long hours, evening bump after work.
    "retail": (
        0.05,
        0.03,
        0.02,
        0.02,
        0.02,
        0.03,
        0.1,
        0.5,
        1.2,
        1.6,
        1.6,
        1.4,
        1.2,
        1.2,
        1.3,
        1.4,
        1.5,
        1.7,
        1.9,
        1.8,
        1.4,
        0.9,
        0.4,
        0.15,
    ),
}


def hourly_weights(profile: str | tuple[float, ...]) -> npt.NDArray[np.float64]:
    """The 24 hourly weights of a profile (builtin name or explicit list), mean 1."""
    raw = BUILTIN_PROFILES[profile] if isinstance(profile, str) else profile
    weights = np.asarray(raw, dtype=np.float64)
    if weights.shape != (24,) or (weights < 0).any() or weights.sum() <= 0:
        raise ValueError("a profile needs 24 non-negative weights, not all zero")
    normalised: npt.NDArray[np.float64] = weights * (24.0 / weights.sum())
    return normalised


def open_fraction_by_hour(opens_s: float, closes_s: float) -> npt.NDArray[np.float64]:
    """The fraction of each local hour (00-01 first) within opening hours ``[opens, closes)``."""
    starts = np.arange(24, dtype=np.float64) * 3600.0
    overlap = np.minimum(starts + 3600.0, closes_s) - np.maximum(starts, opens_s)
    fraction: npt.NDArray[np.float64] = np.clip(overlap / 3600.0, 0.0, 1.0)
    return fraction


def open_weights(
    profile: str | tuple[float, ...], opens_s: float, closes_s: float
) -> npt.NDArray[np.float64]:
    """Hourly weights of a profile for a point open only ``[opens, closes)`` local time.

    Demand outside opening hours is dropped and the rest scaled up, so a rate per
    day keeps its meaning: the weights times each hour's open fraction average 1.
    A weight applies to the open part of its hour only (see :meth:`Clock.open_part`).
    """
    weights = hourly_weights(profile)
    fraction = open_fraction_by_hour(opens_s, closes_s)
    total = float((weights * fraction).sum())
    if total <= 0:
        raise ValueError("the profile has no demand within the opening hours")
    scaled: npt.NDArray[np.float64] = np.where(fraction > 0, weights * 24.0 / total, 0.0)
    return scaled


@attrs.frozen
class Clock:
    """Maps simulated seconds to local civil time for one run."""

    start: dt.datetime

    @property
    def start_second_of_day(self) -> float:
        """Seconds after local midnight at which the simulation starts."""
        local = self.start.timetz()
        return local.hour * 3600.0 + local.minute * 60.0 + local.second + local.microsecond / 1e6

    def civil(self, t_s: float) -> dt.datetime:
        """Local date-time at simulated time ``t_s``."""
        return self.start + dt.timedelta(seconds=t_s)

    def hour_of_day(self, t_s: npt.ArrayLike) -> npt.NDArray[np.int64]:
        """Local hour (0-23) at each simulated time."""
        seconds = np.asarray(t_s, dtype=np.float64) + self.start_second_of_day
        return (np.floor(seconds / 3600.0).astype(np.int64)) % 24

    def month_starts(self, until_s: float) -> list[float]:
        """Simulated times of local month starts in ``(0, until_s]``."""
        starts: list[float] = []
        local = self.start
        month = dt.datetime(local.year, local.month, 1, tzinfo=local.tzinfo)
        while True:
            month = (month + dt.timedelta(days=32)).replace(day=1)
            t = (month - self.start).total_seconds()
            if t > until_s:
                return starts
            starts.append(t)

    def year_starts(self, until_s: float) -> list[float]:
        """Simulated times of local new years (1 January, 00:00) in ``(0, until_s]``."""
        starts: list[float] = []
        year = self.start.year
        while True:
            year += 1
            t = (dt.datetime(year, 1, 1, tzinfo=self.start.tzinfo) - self.start).total_seconds()
            if t > until_s:
                return starts
            starts.append(t)

    def hour_edges(self, horizon_s: float) -> npt.NDArray[np.float64]:
        """Simulated times of the local hour boundaries covering ``[0, horizon_s]``.

        The first and last edges are clipped to 0 and the horizon, so a run that
        starts at 09:30 has a first piece of half an hour.
        """
        offset = self.start_second_of_day % 3600.0
        first = 3600.0 - offset if offset else 3600.0
        inner = np.arange(first, horizon_s, 3600.0)
        edges: npt.NDArray[np.float64] = np.concatenate(([0.0], inner, [horizon_s]))
        return edges

    def second_of_day(self, t_s: npt.ArrayLike) -> npt.NDArray[np.float64]:
        """Local seconds after midnight at each simulated time."""
        seconds = np.asarray(t_s, dtype=np.float64) + self.start_second_of_day
        of_day: npt.NDArray[np.float64] = np.mod(seconds, 86400.0)
        return of_day

    def open_part(
        self, t0_s: float, t1_s: float, opens_s: float, closes_s: float
    ) -> tuple[float, float]:
        """The part of ``[t0_s, t1_s)`` (within one local day) inside ``[opens, closes)``.

        Returns ``(a, b)`` with ``a ≥ b`` when no part is open.
        """
        midnight = t0_s - float(self.second_of_day(t0_s))
        return max(t0_s, midnight + opens_s), min(t1_s, midnight + closes_s)

    def days_at(
        self, day_of_month: int, time_of_day_s: float, from_s: float, to_s: float
    ) -> list[float]:
        """Simulated times in ``[from_s, to_s)`` at ``time_of_day_s`` on a day of the month.

        A month shorter than ``day_of_month`` uses its last day (a payday on the
        31st falls on 30 April and on 28 or 29 February).
        """
        tz = self.start.tzinfo
        first = self.civil(from_s).date() - dt.timedelta(days=1)
        last = self.civil(to_s).date()
        times = []
        day = first
        while day <= last:
            next_month = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            month_days = (next_month - dt.timedelta(days=1)).day
            if day.day == min(day_of_month, month_days):
                midnight = dt.datetime.combine(day, dt.time(0), tzinfo=tz)
                t = (midnight - self.start).total_seconds() + time_of_day_s
                if from_s <= t < to_s:
                    times.append(t)
            day += dt.timedelta(days=1)
        return times

    def weighted_seconds(self, weights: npt.NDArray[np.float64], horizon_s: float) -> float:
        """``∫ weights[local hour at t] dt`` over ``[0, horizon_s]``, whatever the horizon.

        Expected arrivals are a rate times this integral. Computed from whole days
        plus the remainder, so a run of centuries costs no more than a run of an
        hour (the hour-by-hour pieces of :mod:`sim.world.demand` would not fit in memory).
        """
        start = self.start_second_of_day
        return _day_integral(weights, start + horizon_s) - _day_integral(weights, start)


def _day_integral(weights: npt.NDArray[np.float64], t_s: float) -> float:
    """``∫ weights[hour of day at u] du`` over ``[0, t_s]``, hour 0 starting at ``u = 0``."""
    days = math.floor(t_s / 86400.0)
    rest = min(max(t_s - days * 86400.0, 0.0), 86400.0)  # clamped against rounding
    hour = min(int(rest // 3600.0), 23)
    within = float(weights[:hour].sum()) * 3600.0 + float(weights[hour]) * (rest - hour * 3600.0)
    return days * float(weights.sum()) * 3600.0 + within
