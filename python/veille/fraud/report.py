"""The fraud report: one self-contained HTML file (plotly figures, its library inlined once),
masked counts, pseudonymous ids only (BEN_NIR_PSA for patients, the extract's provider numbers)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from html import escape
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from plotly.offline import get_plotlyjs

from veille import db
from veille.errors import VeilleError
from veille.fraud.figures import network_figure, profile_figure
from veille.privacy import mask_count
from veille.reports_index import refresh_for

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


def _html(fig) -> str:
    """A figure as a div; plotly's library is inlined once in the page's head."""
    return fig.to_html(full_html=False, include_plotlyjs=False, config={"displaylogo": False})


def _table(df: pd.DataFrame) -> str:
    head = "".join(f"<th>{escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(v))}</td>" for v in row) + "</tr>" for row in df.itertuples(index=False)
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _profile(conn: sa.Connection, top: pd.DataFrame) -> tuple[str, str]:
    providers = top[top["entity_kind"] == "provider"]
    if providers.empty:
        return "", "<p>No provider alert.</p>"
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
        return str(first["shown_id"]), "<p>No peer scores for this provider.</p>"
    title = (f"{first['shown_id']} ({prof['peer_group'].iloc[0]}, {first['best_month']:%Y-%m}, "
             f"{mask_count(prof['n_peers'].iloc[0])} peers)")
    table = prof[["feature", "value", "median", "robust_z"]].round(2)
    return title, _html(profile_figure(prof)) + _table(table)


def _network(conn: sa.Connection, top: pd.DataFrame, max_patients: int = 12) -> str:
    shoppers = top[(top["entity_kind"] == "patient") & (top["alert_kind"] == "doctor_shopping")].head(max_patients)
    if shoppers.empty:
        return "<p>No doctor-shopping alert.</p>"
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
    return _html(network_figure(edges))


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
    for c in ("new", "persisting", "resolved"):
        df[c] = df[c].map(mask_count)
    return df


STYLE = """body{font-family:sans-serif;margin:2em;max-width:1200px}table{border-collapse:collapse;
font-size:12px;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;
vertical-align:top}th{background:#eee}h2{margin-top:1.6em}"""


def write_report(out: str | Path, limit: int = 50) -> Path:
    """Write the HTML report of the swept alerts to ``out`` (a file, or a directory)."""
    path = Path(out)
    if path.suffix != ".html":
        path = path / "fraud_report.html"
    # names patients by BEN_NIR_PSA for the investigators (docs/fraud.md): not an analyst's report
    with db.engine(db.ENGINEER).connect() as conn:
        if conn.execute(sa.text("select to_regclass('results.fraud_alert')")).scalar() is None:
            raise VeilleError("no fraud alerts: run `veille migrate` then `veille fraud sweep`")
        top = top_entities(conn, limit)
        if top.empty:
            raise VeilleError("no fraud alert to report: run `veille fraud sweep` first")
        title, profile = _profile(conn, top)
        network = _network(conn, top)
        drugs = _drugs(conn)
        monthly = _monthly(conn)
    shown = top.assign(
        score=top["score"].round(2),
        best_month=top["best_month"].map(lambda d: f"{d:%Y-%m}"),
        reasons=top["reasons"].map(mask_text),
    )[["shown_id", "entity_kind", "alert_kind", "score", "best_month", "months", "reasons"]]
    shown.insert(0, "rank", range(1, len(shown) + 1))
    html = f"""<!doctype html><html><head><meta charset="utf-8"><title>veille: fraud and misuse alerts</title>
<style>{STYLE}</style><script type="text/javascript">{get_plotlyjs()}</script></head><body>
<h1>Fraud and misuse screening</h1>
<p>Generated {datetime.now(UTC):%Y-%m-%d %H:%M} UTC. Pseudonymous ids only; counts below 10 are shown as &lt;10.</p>
<h2>Ranked alerts (best month of each entity)</h2>{_table(shown)}
<h2>Alert history (last swept months)</h2>{_table(monthly)}
<h2>Provider profile against its peers: {escape(title)}</h2>{profile}
<h2>Network of doctor shoppers (patients, prescribers, pharmacies)</h2>{network}
<h2>Drugs ranked by the share of units obtained by doctor shopping</h2>{_table(drugs)}
</body></html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html, encoding="utf-8")
    refresh_for(path)  # reports/index.html lists it
    return path
