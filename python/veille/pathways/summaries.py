"""Population summaries of the pathways marts: care-use rates, adherence, indicator rates,
treatment paths. The aggregates are dbt models (agg_pathways_*), read on either engine
(veille.marts); Python adds standardization and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from veille.marts import Marts
from veille.pathways.rates import ESP2013, funnel_position, wilson_interval

CARE_MEASURES = ("gp_visits", "specialist_visits", "lab_tests", "medical_acts", "dispensings",
                 "hospital_stays", "hospital_days", "amount_reimbursed")


def care_strata(marts: Marts) -> pd.DataFrame:
    """Person-years and events per year x age band x sex x department (dbt:
    agg_pathways_care_strata)."""
    return marts.read("pathways.agg_pathways_care_strata").sort_values(
        ["year", "age_band", "sex", "department"], ignore_index=True)


def care_rates(strata: pd.DataFrame, reference: dict[str, float] | None = None) -> pd.DataFrame:
    """Age-standardized rates per person-year of each measure, per year, overall, by sex and
    by department (vectorized form of ``rates.standardized_rate``: same weights and intervals)."""
    ref = reference or ESP2013
    df = strata[strata["person_years"] > 0].assign(stratum_all="all")
    frames = []
    for kind, col in (("all", "stratum_all"), ("sex", "sex"), ("department", "department")):
        g = (df.groupby(["year", col, "age_band"], as_index=False)[["person_years", *CARE_MEASURES]]
             .sum().rename(columns={col: "stratum"}))
        g["w"] = g["age_band"].map(ref).fillna(0.0)
        g["w"] = g["w"] / g.groupby(["year", "stratum"])["w"].transform("sum")
        for measure in CARE_MEASURES:
            e, t, w = g[measure], g["person_years"], g["w"]
            parts = pd.DataFrame({"year": g["year"], "stratum": g["stratum"], "events": e,
                                  "person_years": t, "dsr": w * e / t, "var": (w / t) ** 2 * e,
                                  "wt": w / t})
            agg = parts.groupby(["year", "stratum"], as_index=False).agg(
                events=("events", "sum"), person_years=("person_years", "sum"),
                std_rate=("dsr", "sum"), var=("var", "sum"), wm=("wt", "max"))
            agg["measure"], agg["stratum_kind"] = measure, kind
            frames.append(agg)
    out = pd.concat(frames, ignore_index=True)
    out["crude_rate"] = out["events"] / out["person_years"]
    dsr, var, wm = out["std_rate"].to_numpy(), out["var"].to_numpy(), out["wm"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        low = np.where(dsr > 0, stats.gamma.ppf(0.025, dsr**2 / var, scale=var / dsr), 0.0)
        high = stats.gamma.ppf(0.975, (dsr + wm) ** 2 / (var + wm**2),
                               scale=(var + wm**2) / (dsr + wm))
    out["ci_low"], out["ci_high"] = low, high
    out["stratum"] = out["stratum"].astype(str)
    out["year"] = out["year"].astype(int)
    return out[["measure", "stratum_kind", "stratum", "year", "events", "person_years",
                "crude_rate", "std_rate", "ci_low", "ci_high"]]


def adherence(marts: Marts) -> pd.DataFrame:
    """PDC and MPR per drug class over full windows; share adherent (PDC >= threshold)."""
    df = marts.read("pathways.agg_pathways_adherence").sort_values("drug_class", ignore_index=True)
    df["adherent_share"] = df["adherent"] / df["patients"]
    lo, hi = wilson_interval(df["adherent"].to_numpy(), df["patients"].to_numpy())
    df["ci_low"], df["ci_high"] = lo, hi
    return df


def indicator_rates(marts: Marts) -> pd.DataFrame:
    """Compliance per indicator: national, per prescriber, per department (periods pooled),
    Wilson intervals, funnel position against the national rate."""
    units = marts.read("pathways.agg_pathways_indicator_units").sort_values(
        ["indicator_id", "level", "unit"], ignore_index=True)
    if units.empty:
        return units.assign(rate=[], ci_low=[], ci_high=[], funnel=[])
    units["rate"] = units["numerator"] / units["denominator"]
    lo, hi = wilson_interval(units["numerator"].to_numpy(), units["denominator"].to_numpy())
    units["ci_low"], units["ci_high"] = lo, hi
    national = units[units["level"] == "national"].set_index("indicator_id")["rate"]
    units["funnel"] = None
    for ind, p0 in national.items():
        sel = (units["indicator_id"] == ind) & (units["level"] != "national")
        if sel.any() and 0 < p0 < 1:
            units.loc[sel, "funnel"] = funnel_position(
                units.loc[sel, "rate"].to_numpy(), units.loc[sel, "denominator"].to_numpy(), p0)
        elif sel.any():
            units.loc[sel, "funnel"] = "inside"
    return units


def paths(marts: Marts, path_filter: str = "first") -> pd.DataFrame:
    """Treatment paths (regimens joined by ' > ') and the number of patients on each (dbt:
    agg_pathways_paths)."""
    df = marts.read("pathways.agg_pathways_paths", {"path_filter": [path_filter]},
                    columns=["path", "patients", "length"])
    return df.sort_values(["patients", "path"], ascending=[False, True], ignore_index=True)


def mask_paths(df: pd.DataFrame, threshold: int = 10) -> pd.DataFrame:
    """Paths with fewer than ``threshold`` patients are cut back to their longest prefix that
    reaches the threshold, marked '> other'; what stays below the threshold even as a first
    line is dropped. Returns path, patients (every count >= threshold)."""
    counts = dict(zip(df["path"], df["patients"].astype(int), strict=True))
    for _ in range(6):
        small = {p: n for p, n in counts.items() if n < threshold}
        if not small:
            break
        for p, n in small.items():
            del counts[p]
            parts = [x for x in p.split(" > ") if x != "other"]
            if len(parts) <= 1:
                continue
            parent = " > ".join(parts[:-1]) + " > other"
            counts[parent] = counts.get(parent, 0) + n
    out = pd.DataFrame(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])),
                       columns=["path", "patients"])
    return out[out["patients"] >= threshold].reset_index(drop=True)


def np_int(a: np.ndarray) -> list[int]:
    return [int(x) for x in a]
