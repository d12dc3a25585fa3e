"""The report's pictures, as plotly figures: a provider's profile against its peers, and the
network of doctor shoppers. No count is drawn (z-scores, and which actors are linked)."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go


def profile_figure(profile: pd.DataFrame) -> go.Figure:
    """Horizontal bars of robust z-scores per feature (columns feature, robust_z); red from z 3."""
    z = profile["robust_z"].astype(float)
    fig = go.Figure(go.Bar(
        x=z, y=profile["feature"].astype(str), orientation="h",
        marker_color=["#c0392b" if v >= 3 else "#7f8c8d" for v in z],
        text=[f"z {v:.1f}" for v in z], textposition="outside",
        hovertemplate="%{y}: robust z %{x:.2f}<extra></extra>"))
    span = max(3.0, float(z.abs().max() or 0)) * 1.2
    fig.update_layout(height=60 + 24 * len(profile), width=760, margin={"l": 10, "r": 10, "t": 10, "b": 40},
                      xaxis={"title": "robust z vs peer median", "range": [-span, span], "zeroline": True},
                      yaxis={"autorange": "reversed"}, showlegend=False)
    return fig


_COLUMNS = {"patient": 0.0, "prescriber": 0.5, "pharmacy": 1.0}
_COLORS = {"patient": "#c0392b", "prescriber": "#27ae60", "pharmacy": "#8e44ad"}


def network_figure(edges: pd.DataFrame) -> go.Figure:
    """Patients (left), prescribers (middle), pharmacies (right), a line for each pair seen in
    a dispensing (columns patient, prescriber, pharmacy). Labels are pseudonymous ids."""
    nodes = {c: sorted(edges[c].dropna().astype(str).unique()) for c in _COLUMNS}
    pos = {(c, n): (x, (i + 0.5) / max(len(nodes[c]), 1))
           for c, x in _COLUMNS.items() for i, n in enumerate(nodes[c])}
    pairs = set()
    for a, b in (("patient", "prescriber"), ("prescriber", "pharmacy")):
        for u, v in edges[[a, b]].dropna().astype(str).itertuples(index=False):
            pairs.add(((a, u), (b, v)))
    xs: list[float | None] = []
    ys: list[float | None] = []
    for p, q in sorted(pairs):
        xs += [pos[p][0], pos[q][0], None]
        ys += [pos[p][1], pos[q][1], None]
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines", line={"color": "rgba(41,128,185,0.35)", "width": 1},
                               hoverinfo="skip", showlegend=False))
    for c, x in _COLUMNS.items():
        fig.add_trace(go.Scatter(
            x=[x] * len(nodes[c]), y=[pos[(c, n)][1] for n in nodes[c]], mode="markers+text", name=f"{c}s",
            text=nodes[c], textposition="middle left" if c == "patient" else "middle right",
            marker={"size": 9, "color": _COLORS[c]}, hovertemplate=f"{c} %{{text}}<extra></extra>"))
    rows = max((len(v) for v in nodes.values()), default=1)
    fig.update_layout(height=120 + 22 * rows, width=900, margin={"l": 140, "r": 140, "t": 30, "b": 10},
                      xaxis={"visible": False, "range": [-0.35, 1.35]}, yaxis={"visible": False, "autorange": "reversed"},
                      legend={"orientation": "h", "y": 1.05})
    return fig
