"""Drug use that a scenario's interactions add: short courses and add-on treatments.

- ``courses``: acute drugs (an antibiotic) that anyone may take, in courses of one pack, at a
  rate per person-year that rises with age and frailty;
- an interaction's ``co_start``: a share of the object drug's episodes gets the precipitant
  added some days after its start, for an exponential time ending by the object's stop (the
  supply of its last fill may run a pack beyond), as a hypnotic started on top of a
  benzodiazepine.

Both draw from the chunk's own stream (seed, chunk, ``STREAM``) and only when the scenario asks
for them: a scenario without them writes the bytes it wrote before.
"""

from __future__ import annotations

import numpy as np

from veille.synth.catalog import DRUG_INDEX, DRUGS
from veille.synth.exposure import _SMALL, PACK_DAYS, Episodes, Fills, _fill_providers, make_fills
from veille.synth.population import YEAR, Patients
from veille.synth.world import World, rng_for

STREAM = 1


def needed(sc: dict) -> bool:
    return bool(sc.get("courses")) or any(i.get("co_start") for i in sc.get("interactions") or [])


def _concat(parts: list[Episodes]) -> Episodes:
    return Episodes(*(np.concatenate([getattr(e, f) for e in parts])
                      for f in ("patient", "drug", "klass", "start", "stop")))


def _offset(f: Fills, by: int) -> Fills:
    return Fills(f.patient, f.pack, f.day, f.packs, f.prescriber, f.prescriber_spe, f.pharmacy,
                 np.where(f.episode >= 0, f.episode + by, f.episode))


def _weighted(rng: np.random.Generator, drugs: dict, n: int) -> np.ndarray:
    idx = np.array([DRUG_INDEX[a] for a in drugs])
    w = np.array([float(v) for v in drugs.values()])
    return idx[rng.choice(len(idx), size=n, p=w / w.sum())]


def short_courses(rng: np.random.Generator, pts: Patients, world: World) -> tuple[Episodes, Fills | None]:
    """One pack per course, on a uniform day of the patient's observation."""
    parts, fills = [], []
    for name, spec in (world.scenario.get("courses") or {}).items():
        lin = float(spec.get("age", 0)) * (np.maximum(pts.age, 0) - 70) / 10 + float(spec.get("frailty", 0)) * pts.frailty
        years = np.maximum(pts.exit - pts.entry, 0) / YEAR
        n_courses = rng.poisson(float(spec["rate"]) * np.exp(lin) * years)
        patient = np.repeat(np.arange(len(pts)), n_courses)
        span = (pts.exit - pts.entry)[patient]
        day = pts.entry[patient] + (rng.random(len(patient)) * span).astype(np.int64)
        drug = _weighted(rng, spec["drugs"], len(patient))
        pack = _SMALL[drug]
        stop = np.minimum(day + PACK_DAYS[pack], pts.exit[patient])
        first = sum(len(e.patient) for e in parts)
        parts.append(Episodes(patient, drug, np.full(len(patient), -1), day, stop))
        fills.append(_fill_providers(rng, pts, world, patient, pack, day, np.ones(len(patient), np.int64),
                                     np.full(len(patient), name, dtype=object),
                                     first + np.arange(len(patient))))
    if not parts:
        return _concat([_empty()]), None
    return _concat(parts), Fills(*(np.concatenate([getattr(f, k) for f in fills]) for k in Fills.__dataclass_fields__))


def _empty() -> Episodes:
    z = np.zeros(0, np.int64)
    return Episodes(z, z, z, z, z)


def _class_of(sc: dict, atc7: str) -> tuple[int, float]:
    """Index of the (first) class dispensing a molecule and the molecule's weight in it."""
    for k, spec in enumerate(sc["classes"].values()):
        if atc7 in spec["drugs"]:
            return k, float(spec["drugs"][atc7])
    raise KeyError(atc7)


def add_ons(rng: np.random.Generator, pts: Patients, eps: Episodes, world: World, archetype: np.ndarray):
    """The precipitant started on top of a share of the object's episodes (``co_start``)."""
    sc = world.scenario
    atc = np.array([d.atc7 for d in DRUGS], dtype=object)
    new = []
    for inter in sc.get("interactions") or []:
        co = inter.get("co_start")
        if not co:
            continue
        obj = np.flatnonzero(np.array([a.startswith(str(inter["object_atc"])) for a in atc])[eps.drug])
        chosen = obj[rng.random(len(obj)) < float(co["share"])]
        lo, hi = (int(v) for v in co["delay_days"])
        # from the object's true start, before entry for a prevalent user: an add-on that ended
        # before entry is dropped, one still running at entry is prevalent too (make_fills
        # dispenses it from entry), so joint exposure is not bunched at the extract's start
        start = eps.start[chosen] + rng.integers(lo, hi + 1, len(chosen))
        stop = np.minimum(start + rng.exponential(float(co["duration_days"]), len(chosen)).astype(np.int64),
                          eps.stop[chosen])
        ok = (start < stop) & (stop > pts.entry[eps.patient[chosen]])
        chosen, start, stop = chosen[ok], start[ok], stop[ok]
        names = [a for a in sc_drugs(sc) if a.startswith(str(inter["precipitant_atc"]))]
        klass_w = [_class_of(sc, a) for a in names]
        drug = _weighted(rng, {a: w for a, (_, w) in zip(names, klass_w, strict=True)}, len(chosen))
        klass_of = {DRUG_INDEX[a]: k for a, (k, _) in zip(names, klass_w, strict=True)}
        klass = np.vectorize(klass_of.get, otypes=[np.int64])(drug) if len(drug) else np.zeros(0, np.int64)
        new.append(Episodes(eps.patient[chosen], drug, klass, start, stop))
    if not new:
        return _empty(), None
    f, made = make_fills(rng, pts, _concat(new), world, archetype)
    return made, f


def sc_drugs(sc: dict) -> list[str]:
    """The molecules of the scenario's classes, in catalog order."""
    used = {a for spec in sc["classes"].values() for a in spec["drugs"]}
    return [d.atc7 for d in DRUGS if d.atc7 in used]


def add_drug_use(world: World, chunk: int, pts: Patients, eps: Episodes, archetype: np.ndarray,
                 fills: list[Fills]) -> tuple[Episodes, list[Fills]]:
    """The chunk's episodes and fills with the short courses and add-ons appended."""
    rng = rng_for(world.seed, chunk, STREAM)
    out_eps, out_fills = [eps], list(fills)
    for make in (lambda: short_courses(rng, pts, world), lambda: add_ons(rng, pts, eps, world, archetype)):
        extra, extra_fills = make()
        if extra_fills is not None and len(extra.patient):
            out_fills.append(_offset(extra_fills, sum(len(e.patient) for e in out_eps)))
            out_eps.append(extra)
    return _concat(out_eps), out_fills
