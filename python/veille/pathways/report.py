"""`veille pathways report`, drawn with the report kit (veille.report): care-use rates, adherence, indicators and funnel plots, treatment-path sankey and
sunburst, and the trajectory clusters. Every count below 10 is shown as <10 or left out."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import sqlalchemy as sa

from veille.marts import marts_for
from veille.pathways.rates import funnel_limits
from veille.pathways.sequences import MONITORING_LABELS, OUT, TREATMENT_LABELS, encode, parts
from veille.pathways.summaries import mask_paths
from veille.privacy import THRESHOLD, mask_count
from veille.report import Report


def _read(conn: sa.Connection, sql: str, run_id: int) -> pd.DataFrame:
    return pd.read_sql(sa.text(sql), conn, params={"r": run_id})


def build(conn: sa.Connection, run_id: int, out: Path) -> Path:
    page = Report(f"Care pathways, run {run_id}", "care pathways",
                  "How do patients use care, does practice follow the guidelines, which typical "
                  "trajectories exist?", subtitle="rates resting on fewer than 10 patients or events are left out")
    _care_use(page, conn, run_id)
    _adherence(page, conn, run_id)
    _indicators(page, conn, run_id)
    _paths(page, conn, run_id)
    _clusters(page, conn, run_id)
    return page.write(out)


def _care_use(page: Report, conn: sa.Connection, run_id: int) -> None:
    page.heading("Care use (age-standardized to the European Standard Population 2013)",
                 source="results.pathways_care_rate <- veille.pathways.summaries.care_rates "
                        "(veille.pathways.rates.standardized_rate) on pathways.fct_pathways_care_use")
    df = _read(conn, "select * from results.pathways_care_rate where run_id = :r", run_id)
    if df.empty:
        page.text("No care-use data.")
        return
    overall = df[df["stratum_kind"] == "all"]
    fig = go.Figure()
    for measure, g in overall.groupby("measure"):
        if measure in ("amount_reimbursed", "hospital_days"):
            continue
        g = g.sort_values("year")
        fig.add_trace(go.Scatter(x=g["year"], y=g["std_rate"], name=measure, mode="lines+markers",
                                 error_y={"type": "data", "symmetric": False,
                                          "array": g["ci_high"] - g["std_rate"],
                                          "arrayminus": g["std_rate"] - g["ci_low"]}))
    fig.update_layout(title="Standardized rates per person-year", xaxis_title="year", xaxis_dtick=1,
                      yaxis_title="per person-year")
    page.figure(fig)
    tab = df[df["stratum_kind"].isin(["all", "sex"])].copy()
    tab.loc[tab["events"] < THRESHOLD, ["crude_rate", "std_rate", "ci_low", "ci_high"]] = np.nan
    page.table(tab[["measure", "stratum_kind", "stratum", "year", "events", "person_years",
                    "crude_rate", "std_rate", "ci_low", "ci_high"]], counts=["events"])


def _adherence(page: Report, conn: sa.Connection, run_id: int) -> None:
    page.heading("Adherence (PDC with carry-over, fixed window; adherent = PDC >= 0.8)",
                 source="results.pathways_adherence <- veille.pathways.summaries.adherence "
                        "on pathways.fct_pathways_adherence")
    df = _read(conn, "select * from results.pathways_adherence where run_id = :r order by drug_class",
               run_id)
    df = df[df["patients"] >= THRESHOLD]
    if df.empty:
        page.text("No class with at least 10 patients.")
        return
    fig = go.Figure(go.Bar(x=df["drug_class"], y=df["adherent_share"],
                           error_y={"type": "data", "symmetric": False,
                                    "array": df["ci_high"] - df["adherent_share"],
                                    "arrayminus": df["adherent_share"] - df["ci_low"]}))
    fig.update_layout(title="Share adherent (PDC >= 0.8)", yaxis_range=[0, 1])
    page.figure(fig)
    page.table(df[["drug_class", "patients", "mean_pdc", "median_pdc", "adherent",
                   "adherent_share", "ci_low", "ci_high", "mean_mpr"]], counts=["patients", "adherent"])


def _indicators(page: Report, conn: sa.Connection, run_id: int) -> None:
    page.heading("Guideline indicators",
                 source="results.pathways_indicator_rate <- veille.pathways.summaries.indicator_rates on "
                        "pathways.fct_pathways_indicator_patient; funnel limits veille.pathways.rates.funnel_limits")
    df = _read(conn, "select r.*, d.label from results.pathways_indicator_rate r "
                     "join results.pathways_indicator_definition d using (indicator_id) "
                     "where run_id = :r", run_id)
    if df.empty:
        page.text("No indicator population found.")
        return
    nat = df[df["level"] == "national"].copy()
    small = (nat["numerator"] < THRESHOLD) | (nat["denominator"] - nat["numerator"] < THRESHOLD)
    nat.loc[small, ["rate", "ci_low", "ci_high"]] = np.nan
    page.table(nat[["indicator_id", "label", "denominator", "numerator", "rate", "ci_low",
                    "ci_high"]], counts=["denominator", "numerator"])
    for ind, g in df.groupby("indicator_id"):
        p0 = float(g.loc[g["level"] == "national", "rate"].iloc[0])
        for level in ("prescriber", "department"):
            u = g[(g["level"] == level) & (g["numerator"] >= THRESHOLD)
                  & (g["denominator"] - g["numerator"] >= THRESHOLD)]
            if u.empty or not 0 < p0 < 1:
                continue
            n = np.linspace(max(THRESHOLD, 1), max(u["denominator"].max(), THRESHOLD) * 1.05, 200)
            fig = go.Figure()
            for level_ci, dash in ((0.95, "dash"), (0.998, "dot")):
                lo, hi = funnel_limits(p0, np.round(n), level_ci)
                for y, nm in ((lo, f"{level_ci:.1%} lower"), (hi, f"{level_ci:.1%} upper")):
                    fig.add_trace(go.Scatter(x=n, y=y, mode="lines", name=nm,
                                             line={"dash": dash, "color": "grey"}))
            fig.add_hline(y=p0, line_color="black")
            fig.add_trace(go.Scatter(x=u["denominator"], y=u["rate"], mode="markers",
                                     name=level, text=u["unit"]))
            fig.update_layout(title=f"{ind}: funnel plot per {level} (units with at least 10 "
                                    "patients meeting and 10 not meeting the indicator)",
                              xaxis_title="patients (periods)", yaxis_title="rate",
                              yaxis_range=[0, 1])
            page.figure(fig)


def _paths(page: Report, conn: sa.Connection, run_id: int) -> None:
    page.heading("Treatment paths (glucose-lowering classes, TreatmentPatterns conventions)",
                 source="results.pathways_path <- veille.pathways.summaries.paths on "
                        "pathways.fct_pathways_treatment_lines")
    df = _read(conn, "select path, patients from results.pathways_path where run_id = :r", run_id)
    masked = mask_paths(df)
    if masked.empty:
        page.text("No path followed by at least 10 patients.")
        return
    page.text("Paths followed by fewer than 10 patients are cut back to a shorter prefix "
           "('> other') or left out.")
    page.figure(sankey(masked))
    page.figure(sunburst(masked))
    page.table(masked.head(30), counts=["patients"])


def sankey(paths: pd.DataFrame) -> go.Figure:
    """Sankey of lines 1..5: a node per (line, regimen), links summed over paths."""
    links: dict[tuple[str, str], int] = {}
    for path, n in zip(paths["path"], paths["patients"], strict=True):
        steps = path.split(" > ")
        for i in range(len(steps) - 1):
            key = (f"{i + 1}. {steps[i]}", f"{i + 2}. {steps[i + 1]}")
            links[key] = links.get(key, 0) + int(n)
        if len(steps) == 1:
            key = (f"1. {steps[0]}", "2. (stop)")
            links[key] = links.get(key, 0) + int(n)
    links = {k: v for k, v in links.items() if v >= THRESHOLD}
    nodes = sorted({x for k in links for x in k})
    index = {x: i for i, x in enumerate(nodes)}
    fig = go.Figure(go.Sankey(
        node={"label": nodes, "pad": 12},
        link={"source": [index[a] for a, _ in links], "target": [index[b] for _, b in links],
              "value": list(links.values())}))
    fig.update_layout(title="Lines of therapy (sankey; flows of fewer than 10 patients hidden)")
    return fig


def sunburst(paths: pd.DataFrame) -> go.Figure:
    """Sunburst: rings = lines of therapy; each sector's value = patients on that prefix."""
    totals: dict[str, int] = {}
    for path, n in zip(paths["path"], paths["patients"], strict=True):
        steps = path.split(" > ")
        for i in range(1, len(steps) + 1):
            pre = " > ".join(steps[:i])
            totals[pre] = totals.get(pre, 0) + int(n)
    ids = list(totals)
    fig = go.Figure(go.Sunburst(
        ids=ids, labels=[i.split(" > ")[-1] for i in ids],
        parents=[" > ".join(i.split(" > ")[:-1]) for i in ids],
        values=[totals[i] for i in ids], branchvalues="total"))
    fig.update_layout(title="Lines of therapy (sunburst; inner ring = first line)")
    return fig


