"""Alerts against a synthetic extract's truth: precision at k, recall, AUC and average precision
per actor kind (metrics from :mod:`veille.evaluation`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from veille import db
from veille.errors import VeilleError
from veille.evaluation import auc, average_precision, top_k, truth_section

PATIENT_KINDS = {"doctor_shopping"}


def read_truth(path: str | Path) -> dict[str, dict[str, str]]:
    """The ``fraud`` entries of truth.json (a file, or the extract directory holding it)."""
    return truth_section(path, "fraud", "injected actor -> kind")[1]


def entity_scores(conn: sa.Connection) -> pd.DataFrame:
    """Every patient and provider with its best alert score over the swept months (0 = never alerted):
    entity_kind, entity_id (pseudonym for patients), score, alerted."""
    alerts = pd.read_sql(
        sa.text(
            "select a.entity_kind, case when a.entity_kind = 'patient' then p.ben_nir_psa "
            "else a.entity_id end as entity_id, max(a.score) as score "
            "from results.fraud_alert a left join claims.patient p "
            "on a.entity_kind = 'patient' and p.patient_id::text = a.entity_id "
            "where a.status <> 'resolved' group by 1, 2"
        ),
        conn,
    )
    universe = pd.read_sql(
        sa.text(
            "select distinct 'patient' as entity_kind, ben_nir_psa as entity_id from claims.patient "
            "union all select 'provider', provider_id from claims.provider"
        ),
        conn,
    )
    out = universe.merge(alerts, on=["entity_kind", "entity_id"], how="outer")
    out["alerted"] = out["score"].notna()
    out["score"] = out["score"].fillna(0.0)
    return out


def evaluate(truth: dict[str, dict[str, str]], scores: pd.DataFrame) -> dict[str, Any]:
    """Precision at k = 2 x actors (over the alerted entities when fewer than k), recall at k,
    precision at n (= actors); per actor kind, recall at k, AUC and average precision (that kind
    against every entity of the same type that is no actor, never alerted = score 0). Counts
    are exact: mask them before export."""
    actors = pd.DataFrame(
        [{"entity_id": k, "kind": v.get("kind", "unknown")} for k, v in truth.items()],
        columns=["entity_id", "kind"],
    )
    actors["entity_kind"] = np.where(actors["kind"].isin(PATIENT_KINDS), "patient", "provider")
    df = scores.merge(actors, on=["entity_kind", "entity_id"], how="left")
    ranked = df[df["alerted"]].sort_values(["score", "entity_kind", "entity_id"], ascending=[False, True, True])
    n_actors = len(actors)
    k = 2 * n_actors
    overall = top_k(ranked["kind"].notna(), k, n_actors)
    per_kind: dict[str, Any] = {}
    for kind, group in actors.groupby("kind"):
        pool = df[(df["entity_kind"] == group["entity_kind"].iloc[0]) & (df["kind"].isna() | df["kind"].eq(kind))]
        positive = pool["kind"].eq(kind).to_numpy()
        found = top_k(ranked["kind"].eq(kind), k, len(group))
        per_kind[str(kind)] = {
            "actors": len(group),
            "found_in_top_k": found.found,
            "alerted": int(ranked["kind"].eq(kind).sum()),
            "recall_at_k": found.recall,
            "auc": auc(pool["score"], positive),
            "average_precision": average_precision(pool["score"], positive),
        }
    return {
        "actors": n_actors,
        "alerted_entities": len(ranked),
        "k": k,
        "true_in_top_k": overall.found,
        "precision_at_k": overall.precision,
        "recall_at_k": overall.recall,
        "precision_at_n": top_k(ranked["kind"].notna(), n_actors).precision,
        "kinds": per_kind,
    }


def evaluate_truth_file(path: str | Path) -> dict[str, Any]:
    """Read truth.json and score the alerts in the database against it."""
    truth = read_truth(path)
    with db.engine(db.ENGINEER).connect() as conn:  # maps the truth's BEN_NIR_PSA to patients
        if conn.execute(sa.text("select to_regclass('results.fraud_alert')")).scalar() is None:
            raise VeilleError("no fraud alerts: run `veille migrate` then `veille fraud sweep`")
        if not conn.execute(sa.text("select exists (select 1 from results.fraud_sweep)")).scalar():
            raise VeilleError("no swept month: run `veille fraud sweep` first")
        return evaluate(truth, entity_scores(conn))
