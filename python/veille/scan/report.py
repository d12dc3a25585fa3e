"""The scan report: one self-contained HTML file (plotly's JS inlined once).

Ranked list, volcano view (BCPNN IC vs -log10 combined p), and a drill-down per top signal
(new outcomes by month since initiation, exposed cases by age group and sex). Every count
below 10 is shown as ``<10`` (veille.privacy).
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from veille.privacy import mask_count
from veille.reports_index import refresh_for
from veille.scan.drilldown import drilldown_counts

COUNT_COLUMNS = ["ssa_drug_first", "ssa_outcome_first", "oe_observed", "oe_latent_observed",
                 "tree_risk", "tree_control"]

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;font-size:13px;margin:0.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}
th{background:#f3f3f3} td.l,th.l{text-align:left}
tr.signal td{background:#fff4e5}
.drill{display:flex;gap:2em;flex-wrap:wrap}
"""


def _fmt(x: float, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and (np.isnan(x) or np.isinf(x))):
        return "" if x is None or np.isnan(x) else ("inf" if x > 0 else "-inf")
    return f"{x:.{digits}f}"


def _pval(x: float) -> str:
    if x is None or np.isnan(x):
        return ""
    return f"{x:.1e}" if x < 1e-3 else f"{x:.3f}"


def _count(n) -> str:
    """A count as HTML text, ``&lt;10`` below 10."""
    return html.escape(mask_count(n))


def masked_group(counts: list[int]) -> list[str]:
    """Counts of one breakdown (which sums to a shown total) as HTML text: below 10 -> ``&lt;10``;
    when that hides a single cell, the smallest other cell is hidden too (so that no masked
    count can be recovered by subtraction)."""
    shown = [mask_count(n) for n in counts]
    masked = [i for i, v in enumerate(shown) if v == "<10"]
    if len(masked) == 1 and len(counts) > 1:
        other = min((i for i in range(len(counts)) if i != masked[0]), key=lambda i: counts[i])
        shown[other] = "<10" if counts[other] < 10 else "&ge;10"
    return [html.escape(v) if v == "<10" else v for v in shown]


def masked_signals(signals: pd.DataFrame) -> pd.DataFrame:
    """The signal rows with every count column as exported text (``<10`` below 10)."""
    out = signals.copy()
    for col in COUNT_COLUMNS:
        out[col] = out[col].map(mask_count)
    return out


