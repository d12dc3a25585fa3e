"""Ambulatory care of one chunk: consultations, specialist visits, lab tests, eye exams, fills."""

from __future__ import annotations

import numpy as np

from veille.synth.catalog import CARDIO_ACT, DRUGS, EYE_ACTS, NABM, NATURE, SPECIALTY
from veille.synth.exposure import ARCHETYPES, PACK_DRUG, Fills
from veille.synth.lines import DETAIL_BIO, DETAIL_CAM, DETAIL_ETE, DETAIL_PHA, batch, concat
from veille.synth.population import YEAR, Patients
from veille.synth.timing import reshape_days, wave_days, wave_windows
from veille.synth.world import World


def _events(rng: np.random.Generator, pts: Patients, rate_per_year: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Poisson-many days uniformly in each patient's follow-up."""
    fu = np.maximum(pts.exit - pts.entry, 0)
    count = rng.poisson(np.maximum(rate_per_year, 0) * fu / YEAR)
    p = np.repeat(np.arange(len(pts)), count)
    day = pts.entry[p] + (rng.random(len(p)) * fu[p]).astype(np.int64)
    return p, day


def _arch_rate(archetype: np.ndarray, world: World, key: str) -> np.ndarray:
    fu = world.scenario["pathways"]["follow_up"]
    table = np.array([float(fu[a][key]) for a in ARCHETYPES] + [0.0])
    return table[archetype]  # -1 (not diabetic) picks the trailing 0


def consultations(rng: np.random.Generator, pts: Patients, world: World, archetype: np.ndarray) -> list[dict]:
    care = world.scenario["care"]
    prov = world.providers
    out = []
    rate = float(care["gp_visits_base"]) * np.exp(float(care["gp_visits_frailty"]) * pts.frailty)
    rate = np.maximum(rate, _arch_rate(archetype, world, "gp"))
    p, day = _events(rng, pts, rate)
    home = (pts.age[p] >= 80) & (rng.random(len(p)) < 0.2)
    nature = np.where(home, NATURE["gp_home_visit"], NATURE["gp_consultation"])
    paid = np.where(home, 3500, 2500)
    out.append(batch(len(p), patient=p, day=day, nature=nature, paid=paid, reimb=paid * 7 // 10,
                     exe=prov.gp[pts.gp[p]], exe_spe=SPECIALTY["gp"]))
    # specialists: cardiology (hypertension, heart failure), psychiatry, endocrinology
    cardio = (pts.cond["hypertension"] | pts.cond["heart_failure"]) * float(care["specialist_visits"])
    psych = (pts.cond["depression"] | pts.cond["psychosis"]) * float(care["specialist_visits"])
    endo = _arch_rate(archetype, world, "endocrinology")
    for specialty, r in (("cardiology", cardio), ("psychiatry", psych), ("endocrinology", endo)):
        p, day = _events(rng, pts, r)
        pool = prov.specialist[specialty]
        exe = pool[(pts.index[p] * 7919) % len(pool)]
        hosp = rng.random(len(p)) < float(care["outpatient_hospital_share"])
        if specialty != "endocrinology" and hosp.any():
            public = np.flatnonzero(prov.hospital_public)
            fin = prov.hospital[public[(pts.index[p[hosp]] * 31) % len(public)]]
            out.append(batch(int(hosp.sum()), patient=p[hosp], day=day[hosp],
                             nature=NATURE["facility"], paid=3000, reimb=2100,
                             exe_spe=SPECIALTY[specialty], detail=DETAIL_ETE, ete_fin=fin,
                             ete_taa=1, ete_cat=101))
            p, day, exe = p[~hosp], day[~hosp], exe[~hosp]
        out.append(batch(len(p), patient=p, day=day, nature=NATURE["specialist_consultation"],
                         paid=3000, reimb=2100, exe=exe, exe_spe=SPECIALTY[specialty],
                         pre=prov.gp[pts.gp[p]], pre_spe=SPECIALTY["gp"]))
        if specialty == "cardiology":
            ecg = rng.random(len(p)) < 0.5
            out.append(batch(int(ecg.sum()), patient=p[ecg], day=day[ecg],
                             nature=NATURE["ccam_act"], paid=1452, reimb=1016, exe=exe[ecg],
                             exe_spe=SPECIALTY["cardiology"], detail=DETAIL_CAM, code=CARDIO_ACT))
    # eye exams for diabetics: a consultation and a CCAM act on the same day
    p, day = _events(rng, pts, _arch_rate(archetype, world, "eye"))
    pool = prov.specialist["ophthalmology"]
    exe = pool[(pts.index[p] * 104729) % len(pool)]
    out.append(batch(len(p), patient=p, day=day, nature=NATURE["specialist_consultation"],
                     paid=3000, reimb=2100, exe=exe, exe_spe=SPECIALTY["ophthalmology"]))
    act = np.array(EYE_ACTS, dtype=object)[rng.integers(0, len(EYE_ACTS), len(p))]
    out.append(batch(len(p), patient=p, day=day, nature=NATURE["ccam_act"], paid=2803, reimb=1962,
                     exe=exe, exe_spe=SPECIALTY["ophthalmology"], detail=DETAIL_CAM, code=act))
    return out


def lab_tests(rng: np.random.Generator, pts: Patients, world: World, archetype: np.ndarray) -> list[dict]:
    prov = world.providers
    out = []
    for test in ("hba1c", "creatinine", "lipids"):
        p, day = _events(rng, pts, _arch_rate(archetype, world, test))
        out.append(_lab(pts, prov, p, day, np.full(len(p), NABM[test], dtype=object)))
    micro = archetype == ARCHETYPES.index("guideline_concordant")
    p, day = _events(rng, pts, micro * 1.0)
    out.append(_lab(pts, prov, p, day, np.full(len(p), NABM["microalbumin"], dtype=object)))
    # routine panels: blood count and ionogram, plus TSH or transaminases, the same day (no
    # diabetes-monitoring test, so that the archetypes stay apart)
    p, day = _events(rng, pts, np.full(len(pts), float(world.scenario["care"]["lab_panels"])))
    third = np.array([NABM["tsh"], NABM["transaminases"]], dtype=object)[rng.integers(0, 2, len(p))]
    out.append(_lab(pts, prov, np.repeat(p, 3), np.repeat(day, 3),
                    np.stack([np.full(len(p), NABM["blood_count"], dtype=object),
                              np.full(len(p), NABM["ionogram"], dtype=object), third],
                             axis=1).ravel()))
    return out


def _lab(pts, prov, p, day, code) -> dict:
    lab = prov.lab[(pts.index[p] * 7) % len(prov.lab)]
    return batch(len(p), patient=p, day=day, nature=NATURE["lab"], paid=1080, reimb=648, exe=lab,
                 exe_spe=SPECIALTY["biology"], pre=prov.gp[pts.gp[p]], pre_spe=SPECIALTY["gp"],
                 detail=DETAIL_BIO, code=code)


def pharmacy_lines(fills: Fills) -> dict:
    from veille.synth.catalog import PACKS

    price = np.array([p.price_cents for p in PACKS])[fills.pack]
    drug_nature = np.array([d.nature for d in DRUGS])[PACK_DRUG[fills.pack]]
    rate = np.where(drug_nature == NATURE["pharmacy_100"], 100,
                    np.where(drug_nature == NATURE["pharmacy_30"], 30, 65))
    paid = price * fills.packs
    return batch(len(fills.patient), patient=fills.patient, day=fills.day, nature=drug_nature,
                 qty=fills.packs, paid=paid, reimb=paid * rate // 100, exe=fills.pharmacy,
                 exe_spe=SPECIALTY["pharmacy"], pre=fills.prescriber, pre_spe=fills.prescriber_spe,
                 detail=DETAIL_PHA, pack=fills.pack)


def wave_visits(rng: np.random.Generator, pts: Patients, world: World) -> list[dict]:
    """Extra GP consultations during the epidemic waves of a profile's calendar (none without)."""
    cal = world.scenario.get("calendar") or {}
    windows = wave_windows(world)
    if len(windows) == 0:
        return []
    care = world.scenario["care"]
    rate = float(cal["wave_gp_visits_per_week"]) * np.exp(float(care["gp_visits_frailty"]) * pts.frailty)
    p, day = wave_days(rng, pts.entry, pts.exit, rate, windows)
    day = reshape_days(day, pts.entry[p], pts.exit[p], {"closed_weekdays": cal.get("closed_weekdays", [])})
    return [batch(len(p), patient=p, day=day, nature=NATURE["gp_consultation"], paid=2500,
                  reimb=1750, exe=world.providers.gp[pts.gp[p]], exe_spe=SPECIALTY["gp"])]


def all_care(rng: np.random.Generator, pts, world, archetype, fills: list[Fills]) -> dict:
    parts = consultations(rng, pts, world, archetype) + lab_tests(rng, pts, world, archetype)
    cal = world.scenario.get("calendar")
    if cal:  # seasons and closed days move visits and lab tests, not fills
        for b in parts:
            b["day"] = reshape_days(b["day"], pts.entry[b["patient"]], pts.exit[b["patient"]], cal)
        parts += wave_visits(rng, pts, world)
    parts += [pharmacy_lines(f) for f in fills]
    return concat(parts)
