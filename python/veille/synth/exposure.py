"""Drug use of one chunk: treatment episodes per class and the pharmacy fills that realise them.

Who is treated depends on the condition, age, sex and the latent frailty (confounding by
indication); molecules are chosen with a frailty tilt (e.g. rosiglitazone for frailer
diabetics). Episodes start before the period (prevalent users), within 6 months of a
condition's onset during the period, or, for a condition present at entry but not yet treated,
at any time of the observation; they last an exponential time, may switch to another molecule
of the class. Fills come every pack length times an adherence factor: on time, late, or early
(stockpiling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from veille.synth.catalog import DRUG_INDEX, DRUGS, PACKS
from veille.synth.population import Patients, logit, sigmoid
from veille.synth.world import World

ARCHETYPES = ("guideline_concordant", "under_monitored", "escalating", "non_adherent")
DIABETES_CLASSES = ("metformin", "sulfonylurea", "dpp4", "insulin", "glitazone")
SHOPPING_CLASSES = {"benzodiazepine": "benzodiazepine", "z_drug": "benzodiazepine",
                    "opioid": "opioid"}
HIGH_PRESCRIBER_CLASSES = ("benzodiazepine", "z_drug", "hypnotic_benzo", "opioid")
SPECIALIST_FOR = {"ssri": "psychiatry", "antipsychotic": "psychiatry", "insulin": "endocrinology",
                  "glitazone": "endocrinology", "loop_diuretic": "cardiology"}

# pack lookup: drug index -> (small pack index, large pack index or -1)
_SMALL = np.full(len(DRUGS), -1)
_LARGE = np.full(len(DRUGS), -1)
for _i, _p in enumerate(PACKS):
    if _p.variant == 0:  # the base strength: catalog.with_strengths moves some fills to the others
        (_LARGE if _p.large else _SMALL)[_p.drug] = _i
PACK_UNITS = np.array([p.units for p in PACKS])
PACK_DAYS = np.array([p.units // DRUGS[p.drug].daily_units for p in PACKS])  # days one pack supplies
PACK_DRUG = np.array([p.drug for p in PACKS])


@dataclass
class Episodes:
    patient: np.ndarray  # local index in the chunk
    drug: np.ndarray  # index into DRUGS
    klass: np.ndarray  # index into the scenario's class list
    start: np.ndarray  # true start of use (may precede the period)
    stop: np.ndarray  # end of the last fill's supply (exclusive), clipped to exit


@dataclass
class Fills:
    patient: np.ndarray
    pack: np.ndarray  # index into PACKS
    day: np.ndarray
    packs: np.ndarray  # number of packs (> 0)
    prescriber: np.ndarray  # provider id (object)
    prescriber_spe: np.ndarray  # SNDS specialty code
    pharmacy: np.ndarray  # pharmacy id
    episode: np.ndarray  # index of the episode the fill belongs to, -1 = none (phantom)


@dataclass
class Exposures:
    """True exposure: days with drug on hand (merged supplies of an episode's fills)."""

    patient: np.ndarray
    drug: np.ndarray
    episode_start: np.ndarray  # start of use, for latencies
    start: np.ndarray
    stop: np.ndarray  # exclusive


def _choose_drug(rng: np.random.Generator, spec: dict, frailty: np.ndarray, exclude: np.ndarray | None = None):
    names = list(spec["drugs"])
    w = np.log(np.array([float(spec["drugs"][k]) for k in names]))
    tilt = np.array([float(spec.get("frailty_tilt", {}).get(k, 0.0)) for k in names])
    score = w[None, :] + frailty[:, None] * tilt[None, :] + rng.gumbel(size=(len(frailty), len(names)))
    idx = np.array([DRUG_INDEX[k] for k in names])
    if exclude is not None:
        score[idx[None, :] == exclude[:, None]] = -np.inf
    return idx[np.argmax(score, axis=1)]


def assign_archetypes(rng: np.random.Generator, pts: Patients, world: World) -> np.ndarray:
    """Archetype index per patient (-1 = not diabetic)."""
    shares = world.scenario["pathways"]["shares"]
    p = np.array([float(shares[a]) for a in ARCHETYPES])
    arch = rng.choice(len(ARCHETYPES), size=len(pts), p=p / p.sum())
    return np.where(pts.cond["diabetes"], arch, -1)


def make_episodes(rng: np.random.Generator, pts: Patients, world: World, archetype: np.ndarray) -> Episodes:
    sc = world.scenario
    ref = sc["refills"]
    high_gp = np.isin(pts.gp, world.fraud.get("high_prescriber_idx", []))
    hp_lo = float(sc["fraud"]["high_prescriber_log_odds"])
    escal = archetype == ARCHETYPES.index("escalating")
    nonadh = archetype == ARCHETYPES.index("non_adherent")
    out: list[tuple] = []
    metformin_start = None
    for k, (name, spec) in enumerate(sc["classes"].items()):
        conds = spec["condition"] if isinstance(spec["condition"], list) else [spec["condition"]]
        has = np.zeros(len(pts), bool)
        onset = np.full(len(pts), np.iinfo(np.int64).max)
        for c in conds:
            has |= pts.cond[c]
            onset = np.where(pts.cond[c], np.minimum(onset, pts.onset[c]), onset)
        lin = (logit(float(spec["p"])) + float(spec["age"]) * (pts.age - 70) / 10
               + float(spec["frailty"]) * pts.frailty + float(spec.get("male", 0.0)) * pts.male)
        if name in HIGH_PRESCRIBER_CLASSES:
            lin = lin + hp_lo * high_gp
        treated = has & (pts.age >= 18) & (rng.random(len(pts)) < sigmoid(lin))
        prevalent = (onset <= pts.entry) & (rng.random(len(pts)) < float(ref["prevalent_share"]))
        # prevalent users started before the period; a condition with onset during the period
        # is treated within 6 months; one present at entry but not yet treated gets its first
        # treatment at any time of the observation (new users all along the period)
        later = pts.entry + (rng.random(len(pts)) * np.maximum(pts.exit - pts.entry, 1)).astype(np.int64)
        start = np.where(prevalent, pts.entry - rng.integers(0, 730, len(pts)),
                         np.where(onset <= pts.entry, later, onset + rng.integers(0, 180, len(pts))))
        duration = rng.exponential(float(spec["duration"]), len(pts))
        if name in DIABETES_CLASSES:
            duration = np.where(nonadh, duration * 0.5, duration)
        if name == "metformin":
            treated |= escal
            duration = np.where(escal, 1e5, duration)
            metformin_start = start
        elif name in ("sulfonylurea", "dpp4") and metformin_start is not None:
            pick = rng.random(len(pts)) < 0.5
            forced = escal & (pick if name == "sulfonylurea" else ~pick)
            treated = (treated & ~escal) | forced
            start = np.where(forced, metformin_start + rng.integers(270, 540, len(pts)), start)
            duration = np.where(forced, 1e5, duration)
        elif name == "insulin" and metformin_start is not None:
            treated |= escal
            start = np.where(escal, metformin_start + rng.integers(540, 900, len(pts)), start)
            duration = np.where(escal, 1e5, duration)
        idx = np.flatnonzero(treated & (start < pts.exit))
        if len(idx) == 0:
            continue
        drug = _choose_drug(rng, spec, pts.frailty[idx])
        end = start[idx] + duration[idx].astype(np.int64)
        out.append((idx, drug, np.full(len(idx), k), start[idx], end))
        if len(spec["drugs"]) > 1:  # switches within the class
            sw = rng.random(len(idx)) < float(ref["switch_share"])
            s2 = end[sw] + rng.integers(0, 30, int(sw.sum()))
            d2 = _choose_drug(rng, spec, pts.frailty[idx[sw]], exclude=drug[sw])
            e2 = s2 + rng.exponential(float(spec["duration"]), int(sw.sum())).astype(np.int64)
            out.append((idx[sw], d2, np.full(int(sw.sum()), k), s2, e2))
    cols = [np.concatenate(c) for c in zip(*out, strict=True)]
    return Episodes(cols[0], cols[1], cols[2], cols[3], cols[4])


def make_fills(rng: np.random.Generator, pts: Patients, eps: Episodes, world: World, archetype: np.ndarray):
    """Fills of every episode; returns the fills and the episodes with their true stop day."""
    sc = world.scenario
    ref = sc["refills"]
    class_names = list(sc["classes"])
    gc_share = np.array([float(sc["classes"][c]["gc_share"]) for c in class_names])
    large = (_LARGE[eps.drug] >= 0) & (rng.random(len(eps.drug)) < gc_share[eps.klass])
    pack = np.where(large, _LARGE[eps.drug], _SMALL[eps.drug])
    units = PACK_DAYS[pack]
    horizon = np.minimum(eps.stop, pts.exit[eps.patient])
    first = np.where(eps.start < pts.entry[eps.patient],
                     pts.entry[eps.patient] + (rng.random(len(units)) * units).astype(np.int64),
                     eps.start)
    keep = first < horizon
    ep = np.flatnonzero(keep)
    # days between fills before jitter: a pack's units, or for the frailest patients of a profile
    # with fractionated dispensing (weekly deliveries, as in nursing homes), a few days
    step = units[ep].astype(np.float64)
    frac_share = float(ref.get("fractionated_share", 0))
    if frac_share > 0:
        from scipy.stats import norm

        frac = pts.frailty[eps.patient[ep]] > norm.ppf(1 - frac_share)
        step = np.where(frac, float(ref.get("fractionated_days", 7)), step)
    k = np.minimum((horizon[ep] - first[ep]) // np.maximum((step * 0.6).astype(np.int64), 1) + 2,
                   int(ref.get("max_fills_per_episode", 400)))
    g = np.repeat(np.arange(len(ep)), k)
    m = len(g)
    nonadh = archetype[eps.patient[ep]] == ARCHETYPES.index("non_adherent")
    late_p = np.where(nonadh[g], 0.6, float(ref["late_share"]))
    u = rng.random(m)
    factor = np.where(
        u < float(ref["early_share"]), rng.uniform(0.6, 0.85, m),
        np.where(u < float(ref["early_share"]) + late_p,
                 rng.uniform(1.15, np.where(nonadh[g], 3.0, 1.8)), rng.uniform(0.93, 1.07, m)))
    n_packs = np.where(rng.random(m) < float(ref["double_pack_share"]), 2, 1)
    interval = np.maximum(np.round(step[g] * n_packs * factor).astype(np.int64), 1)
    cs = np.cumsum(interval)
    starts = np.concatenate(([0], np.cumsum(k)[:-1]))
    before = cs - interval - (cs[starts] - interval[starts])[g]
    day = first[ep][g] + before
    ok = day < horizon[ep][g]
    g, day, n_packs = g[ok], day[ok], n_packs[ok]
    # true exposure stop: end of the last kept fill's supply
    last = np.zeros(len(ep), np.int64)
    np.maximum.at(last, g, day + units[ep][g] * n_packs)
    stop = eps.stop.copy()
    stop[ep] = np.minimum(last, pts.exit[eps.patient[ep]])
    new_eps = Episodes(eps.patient[ep], eps.drug[ep], eps.klass[ep], eps.start[ep], stop[ep])
    epi = ep[g]
    patient = eps.patient[epi]
    fills = _fill_providers(rng, pts, world, patient, pack[epi], day, n_packs,
                            np.array(class_names, dtype=object)[eps.klass[epi]], g)
    return fills, new_eps


def _fill_providers(rng: np.random.Generator, pts, world, patient, pack, day, n_packs, klass, episode) -> Fills:
    prov = world.providers
    m = len(patient)
    prescriber = prov.gp[pts.gp[patient]]
    spe = np.ones(m, np.int64)
    for cname, specialty in SPECIALIST_FOR.items():
        sel = (klass == cname) & (rng.random(m) < 0.3)
        pool = prov.specialist[specialty]
        prescriber = np.where(sel, pool[patient % len(pool)], prescriber)
        spe = np.where(sel, {"psychiatry": 33, "endocrinology": 42, "cardiology": 3}[specialty], spe)
    home = rng.random(m) < 0.85
    pharmacy = np.where(home, prov.pharmacy[pts.pharmacy[patient]],
                        prov.pharmacy[rng.integers(0, len(prov.pharmacy), m)])
    return Fills(patient, pack, day, n_packs, prescriber, spe, pharmacy, episode)


def supply_intervals(pts: Patients, eps: Episodes, fills: list[Fills]) -> Exposures:
    """Merge each episode's fill supplies (fill day + units x packs) into exposure intervals.

    A prevalent user's first interval starts at the episode start (supplies bought before
    the period); overlapping supplies (early refills) merge; a late refill leaves a gap.
    """
    episode = np.concatenate([f.episode for f in fills])
    keep = episode >= 0
    episode = episode[keep]
    day = np.concatenate([f.day for f in fills])[keep]
    supply = np.concatenate([PACK_DAYS[f.pack] * f.packs for f in fills])[keep]
    order = np.lexsort((day, episode))
    episode, day, supply = episode[order], day[order], supply[order]
    first = np.r_[True, episode[1:] != episode[:-1]]
    start = np.where(first, np.minimum(day, eps.start[episode]), day)
    big = np.int64(10**7)
    run = np.maximum.accumulate(day + supply + episode * big) - episode * big
    new = first | (start > np.r_[0, run[:-1]])
    begin = np.flatnonzero(new)
    last = np.r_[begin[1:], len(day)] - 1
    ep = episode[begin]
    stop = np.minimum(run[last], pts.exit[eps.patient[ep]])
    return Exposures(eps.patient[ep], eps.drug[ep], eps.start[ep], start[begin], stop)
