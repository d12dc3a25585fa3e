"""The interaction screen's report (`veille scan interactions`), drawn with the report kit: the
ranked list (both drugs, the outcome, Omega and the ratio of ratios in both directions with
their intervals, co-exposed patients and events), the volcano view (Omega vs -log10 combined
p), and per top signal a drill-down of the joint-exposure timeline: new outcomes by 4 weeks
around the start of joint exposure, and how long joint exposures last. Every count below 10
is shown as ``<10`` (and a bar below 10 is not drawn).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import sqlalchemy as sa
from markupsafe import escape
from plotly.subplots import make_subplots

from veille import db
from veille.privacy import mask_count
from veille.report import Report, table_html
from veille.scan.report import _fmt, _pval

BIN_DAYS = 28
BINS = 6  # 4-week bins on each side of the start of joint exposure

TRIPLES_CTE = """
with triples (drug_level, drug_a, drug_b, outcome_code) as (
    select * from unnest(cast(:dl as text[]), cast(:da as text[]), cast(:db as text[]), cast(:oc as text[]))
),
first_joint as (
    select c.drug_level, c.drug_a, c.drug_b, c.patient_id, min(c.joint_start) as joint_start
    from scan.scan_ddi_coexposure c
    join triples t on t.drug_level = c.drug_level and t.drug_a = c.drug_a and t.drug_b = c.drug_b
    group by 1, 2, 3, 4
)
"""

AROUND_START = TRIPLES_CTE + """
select t.drug_level, t.drug_a, t.drug_b, t.outcome_code,
       floor((o.onset_date - f.joint_start)::numeric / :bin)::int as bin, count(*) as n
from triples t
join first_joint f on f.drug_level = t.drug_level and f.drug_a = t.drug_a and f.drug_b = t.drug_b
join scan.scan_outcome_onsets o on o.patient_id = f.patient_id and o.outcome_level = 'icd3'
    and o.outcome_code = t.outcome_code
where o.onset_date >= f.joint_start - :span and o.onset_date < f.joint_start + :span
group by 1, 2, 3, 4, 5
"""

DURATIONS = TRIPLES_CTE + """
select t.drug_level, t.drug_a, t.drug_b, t.outcome_code,
       case when c.joint_days < 8 then '1-7' when c.joint_days < 31 then '8-30'
            when c.joint_days < 91 then '31-90' when c.joint_days < 366 then '91-365' else '366+' end as duration,
       count(*) as n
from triples t
join scan.scan_ddi_coexposure c on c.drug_level = t.drug_level and c.drug_a = t.drug_a and c.drug_b = t.drug_b
group by 1, 2, 3, 4, 5
"""
DURATION_ORDER = ["1-7", "8-30", "31-90", "91-365", "366+"]
KEY = ["drug_level", "drug_a", "drug_b", "outcome_code"]


def drilldown_counts(head: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Onsets by 4-week bin around the first start of joint exposure, and joint intervals by
    duration, for the triples of ``head``; counted in SQL."""
    params = {"dl": list(head["drug_level"]), "da": list(head["drug_a"]), "db": list(head["drug_b"]),
              "oc": list(head["outcome_code"]), "bin": BIN_DAYS, "span": BIN_DAYS * BINS}
    with db.engine(db.ANALYST).connect() as conn:
        around = pd.read_sql(sa.text(AROUND_START), conn, params=params)
        durations = pd.read_sql(sa.text(DURATIONS), conn, params=params)
    return around, durations


def ranked_table(signals: pd.DataFrame) -> str:
    def ci(v, lo, hi) -> str:
        return f"{_fmt(v)} ({_fmt(lo)}-{_fmt(hi)})" if pd.notna(v) else ""

    df = pd.DataFrame({
        "rank": signals["rank"],
        "drugs": signals["drug_a"] + " + " + signals["drug_b"] + " (" + signals["drug_level"] + ")",
        "outcome": signals["outcome_code"],
        "co-exposed patients": signals["patients_ab"].map(mask_count),
        "events in joint time": signals["o_ab"].map(mask_count),
        "expected (both drugs' effects)": signals["e_mult"].map(lambda v: _fmt(v, 1)),
        "Omega (95% CI)": [ci(v, lo, hi) for v, lo, hi in zip(signals["omega"], signals["omega025"],
                                                              signals["omega975"], strict=True)],
        "Omega p (calibrated)": signals["omega_p"].map(_pval) + " (" + signals["omega_cal_p"].map(_pval) + ")",
        "ratio of ratios, first as object (95% CI)": [ci(v, lo, hi) for v, lo, hi in zip(
            signals["ror_ab"], signals["ror_ab_low"], signals["ror_ab_high"], strict=True)],
        "ratio of ratios, second as object (95% CI)": [ci(v, lo, hi) for v, lo, hi in zip(
            signals["ror_ba"], signals["ror_ba_low"], signals["ror_ba_high"], strict=True)],
        "case series p (calibrated)": signals["sccs_p"].map(_pval),
        "combined p": signals["combined_p"].map(_pval), "q": signals["q_value"].map(_pval),
    })
    flags = dict(zip(df.index, signals["is_signal"], strict=True))
    return table_html(df, left=["drugs", "outcome"], row_class=lambda r: "hl" if flags[r.name] else "")


