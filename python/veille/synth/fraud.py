"""Fraud and misuse actors: doctor shoppers, phantom-billing pharmacies, outlier prescribers,
providers billing impossible daily volumes. Each is labelled in truth.json ``fraud``."""

from __future__ import annotations

from typing import Any

import numpy as np

from veille.synth.catalog import DRUG_INDEX, NATURE, SPECIALTY
from veille.synth.exposure import _SMALL, SHOPPING_CLASSES, Episodes, Fills
from veille.synth.lines import batch
from veille.synth.population import Patients
from veille.synth.world import World, rng_for

PHANTOM_DRUGS = ("A10AE04", "C03CA01", "M05BA04")


def _per_100k(rate: float, patients: int) -> int:
    return max(1, round(rate * patients / 100_000))


def choose_actors(world: World) -> dict[str, Any]:
    """Which providers are fraudulent (drawn once per extract, from the seed)."""
    rng = rng_for(world.seed, 999)
    fr = world.scenario["fraud"]
    prov = world.providers
    n_hp = min(_per_100k(float(fr["high_prescribers"]), world.patients), len(prov.gp) // 4)
    n_iv = min(_per_100k(float(fr["impossible_volume_providers"]), world.patients), len(prov.gp) // 4)
    n_ph = min(_per_100k(float(fr["phantom_pharmacies"]), world.patients), len(prov.pharmacy) // 3)
    gps = rng.permutation(len(prov.gp))
    span = world.end - world.start
    days = np.sort(rng.choice(span, size=(n_iv, int(fr["impossible_volume_days"])), replace=True)
                   + world.start, axis=1)
    return {
        "high_prescriber_idx": gps[:n_hp],
        "volume_idx": gps[n_hp:n_hp + n_iv],
        "volume_days": days,
        "phantom_idx": rng.permutation(len(prov.pharmacy))[:n_ph],
    }


def truth_entries(world: World) -> dict[str, dict[str, str]]:
    prov, fr = world.providers, world.fraud
    out: dict[str, dict[str, str]] = {}
    for i in fr["high_prescriber_idx"]:
        out[prov.gp[i].decode()] = {"kind": "high_prescriber",
                                "scheme": "benzodiazepines, Z-drugs and opioids far above GP peers"}
    for i in fr["volume_idx"]:
        out[prov.gp[i].decode()] = {"kind": "impossible_volume",
                                "scheme": "bills more consultations a day than a GP can see"}
    for i in fr["phantom_idx"]:
        out[prov.pharmacy[i].decode()] = {"kind": "phantom_pharmacy",
                                      "scheme": "bills dispensings that never happened, some to dead patients"}
    return out


def doctor_shopping(rng: np.random.Generator, pts: Patients, eps: Episodes, world: World, chunk: int):
    """Extra overlapping fills of a benzodiazepine/opioid episode from other prescribers and
    pharmacies. Returns fills and truth entries (patient pseudonym -> kind, scheme)."""
    class_names = np.array(list(world.scenario["classes"]), dtype=object)
    kl = class_names[eps.klass]
    begin = np.maximum(eps.start, pts.entry[eps.patient])
    ok = np.isin(kl, list(SHOPPING_CLASSES)) & (eps.stop - begin >= 90) & (pts.rank[eps.patient] == 1)
    cand = np.flatnonzero(ok)
    want = round(float(world.scenario["fraud"]["doctor_shoppers"]) * len(pts) / 100_000)
    want = max(want, 1 if chunk == 0 else 0)
    _, first = np.unique(eps.patient[cand], return_index=True)  # one episode per patient
    cand = cand[first]
    chosen = rng.permutation(cand)[: min(want, len(cand))]
    prov = world.providers
    out_p, out_pack, out_day, out_pre, out_ph, out_ep = [], [], [], [], [], []
    truth: dict[str, dict[str, str]] = {}
    for e in chosen:  # a few actors per chunk
        p = eps.patient[e]
        days = begin[e] + np.cumsum(rng.integers(6, 14, 200))
        days = days[days < eps.stop[e] - 30]
        if len(days) == 0:
            continue
        gps = prov.gp[rng.choice(len(prov.gp), size=rng.integers(2, 4), replace=False)]
        phs = prov.pharmacy[rng.choice(len(prov.pharmacy), size=rng.integers(3, 5), replace=False)]
        out_p.append(np.full(len(days), p))
        out_pack.append(np.full(len(days), _SMALL[eps.drug[e]]))
        out_day.append(days)
        out_pre.append(gps[rng.integers(0, len(gps), len(days))])
        out_ph.append(phs[np.arange(len(days)) % len(phs)])
        out_ep.append(np.full(len(days), e))
        truth[pts.nir[p].decode()] = {"kind": "doctor_shopping",
                                  "scheme": f"{SHOPPING_CLASSES[kl[e]]}: overlapping prescriptions "
                                            f"from {len(gps)} prescribers in {len(phs)} pharmacies"}
    if not out_p:
        return None, truth
    n = sum(len(x) for x in out_p)
    fills = Fills(np.concatenate(out_p), np.concatenate(out_pack), np.concatenate(out_day),
                  np.ones(n, np.int64), np.concatenate(out_pre), np.full(n, SPECIALTY["gp"]),
                  np.concatenate(out_ph), np.concatenate(out_ep))
    return fills, truth


def phantom_fills(rng: np.random.Generator, pts: Patients, world: World) -> tuple[Fills | None, int]:
    """Dispensings billed by phantom pharmacies; returns fills and how many went to the dead."""
    prov = world.providers
    rate = float(world.scenario["fraud"]["phantom_lines_per_pharmacy_per_1000_patients"])
    ph_idx = world.fraud["phantom_idx"]
    per = max(1, round(rate * len(pts) / 1000))
    n = per * len(ph_idx)
    pharmacy = np.repeat(prov.pharmacy[ph_idx], per)
    dead = np.flatnonzero(pts.died & (pts.death < world.end - 2))
    to_dead = (rng.random(n) < 0.3) & (len(dead) > 0)
    p = rng.integers(0, len(pts), n)
    if len(dead):
        p = np.where(to_dead, dead[rng.integers(0, len(dead), n)], p)
    fu = np.maximum(pts.exit[p] - pts.entry[p], 1)
    day = np.where(to_dead, pts.death[p] + 1 + (rng.random(n) * np.maximum(world.end - 1 - pts.death[p], 1)).astype(np.int64),
                   pts.entry[p] + (rng.random(n) * fu).astype(np.int64))
    drug = np.array([DRUG_INDEX[a] for a in PHANTOM_DRUGS])[rng.integers(0, len(PHANTOM_DRUGS), n)]
    fills = Fills(p, _SMALL[drug], day, np.ones(n, np.int64), prov.gp[rng.integers(0, len(prov.gp), n)],
                  np.full(n, SPECIALTY["gp"]), pharmacy, np.full(n, -1))
    return fills, int(to_dead.sum())


def volume_lines(rng: np.random.Generator, pts: Patients, world: World) -> dict:
    """Consultations billed by impossible-volume GPs on their fixed days, spread over chunks."""
    prov = world.providers
    per_day = float(world.scenario["fraud"]["impossible_volume_per_day"])
    k = max(1, round(per_day * len(pts) / world.patients))
    idx, days = world.fraud["volume_idx"], world.fraud["volume_days"]
    gp = np.repeat(prov.gp[idx], days.shape[1] * k)
    day = np.repeat(days.ravel(), k)
    p = rng.integers(0, len(pts), len(day))
    alive = (pts.entry[p] <= day) & (day < pts.exit[p])
    return batch(int(alive.sum()), patient=p[alive], day=day[alive], nature=NATURE["gp_consultation"],
                 paid=2500, reimb=1750, exe=gp[alive], exe_spe=SPECIALTY["gp"])
