"""Outcome events from a proportional-hazards model with time-varying drug exposure.

For each patient and outcome, the baseline hazard is constant over the follow-up:
``rate * exp(age + sex + frailty + conditions terms)``; while inside an exposure episode of an
effect's drug (after its latency, and once old enough for the effect's population) it is
multiplied by the effect's hazard ratio. The first event is drawn exactly by inverting the
piecewise-linear cumulative hazard. The segments of constant hazard, truncated at the
event and summed per patient and exposure pattern (``bits``: bit j = the outcome's j-th
effect, then one bit per interaction of the outcome: both its drugs current), are the latent
person-time the statistical test fits.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from veille.synth.catalog import DRUGS
from veille.synth.exposure import Exposures
from veille.synth.population import YEAR, Patients
from veille.synth.world import World

ATC = np.array([d.atc7 for d in DRUGS], dtype=object)


@dataclass
class OutcomeDraw:
    outcome: str
    patient: np.ndarray  # local index
    day: np.ndarray
    segments: dict[str, np.ndarray]  # patient, t0, t1, bits, event


def effects_by_outcome(sc: dict) -> dict[str, list[tuple[int, dict]]]:
    out: dict[str, list[tuple[int, dict]]] = {o: [] for o in sc["outcomes"]}
    for i, eff in enumerate(sc["effects"]):
        out[str(eff["outcome_icd10"])].append((i, eff))
    return out


def baseline_rate(pts: Patients, spec: dict) -> np.ndarray:
    """Hazard per day of each patient, without drug effects."""
    lin = (float(spec["age"]) * (np.maximum(pts.age, 0) - 70) / 10 + float(spec["male"]) * pts.male
           + float(spec["frailty"]) * pts.frailty)
    for c, coef in (spec.get("conditions") or {}).items():
        lin = lin + float(coef) * pts.cond[c]
    return float(spec["rate"]) / 1000.0 / YEAR * np.exp(lin)


def interactions_by_outcome(sc: dict) -> dict[str, list[tuple[int, dict]]]:
    out: dict[str, list[tuple[int, dict]]] = {o: [] for o in sc["outcomes"]}
    for i, inter in enumerate(sc.get("interactions") or []):
        out[str(inter["outcome_icd10"])].append((i, inter))
    return out


def effect_columns(effects: list[tuple[int, dict]]) -> list[tuple[str, int, str, float, float]]:
    """The hazard's exposure columns of an outcome's effects: (ATC, latency, population, hazard
    ratio, cumulative mg from which it applies). An effect with a ``dose`` block (issue 26:
    ``{thresholds_mg: [...], hazard_ratios: [...]}``) gives one column per category: the first
    from the first dose with the first ratio, each next one from the day the cumulative dose
    dispensed reaches its threshold, with the ratio of its category to the previous one's, so
    that the product is the category's ratio while the drug is current."""
    cols = []
    for _, eff in effects:
        atc, lat, pop = str(eff["exposure_atc"]), int(eff["latency_days"]), str(eff["population"])
        dose = eff.get("dose")
        if not dose:
            cols.append((atc, lat, pop, float(eff["hazard_ratio"]), 0.0))
            continue
        hrs = [float(h) for h in dose["hazard_ratios"]]
        cols.append((atc, lat, pop, hrs[0], 0.0))
        cols += [(atc, lat, pop, hrs[k + 1] / hrs[k], float(t)) for k, t in enumerate(dose["thresholds_mg"])]
    return cols