def _clusters(page: Report, conn: sa.Connection, run_id: int) -> None:
    ks = _read(conn, "select * from results.pathways_cluster_k where run_id = :r order by k", run_id)
    cl = _read(conn, "select * from results.pathways_cluster where run_id = :r order by cluster", run_id)
    method = conn.execute(sa.text("select coalesce(settings->>'method', 'clara') from "
                                  "results.pathways_run where run_id = :r"), {"r": run_id}).scalar()
    mixture = method == "mixture"
    page.heading("Trajectory clusters (monthly states, "
                 + ("latent classes of the monthly counts)" if mixture else "CLARA k-medoids)"),
                 source="results.pathways_cluster <- veille.pathways.run (veille.pathways."
                        + ("mixture.fit_em" if mixture else "clustering.kmedoids")
                        + ") on pathways.fct_pathways_state_sequences, pathways.fct_pathways_monthly_contacts")
    if cl.empty:
        page.text("No trajectories to cluster.")
        return
    if not ks.empty:
        chosen = int(ks.loc[ks["chosen"], "k"].iloc[0]) if ks["chosen"].any() else None
        if mixture:
            fig = go.Figure([
                go.Scatter(x=ks["k"], y=ks["icl"], mode="lines+markers", name="ICL (sample)"),
                go.Scatter(x=ks["k"], y=ks["bic"], mode="lines+markers", name="BIC (sample)"),
            ])
            fig.update_layout(title=f"Choice of k: smallest ICL (k = {chosen})", xaxis_title="k",
                              yaxis_title="criterion (lower is better)")
        else:
            fig = go.Figure([
                go.Scatter(x=ks["k"], y=ks["total_distance"], mode="lines+markers",
                           name="total distance to medoids (sample)"),
                go.Scatter(x=ks["k"], y=ks["silhouette"], mode="lines+markers", yaxis="y2",
                           name="average silhouette width"),
            ])
            fig.update_layout(title=f"Choice of k: elbow of the total distance (k = {chosen})",
                              xaxis_title="k", yaxis_title="total distance",
                              yaxis2={"overlaying": "y", "side": "right", "title": "silhouette"})
        page.figure(fig)
    rows = []
    rates: dict[str, dict[str, float]] = {}
    central: dict[str, list[str]] = {}
    for _, c in cl.iterrows():
        d = c["description"] if isinstance(c["description"], dict) else json.loads(c["description"])
        if c["size"] >= THRESHOLD and d.get("central"):
            central[f"cluster {c['cluster']}"] = d["central"]
        row = {"cluster": c["cluster"], "patients": c["size"]}
        row.update({k: round(v, 3) for k, v in d["treatment_share"].items()})
        row.update({"monitored": round(d["monitored_share"], 3),
                    "complete": round(d.get("complete_monitoring_share", 0.0), 3),
                    "hospitalised": round(d["hospitalised_share"], 3),
                    "mean age": round(d["mean_age"], 1), "women": round(d["female_share"], 3)})
        rows.append(row)
        if "per_year" in d:
            rates[f"cluster {c['cluster']}"] = d["per_year"] | {
                f"{ch} (share)": v for ch, v in d.get("share", {}).items()}
        row.update({f"{ch} (share)": round(v, 3) for ch, v in d.get("share", {}).items()})
    page.table(pd.DataFrame(rows), counts=["patients"])
    if rates:
        page.figure(_rate_profiles(pd.DataFrame(rates)))
    if central:
        page.figure(typical_sequences(central))
    members = _read(conn, "select patient_id, cluster from results.pathways_cluster_member where run_id = :r",
                    run_id)
    target = conn.execute(sa.text("select coalesce(settings ->> 'target', 'default') from results.pathways_run "
                                  "where run_id = :r"), {"r": run_id}).scalar()
    states = marts_for(target, conn).read("pathways.fct_pathways_state_sequences",
                                          {"patient_id": members["patient_id"].tolist()},
                                          columns=["patient_id", "states"])
    seq = members.merge(states, on="patient_id").sort_values(["cluster", "patient_id"], ignore_index=True)
    for c, g in seq.groupby("cluster"):
        if len(g) < THRESHOLD:
            continue
        codes = encode(g["states"].tolist())
        page.figure(state_distribution(codes, f"Cluster {c}: states by month ({mask_count(len(g))} patients)"))
        page.figure(index_plot(codes, f"Cluster {c}: index plot (100 random patients)"))


