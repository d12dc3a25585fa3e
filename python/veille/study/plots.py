"""Matplotlib figures as inline SVG strings (reports stay one self-contained file)."""

from __future__ import annotations

import io

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from veille.privacy import THRESHOLD, mask_count


def _svg(fig) -> str:
    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    return text[text.index("<svg"):]


def km_svg(curves: dict[int, pd.DataFrame], labels: dict[int, str], sizes: dict[int, int], title: str,
           events: dict[int, int] | None = None) -> str:
    """Kaplan-Meier curves with 95% bands; legend sizes follow the small-cell rule, and a curve
    of fewer than 10 events is not drawn (its steps would count them)."""
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for g, color in ((1, "#c0392b"), (0, "#2c3e50")):
        c = curves.get(g)
        if c is None or c.empty:
            continue
        if sizes[g] < THRESHOLD:  # a curve of a handful of subjects shows each of them
            ax.plot([], [], color=color, label=f"{labels[g]} (n = {mask_count(sizes[g])}: curve not shown)")
            continue
        if events is not None and events[g] < THRESHOLD:  # one step per event
            ax.plot([], [], color=color, label=f"{labels[g]} (n = {mask_count(sizes[g])}, "
                                                f"{mask_count(events[g])} events: curve not shown)")
            continue
        ax.step(c["day"] / 365.25, c["survival"], where="post", color=color, label=f"{labels[g]} (n = {mask_count(sizes[g])})")
        ax.fill_between(c["day"] / 365.25, c["ci_low"], c["ci_high"], step="post", color=color, alpha=0.15)
    ax.set_xlabel("years since entry")
    ax.set_ylabel("event-free proportion")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return _svg(fig)


def forest_svg(rows: pd.DataFrame, title: str) -> str:
    """Hazard ratios with 95% CIs on a log axis; ``rows`` has label, hr, ci_low, ci_high."""
    rows = rows.reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.0))
    y = np.arange(len(rows))[::-1]
    ok = rows["hr"].notna().to_numpy()
    ax.errorbar(rows.loc[ok, "hr"], y[ok], xerr=[rows.loc[ok, "hr"] - rows.loc[ok, "ci_low"], rows.loc[ok, "ci_high"] - rows.loc[ok, "hr"]],
                fmt="s", color="#2c3e50", ecolor="#7f8c8d", capsize=2, markersize=4)
    ax.axvline(1.0, color="#c0392b", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FormatStrFormatter("%g"))
    lo, hi = ax.get_xlim()
    minor = matplotlib.ticker.FormatStrFormatter("%g") if hi / lo < 10 else matplotlib.ticker.NullFormatter()
    ax.xaxis.set_minor_formatter(minor)
    ax.set_yticks(y)
    ax.set_yticklabels([f"{lab}{'' if o else '  (not estimable)'}" for lab, o in zip(rows["label"], ok)], fontsize=7)
    ax.set_xlabel("hazard ratio (95% CI, log scale)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, axis="x")
    return _svg(fig)
