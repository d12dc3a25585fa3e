"""IR_BEN_R, IR_IMB_R (ALD), IR_PHA_R and the PMSI MCO tables of one chunk."""

from __future__ import annotations

import numpy as np

from veille.synth.catalog import CONDITION_CODES, DRUGS, NO_DOSAGE, PACKS, dosage
from veille.synth.hospital import RET_COLUMNS, Stays
from veille.synth.population import Patients
from veille.synth.world import World
from veille.synth.writer import Formatter, Sink, render

NO_DATE = b"1600-01-01"

ALD_SHARE = {"diabetes": 0.8, "heart_failure": 0.7, "depression": 0.3, "dementia": 0.6,
             "psychosis": 0.8, "cancer": 0.9}


def write_ben(pts: Patients, fmt: Formatter, sink: Sink) -> None:
    n = len(pts)
    by = pts.birth.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
    cols = {
        "BEN_NIR_PSA": pts.nir,
        "BEN_RNG_GEM": fmt.num(pts.rank),
        "BEN_NAI_ANN": fmt.num(by // 12 + 1970),
        "BEN_NAI_MOI": np.array([f"{m:02d}" for m in range(1, 13)], dtype=object)[by % 12],
        "BEN_SEX_COD": np.where(pts.male, b"1", b"2"),
        "BEN_DCD_DTE": np.where(pts.died, fmt.iso(np.where(pts.died, pts.death, fmt.base)), NO_DATE),
        "BEN_RES_DPT": pts.dpt,
        "BEN_DTE_INS": fmt.iso(np.maximum(pts.rights, fmt.base)),
    }
    sink.append("IR_BEN_R.csv", "IR_BEN_R", render("IR_BEN_R", cols, n), n)


def write_ald(rng: np.random.Generator, pts: Patients, world: World, events: dict, fmt: Formatter, sink: Sink) -> int:
    """ALD registrations for chronic conditions and after some outcomes (cancer, heart failure)."""
    pat, start, num, code = [], [], [], []
    for cond, share in ALD_SHARE.items():
        icd, ald = CONDITION_CODES[cond]
        has = pts.cond[cond] & (rng.random(len(pts)) < share)
        d = pts.onset[cond] + rng.integers(0, 180, len(pts))
        sel = np.flatnonzero(has & (d < pts.exit))
        pat.append(sel)
        start.append(d[sel])
        num.append(np.full(len(sel), ald))
        code.append(np.full(len(sel), icd, dtype=object))
    for outcome, (ald, icd, share) in {"C67": (30, "C679", 0.9), "I50": (5, "I500", 0.5)}.items():
        p, day = events.get(outcome, (np.empty(0, np.int64), np.empty(0, np.int64)))
        d = day + 30
        sel = (rng.random(len(p)) < share) & (d < pts.exit[p])
        pat.append(p[sel])
        start.append(d[sel])
        num.append(np.full(int(sel.sum()), ald))
        code.append(np.full(int(sel.sum()), icd, dtype=object))
    p = np.concatenate(pat)
    s = np.maximum(np.concatenate(start), fmt.base)
    n = len(p)
    open_ended = rng.random(n) < 0.5
    end = s + np.where(rng.random(n) < 0.5, 1826, 3652)
    cols = {
        "BEN_NIR_PSA": pts.nir[p],
        "BEN_RNG_GEM": fmt.num(pts.rank[p]),
        "IMB_ALD_NUM": fmt.num(np.concatenate(num)),
        "IMB_ALD_DTD": fmt.iso(s),
        "IMB_ALD_DTF": np.where(open_ended, NO_DATE, fmt.iso(np.where(open_ended, s, end))),
        "MED_MTF_COD": np.concatenate(code),
        "IMB_ETM_NAT": "41",
    }
    sink.append("IR_IMB_R.csv", "IR_IMB_R", render("IR_IMB_R", cols, n), n)
    return n


def used_drugs(sc: dict) -> set[str]:
    """The ATC7 codes a scenario dispenses: its classes' and its short courses' molecules."""
    used = {atc for spec in sc["classes"].values() for atc in spec["drugs"]}
    return used | {atc for spec in (sc.get("courses") or {}).values() for atc in spec["drugs"]}


def _utf8(values: list[str]) -> np.ndarray:
    return np.array([v.encode("utf-8") for v in values], dtype=object)


def write_pha(sink: Sink, fmt: Formatter, sc: dict) -> None:
    """IR_PHA_R: the packs of the drugs the scenario uses (all 30 first drugs for the bundled ones)."""
    used = used_drugs(sc)
    packs = [p for p in PACKS if DRUGS[p.drug].atc7 in used]
    n = len(packs)
    drug = [DRUGS[p.drug] for p in packs]
    cols = {
        "PHA_CIP_C13": np.array([p.cip13 for p in packs], dtype=object),
        "PHA_PRS_IDE": np.array([p.cip13[5:12] for p in packs], dtype=object),
        "PHA_ATC_C07": np.array([d.atc7 for d in drug], dtype=object),
        "PHA_ATC_C03": np.array([d.atc7[:3] for d in drug], dtype=object),
        "PHA_NOM_PA": np.array([d.molecule for d in drug], dtype=object),
        # UTF-8 bytes: a strength in µg is the only text of the extract outside ASCII
        "PHA_MED_NOM": _utf8([f"{d.molecule.split()[0]} VEILLE {p.strength} B/{p.units}"
                              for d, p in zip(drug, packs, strict=True)]),
        "PHA_DOS_PRA_DSES": _utf8(["" if p.cip13 in NO_DOSAGE else dosage(p.strength)[0] for p in packs]),
        "PHA_DOS_UNT_DSES": _utf8(["" if p.cip13 in NO_DOSAGE else dosage(p.strength)[1] for p in packs]),
        "PHA_CND_TOP": np.array(["GC" if p.large else "NGC" for p in packs], dtype=object),
        "PHA_UNT_NBR_DSES": fmt.num(np.array([p.units for p in packs])),
        "PHA_PRI_UNI": fmt.money(np.array([p.price_cents for p in packs])),
    }
    sink.append("IR_PHA_R.csv", "IR_PHA_R", render("IR_PHA_R", cols, n), n)


def write_pmsi(st: Stays, pts: Patients, world: World, fmt: Formatter, sink: Sink) -> int:
    year = st.discharge.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    eta = world.providers.hospital[st.hospital]
    for y in np.unique(year):
        yy = f"{y % 100:02d}"
        s = np.flatnonzero(year == y)
        p = st.patient[s]
        dis = st.discharge[s]
        n = len(s)
        ret = {c: np.where(st.bad_ret[s] == i, b"1", b"0") for i, c in enumerate(RET_COLUMNS)}
        n_das = np.bincount(np.searchsorted(s, st.das_stay[np.isin(st.das_stay, s)]), minlength=n)
        b = {
            "ETA_NUM": eta[s], "RSA_NUM": st.rsa[s], "DGN_PAL": st.dp[s], "DGN_REL": st.dr[s],
            "GRG_GHM": st.ghm[s], "SEJ_NBJ": fmt.num(dis - st.admission[s]), "SEJ_TYP": "",
            "ENT_MOD": "8", "SOR_MOD": fmt.num(st.exit_mode[s]),
            "SOR_ANN": str(y), "SOR_MOI": np.array([f"{m:02d}" for m in range(1, 13)], dtype=object)[
                dis.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12],
            "AGE_ANN": fmt.num(np.maximum(((st.admission[s] - pts.birth[p]) / 365.25).astype(np.int64), 0)),
            "COD_SEX": np.where(pts.male[p], b"1", b"2"), "BDI_DEP": pts.dpt[p],
            "NBR_DGN": fmt.num(n_das + 1), "NBR_RUM": "1",
        }
        sink.append(f"T_MCO{yy}B.csv", "T_MCOaaB", render("T_MCOaaB", b, n), n)
        c = {
            "ETA_NUM": eta[s], "RSA_NUM": st.rsa[s], "NIR_ANO_17": pts.nir[p],
            "EXE_SOI_DTD": fmt.ddmmyyyy(st.admission[s]), "EXE_SOI_DTF": fmt.ddmmyyyy(dis),
            **ret, "COH_NAI_RET": "0", "COH_SEX_RET": "0", "SOR_ANN": str(y),
        }
        sink.append(f"T_MCO{yy}C.csv", "T_MCOaaC", render("T_MCOaaC", c, n), n)
        pos = np.full(len(st.patient), -1)
        pos[s] = np.arange(n)
        dsel = np.flatnonzero(pos[st.das_stay] >= 0)
        ds = st.das_stay[dsel]
        d = {"ETA_NUM": eta[ds], "RSA_NUM": st.rsa[ds], "ASS_DGN": st.das_code[dsel]}
        sink.append(f"T_MCO{yy}D.csv", "T_MCOaaD", render("T_MCOaaD", d, len(dsel)), len(dsel))
        asel = np.flatnonzero(pos[st.act_stay] >= 0)
        a_s = st.act_stay[asel]
        a = {"ETA_NUM": eta[a_s], "RSA_NUM": st.rsa[a_s], "CDC_ACT": st.act_code[asel],
             "ENT_DAT_DEL": fmt.num(st.act_delay[asel]), "NBR_EXE_ACT": "1"}
        sink.append(f"T_MCO{yy}A.csv", "T_MCOaaA", render("T_MCOaaA", a, len(asel)), len(asel))
    return len(st.patient)