def _rate_profiles(rates: pd.DataFrame) -> go.Figure:
    """Heatmap of the clusters' yearly event rates and Binomial shares (rows = channels): colour =
    the value over the channel's highest cluster value, text = the rate per patient-year, or the
    share (rows named '(share)')."""
    scaled = rates.div(rates.max(axis=1).replace(0, 1), axis=0)
    fig = go.Figure(go.Heatmap(
        z=scaled.to_numpy(), x=list(rates.columns), y=[i.replace("_", " ") for i in rates.index],
        text=rates.round(2).to_numpy(), texttemplate="%{text}", colorscale="Blues", zmin=0,
        zmax=1, showscale=False, hovertemplate="%{y}, %{x}: %{text}<extra></extra>"))
    fig.update_layout(title="What sets the clusters apart: events per patient-year, and shares "
                            "(latent-class parameters)", yaxis_autorange="reversed",
                      height=80 + 32 * len(rates.index))
    return fig


def typical_sequences(central: dict[str, list[str]]) -> go.Figure:
    """One row per central sequence of each cluster (the first is the cluster's medoid), in the
    colours of the state-distribution plots: the trajectory to name the cluster by."""
    labels, rows = [], []
    for name, seqs in central.items():
        for j, letters in enumerate(seqs):
            labels.append(f"{name} · {'medoid' if j == 0 else f'#{j + 1}'}")
            rows.append(letters)
    cat = _category(encode(rows))
    top = len(CATEGORY_COLORS) - 1
    text = np.array(CATEGORY_LABELS, dtype=object)[cat]
    fig = go.Figure(go.Heatmap(z=cat, y=labels, colorscale=CATEGORY_SCALE, zmin=0, zmax=top, showscale=False,
                               customdata=text, xgap=1, ygap=2,
                               hovertemplate="%{y}, month %{x}: %{customdata}<extra></extra>"))
    fig.update_layout(title="Typical sequences: each cluster's most central trajectories "
                            "(treatment, monitoring per month)", xaxis_title="month since first dispensing",
                      yaxis_autorange="reversed", height=120 + 24 * len(labels))
    return fig


