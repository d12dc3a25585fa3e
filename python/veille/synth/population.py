"""Beneficiaries of one chunk: identity, age, sex, residence, rights, latent frailty, death, conditions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from veille.synth.catalog import CONDITION_CODES, DEPARTMENTS
from veille.synth.world import ALPHABET, World

YEAR = 365.25


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def logit(p: float) -> float:
    return float(np.log(p / (1.0 - p)))


@dataclass
class Patients:
    index: np.ndarray  # global patient number
    nir: np.ndarray  # BEN_NIR_PSA (object array of 17-character strings)
    rank: np.ndarray  # BEN_RNG_GEM
    male: np.ndarray  # bool
    birth: np.ndarray  # birth day (15th of the birth month)
    age: np.ndarray  # age in years at the start of the period (negative if born later)
    rights: np.ndarray  # BEN_DTE_INS
    entry: np.ndarray  # first day observed (start or rights)
    exit: np.ndarray  # first day not observed (end or death day + 1)
    died: np.ndarray  # bool
    death: np.ndarray  # death day (valid where died)
    dpt: np.ndarray  # residence department
    frailty: np.ndarray  # latent, N(0, 1)
    gp: np.ndarray  # index into providers.gp
    pharmacy: np.ndarray  # index into providers.pharmacy
    cond: dict[str, np.ndarray]  # condition -> bool
    onset: dict[str, np.ndarray]  # condition -> onset day

    def __len__(self) -> int:
        return len(self.index)


def _ids(rng: np.random.Generator, n: int) -> np.ndarray:
    codes = ALPHABET[rng.integers(0, len(ALPHABET), size=(n, 17))]
    return np.ascontiguousarray(codes).view("S17").ravel()


def make_patients(rng: np.random.Generator, n: int, first: int, world: World) -> Patients:
    sc = world.scenario["population"]
    start, end = world.start, world.end
    span = end - start
    weights = np.asarray(sc["age_band_weights"], float)
    band = rng.choice(len(weights), size=n, p=weights / weights.sum())
    age = band * 5 + rng.random(n) * 5
    born_during = rng.random(n) < float(sc["birth_share"])
    birth_offset = rng.integers(0, span, size=n)
    age = np.where(born_during, -birth_offset / YEAR, age)
    birth_exact = start - np.round(age * YEAR).astype(np.int64)
    # birth dates are known to the month: put them on the 15th
    b = birth_exact.astype("datetime64[D]")
    birth = (b.astype("datetime64[M]").astype("datetime64[D]") + 14).astype(np.int64)
    male = rng.random(n) < float(sc["male_share"])
    frailty = rng.standard_normal(n)
    arrival = (~born_during) & (rng.random(n) < float(sc["arrival_share"]))
    rights = np.where(
        born_during, birth_exact,
        np.where(arrival, start + rng.integers(0, span, size=n),
                 np.maximum(birth_exact, start - rng.integers(30, 9000, size=n))),
    )
    entry = np.maximum(start, rights)
    # death: constant hazard by age at start, sex and frailty
    rate = (float(sc["death_rate_at_70"])
            * np.exp(float(sc["death_age_log_hr"]) * (np.maximum(age, 0) - 70) / 10
                     + float(sc["death_male_log_hr"]) * male
                     + float(sc["death_frailty_log_hr"]) * frailty))
    t_death = entry + np.floor(rng.exponential(1.0, n) / rate * YEAR).astype(np.int64)
    died = t_death < end
    death = np.where(died, t_death, 0)
    exit_ = np.where(died, t_death + 1, end)
    dpt_codes = np.array([d for d, _ in DEPARTMENTS], dtype="S3")
    dpt_w = np.array([w for _, w in DEPARTMENTS], float)
    dpt = dpt_codes[rng.choice(len(dpt_codes), size=n, p=dpt_w / dpt_w.sum())]
    nir = _ids(rng, n)
    rank = np.ones(n, dtype=np.int64)
    # twins: a child after another child takes the previous pseudonym with rank 2
    kids = np.flatnonzero((age > 0) & (age < 16))
    twins = kids[1:][rng.random(len(kids) - 1) < float(sc["twin_share"])] if len(kids) > 1 else []
    for t in twins:  # few rows: a handful per thousand children
        prev = t - 1
        if rank[prev] == 1 and prev >= 0:
            nir[t], rank[t] = nir[prev], 2
            birth[t], male[t], age[t], dpt[t] = birth[prev], male[prev], age[prev], dpt[prev]
            rights[t], entry[t] = rights[prev], entry[prev]
    cond, onset = _conditions(rng, world, age, male, frailty, entry, exit_)
    for c in cond:  # twins (children) carry no chronic condition
        cond[c] &= rank == 1
    gp = rng.integers(0, len(world.providers.gp), size=n)
    pharmacy = rng.integers(0, len(world.providers.pharmacy), size=n)
    return Patients(np.arange(first, first + n), nir, rank, male, birth, age, rights, entry,
                    exit_, died, death, dpt, frailty, gp, pharmacy, cond, onset)


def _conditions(rng: np.random.Generator, world, age, male, frailty, entry, exit_):
    cond: dict[str, np.ndarray] = {}
    onset: dict[str, np.ndarray] = {}
    n = len(age)
    for name, c in world.scenario["conditions"].items():
        if name not in CONDITION_CODES:
            continue
        lin = (logit(float(c["prevalence"])) + float(c["age"]) * (age - 70) / 10
               + float(c["frailty"]) * frailty + float(c["male"]) * male)
        has = (rng.random(n) < sigmoid(lin)) & (age >= float(c["min_age"]))
        incident = rng.random(n) < float(c["incident"])
        fu = np.maximum(exit_ - entry, 1)
        at = np.where(incident, entry + (rng.random(n) * fu).astype(np.int64),
                      entry - rng.integers(30, 3650, size=n))
        cond[name] = has
        onset[name] = at
    return cond, onset
