"""Population summaries of the pathways marts: care-use rates, adherence, indicator rates,
treatment paths. SQL aggregates; Python adds standardization and intervals."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import stats

from veille.pathways.rates import ESP2013, funnel_position, wilson_interval

CARE_MEASURES = ("gp_visits", "specialist_visits", "lab_tests", "medical_acts", "dispensings",
                 "hospital_stays", "hospital_days", "amount_reimbursed")


def care_strata(conn: sa.Connection) -> pd.DataFrame:
    """Person-years and events per year x age band x sex x department."""
    sums = ", ".join(f"sum({m})::float8 as {m}" for m in CARE_MEASURES)
    return pd.read_sql(
        sa.text(
            f"select year, age_band, coalesce(sex::text, 'unknown') as sex, "
            f"coalesce(department, 'unknown') as department, "
            f"sum(observed_days)::float8 / 365.25 as person_years, {sums} "
            "from pathways.fct_pathways_care_use where age_band is not null "
            "group by year, age_band, sex, department"
        ),
        conn,
    )


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


def adherence(conn: sa.Connection) -> pd.DataFrame:
    """PDC and MPR per drug class over full windows; share adherent (PDC >= threshold)."""
    df = pd.read_sql(
        sa.text(
            "select drug_class, count(*) as patients, avg(pdc)::float8 as mean_pdc, "
            "percentile_cont(0.5) within group (order by pdc)::float8 as median_pdc, "
            "count(*) filter (where adherent) as adherent, avg(mpr)::float8 as mean_mpr "
            "from pathways.fct_pathways_adherence where full_window group by drug_class "
            "order by drug_class"
        ),
        conn,
    )
    df["adherent_share"] = df["adherent"] / df["patients"]
    lo, hi = wilson_interval(df["adherent"].to_numpy(), df["patients"].to_numpy())
    df["ci_low"], df["ci_high"] = lo, hi
    return df


def indicator_rates(conn: sa.Connection) -> pd.DataFrame:
    """Compliance per indicator: national, per prescriber, per department (periods pooled),
    Wilson intervals, funnel position against the national rate."""
    units = pd.read_sql(
        sa.text(
            "select indicator_id, 'national' as level, 'all' as unit, count(*) as denominator, "
            "count(*) filter (where compliant) as numerator "
            "from pathways.fct_pathways_indicator_patient group by indicator_id "
            "union all "
            "select indicator_id, 'prescriber', coalesce(prescriber_id, 'unknown'), count(*), "
            "count(*) filter (where compliant) "
            "from pathways.fct_pathways_indicator_patient group by indicator_id, prescriber_id "
            "union all "
            "select indicator_id, 'department', coalesce(department, 'unknown'), count(*), "
            "count(*) filter (where compliant) "
            "from pathways.fct_pathways_indicator_patient group by indicator_id, department "
            "order by 1, 2, 3"
        ),
        conn,
    )
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


def paths(conn: sa.Connection, path_filter: str = "first") -> pd.DataFrame:
    """Treatment paths (regimens joined by ' > ') and the number of patients on each."""
    return pd.read_sql(
        sa.text(
            "select path, count(*) as patients, max(length) as length from ("
            "  select patient_id, string_agg(regimen, ' > ' order by line_number) as path, "
            "  count(*) as length from pathways.fct_pathways_treatment_lines "
            "  where path_filter = :f group by patient_id) p "
            "group by path order by patients desc, path"
        ),
        conn,
        params={"f": path_filter},
    )


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
