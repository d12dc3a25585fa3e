"""What every chunk of patients shares: the period, the scenario, the providers, the seed."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

EPOCH = date(1970, 1, 1)
ALPHABET = np.frombuffer(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", np.uint8)


def day_number(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


def rng_for(seed: int, *stream: int) -> np.random.Generator:
    """An independent, reproducible random stream for (seed, stream...)."""
    return np.random.default_rng([seed, *stream])


def draw_ids(rng: np.random.Generator, n: int, digits: int) -> np.ndarray:
    """``n`` distinct numeric identifiers with ``digits`` digits, as strings."""
    lo, hi = 10 ** (digits - 1), 10**digits
    vals = rng.choice(hi - lo, size=n, replace=False) + lo if n < 10**6 else None
    if vals is None:  # pragma: no cover - very large pools
        vals = np.unique(rng.integers(lo, hi, size=int(n * 1.1)))[:n]
    return vals.astype("S")


@dataclass
class Providers:
    """Pools of providers: ids (8 digits, or 9-character FINESS for hospitals) and roles."""

    gp: np.ndarray
    specialist: dict[str, np.ndarray]
    pharmacy: np.ndarray
    lab: np.ndarray
    hospital: np.ndarray  # FINESS
    hospital_public: np.ndarray  # bool per hospital

    @classmethod
    def build(cls, rng: np.random.Generator, patients: int, sc: dict[str, Any]) -> Providers:
        p = sc["providers"]
        n_gp = max(20, patients // int(p["patients_per_gp"]))
        n_ph = max(12, patients // int(p["patients_per_pharmacy"]))
        n_sp = max(3, patients // int(p["patients_per_specialist"]))
        n_lab = max(3, patients // int(p["patients_per_lab"]))
        n_hosp = max(4, patients // int(p["patients_per_hospital"]))
        specialties = ["cardiology", "ophthalmology", "psychiatry", "endocrinology"]
        ids = draw_ids(rng, n_gp + n_ph + n_lab + n_sp * len(specialties), 8)
        gp, rest = ids[:n_gp], ids[n_gp:]
        ph, rest = rest[:n_ph], rest[n_ph:]
        lab, rest = rest[:n_lab], rest[n_lab:]
        spec = {s: rest[i * n_sp:(i + 1) * n_sp] for i, s in enumerate(specialties)}
        dpt = rng.integers(1, 96, size=n_hosp)
        serial = draw_ids(rng, n_hosp, 7)
        finess = np.array([f"{d:02d}{s.decode()}" for d, s in zip(dpt, serial, strict=True)], dtype="S9")
        public = rng.random(n_hosp) < float(sc["care"]["public_hospital_share"])
        public[0], public[-1] = True, False
        return cls(gp, spec, ph, lab, finess, public)


@dataclass
class World:
    seed: int
    start: int  # first day of the period (days since epoch)
    end: int  # first day after the period
    patients: int
    chunk_size: int
    scenario: dict[str, Any]
    providers: Providers
    fraud: dict[str, Any] = field(default_factory=dict)

    @property
    def n_chunks(self) -> int:
        return -(-self.patients // self.chunk_size)
