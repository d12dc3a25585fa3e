"""Inline SVG pictures for the report: a provider's profile against its peers, the shopper network."""

from __future__ import annotations

from html import escape

import pandas as pd


def profile_svg(profile: pd.DataFrame, width: int = 560) -> str:
    """Horizontal bars of robust z-scores per feature (columns feature, robust_z), 0 in the middle."""
    row_h, left, mid = 22, 190, (width + 190) // 2
    height = row_h * len(profile) + 30
    span = max(3.0, float(profile["robust_z"].abs().max() or 0))
    scale = (width - mid - 10) / span
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="12">',
             f'<line x1="{mid}" y1="0" x2="{mid}" y2="{height - 20}" stroke="#444"/>']
    for i, row in enumerate(profile.itertuples()):
        y = 5 + i * row_h
        z = float(row.robust_z)
        w = abs(z) * scale
        x = mid if z >= 0 else mid - w
        color = "#c0392b" if z >= 3 else "#7f8c8d"
        parts.append(f'<text x="{left - 6}" y="{y + 14}" text-anchor="end">{escape(str(row.feature))}</text>')
        parts.append(f'<rect x="{x:.1f}" y="{y + 3}" width="{max(w, 1):.1f}" height="14" fill="{color}"/>')
        parts.append(f'<text x="{width - 4}" y="{y + 14}" text-anchor="end">z {z:.1f}</text>')
    parts.append(f'<text x="{mid}" y="{height - 5}" text-anchor="middle">robust z vs peer median</text>')
    parts.append("</svg>")
    return "".join(parts)


def network_svg(edges: pd.DataFrame, width: int = 760) -> str:
    """Patients (left), prescribers (middle), pharmacies (right); edges = columns patient,
    prescriber, pharmacy (one row per dispensing). Labels are pseudonymous ids."""
    cols = {"patient": 60, "prescriber": width // 2, "pharmacy": width - 60}
    nodes = {c: sorted(edges[c].dropna().unique()) for c in cols}
    rows = max(len(v) for v in nodes.values()) or 1
    height = 40 + rows * 24
    pos = {}
    for c, ids in nodes.items():
        gap = (height - 40) / max(len(ids), 1)
        for i, n in enumerate(ids):
            pos[(c, n)] = (cols[c], 30 + gap * (i + 0.5))
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-size="10">']
    for c, x in cols.items():
        parts.append(f'<text x="{x}" y="14" text-anchor="middle" font-weight="bold">{c}s</text>')
    seen = set()
    for r in edges.itertuples():
        for a, b in (("patient", "prescriber"), ("prescriber", "pharmacy")):
            key = (a, getattr(r, a), b, getattr(r, b))
            if key in seen or (a, key[1]) not in pos or (b, key[3]) not in pos:
                continue
            seen.add(key)
            (x1, y1), (x2, y2) = pos[(a, key[1])], pos[(b, key[3])]
            parts.append(f'<line x1="{x1}" y1="{y1:.1f}" x2="{x2}" y2="{y2:.1f}" '
                         f'stroke="#2980b9" stroke-opacity="0.35"/>')
    colors = {"patient": "#c0392b", "prescriber": "#27ae60", "pharmacy": "#8e44ad"}
    for (c, n), (x, y) in pos.items():
        parts.append(f'<circle cx="{x}" cy="{y:.1f}" r="5" fill="{colors[c]}"/>')
        anchor, dx = ("end", -8) if c == "patient" else ("start", 8)
        parts.append(f'<text x="{x + dx}" y="{y + 3:.1f}" text-anchor="{anchor}">{escape(str(n))}</text>')
    parts.append("</svg>")
    return "".join(parts)