def _category(codes: np.ndarray) -> np.ndarray:
    """0..11 = treatment level x monitoring level, 12 = not observed."""
    t, m, _ = parts(codes)
    return np.where(codes == OUT, 12, t * 3 + m)


CATEGORY_LABELS = [f"{t}, {m}" for t in TREATMENT_LABELS for m in MONITORING_LABELS] + [
    "not observed"]
CATEGORY_COLORS = ["#f0f0f0", "#d9d9d9", "#bdbdbd",  # no treatment
                   "#deebf7", "#9ecae1", "#4292c6",  # one class
                   "#e5f5e0", "#a1d99b", "#41ab5d",  # two+ classes
                   "#fee6ce", "#fdae6b", "#e6550d",  # insulin
                   "#ffffff"]
# the categories' colours as a discrete plotly colour scale over 0..12 (heatmaps of sequences)
CATEGORY_SCALE = [[j / (len(CATEGORY_COLORS) - 1), c] for j, c in enumerate(CATEGORY_COLORS)]


def state_distribution(codes: np.ndarray, title: str) -> go.Figure:
    cat = _category(codes)
    months = np.arange(codes.shape[1])
    fig = go.Figure()
    for j, label in enumerate(CATEGORY_LABELS):
        share = (cat == j).mean(axis=0)
        fig.add_trace(go.Bar(x=months, y=share, name=label, marker_color=CATEGORY_COLORS[j]))
    fig.update_layout(barmode="stack", title=title, xaxis_title="month since first dispensing",
                      yaxis_title="share", bargap=0)
    return fig


def index_plot(codes: np.ndarray, title: str, n: int = 100, seed: int = 0) -> go.Figure:
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(codes), size=min(n, len(codes)), replace=False)
    cat = _category(codes[pick])
    cat = cat[np.lexsort(cat.T[::-1])]
    top = len(CATEGORY_COLORS) - 1
    fig = go.Figure(go.Heatmap(z=cat, colorscale=CATEGORY_SCALE, zmin=0, zmax=top, showscale=False,
                               hovertemplate="month %{x}: %{z}<extra></extra>"))
    fig.update_layout(title=title, xaxis_title="month since first dispensing",
                      yaxis_title="patients", yaxis_showticklabels=False)
    return fig
