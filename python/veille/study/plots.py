"""The study report's charts as plotly figures (drawn by veille.report): Kaplan-Meier curves and
the forest plot of hazard ratios."""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from veille.privacy import THRESHOLD, mask_count
from veille.study.cox import Z95 as Z

COLORS = {1: "#c0392b", 0: "#2c3e50"}
BANDS = {1: "rgba(192,57,43,0.15)", 0: "rgba(44,62,80,0.15)"}


def km_figure(curves: dict[int, pd.DataFrame], labels: dict[int, str], sizes: dict[int, int], title: str,
              events: dict[int, int] | None = None) -> go.Figure | None:
    """Kaplan-Meier curves with 95% bands; legend sizes follow the small-cell rule, and a curve
    of fewer than 10 subjects or 10 events is not drawn (its steps would count them): None when
    no curve can be drawn."""
    fig = go.Figure()
    drawn = False
    for g in (1, 0):
        c = curves.get(g)
        if c is None or c.empty:
            continue
        name = f"{labels[g]} (n = {mask_count(sizes[g])})"
        if sizes[g] < THRESHOLD or (events is not None and events[g] < THRESHOLD):
            why = "" if sizes[g] < THRESHOLD else f", {mask_count(events[g])} events"
            fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", line={"color": COLORS[g]},
                                     name=f"{labels[g]} (n = {mask_count(sizes[g])}{why}: curve not shown)"))
            continue
        drawn = True
        years = (c["day"] / 365.25).to_numpy()
        fig.add_trace(go.Scatter(x=years, y=c["ci_high"], mode="lines", line={"width": 0, "shape": "hv"},
                                 showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=years, y=c["ci_low"], mode="lines", line={"width": 0, "shape": "hv"},
                                 fill="tonexty", fillcolor=BANDS[g], showlegend=False, hoverinfo="skip"))
        fig.add_trace(go.Scatter(x=years, y=c["survival"], mode="lines", name=name,
                                 line={"color": COLORS[g], "shape": "hv"},
                                 hovertemplate="%{x:.2f} years: %{y:.3f}<extra>" + labels[g] + "</extra>"))
    fig.update_layout(title={"text": title, "font": {"size": 14}}, width=720, height=400,
                      xaxis_title="years since entry", yaxis_title="event-free proportion",
                      legend={"x": 0.01, "y": 0.02, "xanchor": "left", "yanchor": "bottom"})
    return fig if drawn else None


def forest_figure(rows: pd.DataFrame, title: str) -> go.Figure:
    """Hazard ratios with 95% CIs on a log axis, a line at 1; ``rows`` has label, hr, ci_low,
    ci_high (a row without hr is labelled not estimable)."""
    rows = rows.reset_index(drop=True)
    ok = rows["hr"].notna().to_numpy()
    labels = [f"{lab}{'' if o else '  (not estimable)'}" for lab, o in zip(rows["label"], ok, strict=True)]
    est = rows[ok]
    fig = go.Figure(go.Scatter(x=[1.0] * len(labels), y=labels, mode="markers", marker={"opacity": 0},
                               hoverinfo="skip", showlegend=False))  # a row for every label
    fig.add_trace(go.Scatter(
        x=est["hr"], y=[labels[i] for i in np.flatnonzero(ok)], mode="markers",
        marker={"symbol": "square", "color": "#2c3e50", "size": 8},
        error_x={"type": "data", "symmetric": False, "array": est["ci_high"] - est["hr"],
                 "arrayminus": est["hr"] - est["ci_low"], "color": "#7f8c8d"},
        hovertemplate="%{y}: HR %{x:.2f}<extra></extra>", showlegend=False))
    fig.add_vline(x=1.0, line={"color": "#c0392b", "dash": "dash", "width": 1})
    fig.update_layout(title={"text": title, "font": {"size": 14}}, width=820, height=120 + 26 * len(rows),
                      xaxis={"type": "log", "title": "hazard ratio (95% CI, log scale)"},
                      yaxis={"categoryorder": "array", "categoryarray": labels[::-1], "automargin": True})
    return fig


def dose_response_figure(rows: pd.DataFrame, title: str, axis: str = "cumulative dose since index",
                         published: pd.DataFrame | None = None) -> go.Figure:
    """Hazard ratio (95% CI, log axis) by cumulative category (dose or duration), in category
    order, with a line at 1; ``rows`` has label, hr, ci_low, ci_high (a category without hr is
    marked not estimable); ``published`` (same columns) adds the published categories as hollow
    markers beside. No counts: nothing here needs the small-cell rule."""
    rows = rows.reset_index(drop=True)
    ok = rows["hr"].notna().to_numpy()
    labels = [f"{lab}{'' if o else ' (not estimable)'}" for lab, o in zip(rows["label"], ok, strict=True)]
    est = rows[ok]
    fig = go.Figure(go.Scatter(x=labels, y=[1.0] * len(labels), mode="markers", marker={"opacity": 0},
                               hoverinfo="skip", showlegend=False, offsetgroup="study"))
    fig.add_trace(go.Scatter(
        x=[labels[i] for i in np.flatnonzero(ok)], y=est["hr"], mode="lines+markers", offsetgroup="study",
        marker={"symbol": "square", "color": "#2c3e50", "size": 9}, line={"color": "#2c3e50", "dash": "dot"},
        error_y={"type": "data", "symmetric": False, "array": est["ci_high"] - est["hr"],
                 "arrayminus": est["hr"] - est["ci_low"], "color": "#7f8c8d"},
        hovertemplate="%{x}: HR %{y:.2f}<extra></extra>", name="this study", showlegend=published is not None))
    if published is not None:
        shown = dict(zip(rows["label"], labels, strict=True))
        fig.add_trace(go.Scatter(
            x=[shown.get(lab, lab) for lab in published["label"]], y=published["hr"], mode="markers",
            offsetgroup="published",
            marker={"symbol": "diamond-open", "color": "#c0392b", "size": 11},
            error_y={"type": "data", "symmetric": False, "array": published["ci_high"] - published["hr"],
                     "arrayminus": published["hr"] - published["ci_low"], "color": "#e6a09a"},
            hovertemplate="%{x}: published HR %{y:.2f}<extra></extra>", name="published"))
    fig.add_hline(y=1.0, line={"color": "#c0392b", "dash": "dash", "width": 1})
    fig.update_layout(title={"text": title, "font": {"size": 14}}, width=720, height=420,
                      scattermode="group" if published is not None else "overlay", scattergap=0.6,
                      xaxis={"title": axis, "categoryorder": "array", "categoryarray": labels},
                      yaxis={"type": "log", "title": "hazard ratio vs comparator (95% CI, log scale)"})
    return fig