def volcano(signals: pd.DataFrame) -> go.Figure:
    y = -np.log10(np.clip(signals["combined_p"].to_numpy(float), 1e-300, 1))
    text = [f"{escape(r.drug_a)} + {escape(r.drug_b)} x {escape(r.outcome_code)}<br>rank {r.rank}, "
            f"events {mask_count(r.o_ab)}" for r in signals.itertuples(index=False)]
    fig = go.Figure()
    for flag, name, color in ((False, "not significant", "#9aa"), (True, "signal (q <= FDR)", "#d55")):
        sel = (signals["is_signal"] == flag).to_numpy()
        fig.add_trace(go.Scattergl(x=signals.loc[sel, "omega"], y=y[sel], mode="markers", name=name,
                                   marker={"color": color, "size": 6},
                                   text=[t for t, s in zip(text, sel, strict=True) if s], hoverinfo="text"))
    fig.update_layout(title="Volcano: Omega (observed vs expected from both drugs' own effects) vs combined p",
                      xaxis_title="Omega = log2((O + 0.5) / (E + 0.5))", yaxis_title="-log10 combined p",
                      height=480, width=820)
    return fig


def timeline(head: pd.DataFrame, around: pd.DataFrame, durations: pd.DataFrame) -> go.Figure:
    """Per signal: onsets by 4 weeks around the first start of joint exposure (bars of fewer than
    10 onsets are not drawn) and the joint exposures by duration (likewise)."""
    rows = len(head)
    fig = make_subplots(rows=rows, cols=2, column_widths=[0.65, 0.35], vertical_spacing=0.35 / max(rows, 1),
                        subplot_titles=[t for r in head.itertuples(index=False) for t in (
                            f"#{r.rank} {r.drug_a} + {r.drug_b} x {r.outcome_code}: new outcomes by 4 weeks",
                            "joint exposures by duration (days)")])
    bins = np.arange(-BINS, BINS)
    for i, r in enumerate(head.itertuples(index=False), start=1):
        key = (around["drug_a"] == r.drug_a) & (around["drug_b"] == r.drug_b) & (
            around["drug_level"] == r.drug_level) & (around["outcome_code"] == r.outcome_code)
        n = around[key].set_index("bin")["n"].reindex(bins, fill_value=0).to_numpy()
        shown = np.where(n >= 10, n, 0)
        fig.add_trace(go.Bar(x=bins * BIN_DAYS / 7, y=shown, marker_color=np.where(bins >= 0, "#d55", "#9aa"),
                             text=[mask_count(v) for v in n], hoverinfo="text", showlegend=False), row=i, col=1)
        key = (durations["drug_a"] == r.drug_a) & (durations["drug_b"] == r.drug_b) & (
            durations["drug_level"] == r.drug_level) & (durations["outcome_code"] == r.outcome_code)
        d = durations[key].set_index("duration")["n"].reindex(DURATION_ORDER, fill_value=0).to_numpy()
        fig.add_trace(go.Bar(x=DURATION_ORDER, y=np.where(d >= 10, d, 0), text=[mask_count(v) for v in d],
                             hoverinfo="text", marker_color="#579", showlegend=False), row=i, col=2)
        fig.update_xaxes(title_text="weeks from the first start of joint exposure", row=i, col=1)
    fig.update_layout(height=260 * max(rows, 1), width=980,
                      title="Joint-exposure timeline (red: after the start; bars under 10 are not drawn)")
    return fig


def write_report(signals: pd.DataFrame, out: Path, run_id: int, top: int = 100, drill: int = 6) -> Path:
    """Write the HTML report of an interaction run to ``out`` and return its path."""
    ranked = signals.sort_values("rank")
    head = ranked.head(drill)
    n_sig = int(signals["is_signal"].sum())
    page = Report(f"Drug-drug interaction screen, run {run_id}", "interaction screen",
                  "Which drugs taken together raise the risk of an outcome beyond their own effects?",
                  subtitle=f"{len(signals)} drug pairs x outcomes screened, {n_sig} signals at the FDR level")
    page.heading(f"Ranked list (top {min(top, len(ranked))})",
                 source="results.interaction_signal <- veille.scan.ddi.run_interactions on scan.scan_ddi_counts, "
                        "scan.scan_ddi_case_days")
    page.html(ranked_table(ranked.head(top)))
    page.heading("Volcano")
    page.figure(volcano(signals))
    if len(head):
        around, durations = drilldown_counts(head)
        page.heading(f"Joint-exposure timeline (top {len(head)})",
                     source="scan.scan_ddi_coexposure, scan.scan_outcome_onsets -> veille.scan.ddi_report")
        page.figure(timeline(head, around, durations))
    return page.write(out)