def _table(signals: pd.DataFrame) -> str:
    head = ("<tr><th>rank</th><th class=l>drug</th><th class=l>outcome</th>"
            "<th>SSA drug/outcome first</th><th>ASR (95% CI)</th><th>SSA p</th>"
            "<th>observed</th><th>expected</th><th>IC (IC025)</th><th>O/E p</th><th>calibrated p</th>"
            "<th>long-term observed / expected</th><th>long-term p</th>"
            "<th>tree risk/control</th><th>tree p</th><th>combined p</th><th>q</th></tr>")
    body = []
    for r in masked_signals(signals).map(
            lambda v: html.escape(v) if isinstance(v, str) else v).itertuples(index=False):
        body.append(
            f"<tr class='{'signal' if r.is_signal else ''}'><td>{r.rank}</td>"
            f"<td class=l>{html.escape(r.drug_code)} <small>{r.drug_level}</small></td>"
            f"<td class=l>{html.escape(r.outcome_code)} <small>{r.outcome_level}</small></td>"
            f"<td>{r.ssa_drug_first} / {r.ssa_outcome_first}</td>"
            f"<td>{_fmt(r.ssa_asr)} ({_fmt(r.ssa_ci_low)}-{_fmt(r.ssa_ci_high)})</td>"
            f"<td>{_pval(r.ssa_p)}</td><td>{r.oe_observed}</td><td>{_fmt(r.oe_expected, 1)}</td>"
            f"<td>{_fmt(r.oe_ic)} ({_fmt(r.oe_ic025)})</td><td>{_pval(r.oe_p)}</td>"
            f"<td>{_pval(r.oe_cal_p)}</td>"
            f"<td>{r.oe_latent_observed} / {_fmt(r.oe_latent_expected, 1)}</td><td>{_pval(r.oe_latent_p)}</td>"
            f"<td>{r.tree_risk} / {r.tree_control}</td><td>{_pval(r.tree_p)}</td>"
            f"<td>{_pval(r.combined_p)}</td><td>{_pval(r.q_value)}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def volcano(signals: pd.DataFrame) -> go.Figure:
    """IC (x) against -log10 combined p (y); signals (q <= FDR level) highlighted."""
    m = masked_signals(signals)
    y = -np.log10(np.clip(signals["combined_p"].to_numpy(float), 1e-300, 1))
    text = [f"{html.escape(r.drug_code)} x {html.escape(r.outcome_code)}<br>rank {r.rank}, "
            f"observed {html.escape(r.oe_observed)}, SSA {html.escape(r.ssa_drug_first)}/"
            f"{html.escape(r.ssa_outcome_first)}" for r in m.itertuples(index=False)]
    fig = go.Figure()
    for flag, name, color in ((False, "not significant", "#9aa"), (True, "signal (q <= FDR)", "#d55")):
        sel = (signals["is_signal"] == flag).to_numpy()
        fig.add_trace(go.Scattergl(
            x=signals.loc[sel, "oe_ic"], y=y[sel], mode="markers", name=name,
            marker={"color": color, "size": 6}, text=[t for t, s in zip(text, sel, strict=True) if s],
            hoverinfo="text"))
    fig.update_layout(title="Volcano: information component vs combined p-value",
                      xaxis_title="IC = log2((O + 0.5) / (E + 0.5))",
                      yaxis_title="-log10 combined p", height=480, width=820)
    return fig


def _drill_section(row: pd.Series, by_month: pd.DataFrame, exposed: pd.DataFrame) -> str:
    key = (row.drug_level, row.drug_code, row.outcome_level, row.outcome_code)

    def select(frame: pd.DataFrame) -> pd.DataFrame:
        sel = ((frame["drug_level"] == key[0]) & (frame["drug_code"] == key[1])
               & (frame["outcome_level"] == key[2]) & (frame["outcome_code"] == key[3]))
        return frame[sel]

    months = select(by_month)
    ex = select(exposed)
    age = ex.groupby("age_group")["n"].sum()
    sex = ex.groupby("sex")["n"].sum()

    def rows(labels, counts) -> str:
        cells = masked_group([int(n) for n in counts])
        return "".join(f"<tr><td class=l>{html.escape(str(k))}</td><td>{v}</td></tr>"
                       for k, v in zip(labels, cells, strict=True))

    month_rows = rows(months["month"].astype(int), months["n"])
    age_rows = rows(age.index, age.to_numpy())
    sex_rows = rows(sex.index, sex.to_numpy())
    return (
        f"<h3>#{row['rank']} {html.escape(row.drug_code)} ({row.drug_level}) x "
        f"{html.escape(row.outcome_code)} ({row.outcome_level})</h3><div class=drill>"
        f"<table><tr><th>months since initiation</th><th>new outcomes</th></tr>{month_rows}</table>"
        f"<table><tr><th class=l>age at outcome (exposed)</th><th>cases</th></tr>{age_rows}</table>"
        f"<table><tr><th class=l>sex (exposed)</th><th>cases</th></tr>{sex_rows}</table></div>")


def write_report(signals: pd.DataFrame, out: Path, run_id: int, window_days: int = 365,
                 top: int = 100, drill: int = 10) -> Path:
    """Write the HTML report of a run to ``out`` (a file) and return its path."""
    out.parent.mkdir(parents=True, exist_ok=True)
    ranked = signals.sort_values("rank")
    head = ranked.head(drill)
    by_month, exposed = drilldown_counts(head, window_days) if len(head) else (None, None)
    drills = "".join(_drill_section(r, by_month, exposed) for _, r in head.iterrows())
    n_sig = int(signals["is_signal"].sum())
    doc = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>veille scan run {run_id}</title><style>{STYLE}</style>"
        f"<script type='text/javascript'>{get_plotlyjs()}</script></head><body>"
        f"<h1>Drug-safety screen, run {run_id}</h1>"
        f"<p>{len(signals)} drug x outcome pairs scanned; {n_sig} signals at the FDR level. "
        "Counts below 10 are shown as &lt;10.</p>"
        f"<h2>Ranked list (top {min(top, len(ranked))})</h2>{_table(ranked.head(top))}"
        f"<h2>Volcano</h2>{volcano(signals).to_html(full_html=False, include_plotlyjs=False)}"
        f"<h2>Drill-down (top {len(head)})</h2>{drills}</body></html>")
    out.write_text(doc, "utf-8")
    refresh_for(out)  # reports/index.html lists it
    return out