def funnel_figure(controls: pd.DataFrame, null, title: str) -> go.Figure:
    """Negative controls' estimates (``controls``: label, hr, se) against their standard error,
    with the 95% limits of the nominal null (HR 1, sampling error only) and of the fitted
    empirical null (``null``: mu, sigma): controls outside the nominal funnel but inside the
    calibrated one are the systematic error the calibration accounts for."""
    se_max = max(float(controls["se"].max()) * 1.15, 0.2)
    se = np.linspace(0.0, se_max, 60)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=np.r_[np.exp(-Z * se), np.exp(Z * se)[::-1]], y=np.r_[se, se[::-1]], mode="lines",
                             line={"color": "#7f8c8d", "dash": "dash"}, name="nominal null (95%)"))
    if null is not None and null.fitted:
        sd = np.sqrt(null.sigma**2 + se**2)
        fig.add_trace(go.Scatter(x=np.r_[np.exp(null.mu - Z * sd), np.exp(null.mu + Z * sd)[::-1]],
                                 y=np.r_[se, se[::-1]], mode="lines", line={"color": "#c0392b"},
                                 name=f"calibrated null (95%): mu {null.mu:+.2f}, sigma {null.sigma:.2f}"))
    fig.add_trace(go.Scatter(x=controls["hr"], y=controls["se"], mode="markers", text=controls["label"],
                             marker={"color": "#2c3e50", "size": 8}, name="negative controls",
                             hovertemplate="%{text}: HR %{x:.2f}, SE %{y:.2f}<extra></extra>"))
    fig.update_layout(title={"text": title, "font": {"size": 14}}, width=720, height=420,
                      xaxis={"type": "log", "title": "hazard ratio (log scale)"},
                      yaxis={"title": "standard error of the log HR", "autorange": "reversed"},
                      legend={"x": 0.01, "y": 0.01, "xanchor": "left", "yanchor": "bottom"})
    return fig


def lag_panels(panels: list[tuple[str, pd.DataFrame]], title: str, x_title: str, cols: int = 3) -> go.Figure:
    """ConvSCCS lag curves, one panel each: ``panels`` = (panel title, frame with x, ri, ci_low,
    ci_high, label) where x is the time since a start and label names the lag on hover; the
    relative incidence as steps with its 95% band, a line at 1, log axes. No count is drawn."""
    from plotly.subplots import make_subplots

    rows = -(-len(panels) // cols)
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=[t for t, _ in panels], shared_xaxes=True,
                        horizontal_spacing=0.05, vertical_spacing=0.14)
    for i, (_, c) in enumerate(panels):
        at = {"row": i // cols + 1, "col": i % cols + 1}
        if len(c) > 1:  # the last lag drawn as a step of the same width as the others
            end = c.iloc[[-1]].assign(x=c["x"].iloc[-1] + (c["x"].iloc[-1] - c["x"].iloc[-2]))
            c = pd.concat([c, end], ignore_index=True)
        for y, extra in (("ci_high", {}), ("ci_low", {"fill": "tonexty", "fillcolor": BANDS[1]})):
            fig.add_trace(go.Scatter(x=c["x"], y=c[y], mode="lines", line={"width": 0, "shape": "hv"},
                                     showlegend=False, hoverinfo="skip", **extra), **at)
        fig.add_trace(go.Scatter(x=c["x"], y=c["ri"], mode="lines", line={"color": COLORS[1], "shape": "hv"},
                                 showlegend=False, text=c["label"], customdata=np.stack([c["ci_low"], c["ci_high"]], axis=1),
                                 hovertemplate="%{text}: RI %{y:.2f} (%{customdata[0]:.2f}-%{customdata[1]:.2f})"
                                               "<extra></extra>"), **at)
        fig.add_hline(y=1.0, line={"color": "#888", "dash": "dot", "width": 1}, **at)
    fig.update_yaxes(type="log")
    fig.update_xaxes(title_text=x_title, row=rows)
    fig.update_yaxes(title_text="relative incidence", col=1)
    fig.update_layout(title=title, height=260 * rows + 90, width=1000, margin={"t": 90})
    return fig
