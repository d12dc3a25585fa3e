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
from veille.synth.lines import DETAIL_BIO, DETAIL_CAM, DETAIL_ETE, DETAIL_PHA, concat, take
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


def add_noise(rng: np.random.Generator, lines: dict[str, np.ndarray], world: World) -> tuple[dict, dict[str, int]]:
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
    out = concat([lines, copies, dup, neg])
    counts = {"dcir_info_only_dpn_qlf_71": len(info),
              "dcir_billing_error_duplicates": len(reg),
              "dcir_regularisation_negative_lines": len(reg)}
    return out, counts


def month_start(day: np.ndarray) -> np.ndarray:
    return day.astype("datetime64[D]").astype("datetime64[M]")


def write_dcir(lines: dict[str, np.ndarray], pts: Patients, world: World, fmt: Formatter,
               sink: Sink, chunk: int) -> int:
    """Append the chunk's lines to the flow files; returns the number of ER_PRS_F rows."""
    n = len(lines["day"])
    flow_m = month_start(lines["day"]) + lines["flow_lag"].astype("timedelta64[M]")
    # the extract stops three months after the period: later arrivals come in the last flow
    flow_m = np.minimum(flow_m, month_start(np.array([world.end - 1])) + 3)
    order = np.argsort(flow_m, kind="stable")
    lines = take(lines, order)
    flow_m = flow_m[order]
    dct = (chunk + 1) * KEY_BASE + np.arange(1, n + 1)
    birth_year = pts.birth.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    bounds = np.flatnonzero(np.r_[True, flow_m[1:] != flow_m[:-1], True])
    for a, b in itertools.pairwise(bounds):  # one flow at a time: memory stays small
        suffix = str(flow_m[a])[:7].replace("-", "_")
        sl = take(lines, np.arange(a, b))
        flow_day = int(flow_m[a].astype("datetime64[D]").astype(np.int64))
        keys = _keys(sl, pts, fmt, dct[a:b], flow_day, chunk)
        sink.append(f"ER_PRS_F_{suffix}.csv", "ER_PRS_F",
                    render("ER_PRS_F", _prs_columns(sl, pts, fmt, keys, birth_year), b - a), b - a)
        for code, table in DETAIL_TABLES.items():
            idx = np.flatnonzero(sl["detail"] == code)
            cols = {k: _cut(v, idx) for k, v in keys.items()}
            cols.update(_detail_columns(code, take(sl, idx), fmt))
            sink.append(f"{table}_{suffix}.csv", table, render(table, cols, len(idx)), len(idx))
    return n


def _keys(sl: dict, pts: Patients, fmt: Formatter, dct: np.ndarray, flow_day: int,
          chunk: int) -> dict[str, object]:
    return {
        "DCT_ORD_NUM": fmt.num(dct),
        "FLX_DIS_DTD": fmt.iso(np.array([flow_day]))[0],
        "FLX_EMT_NUM": str(1 + chunk % 99),
        "FLX_EMT_ORD": "0",
        "FLX_EMT_TYP": "1",
        "FLX_TRT_DTD": fmt.iso(flow_day + 2 + dct % 20),
        "ORG_CLE_NUM": _org(pts.dpt[sl["patient"]]),
        "PRS_ORD_NUM": "1",
        "REM_TYP_AFF": "1",
    }


def _prs_columns(sl: dict, pts: Patients, fmt: Formatter, keys: dict,
                 birth_year: np.ndarray) -> dict[str, object]:
    p = sl["patient"]
    day = sl["day"]
    care_year = day.astype("datetime64[D]").astype("datetime64[Y]").astype(np.int64) + 1970
    end_day = np.where(sl["detail"] == DETAIL_ETE, day + np.maximum(sl["qty"], 0), day)
    return {
        **keys,
        "BEN_NIR_PSA": pts.nir[p],
        "BEN_RNG_GEM": fmt.num(pts.rank[p]),
        "BEN_SEX_COD": np.where(pts.male[p], b"1", b"2"),
        "BEN_NAI_ANN": fmt.num(birth_year[p]),
        "BEN_RES_DPT": pts.dpt[p],
        "BEN_AMA_COD": fmt.num(np.maximum(care_year - birth_year[p], 0)),
        "EXE_SOI_DTD": fmt.iso(day),
        "EXE_SOI_DTF": fmt.iso(end_day),
        "EXE_SOI_AMD": fmt.yyyymm(day),
        "PRS_NAT_REF": fmt.num(sl["nature"]),
        "BSE_PRS_NAT": fmt.num(sl["nature"]),
        "DPN_QLF": fmt.num(sl["dpn"]),
        "PRS_ACT_QTE": fmt.num(sl["qty"]),
        "PRS_PAI_MNT": fmt.money(sl["paid"]),
        "BSE_REM_MNT": fmt.money(sl["reimb"]),
        "BSE_REM_BSE": fmt.money(sl["paid"]),
        "PFS_EXE_NUM": sl["exe"],
        "PFS_PRE_NUM": sl["pre"],
        "PSE_SPE_COD": np.where(sl["exe_spe"] > 0, fmt.num(sl["exe_spe"]), b""),
        "PSP_SPE_COD": np.where(sl["pre_spe"] > 0, fmt.num(sl["pre_spe"]), b""),
    }


def _detail_columns(code: int, d: dict, fmt: Formatter) -> dict[str, object]:
    if code == DETAIL_PHA:
        return {"PHA_PRS_C13": PACK_CIP[d["pack"]], "PHA_ACT_QSN": fmt.num(d["qty"]),
                "PHA_ACT_PRU": fmt.money(PACK_PRICE[d["pack"]])}
    if code == DETAIL_CAM:
        return {"CAM_PRS_IDE": d["code"]}
    if code == DETAIL_BIO:
        return {"BIO_PRS_IDE": d["code"], "BIO_ACT_QSN": fmt.num(d["qty"])}
    return {"ETB_EXE_FIN": d["ete_fin"], "ETE_IND_TAA": fmt.num(d["ete_taa"]),
            "ETE_CAT_COD": fmt.num(d["ete_cat"])}


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
