"""DCIR output of one chunk: noise lines, monthly flows, the nine join keys, the five tables.

Every line is its own claim form (``DCT_ORD_NUM`` unique in the extract, ``PRS_ORD_NUM`` 1),
so the nine keys identify a line and each detail row joins exactly one ``ER_PRS_F`` row.
``FLX_DIS_DTD`` is the first day of the flow month: most care arrives the month after it
happened, some the same month, some two or three months later.
"""

from __future__ import annotations

import itertools

import numpy as np

from veille.synth.catalog import PACKS
from veille.synth.lines import DETAIL_BIO, DETAIL_CAM, DETAIL_ETE, DETAIL_PHA, take
from veille.synth.population import Patients
from veille.synth.world import World
from veille.synth.writer import Formatter, Sink, render

FLOW_LAGS = np.array([0, 1, 2, 3])
FLOW_LAG_P = np.array([0.15, 0.70, 0.10, 0.05])
KEY_BASE = 10**9
DETAIL_TABLES = {DETAIL_PHA: "ER_PHA_F", DETAIL_CAM: "ER_CAM_F", DETAIL_BIO: "ER_BIO_F",
                 DETAIL_ETE: "ER_ETE_F"}
PACK_CIP = np.array([p.cip13 for p in PACKS], dtype="S13")
PACK_PRICE = np.array([p.price_cents for p in PACKS])


def add_noise(rng, lines: dict[str, np.ndarray], world: World) -> tuple[dict, dict[str, int]]:
    """Draw flow lags; add DPN_QLF 71 copies and (duplicate, negative regularisation) pairs."""
    nz = world.scenario["noise"]
    n = len(lines["day"])
    lines["flow_lag"] = np.where(lines["flow_lag"] >= 0, lines["flow_lag"],
                                 rng.choice(FLOW_LAGS, size=n, p=FLOW_LAG_P))
    info = np.flatnonzero(rng.random(n) < float(nz["info_only_share"]))
    copies = take(lines, info)
    copies["dpn"][:] = 71
    pha = np.flatnonzero((lines["detail"] == DETAIL_PHA) & (lines["dpn"] == 0))
    reg = pha[rng.random(len(pha)) < float(nz["regularisation_share"])]
    dup = take(lines, reg)
    neg = take(lines, reg)
    for k in ("qty", "paid", "reimb"):
        neg[k] = -neg[k]
    neg["flow_lag"] = neg["flow_lag"] + rng.integers(0, 3, len(reg))
    out = {k: np.concatenate([lines[k], copies[k], dup[k], neg[k]]) for k in lines}
    counts = {"dcir_info_only_dpn_qlf_71": len(info),
              "dcir_billing_error_duplicates": len(reg),
              "dcir_regularisation_negative_lines": len(reg)}
    return out, counts


def month_start(day: np.ndarray) -> np.ndarray:
    return day.astype("datetime64[D]").astype("datetime64[M]")


