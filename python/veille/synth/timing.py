"""When ambulatory care and background stays happen, for a profile with a ``calendar`` section.

The default shape has none: care days are uniform over each patient's follow-up. A calendar
adds seasons (a warp of the day of the year towards a peak month), days when practices and
labs are closed (their care moves to the next open day: Monday peaks) and epidemic waves
(weeks, the same for every patient of the extract, with extra GP visits). Warping and moving
days is deterministic and keeps each patient's care in order and inside the follow-up; it never
touches fills, outcome stays or deaths, so the truth is what the scenario injected.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from veille.errors import VeilleError
from veille.synth.world import World, rng_for

_GRID = 4096
_BURST_STREAM = 10**6 + 7  # the waves are drawn once per extract, from the seed


def _season_inverse(amplitude: float, peak: float) -> tuple[np.ndarray, np.ndarray]:
    """(cdf, x) on a grid for the density 1 + a cos(2 pi (x - peak)) over the year fraction x."""
    x = np.linspace(0.0, 1.0, _GRID)
    two_pi = 2 * np.pi
    cdf = x + amplitude / two_pi * (np.sin(two_pi * (x - peak)) + np.sin(two_pi * peak))
    return cdf, x


def reshape_days(day: np.ndarray, lo: np.ndarray, hi: np.ndarray, cal: dict[str, Any] | None) -> np.ndarray:
    """``day`` moved by the calendar (unchanged without one), kept within ``[lo, hi)``."""
    if not cal:
        return day
    out = np.asarray(day, np.int64)
    amplitude = float(cal.get("season_amplitude", 0))
    if amplitude:
        if not 0 < amplitude < 1:
            raise VeilleError(f"calendar season_amplitude must be in (0, 1), got {amplitude}")
        year = out.astype("datetime64[D]").astype("datetime64[Y]")
        first = year.astype("datetime64[D]").astype(np.int64)
        length = (year + 1).astype("datetime64[D]").astype(np.int64) - first
        cdf, x = _season_inverse(amplitude, float(cal.get("season_peak_day", 15)) / 365.25)
        u = (out - first + 0.5) / length
        out = first + np.minimum(np.interp(u, cdf, x) * length, length - 1).astype(np.int64)
    closed = [int(d) for d in cal.get("closed_weekdays", [])]
    if closed:
        shift = np.zeros(7, np.int64)  # Monday = 0
        for d in range(7):
            while (d + shift[d]) % 7 in closed:
                shift[d] += 1
        out = out + shift[(out + 3) % 7]  # 1970-01-01 (day 0) was a Thursday
    return np.clip(out, lo, np.maximum(hi - 1, lo))


def wave_windows(world: World) -> np.ndarray:
    """(start, stop) days of the epidemic waves of the period, drawn once from the seed (their
    starts follow the seasons, if the calendar has them)."""
    cal = world.scenario.get("calendar") or {}
    per_year = float(cal.get("waves_per_year", 0))
    if per_year <= 0:
        return np.empty((0, 2), np.int64)
    rng = rng_for(world.seed, _BURST_STREAM)
    span = world.end - world.start
    n = max(1, round(per_year * span / 365.25))
    start = world.start + rng.integers(0, span, n)
    start = np.sort(reshape_days(start, world.start, world.end, {**cal, "closed_weekdays": []}))
    length = 7 * rng.integers(1, int(cal.get("wave_weeks", 3)) + 1, n)
    return np.stack([start, np.minimum(start + length, world.end)], axis=1)


def wave_days(rng: np.random.Generator, entry: np.ndarray, exit_: np.ndarray, rate_per_week: np.ndarray,
              windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(patient, day) of extra visits in the waves: Poisson-many per patient and wave, at
    ``rate_per_week`` over the part of the wave inside the follow-up, uniform in it."""
    if len(windows) == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    lo = np.maximum(entry[:, None], windows[None, :, 0])
    hi = np.minimum(exit_[:, None], windows[None, :, 1])
    days = np.maximum(hi - lo, 0)
    count = rng.poisson(rate_per_week[:, None] * days / 7).ravel()
    cell = np.repeat(np.arange(count.size), count)
    p, w = np.divmod(cell, windows.shape[0])
    day = lo[p, w] + (rng.random(len(cell)) * days[p, w]).astype(np.int64)
    return p, day
