"""The fraud report, drawn with the report kit (veille.report): masked counts, pseudonymous ids
only (BEN_NIR_PSA for patients, the extract's provider numbers)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import sqlalchemy as sa

from veille import db
from veille.errors import VeilleError
from veille.fraud.figures import network_figure, profile_figure
from veille.privacy import mask_count
from veille.report import Report

COUNT_IN_TEXT = re.compile(
    r"\b(\d+)(?= (?:patients|lines|days|dispensings|prescribers|pharmacies|overlapping))"
)


def mask_text(text: str) -> str:
    """Counts written in an alert's reasons, masked by the small-cell rule."""
    return COUNT_IN_TEXT.sub(lambda m: mask_count(int(m.group(1))), text)


def top_entities(conn: sa.Connection, limit: int = 50) -> pd.DataFrame:
    """Entities ranked by their best alert score over the swept months, with that month's reasons."""
    return pd.read_sql(
        sa.text(
            """
            with live as (
                select a.*, case when a.entity_kind = 'patient' then p.ben_nir_psa else a.entity_id end as shown_id
                from results.fraud_alert a
                left join claims.patient p on a.entity_kind = 'patient' and p.patient_id::text = a.entity_id
                where a.status <> 'resolved'
            ),
            best as (
                select distinct on (entity_kind, entity_id) *
                from live order by entity_kind, entity_id, score desc, month
            ),
            span as (
                select entity_kind, entity_id, min(month) as first_month, max(month) as last_month,
                    count(*) as months
                from live group by entity_kind, entity_id
            )
            select best.entity_kind, best.entity_id, best.shown_id, best.alert_kind, best.score,
                best.month as best_month, span.first_month, span.last_month, span.months, best.reasons
            from best join span using (entity_kind, entity_id)
            order by best.score desc, best.entity_kind, best.shown_id
            limit :limit
            """
        ),
        conn,
        params={"limit": limit},
    )


def _profile(page: Report, conn: sa.Connection, top: pd.DataFrame) -> None:
    providers = top[top["entity_kind"] == "provider"]
    if providers.empty:
        page.heading("Provider profile against its peers")
        page.text("No provider alert.")
        return
    first = providers.iloc[0]
    prof = pd.read_sql(
        sa.text(
            "select feature, value, median, robust_z, n_peers, peer_group from fraud.fraud_provider_peer_scores "
            "where month = :m and provider_id = :p order by robust_z desc"
        ),
        conn,
        params={"m": first["best_month"], "p": first["entity_id"]},
    )
    if prof.empty:
        page.heading(f"Provider profile against its peers: {first['shown_id']}")
        page.text("No peer scores for this provider.")
        return
    page.heading(f"Provider profile against its peers: {first['shown_id']} ({prof['peer_group'].iloc[0]}, "
                 f"{first['best_month']:%Y-%m}, {mask_count(prof['n_peers'].iloc[0])} peers)",
                 source="fraud.fraud_provider_peer_scores (dbt: fraud_provider_features, robust z against the peer median)")
    page.figure(profile_figure(prof))
    page.table(prof[["feature", "value", "median", "robust_z"]], digits=dict.fromkeys(("value", "median", "robust_z"), 2))


def _network(page: Report, conn: sa.Connection, top: pd.DataFrame, max_patients: int = 12) -> None:
    page.heading("Network of doctor shoppers (patients, prescribers, pharmacies)",
                 source="fraud.fraud_shopping_patients, fraud.fraud_shopping_dispensings (dbt)")
    shoppers = top[(top["entity_kind"] == "patient") & (top["alert_kind"] == "doctor_shopping")].head(max_patients)
    if shoppers.empty:
        page.text("No doctor-shopping alert.")
        return
    sql = sa.text(
        """
        select p.ben_nir_psa as patient, d.prescriber_id as prescriber, d.pharmacy_id as pharmacy
        from fraud.fraud_shopping_patients s
        join fraud.fraud_shopping_dispensings d
          on d.patient_id = s.patient_id and d.drug_code = s.drug_code
         and d.dispensing_date between s.first_dispensing and s.last_dispensing
        join claims.patient p on p.patient_id = s.patient_id
        where s.is_shopper and s.month = :m and s.patient_id::text = :pid
        """
    )
    edges = pd.concat(
        [pd.read_sql(sql, conn, params={"m": r.best_month, "pid": r.entity_id}) for r in shoppers.itertuples()]
    )
    page.figure(network_figure(edges))


def _drugs(conn: sa.Connection) -> pd.DataFrame:
    df = pd.read_sql(
        sa.text(
            "select drug_rank, drug_code, total_units, shopping_units, shopping_share "
            "from fraud.fraud_drug_shopping order by drug_rank"
        ),
        conn,
    )
    df["shopping_share"] = (100 * df["shopping_share"].astype(float)).round(2).astype(str) + "%"
    return df


def _monthly(conn: sa.Connection) -> pd.DataFrame:
    df = pd.read_sql(
        sa.text(
            "select to_char(month, 'YYYY-MM') as month, "
            "count(*) filter (where status = 'new') as new, "
            "count(*) filter (where status = 'persisting') as persisting, "
            "count(*) filter (where status = 'resolved') as resolved "
            "from results.fraud_alert group by month order by month desc limit 12"
        ),
        conn,
    )
    return df


def write_report(out: str | Path, limit: int = 50) -> Path:
    """Write the HTML report of the swept alerts to ``out`` (a file, or a directory)."""
    path = Path(out)
    if path.suffix != ".html":
        path = path / "fraud_report.html"
    page = Report("Fraud and misuse screening", "fraud and misuse",
                  "Which patients and providers stand out this month, with no prior idea of who?",
                  subtitle="pseudonymous ids only")
    # names patients by BEN_NIR_PSA for the investigators (docs/fraud.md): not an analyst's report
    with db.engine(db.ENGINEER).connect() as conn:
        if conn.execute(sa.text("select to_regclass('results.fraud_alert')")).scalar() is None:
            raise VeilleError("no fraud alerts: run `veille migrate` then `veille fraud sweep`")
        top = top_entities(conn, limit)
        if top.empty:
            raise VeilleError("no fraud alert to report: run `veille fraud sweep` first")
        shown = top.assign(
            best_month=top["best_month"].map(lambda d: f"{d:%Y-%m}"),
            reasons=top["reasons"].map(mask_text),
        )[["shown_id", "entity_kind", "alert_kind", "score", "best_month", "months", "reasons"]]
        shown.insert(0, "rank", range(1, len(shown) + 1))
        page.heading("Ranked alerts (best month of each entity)",
                     source="results.fraud_alert <- veille.fraud.sweep (fraud/alerts.sql) on fraud.fraud_rule_hits, "
                            "fraud.fraud_shopping_patients, fraud.fraud_provider_peer_scores, "
                            "fraud.fraud_prescriber_class_scores, results.fraud_provider_score (isolation forest)")
        page.table(shown, digits={"score": 2}, left=["shown_id", "entity_kind", "alert_kind", "reasons"])
        page.heading("Alert history (last swept months)", source="results.fraud_alert")
        page.table(_monthly(conn), counts=["new", "persisting", "resolved"])
        _profile(page, conn, top)
        _network(page, conn, top)
        page.heading("Drugs ranked by the share of units obtained by doctor shopping",
                     source="fraud.fraud_drug_shopping (dbt)")
        page.table(_drugs(conn), left=["drug_code"])
    return page.write(path)