def cumulative_mg(fills: list, atc: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fills of the drugs whose ATC starts with ``atc``, in (patient, day) order: patient
    (local index), day and the mg dispensed so far by the patient (packs x the pack's mg, on the
    fill's day)."""
    from veille.synth.catalog import PACK_MG, PACKS

    of_atc = np.array([DRUGS[p.drug].atc7.startswith(atc) for p in PACKS])
    patient = np.concatenate([f.patient for f in fills])
    pack = np.concatenate([f.pack for f in fills])
    day = np.concatenate([f.day for f in fills])
    mg = np.concatenate([f.packs for f in fills]) * PACK_MG[pack]
    keep = of_atc[pack] & np.isfinite(mg)
    patient, day, mg = patient[keep], day[keep], mg[keep]
    order = np.lexsort((day, patient))
    patient, day, mg = patient[order], day[order], mg[order]
    cum = np.cumsum(mg)
    first = np.r_[True, patient[1:] != patient[:-1]]
    start_of = np.maximum.accumulate(np.where(first, np.arange(len(patient)), 0))
    return patient, day, cum - np.r_[0.0, cum][start_of]  # cumulated within each patient


def cumulative_mg_crossing(n: int, series: tuple[np.ndarray, np.ndarray, np.ndarray], threshold: float) -> np.ndarray:
    """Per patient (local index, ``n`` of them), the day the cumulative mg of ``series``
    (cumulative_mg) reaches ``threshold``; a large number when never."""
    patient, day, cum = series
    out = np.full(n, np.iinfo(np.int64).max // 4)
    reached = cum >= threshold
    who, at = np.unique(patient[reached], return_index=True)
    out[who] = day[reached][at]
    return out


def _current(pts: Patients, eps: Exposures, atc: str, latency: int, population: str):
    """Patient, start and stop of the exposed intervals of the drugs whose ATC starts with ``atc``."""
    sel = np.flatnonzero(np.array([a.startswith(atc) for a in ATC])[eps.drug])
    p = eps.patient[sel]
    t0 = np.maximum(eps.start[sel], eps.episode_start[sel] + latency)
    if population.startswith("age>="):
        t0 = np.maximum(t0, pts.birth[p] + round(float(population[5:]) * YEAR))
    t0 = np.maximum(t0, pts.entry[p])
    t1 = np.minimum(eps.stop[sel], pts.exit[p])
    ok = t0 < t1
    return p[ok], t0[ok], t1[ok]


def draw_outcome(rng: np.random.Generator, pts: Patients, eps: Exposures, world: World, outcome: str,
                 effects: list[tuple[int, dict]], interactions: list[tuple[int, dict]] = (),
                 fills: list | None = None) -> OutcomeDraw:
    """The first event of one outcome per patient. An interaction multiplies the hazard by its
    hazard ratio while both its drugs are current (on top of each drug's own effects); its
    latent bit follows the effect bits (``len(effect_columns(effects))``: one per effect, one
    per category of a dose effect, whose crossings need the ``fills``)."""
    n = len(pts)
    ecols = effect_columns(effects)
    k = len(ecols)
    m = len(interactions)
    cols = [(atc, lat, pop, mg) for atc, lat, pop, _, mg in ecols]
    for _, inter in interactions:
        cols += [(str(inter[key]), 0, str(inter["population"]), 0.0) for key in ("object_atc", "precipitant_atc")]
    width = k + 2 * m
    pat, tim, delta = [np.arange(n), np.arange(n)], [pts.entry, pts.exit], []
    delta.append(np.zeros((2 * n, width), np.int64))
    log_hr = np.array([np.log(hr) for _, _, _, hr, _ in ecols])
    log_int = np.array([np.log(float(inter["hazard_ratio"])) for _, inter in interactions])
    series: dict[str, tuple] = {}  # the cumulative mg of each dose effect's drug, once
    for j, (atc, latency, population, mg) in enumerate(cols):
        p, t0, t1 = _current(pts, eps, atc, latency, population)
        if mg > 0:  # a dose category: from the day its threshold is reached
            if atc not in series:
                series[atc] = cumulative_mg(fills or [], atc)
            t0 = np.maximum(t0, cumulative_mg_crossing(len(pts), series[atc], mg)[p])
            ok = t0 < t1
            p, t0, t1 = p[ok], t0[ok], t1[ok]
        d = np.zeros((2 * len(p), width), np.int64)
        d[: len(p), j], d[len(p):, j] = 1, -1
        pat += [p, p]
        tim += [t0, t1]
        delta.append(d)
    pat_a = np.concatenate(pat)
    tim_a = np.concatenate(tim)
    dl = np.concatenate(delta)
    order = np.lexsort((tim_a, pat_a))
    pat_a, tim_a, dl = pat_a[order], tim_a[order], dl[order]
    active = np.cumsum(dl, axis=0) > 0
    nxt_same = np.r_[pat_a[1:] == pat_a[:-1], False]
    t_next = np.r_[tim_a[1:], tim_a[-1]]
    dur = np.where(nxt_same, t_next - tim_a, 0).astype(float)
    if m:
        joint = active[:, k::2] & active[:, k + 1::2]
        mult = np.exp(active[:, :k] @ log_hr + joint @ log_int)
        active = np.hstack([active[:, :k], joint])
    else:
        mult = np.exp(active @ log_hr)
    lam = baseline_rate(pts, world.scenario["outcomes"][outcome])[pat_a] * mult
    h = lam * dur
    cum = np.cumsum(h)
    first_row = np.r_[True, pat_a[1:] != pat_a[:-1]]
    offset = (cum - h)[first_row]  # per patient, in patient order (every patient has rows)
    e = rng.exponential(1.0, n)
    target = offset + e
    row = np.searchsorted(cum, target, side="left")
    row = np.minimum(row, len(cum) - 1)
    hit = (pat_a[row] == np.arange(n)) & (cum[row] >= target) & (dur[row] > 0)
    ev_pat = np.flatnonzero(hit)
    r = row[hit]
    ev_time = tim_a[r] + np.floor((target[hit] - (cum[r] - h[r])) / lam[r]).astype(np.int64)
    ev_time = np.minimum(ev_time, t_next[r] - 1)
    # latent person-time: segments with dur > 0, up to and including the event
    ev_of = np.full(n, np.iinfo(np.int64).max)
    ev_of[ev_pat] = ev_time
    seg = dur > 0
    t0, t1, p = tim_a[seg], t_next[seg], pat_a[seg]
    bits = (active[seg] * (1 << np.arange(k + m))).sum(axis=1) if k + m else np.zeros(seg.sum(), np.int64)
    live = t0 <= ev_of[p]
    t0, t1, p, bits = t0[live], t1[live], p[live], bits[live]
    event = (ev_of[p] >= t0) & (ev_of[p] < t1)
    t1 = np.where(event, ev_of[p] + 1, t1)
    # sufficient statistics of a Poisson fit: person-days and events per patient and pattern
    _, first, inv = np.unique(p.astype(np.int64) << 16 | bits, return_index=True,
                              return_inverse=True)
    segs = {"patient": pts.index[p[first]].astype(np.int32), "bits": bits[first].astype(np.int16),
            "days": np.bincount(inv, weights=t1 - t0).astype(np.int32),
            "event": np.bincount(inv, weights=event).astype(np.int8)}
    return OutcomeDraw(outcome, ev_pat, ev_time, segs)
