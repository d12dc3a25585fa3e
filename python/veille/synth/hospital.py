"""PMSI MCO stays of one chunk: outcome stays, background stays, in-hospital deaths, noise."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from veille.errors import VeilleError
from veille.synth.catalog import (
    BACKGROUND_ACTS,
    BACKGROUND_DP,
    DEATH_DP,
    ERROR_GHM,
    METASTASES,
    NATURE,
    OUTCOME_ACTS,
    OUTCOME_CODES,
    OUTCOME_GHM,
)
from veille.synth.lines import DETAIL_ETE, batch
from veille.synth.population import YEAR, Patients
from veille.synth.timing import reshape_days
from veille.synth.world import World

LOS_MEAN = {"C67": 5, "I50": 8, "I21": 6, "S72": 10, "J18": 7, "N39": 4, "E87": 4, "M62": 6}
RET_COLUMNS = ("NIR_RET", "NAI_RET", "SEX_RET", "SEJ_RET", "FHO_RET", "PMS_RET", "DAT_RET")


@dataclass
class Stays:
    patient: np.ndarray
    admission: np.ndarray
    discharge: np.ndarray
    dp: np.ndarray
    dr: np.ndarray
    ghm: np.ndarray
    exit_mode: np.ndarray  # SOR_MOD: 8 home, 7 transfer, 9 death
    hospital: np.ndarray  # index into providers.hospital
    bad_ret: np.ndarray  # index into RET_COLUMNS of a non-zero return code, -1 = all zero
    rsa: np.ndarray  # RSA_NUM, object
    das_stay: np.ndarray  # associated diagnoses: stay index and code
    das_code: np.ndarray
    act_stay: np.ndarray  # acts: stay index, code, day offset from admission
    act_code: np.ndarray
    act_delay: np.ndarray


def _pick(rng: np.random.Generator, options, n) -> np.ndarray:
    arr = np.array(options, dtype=object)
    return arr[rng.integers(0, len(arr), n)]


def make_stays(rng: np.random.Generator, pts: Patients, world: World, events: dict[str, tuple[np.ndarray, np.ndarray]],
               chunk: int) -> tuple[Stays, dict]:
    """Stays and their diagnoses/acts; returns also noise counts."""
    care = world.scenario["care"]
    pat, adm, los, dp, ghm, exit_mode = [], [], [], [], [], []
    das_s, das_c, act_s, act_c = [], [], [], []
    base = 0
    for outcome, (p, day) in events.items():
        n = len(p)
        code = _pick(rng, OUTCOME_CODES[outcome], n)
        if outcome == "I50":  # some heart failures coded as hypertensive heart disease + DAS I50
            hyp = rng.random(n) < 0.15
            das_s.append(base + np.flatnonzero(hyp))
            das_c.append(code[hyp])
            code = np.where(hyp, "I110", code)
        if outcome == "C67":
            met = rng.random(n) < 0.3
            das_s.append(base + np.flatnonzero(met))
            das_c.append(_pick(rng, METASTASES, int(met.sum())))
        if outcome in OUTCOME_ACTS:
            has = rng.random(n) < 0.7
            act_s.append(base + np.flatnonzero(has))
            act_c.append(_pick(rng, OUTCOME_ACTS[outcome], int(has.sum())))
        pat.append(p)
        adm.append(day)
        los.append(rng.poisson(LOS_MEAN[outcome] - 1, n) + 1)
        dp.append(code)
        ghm.append(np.full(n, OUTCOME_GHM[outcome], dtype=object))
        exit_mode.append(np.where(rng.random(n) < 0.1, 7, 8))
        base += n
    # background stays
    rate = (float(care["stays_base"]) * np.exp(float(care["stays_age"]) * (np.maximum(pts.age, 0) - 70)
                                             / 10 + float(care["stays_frailty"]) * pts.frailty))
    fu = np.maximum(pts.exit - pts.entry, 0)
    cnt = rng.poisson(rate * fu / YEAR)
    p = np.repeat(np.arange(len(pts)), cnt)
    n = len(p)
    weights = care.get("background_dp_weights")  # a profile's mix of diagnoses; default: even
    if weights is None:
        which = rng.integers(0, len(BACKGROUND_DP), n)
    else:
        w = np.asarray(weights, float)
        if len(w) != len(BACKGROUND_DP):
            raise VeilleError(f"care background_dp_weights needs {len(BACKGROUND_DP)} weights")
        which = rng.choice(len(BACKGROUND_DP), size=n, p=w / w.sum())
    code = np.array([c for c, _ in BACKGROUND_DP], dtype=object)[which]
    pat.append(p)
    day = pts.entry[p] + (rng.random(n) * fu[p]).astype(np.int64)
    adm.append(reshape_days(day, pts.entry[p], pts.exit[p], world.scenario.get("calendar")))
    stay_los = rng.poisson(float(care.get("background_los_mean", 3)), n)
    long_share = float(care.get("long_stay_share", 0))
    if long_share > 0:  # a profile's long stays (rehabilitation, psychiatry-like): weeks to months
        long = rng.random(n) < long_share
        stay_los = np.where(long, rng.exponential(float(care["long_stay_mean_days"]), n).astype(np.int64)
                            + 14, stay_los)
    los.append(stay_los)
    dp.append(code)
    ghm.append(np.array([g for _, g in BACKGROUND_DP], dtype=object)[which])
    exit_mode.append(np.full(n, 8))
    for c, a in BACKGROUND_ACTS.items():
        sel = np.flatnonzero(code == c)
        act_s.append(base + sel)
        act_c.append(np.full(len(sel), a, dtype=object))
    base += n
    # in-hospital deaths end on the death day
    d = np.flatnonzero(pts.died & (rng.random(len(pts)) < float(world.scenario["population"]
                                                                  ["in_hospital_death_share"])))
    n = len(d)
    which = rng.integers(0, len(DEATH_DP), n)
    dlos = rng.poisson(6, n)
    pat.append(d)
    adm.append(np.maximum(pts.death[d] - dlos, pts.entry[d]))
    los.append(pts.death[d] - np.maximum(pts.death[d] - dlos, pts.entry[d]))
    dp.append(np.array([c for c, _ in DEATH_DP], dtype=object)[which])
    ghm.append(np.array([g for _, g in DEATH_DP], dtype=object)[which])
    exit_mode.append(np.full(n, 9))
    base += n
    patient = np.concatenate(pat)
    admission = np.concatenate(adm)
    los_a = np.concatenate(los)
    last_day = np.minimum(pts.exit[patient] - 1, world.end - 1)
    admission = np.minimum(admission, last_day)
    discharge = np.minimum(admission + los_a, last_day)
    exit_m = np.concatenate(exit_mode)
    # an in-hospital death is only the death stay: other stays of the dead leave alive
    dp_a = np.concatenate(dp)
    ghm_a = np.concatenate(ghm)
    m = len(patient)
    diabetic = pts.cond["diabetes"][patient] & (rng.random(m) < 0.5)
    das_s.append(np.flatnonzero(diabetic))
    das_c.append(np.full(int(diabetic.sum()), "E119", dtype=object))
    public = np.flatnonzero(world.providers.hospital_public)
    hosp = np.where(rng.random(m) < float(care["public_hospital_share"]),
                    public[rng.integers(0, len(public), m)],
                    rng.integers(0, len(world.providers.hospital), m))
    act_stay = np.concatenate(act_s).astype(np.int64)
    act_delay = np.minimum(rng.integers(0, 3, len(act_stay)), discharge[act_stay] - admission[act_stay])
    # palliative-care stays carry the underlying disease as related diagnosis (DR)
    dr = np.full(m, "", dtype=object)
    palliative = np.flatnonzero(dp_a == "Z515")
    dr[palliative] = np.where(pts.cond["cancer"][patient[palliative]], "C509",
                              _pick(rng, ("J441", "I509", "G309"), len(palliative)))
    stays = Stays(patient, admission, discharge, dp_a, dr, ghm_a, exit_m,
                  hosp, np.full(m, -1), np.empty(0, dtype=object),
                  np.concatenate(das_s).astype(np.int64), np.concatenate(das_c),
                  act_stay, np.concatenate(act_c), act_delay)
    stays, noise = _stay_noise(rng, stays, world)
    stays.rsa = np.array([f"{chunk:04d}{i:06d}" for i in range(len(stays.patient))], dtype=object)
    return stays, noise


def _stay_noise(rng: np.random.Generator, st: Stays, world: World) -> tuple[Stays, dict]:
    """Extra unchained copies with a non-zero return code, extra stays grouped in error."""
    nz = world.scenario["noise"]
    m = len(st.patient)
    bad = np.flatnonzero(rng.random(m) < float(nz["bad_return_share"]))
    err = np.flatnonzero(rng.random(m) < float(nz["error_ghm_share"]))
    src = np.concatenate([np.arange(m), bad, err])
    ret = np.concatenate([np.full(m, -1), rng.integers(0, len(RET_COLUMNS), len(bad)),
                          np.full(len(err), -1)])
    ghm = st.ghm[src].copy()
    ghm[m + len(bad):] = ERROR_GHM
    out = Stays(st.patient[src], st.admission[src], st.discharge[src], st.dp[src], st.dr[src], ghm,
                st.exit_mode[src], st.hospital[src], ret, st.rsa, st.das_stay, st.das_code,
                st.act_stay, st.act_code, st.act_delay)
    return out, {"stays_bad_return_code": len(bad), "stays_error_ghm": len(err)}


def clinic_lines(st: Stays, world: World) -> dict:
    """DCIR facility lines of stays in private clinics (ETE_IND_TAA 0)."""
    valid = (st.bad_ret < 0) & (st.ghm != ERROR_GHM)
    sel = np.flatnonzero(valid & ~world.providers.hospital_public[st.hospital])
    return batch(len(sel), patient=st.patient[sel], day=st.admission[sel], nature=NATURE["facility"],
                 qty=np.maximum(st.discharge[sel] - st.admission[sel], 1), paid=45000,
                 reimb=36000, detail=DETAIL_ETE, ete_fin=world.providers.hospital[st.hospital[sel]],
                 ete_taa=0, ete_cat=365)
