"""HTML reports: `reports/<study>/index.html` (self-contained); `reports/index.html` lists every report (veille.reports_index).

Every count goes through :func:`veille.privacy.mask_count` (small-cell rule); so that no
small count can be recovered either, an incidence rate resting on fewer than 10 events is left
out (rate x person-years would give the events back), and an attrition count whose difference
with the next count shown is 1 to 9 is hidden (`veille audit exports`, docs/privacy.md).
"""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path

import pandas as pd
from jinja2 import Environment

from veille.privacy import THRESHOLD, mask_count, mask_text
from veille.reports_index import write_index
from veille.study.plots import forest_svg, km_svg

_ENV = Environment(autoescape=True)
_ENV.filters["n"] = mask_count
_ENV.filters["f2"] = lambda v: "" if v is None or math.isnan(v) else f"{v:.2f}"
_ENV.filters["f1"] = lambda v: "" if v is None or math.isnan(v) else f"{v:.1f}"

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;color:#222;line-height:1.4}
table{border-collapse:collapse;margin:0.5em 0 1.2em;font-size:0.9em}
td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}th{background:#f3f3f3}
td:first-child,th:first-child{text-align:left}.flag{color:#c0392b;font-weight:bold}
.box{border:1px solid #555;border-radius:4px;padding:4px 10px;margin:0 auto;width:60%;text-align:center;background:#fafafa}
.arrow{text-align:center;color:#777}.warn{color:#a04000}.na{color:#a04000;font-style:italic}
dl{display:grid;grid-template-columns:16em auto;gap:2px 1em}dt{font-weight:bold}
"""

STUDY_TEMPLATE = _ENV.from_string(
    """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{{ s.title }}</title>
<style>{{ css }}</style></head><body>
<p><a href="../index.html">all studies</a></p>
<h1>{{ s.title }}</h1>
<p><b>Question.</b> {{ s.question }}</p>
<p>Run {{ run_id }} of {{ now }}. Counts below {{ threshold }} are shown as &lt;{{ threshold }}.</p>
<h2>Design</h2><dl>{% for k, v in design %}<dt>{{ k }}</dt><dd>{{ v }}</dd>{% endfor %}</dl>
{% if s.reference %}<p><b>Reference.</b> {{ s.reference.citation }}</p>{% endif %}
{% for c in comparisons %}
<h2>{{ c.exposure }} vs {{ c.comparator }}</h2>
<h3>Attrition</h3>
{% if c.attrition %}{% for a in c.attrition %}{% if not loop.first %}<div class="arrow">&darr;</div>{% endif %}
<div class="box">{{ a.step }}. {{ a.criterion }}<br>
exposed {{ a.shown[0] }} &middot; comparator {{ a.shown[1] }}</div>{% endfor %}
{% if c.attrition_hidden %}<p>&ndash;: hidden, so that no count below {{ threshold }} of subjects excluded can be found by subtracting the next count shown.</p>{% endif %}
{% else %}<p class="na">no attrition rows for this comparison</p>{% endif %}
{% if c.attrition_outcome %}<p>Then, per outcome (subjects left, exposed / comparator):</p>
<table><tr><th>step</th>{% for o in c.attrition_outcomes %}<th>{{ o }}</th>{% endfor %}</tr>
{% for crit, cells in c.attrition_outcome %}<tr><td>{{ crit }}</td>{% for o in c.attrition_outcomes %}<td>{% if cells[o] %}{{ cells[o][0] }} / {{ cells[o][1] }}{% endif %}</td>{% endfor %}</tr>{% endfor %}
</table>{% endif %}
{% if c.table1 is not none %}<h3>Table 1 ({{ c.table1_outcome }} population)</h3>
<table><tr><th>covariate</th><th>{{ c.exposure }}</th><th>{{ c.comparator }}</th><th>SMD before</th><th>SMD IPTW</th><th>SMD matched</th></tr>
<tr><td>subjects</td><td>{{ c.n1|n }}</td><td>{{ c.n0|n }}</td><td></td><td></td><td></td></tr>
{% for r in c.table1 %}<tr><td>{{ r.covariate }}</td><td>{{ r.v1 }}</td><td>{{ r.v0 }}</td>
{% for k in ('smd_before', 'smd_iptw', 'smd_matched') %}<td{% if r[k] is not none and r[k] == r[k] and r[k]|abs > 0.1 %} class="flag"{% endif %}>{{ r[k]|f2 }}</td>{% endfor %}</tr>{% endfor %}
</table><p>SMD above 0.1 in red.</p>{% endif %}
<h3>Incidence (per 1,000 person-years, exact 95% CI)</h3>
<table><tr><th>outcome</th><th>group</th><th>subjects</th><th>events</th><th>person-years</th><th>rate</th><th>95% CI</th></tr>
{% for r in c.incidence %}<tr><td>{{ r.outcome_id }}{% if r.nc %} (negative control){% endif %}</td><td>{{ r.group }}</td><td>{{ r.subjects|n }}</td><td>{{ r.events|n }}</td>
<td>{{ r.person_years|f1 }}</td><td>{{ r.rate|f2 }}</td><td>{{ r.ci_low|f2 }}&ndash;{{ r.ci_high|f2 }}</td></tr>{% endfor %}</table>
<h3>Hazard ratios</h3>
<table><tr><th>outcome</th><th>analysis</th><th>events exposed</th><th>events comparator</th><th>HR</th><th>95% CI</th><th>note</th></tr>
{% for e in c.estimates %}<tr><td>{{ e.outcome_id }}{% if e.is_negative_control %} (NC){% endif %}</td><td>{{ e.analysis }}{% if e.term != 'exposed' %} {{ e.term }}{% endif %}</td>
<td>{{ e.events_exposed|n }}</td><td>{{ e.events_comparator|n }}</td><td>{{ e.hr|f2 }}</td>
<td>{% if e.hr is not none %}{{ e.ci_low|f2 }}&ndash;{{ e.ci_high|f2 }}{% endif %}</td><td class="na">{{ e.message or '' }}</td></tr>{% endfor %}</table>
{{ c.forest|safe }}
{% for k in c.km %}{{ k|safe }}{% endfor %}
{% if c.nc_summary %}<p><b>Negative controls.</b> {{ c.nc_summary }}</p>{% endif %}
<h3>Diagnostics</h3><ul>{% for d in c.diagnostics %}<li{% if d.kind in ('not_estimable', 'balance') %} class="warn"{% endif %}>{{ d.outcome_id }}: {{ d.message }}</li>{% else %}<li>none</li>{% endfor %}</ul>
{% endfor %}
</body></html>"""
)

def _design(s) -> list[tuple[str, str]]:
    period = f"{s.study_period.start or 'start of data'} to {s.study_period.end or 'end of data'}"
    strategy = s.exposure_strategy
    return [
        ("base population", ", ".join(s.atc(s.base_population)) or "everyone"),
        ("age", f"{s.age.min if s.age.min is not None else 'any'} to {s.age.max if s.age.max is not None else 'any'}"),
        ("sex", {None: "both", 1: "men", 2: "women"}[s.sex]),
        ("study period", period),
        ("washout / prior observation", f"{s.washout} / {s.prior_observation} days"),
        ("minimum purchases", f"{s.min_purchases.count} within {s.min_purchases.window} days"),
        ("start delay (latency)", f"{s.start_delay} days"),
        ("exposure strategy", "intention to treat" if strategy.kind == "itt" else f"as treated, grace {strategy.grace} days"),
        ("maximum follow-up", f"{s.max_followup} days" if s.max_followup else "none"),
        ("outcomes", ", ".join(o.id for o in s.outcomes)),
        ("negative controls", ", ".join(o.id for o in s.negative_controls) or "none"),
        ("covariates", ", ".join(s.covariates.patient + [f"ATC {a}" for a in s.atc(s.covariates.atc)])),
        ("analyses", ", ".join(s.analyses) + f" (primary: {s.primary_analysis})"),
    ]


def _table1(res, n1: int, n0: int) -> list[dict]:
    rows = []
    for r in res.balance.to_dict("records"):
        binary = r["covariate"].startswith("atc_") or r["covariate"] in ("female", "ald_diabetes")
        vals = []
        for mean, n in ((r["mean_exposed"], n1), (r["mean_comparator"], n0)):
            if binary:
                count = round(mean * n)
                vals.append(f"<{THRESHOLD}" if count < THRESHOLD else f"{count} ({100 * mean:.1f}%)")
            else:
                vals.append(f"{mean:.2f}")
        rows.append({**r, "v1": vals[0], "v0": vals[1]})
    return rows


def _outcome_steps(att: pd.DataFrame, shown: dict) -> list[tuple[str, dict]]:
    """Outcome-specific attrition steps as (criterion, {outcome: (exposed, comparator) as shown})."""
    rows: dict[tuple[int, str], dict] = {}
    for a in att.to_dict("records"):
        if a["outcome_id"] is not None:
            rows.setdefault((a["step"], a["criterion"]), {})[a["outcome_id"]] = tuple(
                shown[(a["outcome_id"], a["step"], arm)] for arm in ("n_exposed", "n_comparator"))
    return [(f"{step}. {crit}", cells) for (step, crit), cells in sorted(rows.items())]


HIDDEN = "\u2013"


def attrition_shown(att: pd.DataFrame) -> dict[tuple, str]:
    """Each attrition count as shown, keyed (outcome_id or None, step, arm): masked below 10, and
    hidden ("\u2013") where the subjects excluded between it and the next count shown would be
    1 to 9. A chain is one arm followed through the common steps, then one outcome's steps; the
    last count of a chain (the analysed population, shown elsewhere too) is never hidden."""
    rows = att.to_dict("records")
    common = sorted((a for a in rows if a["outcome_id"] is None), key=lambda a: a["step"])
    outcomes = sorted({a["outcome_id"] for a in rows if a["outcome_id"] is not None})
    value = {(a["outcome_id"], a["step"], arm): a[arm] for a in rows for arm in ("n_exposed", "n_comparator")}
    chains = []
    for arm in ("n_exposed", "n_comparator"):
        head = [(None, a["step"], arm) for a in common]
        own = [[(o, a["step"], arm) for a in sorted(rows, key=lambda a: a["step"]) if a["outcome_id"] == o]
               for o in outcomes]
        chains += [head + tail for tail in own] if own else [head]
    hidden: set[tuple] = set()
    changed = True
    while changed:
        changed = False
        for chain in chains:
            shown = [k for k in chain if k not in hidden and value[k] is not None and value[k] >= THRESHOLD]
            for before, after in itertools.pairwise(shown):
                if 0 < value[before] - value[after] < THRESHOLD:
                    hidden.add(before)
                    changed = True
                    break
    return {k: HIDDEN if k in hidden else mask_count(v) for k, v in value.items()}


def negative_control_summary(outcomes, analysis: str) -> str | None:
    ests = [o.estimate(analysis) for o in outcomes if o.negative_control]
    ests = [e for e in ests if e is not None]
    if not ests:
        return None
    ok = [e for e in ests if e["status"] == "ok"]
    cover = sum(e["ci_low"] <= 1 <= e["ci_high"] for e in ok)
    return f"{cover} of {len(ok)} estimable negative-control CIs ({analysis}) cover 1; {len(ests) - len(ok)} not estimable."


def study_html(run) -> str:
    s = run.study
    comps = []
    for comp in s.comparisons:
        cid = s.cohort_id(comp)
        outs = [o for o in run.outcomes if o.cohort_id == cid]
        att = run.attrition[run.attrition["cohort_id"] == cid].sort_values("step") if run.attrition is not None else pd.DataFrame()
        att = att.astype(object).where(att.notna(), None)
        main = next((o for o in outs if not o.negative_control and o.balance is not None), None)
        first = next((o for o in outs if not o.negative_control), None)
        inc = first.incidence if first is not None else None
        n1 = int(inc.loc[inc.exposed == 1, "subjects"].iloc[0]) if inc is not None else 0
        n0 = int(inc.loc[inc.exposed == 0, "subjects"].iloc[0]) if inc is not None else 0
        incidence = [
            {**r, "outcome_id": o.outcome_id, "nc": o.negative_control, "rate": r["rate_per_1000"],
             "group": comp.exposure.label if r["exposed"] == 1 else comp.comparator.label,
             **({"rate": None, "ci_low": None, "ci_high": None} if r["events"] < THRESHOLD else {})}
            for o in outs for r in o.incidence.to_dict("records")
        ]
        estimates = [{**e, "message": mask_text(e["message"])} for o in outs for e in o.estimates]
        forest = pd.DataFrame(
            [{"label": f"{e['outcome_id']} · {e['analysis']}{'' if e['term'] == 'exposed' else ' ' + e['term']}",
              "hr": e["hr"], "ci_low": e["ci_low"], "ci_high": e["ci_high"]} for e in estimates]
        )
        km = [
            km_svg(o.km, {1: comp.exposure.label, 0: comp.comparator.label},
                   {g: int(o.incidence.loc[o.incidence.exposed == g, "subjects"].iloc[0]) for g in (1, 0)},
                   f"Kaplan-Meier: {o.outcome_id}",
                   {g: int(o.incidence.loc[o.incidence.exposed == g, "events"].iloc[0]) for g in (1, 0)})
            for o in outs if o.km
        ]
        shown = attrition_shown(att) if len(att) else {}
        comps.append({
            "exposure": comp.exposure.label, "comparator": comp.comparator.label,
            "attrition": [{**a, "shown": [shown[(None, a["step"], arm)] for arm in ("n_exposed", "n_comparator")]}
                          for a in att.to_dict("records") if a["outcome_id"] is None],
            "attrition_hidden": HIDDEN in shown.values(),
            "attrition_outcomes": sorted({a["outcome_id"] for a in att.to_dict("records") if a["outcome_id"]}),
            "attrition_outcome": _outcome_steps(att, shown),
            "table1": _table1(main, n1, n0) if main is not None else None,
            "table1_outcome": main.outcome_id if main is not None else "",
            "n1": n1, "n0": n0, "incidence": incidence, "estimates": estimates,
            "forest": forest_svg(forest, f"{comp.exposure.label} vs {comp.comparator.label}") if len(forest) else "",
            "km": km,
            "nc_summary": negative_control_summary(outs, s.primary_analysis),
            "diagnostics": [{**d, "outcome_id": o.outcome_id, "message": mask_text(d["message"])}
                            for o in outs for d in o.diagnostics],
        })
    return STUDY_TEMPLATE.render(
        s=s, css=CSS, run_id=run.run_id, now=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        threshold=THRESHOLD, design=_design(s), comparisons=comps,
    )


def write_report(run, report_dir: Path) -> Path:
    """Write `<report_dir>/<study>/index.html` and refresh `<report_dir>/index.html`."""
    out = Path(report_dir) / run.study.id / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(study_html(run), encoding="utf-8")
    write_index(Path(report_dir))  # the one index of every report (veille.reports_index)
    return out
