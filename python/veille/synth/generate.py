"""`generate()`: write a synthetic SNDS extract, its truth.json and latent tables, chunk by chunk.

Patients are simulated in fixed-size chunks, each from its own random stream
(seed, chunk number), and appended to the files: memory stays bounded by the chunk size and
the same arguments always give the same bytes.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from veille.errors import VeilleError
from veille.synth import (
    care,
    catalog,
    courses,
    dcir,
    exposure,
    fraud,
    hazards,
    hospital,
    referential,
)
from veille.synth.lines import concat
from veille.synth.population import make_patients
from veille.synth.scenario import load_scenario
from veille.synth.world import Providers, World, day_number, rng_for
from veille.synth.writer import Formatter, Sink

CHUNK_SIZE = 20_000
MAX_YEARS = 20


def _check_args(out_dir: Path, patients: int, years: int, start: date, seed: int, force: bool) -> None:
    if not isinstance(patients, int) or patients < 1:
        raise VeilleError(f"--patients must be a positive integer, got {patients}")
    if not isinstance(years, int) or not 1 <= years <= MAX_YEARS:
        raise VeilleError(f"--years must be between 1 and {MAX_YEARS}, got {years}")
    if not isinstance(start, date) or not date(1990, 1, 1) <= start <= date(2100, 1, 1):
        raise VeilleError(f"--start must be a date between 1990-01-01 and 2100-01-01, got {start}")
    if not isinstance(seed, int) or seed < 0:
        raise VeilleError(f"--seed must be a non-negative integer, got {seed}")
    if out_dir.exists() and not out_dir.is_dir():
        raise VeilleError(f"--out {out_dir} exists and is not a directory")
    if out_dir.is_dir() and any(out_dir.iterdir()):
        if not force:
            raise VeilleError(f"--out {out_dir} is not empty (use --force to replace an extract)")
        if not (out_dir / "truth.json").is_file():
            raise VeilleError(
                f"--out {out_dir} is not empty and holds no truth.json: not replacing it"
            )


def _end_of_period(start: date, years: int) -> date:
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February
        return start.replace(year=start.year + years, day=28)


def generate(
    out_dir: str | Path,
    patients: int,
    years: int,
    start: date,
    seed: int,
    scenario: str | Path | None = "default",
    *,
    profile: str = "default",
    force: bool = False,
    chunk_size: int = CHUNK_SIZE,
    progress: Callable[[int, int], None] | None = None,
) -> Path:
    """Write an extract of ``patients`` people over ``years`` from ``start`` into ``out_dir``.

    ``scenario`` says what is injected (the truth); ``profile`` the shape of the data
    (``default``, or ``stress``: heavy tails, other code frequencies, long stays, another
    calendar).
    Returns the path of ``truth.json``. ``progress(done, total)`` is called after each chunk.
    """
    out = Path(out_dir)
    _check_args(out, patients, years, start, seed, force)
    sc = load_scenario(scenario, profile)
    if out.exists():
        shutil.rmtree(out)
    (out / "latent").mkdir(parents=True)
    end = _end_of_period(start, years)
    world = World(seed, day_number(start), day_number(end), patients, chunk_size, sc,
                  Providers.build(rng_for(seed, 10**6), patients, sc))
    world.fraud = fraud.choose_actors(world)
    fmt = Formatter(day_number(date(1900, 1, 1)), day_number(end) + 4000)
    sink = Sink(out)
    referential.write_pha(sink, fmt, sc)
    _touch_flows(sink, world)
    truth: dict[str, Any] = {"pathways": {}, "fraud": fraud.truth_entries(world), "noise": {},
                             "events": {o: 0 for o in sc["outcomes"]}, "deaths": 0}
    noise: dict[str, int] = {}
    lines_total = 0
    for chunk in range(world.n_chunks):
        first = chunk * chunk_size
        result = _chunk(world, chunk, first, min(chunk_size, patients - first), fmt, sink, out)
        lines_total += result["lines"]
        for k, v in result["noise"].items():
            noise[k] = noise.get(k, 0) + v
        for o, v in result["events"].items():
            truth["events"][o] += v
        truth["deaths"] += result["deaths"]
        truth["fraud"].update(result["fraud"])
        for i, c in result["interactions"].items():
            total = truth.setdefault("interactions", {}).setdefault(i, dict.fromkeys(c, 0))
            for key, v in c.items():
                total[key] += v
        truth["pathways"].update(result["pathways"])
        if progress:
            progress(min((chunk + 1) * chunk_size, patients), patients)
    truth["noise"] = noise
    _write_truth(out, world, sc, truth, start, end, years, sink, lines_total)
    return out / "truth.json"


def _touch_flows(sink: Sink, world: World) -> None:
    """One file per table and monthly flow of the period (+3 months), even if empty."""
    first = np.datetime64(int(world.start), "D").astype("datetime64[M]")
    last = np.datetime64(int(world.end - 1), "D").astype("datetime64[M]") + 3
    m = first
    while m <= last:
        suffix = str(m).replace("-", "_")
        for table in ("ER_PRS_F", "ER_PHA_F", "ER_CAM_F", "ER_BIO_F", "ER_ETE_F"):
            sink.touch(f"{table}_{suffix}.csv", table)
        m = m + 1


def _chunk(world: World, chunk: int, first: int, n: int, fmt: Formatter, sink: Sink,
           out: Path) -> dict[str, Any]:
    """Simulate one chunk of patients, append its rows to the files, return its truth."""
    rng = rng_for(world.seed, chunk)
    sc = world.scenario
    pts = make_patients(rng, n, first, world)
    arch = exposure.assign_archetypes(rng, pts, world)
    eps = exposure.make_episodes(rng, pts, world, arch)
    fills, eps = exposure.make_fills(rng, pts, eps, world, arch)
    shop, shop_truth = fraud.doctor_shopping(rng, pts, eps, world, chunk)
    regular = [fills] + ([shop] if shop is not None else [])
    if courses.needed(sc):
        eps, regular = courses.add_drug_use(world, chunk, pts, eps, arch, regular)
    regular = [dataclasses.replace(f, pack=catalog.with_strengths(f.pack, pts.index[f.patient], f.episode))
               for f in regular]
    exposed = exposure.supply_intervals(pts, eps, regular)
    by_outcome = hazards.effects_by_outcome(sc)
    inter_by_outcome = hazards.interactions_by_outcome(sc)
    events: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    segments = []
    inter_counts: dict[int, dict[str, int]] = {}
    for o, effs in by_outcome.items():
        draw = hazards.draw_outcome(rng, pts, exposed, world, o, effs, inter_by_outcome[o], fills=regular)
        events[o] = (draw.patient, draw.day)
        segments.append((o, draw.segments))
        for j, (i, _) in enumerate(inter_by_outcome[o]):
            joint = ((draw.segments["bits"].astype(np.int64) >> (len(hazards.effect_columns(effs)) + j)) & 1) == 1
            inter_counts[i] = {"patients": len(np.unique(draw.segments["patient"][joint])),
                               "person_days": int(draw.segments["days"][joint].sum()),
                               "events": int(draw.segments["event"][joint].sum())}
    stays, stay_noise = hospital.make_stays(rng, pts, world, events, chunk)
    phantom, to_dead = fraud.phantom_fills(rng, pts, world)
    all_fills = [*regular, phantom]
    lines = concat([care.all_care(rng, pts, world, arch, all_fills),
                    hospital.clinic_lines(stays, world), fraud.volume_lines(rng, pts, world)])
    lines, dcir_noise = dcir.add_noise(rng, lines, world)
    n_lines = dcir.write_dcir(lines, pts, world, fmt, sink, chunk)
    referential.write_ben(pts, fmt, sink)
    referential.write_ald(rng, pts, world, events, fmt, sink)
    n_stays = referential.write_pmsi(stays, pts, world, fmt, sink)
    _write_latent(out, chunk, pts, exposed, events, segments)
    return {
        "lines": n_lines + n_stays,
        "noise": {**dcir_noise, **stay_noise, "phantom_dispensings_to_dead_patients": to_dead},
        "events": {o: len(p) for o, (p, _) in events.items()},
        "deaths": int(pts.died.sum()),
        "fraud": shop_truth,
        "interactions": inter_counts,
        "pathways": {pts.nir[i].decode(): exposure.ARCHETYPES[arch[i]]
                     for i in np.flatnonzero(arch >= 0)},
    }


def _write_latent(out: Path, chunk: int, pts, eps, events, segments) -> None:
    arrays: dict[str, np.ndarray] = {
        "patient_index": pts.index, "patient_nir": pts.nir.astype(str), "patient_rank": pts.rank,
        "patient_male": pts.male, "patient_age": pts.age, "patient_frailty": pts.frailty,
        "patient_entry": pts.entry, "patient_exit": pts.exit, "patient_died": pts.died,
        "exposure_patient": pts.index[eps.patient], "exposure_drug": eps.drug,
        "exposure_episode_start": eps.episode_start, "exposure_start": eps.start,
        "exposure_stop": eps.stop,
    }
    for c, v in pts.cond.items():
        arrays[f"patient_cond_{c}"] = v
    for o, (p, day) in events.items():
        arrays[f"event_{o}_patient"] = pts.index[p]
        arrays[f"event_{o}_day"] = day
    for o, seg in segments:
        for k, v in seg.items():
            arrays[f"pt_{o}_{k}"] = v
    np.savez(out / "latent" / f"chunk_{chunk:05d}.npz", **arrays)


def _write_truth(out: Path, world: World, sc: dict, truth: dict, start: date, end: date,
                 years: int, sink: Sink, lines_total: int) -> None:
    from veille.synth.catalog import DRUGS

    effects = []
    for eff in sc["effects"]:
        e = {k: eff[k] for k in ("exposure_atc", "outcome_icd10", "hazard_ratio", "window",
                                 "latency_days", "population")}
        e["hazard_ratio"] = float(e["hazard_ratio"])
        e["comparator_atc"] = eff.get("comparator_atc")
        e["negative_control"] = e["hazard_ratio"] == 1.0
        if eff.get("dose"):  # issue 26: the ratio of each cumulative-dose category vs unexposed
            e["dose"] = {"thresholds_mg": [float(t) for t in eff["dose"]["thresholds_mg"]],
                         "category_hazard_ratios": [float(h) for h in eff["dose"]["hazard_ratios"]]}
            # one figure for the readers that want one (a scan's evaluation): the largest category's
            e["hazard_ratio"] = _effect_hr(eff)
            e["negative_control"] = False
        effects.append(e)
    doc = {
        "generator": "veille synth",
        "seed": world.seed,
        "patients": world.patients,
        "years": years,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "effects": effects,
        "pathways": truth["pathways"],
        "fraud": truth["fraud"],
        "noise": truth["noise"],
        "counts": {"rows": dict(sorted(sink.rows.items())), "claim_lines": lines_total,
                   "events": truth["events"], "deaths": truth["deaths"]},
        "drugs": {d.atc7: d.molecule for d in DRUGS if d.atc7 in referential.used_drugs(sc)},
        "scenario": sc,
    }
    if sc.get("interactions"):
        doc["interactions"] = _interaction_truth(sc, truth.get("interactions", {}))
    (out / "truth.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False, default=_plain) + "\n", "utf-8")


def _main_hr(sc: dict, atc: str, outcome: str) -> float:
    """The largest injected effect of a drug (or of a code it falls under) on an outcome."""
    hrs = [_effect_hr(e) for e in sc["effects"] if str(e["outcome_icd10"]) == outcome
           and (atc.startswith(str(e["exposure_atc"])) or str(e["exposure_atc"]).startswith(atc))]
    return max(hrs, default=1.0)


def _effect_hr(effect: dict) -> float:
    """An effect's ratio; for a dose-dependent one, its largest category's."""
    return max([float(effect["hazard_ratio"]), *(float(h) for h in (effect.get("dose") or {}).get("hazard_ratios", []))])


def _interaction_truth(sc: dict, counts: dict[int, dict[str, int]]) -> list[dict[str, Any]]:
    """One entry per interaction: the injected ratio, the drugs' own effects on the outcome (a
    null pair with a main effect is a trap) and the latent joint exposure (a power check)."""
    out = []
    for i, inter in enumerate(sc["interactions"]):
        e = {k: inter.get(k) for k in ("object_atc", "precipitant_atc", "outcome_icd10", "hazard_ratio",
                                        "population", "shape")}
        e["hazard_ratio"] = float(e["hazard_ratio"])
        e["negative_control"] = e["hazard_ratio"] == 1.0
        e["object_hr"] = _main_hr(sc, str(e["object_atc"]), str(e["outcome_icd10"]))
        e["precipitant_hr"] = _main_hr(sc, str(e["precipitant_atc"]), str(e["outcome_icd10"]))
        e["trap"] = e["negative_control"] and max(e["object_hr"], e["precipitant_hr"]) > 1.0
        e["latent"] = counts.get(i, {"patients": 0, "person_days": 0, "events": 0})
        out.append(e)
    return out


def _plain(x: object) -> object:
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    raise TypeError(f"not JSON serializable: {type(x).__name__}")
