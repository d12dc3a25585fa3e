"""`veille pathways evaluate`: compare a run with the generator's truth.json: adjusted Rand
index between the trajectory clusters and the injected diabetic archetypes, and each guideline
indicator's rate within each true archetype."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import adjusted_rand_score

from veille.evaluation import truth_section
from veille.pathways.rates import wilson_interval
from veille.privacy import mask_value


def read_truth(path: str | Path) -> dict[str, str]:
    """The ``pathways`` section of a truth.json: patient pseudonym -> archetype."""
    arche = truth_section(path, "pathways", "patient -> archetype")[1]
    return {str(k): str(v) for k, v in arche.items()}


def _truth_frame(conn: sa.Connection, archetypes: dict[str, str]) -> pd.DataFrame:
    """patient_id -> archetype (every birth rank of a pseudonym gets its archetype)."""
    conn.execute(sa.text("create temp table pathways_truth (nir text primary key, archetype text) "
                         "on commit drop"))
    raw = conn.connection.driver_connection
    with raw.cursor() as cur, cur.copy("copy pathways_truth (nir, archetype) from stdin") as copy:
        for nir, arch in archetypes.items():
            copy.write_row((nir, arch))
    return pd.read_sql(
        sa.text("select p.patient_id, t.archetype from pathways_truth t "
                "join claims.patient p on p.ben_nir_psa = t.nir"),
        conn,
    )


def evaluate(conn: sa.Connection, run_id: int, archetypes: dict[str, str]) -> dict:
    truth = _truth_frame(conn, archetypes)
    members = pd.read_sql(
        sa.text("select patient_id, cluster from results.pathways_cluster_member where run_id = :r"),
        conn, params={"r": run_id})
    both = members.merge(truth, on="patient_id")
    ari = float(adjusted_rand_score(both["archetype"], both["cluster"])) if len(both) else None
    table = pd.crosstab(both["cluster"], both["archetype"]) if len(both) else pd.DataFrame()
    contingency = {
        str(c): {a: mask_value(table.loc[c, a]) for a in table.columns} for c in table.index
    }
    ind = pd.read_sql(
        sa.text("select indicator_id, patient_id, compliant from pathways.fct_pathways_indicator_patient"),
        conn)
    ind = ind.merge(truth, on="patient_id", how="left")
    ind["archetype"] = ind["archetype"].fillna("none")
    national = ind.groupby("indicator_id")["compliant"].agg(["sum", "count"])
    rows = (ind.groupby(["indicator_id", "archetype"])["compliant"].agg(["sum", "count"])
            .reset_index())
    lo, hi = wilson_interval(rows["sum"].to_numpy(), rows["count"].to_numpy())
    indicators: dict[str, dict] = {}
    for i, r in rows.iterrows():
        entry = indicators.setdefault(r["indicator_id"], {
            "rate": float(national.loc[r["indicator_id"], "sum"] / national.loc[r["indicator_id"], "count"]),
            "periods": mask_value(national.loc[r["indicator_id"], "count"]),
            "by_archetype": {},
        })
        small = r["count"] < 10 or r["sum"] < 10 or r["count"] - r["sum"] < 10
        entry["by_archetype"][r["archetype"]] = {
            "periods": mask_value(r["count"]),
            "rate": None if small else round(float(r["sum"] / r["count"]), 4),
            "ci_low": None if small else round(float(lo[i]), 4),
            "ci_high": None if small else round(float(hi[i]), 4),
        }
    mix = truth.merge(members, on="patient_id")["archetype"].value_counts()
    return {
        "run_id": run_id,
        "clustered_patients": mask_value(len(members)),
        "patients_with_archetype": mask_value(len(both)),
        "adjusted_rand_index": None if ari is None else round(ari, 4),
        "clusters_by_archetype": contingency,
        "archetype_mix": {a: mask_value(n) for a, n in mix.items()},
        "indicators": indicators,
    }


def to_text(result: dict) -> str:
    lines = [(f"pathways run {result['run_id']}: {result['patients_with_archetype']} clustered "
              "patients with a true archetype"),
             f"adjusted Rand index (clusters vs archetypes): {result['adjusted_rand_index']}",
             "clusters x archetypes:"]
    for c, row in result["clusters_by_archetype"].items():
        lines.append(f"  cluster {c}: " + ", ".join(f"{a} {n}" for a, n in row.items()))
    lines.append("indicator rates by true archetype:")
    for ind, e in result["indicators"].items():
        parts = []
        for a, v in e["by_archetype"].items():
            rate = "masked" if v["rate"] is None else f"{v['rate']:.2f} [{v['ci_low']:.2f}-{v['ci_high']:.2f}]"
            parts.append(f"{a} {rate} (n {v['periods']})")
        lines.append(f"  {ind} (all {e['rate']:.2f}): " + "; ".join(parts))
    return "\n".join(lines)
