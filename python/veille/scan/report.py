"""The scan report, drawn with the report kit (veille.report): the ranked list, the volcano view
(BCPNN IC vs -log10 combined p), the ConvSCCS lag curves of the pairs it ranks highest, and a
drill-down per top signal (new outcomes by month since initiation, exposed cases by age group
and sex). Every count below 10 is shown as ``<10``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from markupsafe import Markup, escape

from veille.privacy import mask_breakdown, mask_count
from veille.report import Report, table_html
from veille.scan.drilldown import drilldown_counts
from veille.study.plots import lag_panels

COUNT_COLUMNS = ["ssa_drug_first", "ssa_outcome_first", "oe_observed", "oe_latent_observed",
                 "tree_risk", "tree_control"]


def _fmt(x: float, digits: int = 2) -> str:
    if x is None or np.isnan(x):
        return ""
    return ("inf" if x > 0 else "-inf") if np.isinf(x) else f"{x:.{digits}f}"


def _pval(x: float) -> str:
    if x is None or np.isnan(x):
        return ""
    return f"{x:.1e}" if x < 1e-3 else f"{x:.3f}"


def masked_signals(signals: pd.DataFrame) -> pd.DataFrame:
    """The signal rows with every count column as exported text (``<10`` below 10)."""
    out = signals.copy()
    for col in COUNT_COLUMNS:
        out[col] = out[col].map(mask_count)
    return out


def ranked_table(signals: pd.DataFrame) -> Markup:
    """The ranked list: one row per pair, signals highlighted; counts masked, pairs 'a / b'."""
    m = masked_signals(signals)
    df = pd.DataFrame({
        "rank": m["rank"],
        "drug": m["drug_code"] + " (" + m["drug_level"] + ")",
        "outcome": m["outcome_code"] + " (" + m["outcome_level"] + ")",
        "SSA drug/outcome first": m["ssa_drug_first"] + " / " + m["ssa_outcome_first"],
        "ASR (95% CI)": [f"{_fmt(a)} ({_fmt(lo)}-{_fmt(hi)})" for a, lo, hi in
                         zip(m["ssa_asr"], m["ssa_ci_low"], m["ssa_ci_high"], strict=True)],
        "SSA p": m["ssa_p"].map(_pval), "observed": m["oe_observed"],
        "expected": m["oe_expected"].map(lambda v: _fmt(v, 1)),
        "IC (IC025)": [f"{_fmt(a)} ({_fmt(b)})" for a, b in zip(m["oe_ic"], m["oe_ic025"], strict=True)],
        "O/E p": m["oe_p"].map(_pval), "calibrated p": m["oe_cal_p"].map(_pval),
        "long-term observed / expected": m["oe_latent_observed"] + " / " + m["oe_latent_expected"].map(
            lambda v: _fmt(v, 1)),
        "long-term p": m["oe_latent_p"].map(_pval),
        "tree exposed/other (expected exposed)": m["tree_risk"] + " / " + m["tree_control"] + " ("
        + m["tree_expected"].map(lambda v: _fmt(v, 1)) + ")",
        "tree node p (family-wise p)": m["tree_node_p"].map(_pval) + " (" + m["tree_p"].map(_pval) + ")",
        "tree node": [f"{c} ({lv})" if isinstance(c, str) else "" for c, lv in
                      zip(m["tree_node_code"], m["tree_node_level"], strict=True)],
        "ConvSCCS RI (95% CI)": [f"{_fmt(a)} ({_fmt(lo)}-{_fmt(hi)})" if pd.notna(a) else "" for a, lo, hi in
                                 zip(m["conv_ri"], m["conv_ci_low"], m["conv_ci_high"], strict=True)],
        "ConvSCCS p": m["conv_p"].map(_pval),
        "combined p": m["combined_p"].map(_pval), "q": m["q_value"].map(_pval),
    })
    flags = dict(zip(df.index, m["is_signal"], strict=True))
    return table_html(df, left=["drug", "outcome"], row_class=lambda r: "hl" if flags[r.name] else "")


def volcano(signals: pd.DataFrame) -> go.Figure:
    """IC (x) against -log10 combined p (y); signals (q <= FDR level) highlighted."""
    m = masked_signals(signals)
    y = -np.log10(np.clip(signals["combined_p"].to_numpy(float), 1e-300, 1))
    text = [f"{escape(r.drug_code)} x {escape(r.outcome_code)}<br>rank {r.rank}, "
            f"observed {escape(r.oe_observed)}, SSA {escape(r.ssa_drug_first)}/"
            f"{escape(r.ssa_outcome_first)}" for r in m.itertuples(index=False)]
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


def lag_figure(signals: pd.DataFrame, lags: pd.DataFrame, top: int = 8) -> go.Figure | None:
    """The ConvSCCS lag curves (relative incidence per lag bucket after a start, 95% band), one
    panel for each of the ``top`` pairs with the smallest ConvSCCS p; None when the run has no
    curve. No count is drawn."""
    if lags is None or lags.empty or signals["conv_p"].notna().sum() == 0:
        return None
    best = signals[signals["conv_p"].notna()].sort_values(["conv_p", "rank"]).head(top)
    keys = ["drug_level", "drug_code", "outcome_code"]
    best = best.merge(lags[keys].drop_duplicates(), on=keys)
    if best.empty:
        return None
    panels = []
    for r in best.itertuples(index=False):
        c = lags[(lags["drug_level"] == r.drug_level) & (lags["drug_code"] == r.drug_code)
                 & (lags["outcome_code"] == r.outcome_code)].sort_values("lag")
        months = (c["lag_start_day"] / 30.4375).round(1)
        panels.append((f"{r.drug_code} x {r.outcome_code} (p {_pval(r.conv_p)})",
                       pd.DataFrame({"x": months, "ri": c["ri"], "ci_low": c["ci_low"], "ci_high": c["ci_high"],
                                     "label": "month " + months.astype(str)})))
    return lag_panels(panels, "ConvSCCS: relative incidence by time since an exposure start, 95% band "
                              "(the last lag lasts until the episode ends)", "months since a start", cols=4)


def _drill_section(row: pd.Series, by_month: pd.DataFrame, exposed: pd.DataFrame) -> Markup:
    key = (row.drug_level, row.drug_code, row.outcome_level, row.outcome_code)

    def select(frame: pd.DataFrame) -> pd.DataFrame:
        sel = ((frame["drug_level"] == key[0]) & (frame["drug_code"] == key[1])
               & (frame["outcome_level"] == key[2]) & (frame["outcome_code"] == key[3]))
        return frame[sel]

    months = select(by_month)
    ex = select(exposed)
    age = ex.groupby("age_group")["n"].sum()
    sex = ex.groupby("sex")["n"].sum()

    def breakdown(label: str, count: str, keys, counts) -> Markup:
        df = pd.DataFrame({label: [str(k) for k in keys], count: mask_breakdown([int(n) for n in counts])})
        return table_html(df, left=[label])

    title = (f"#{row['rank']} {row.drug_code} ({row.drug_level}) x {row.outcome_code} ({row.outcome_level})")
    return (Markup("<h3>") + escape(title) + Markup('</h3><div class="row">')
            + breakdown("months since initiation", "new outcomes", months["month"].astype(int), months["n"])
            + breakdown("age at outcome (exposed)", "cases", age.index, age.to_numpy())
            + breakdown("sex (exposed)", "cases", sex.index, sex.to_numpy()) + Markup("</div>"))


def write_report(signals: pd.DataFrame, out: Path, run_id: int, window_days: int = 365,
                 top: int = 100, drill: int = 10, lags: pd.DataFrame | None = None,
                 target: str = "default") -> Path:
    """Write the HTML report of a run to ``out`` (a file) and return its path; the drill-down
    counts come from the scan marts of dbt target ``target``."""
    ranked = signals.sort_values("rank")
    head = ranked.head(drill)
    by_month, exposed = drilldown_counts(head, window_days, target) if len(head) else (None, None)
    n_sig = int(signals["is_signal"].sum())
    page = Report(f"Drug-safety screen, run {run_id}", "signal scan",
                  "Which drug x outcome pairs stand out, every drug against every outcome?",
                  subtitle=f"{len(signals)} drug x outcome pairs scanned, {n_sig} signals at the FDR level")
    page.heading(f"Ranked list (top {min(top, len(ranked))})",
                 source="results.signal <- veille.scan.run.run_scan (veille.scan.stats, veille.scan.treescan) "
                        "on scan.scan_pair_counts, scan.scan_tree_events")
    page.html(ranked_table(ranked.head(top)))
    page.heading("Volcano")
    page.figure(volcano(signals))
    curves = lag_figure(signals, lags)
    if curves is not None:
        page.heading("ConvSCCS lag curves (the pairs it ranks highest)",
                     source="results.signal_lag <- veille.scan.conv.conv_scan (veille.study.convsccs) on "
                            "scan.scan_conv_cases, scan.scan_conv_starts")
        page.figure(curves)
    page.heading(f"Drill-down (top {len(head)})",
                 source="scan.scan_outcome_onsets, scan.scan_drug_initiations -> veille.scan.drilldown.drilldown_counts")
    for _, r in head.iterrows():
        page.html(_drill_section(r, by_month, exposed))
    return page.write(out)