def write_dcir(lines: dict[str, np.ndarray], pts: Patients, world: World, fmt: Formatter,
               sink: Sink, chunk: int) -> int:
    n = len(lines["day"])
    flow_m = month_start(lines["day"]) + lines["flow_lag"].astype("timedelta64[M]")
    # the extract stops three months after the period: later arrivals come in the last flow
    flow_m = np.minimum(flow_m, month_start(np.array([world.end - 1])) + 3)
    order = np.argsort(flow_m, kind="stable")
    lines = take(lines, order)
    flow_m = flow_m[order]
    flow_day = flow_m.astype("datetime64[D]").astype(np.int64)
    dct = (chunk + 1) * KEY_BASE + np.arange(1, n + 1)
    keys = {
        "DCT_ORD_NUM": fmt.num(dct),
        "FLX_DIS_DTD": fmt.iso(flow_day),
        "FLX_EMT_NUM": str(1 + chunk % 99),
        "FLX_EMT_ORD": "0",
        "FLX_EMT_TYP": "1",
        "FLX_TRT_DTD": fmt.iso(flow_day + 2 + dct % 20),
        "ORG_CLE_NUM": _org(pts.dpt[lines["patient"]]),
        "PRS_ORD_NUM": "1",
        "REM_TYP_AFF": "1",
    }
    p = lines["patient"]
    birth_year = pts.birth.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    care_year = lines["day"].astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    end_day = np.where(lines["detail"] == DETAIL_ETE, lines["day"] + np.maximum(lines["qty"], 0),
                       lines["day"])
    qty = lines["qty"]
    pre_spe = fmt.num(lines["pre_spe"])
    exe_spe = fmt.num(lines["exe_spe"])
    prs = {
        **keys,
        "BEN_NIR_PSA": pts.nir[p],
        "BEN_RNG_GEM": fmt.num(pts.rank[p]),
        "BEN_SEX_COD": np.where(pts.male[p], b"1", b"2"),
        "BEN_NAI_ANN": fmt.num(birth_year[p]),
        "BEN_RES_DPT": pts.dpt[p],
        "BEN_AMA_COD": fmt.num(np.maximum(care_year - birth_year[p], 0)),
        "EXE_SOI_DTD": fmt.iso(lines["day"]),
        "EXE_SOI_DTF": fmt.iso(end_day),
        "EXE_SOI_AMD": fmt.yyyymm(lines["day"]),
        "PRS_NAT_REF": fmt.num(lines["nature"]),
        "BSE_PRS_NAT": fmt.num(lines["nature"]),
        "DPN_QLF": fmt.num(lines["dpn"]),
        "PRS_ACT_QTE": fmt.num(qty),
        "PRS_PAI_MNT": fmt.money(lines["paid"]),
        "BSE_REM_MNT": fmt.money(lines["reimb"]),
        "BSE_REM_BSE": fmt.money(lines["paid"]),
        "PFS_EXE_NUM": lines["exe"],
        "PFS_PRE_NUM": lines["pre"],
        "PSE_SPE_COD": np.where(lines["exe_spe"] > 0, exe_spe, b""),
        "PSP_SPE_COD": np.where(lines["pre_spe"] > 0, pre_spe, b""),
    }
    bounds = np.flatnonzero(np.r_[True, flow_m[1:] != flow_m[:-1], True])
    for a, b in itertools.pairwise(bounds):
        suffix = str(flow_m[a])[:7].replace("-", "_")
        sl = slice(a, b)
        sink.append(f"ER_PRS_F_{suffix}.csv", "ER_PRS_F",
                    render("ER_PRS_F", _slice(prs, sl), b - a), b - a)
        det = lines["detail"][sl]
        for code, table in DETAIL_TABLES.items():
            idx = a + np.flatnonzero(det == code)
            cols = {k: _cut(v, idx) for k, v in keys.items()}
            if code == DETAIL_PHA:
                pack = lines["pack"][idx]
                cols.update(PHA_PRS_C13=PACK_CIP[pack], PHA_ACT_QSN=fmt.num(qty[idx]),
                            PHA_ACT_PRU=fmt.money(PACK_PRICE[pack]))
            elif code in (DETAIL_CAM, DETAIL_BIO):
                name = "CAM_PRS_IDE" if code == DETAIL_CAM else "BIO_PRS_IDE"
                cols[name] = lines["code"][idx]
                if code == DETAIL_BIO:
                    cols["BIO_ACT_QSN"] = fmt.num(qty[idx])
            else:
                cols.update(ETB_EXE_FIN=lines["ete_fin"][idx], ETE_IND_TAA=fmt.num(lines["ete_taa"][idx]),
                            ETE_CAT_COD=fmt.num(lines["ete_cat"][idx]))
            sink.append(f"{table}_{suffix}.csv", table, render(table, cols, len(idx)), len(idx))
    return n


def _slice(cols: dict[str, object], sl: slice) -> dict[str, object]:
    return {k: _cut(v, sl) for k, v in cols.items()}


def _cut(v: object, idx: object) -> object:
    if isinstance(v, str | bytes):
        return v
    if isinstance(v, tuple):
        return tuple(_cut(x, idx) for x in v)
    return v[idx]


def _org(dpt: np.ndarray) -> np.ndarray:
    """ORG_CLE_NUM of the beneficiary's local fund: 01C + department + 000."""
    uniq, inv = np.unique(dpt, return_inverse=True)
    return np.array([b"01C" + d + b"000" for d in uniq.tolist()], dtype="S9")[inv]
