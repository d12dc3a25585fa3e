"""Scenario files: the bundled ``default``/``strong`` ones, or a user YAML deep-merged over default;
then a profile (the shape of the data, not its truth) deep-merged over the scenario."""

from __future__ import annotations

import copy
import itertools
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from veille.errors import VeilleError

BUNDLED = ("default", "strong", "interactions", "dose")
PROFILES = ("default", "stress")
_TRUTH_SECTIONS = ("effects", "outcomes", "interactions", "courses")  # a profile may not change what is injected
_REQUIRED = ("population", "conditions", "classes", "refills", "outcomes", "effects", "pathways",
             "care", "noise", "fraud", "providers")
_EFFECT_KEYS = {"exposure_atc", "outcome_icd10", "hazard_ratio", "window", "latency_days",
                "population"}
_INTERACTION_KEYS = {"object_atc", "precipitant_atc", "outcome_icd10", "hazard_ratio", "population"}
SHAPES = ("no_main", "on_top", "short_course")
MAX_BITS = 15  # latent bits per outcome (effects + interactions): an int16


def _check_dose(i: int, eff: dict) -> None:
    """A dose-dependent effect (issue 26): ascending positive thresholds in mg, one hazard
    ratio per category (one more than thresholds), the first being the effect's hazard_ratio."""
    dose = eff["dose"]
    t = dose.get("thresholds_mg") if isinstance(dose, dict) else None
    h = dose.get("hazard_ratios") if isinstance(dose, dict) else None
    if not t or not h or len(h) != len(t) + 1:
        raise VeilleError(f"scenario effect #{i}: dose needs thresholds_mg and one more hazard_ratios than thresholds")
    if any(float(x) <= 0 for x in [*t, *h]) or any(float(b) <= float(a) for a, b in itertools.pairwise(t)):
        raise VeilleError(f"scenario effect #{i}: dose thresholds_mg must be positive and ascending, hazard_ratios > 0")
    if float(h[0]) != float(eff["hazard_ratio"]):
        raise VeilleError(f"scenario effect #{i}: hazard_ratio must be the first of dose.hazard_ratios")


def _read_bundled(name: str) -> dict[str, Any]:
    text = resources.files("veille.synth").joinpath("scenarios").joinpath(f"{name}.yml").read_text("utf-8")
    return yaml.safe_load(text)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load_scenario(scenario: str | Path | None, profile: str = "default") -> dict[str, Any]:
    """The full scenario for a bundled name or a YAML file, merged over the default one, with
    the profile's shape merged over it (``default``: none)."""
    sc = _load_scenario(scenario)
    if profile == "default":
        return sc
    if profile not in PROFILES:
        raise VeilleError(f"unknown profile {profile!r}: not one of {', '.join(PROFILES)}")
    text = resources.files("veille.synth").joinpath("profiles").joinpath(f"{profile}.yml").read_text("utf-8")
    over = yaml.safe_load(text)
    touched = [k for k in _TRUTH_SECTIONS if k in over]
    if touched:  # a bundled file: a developer's mistake, said plainly
        raise VeilleError(f"profile {profile!r} may not change {', '.join(touched)} (the truth)")
    name = over.pop("name", profile)
    merged = _merge(sc, over)
    merged["profile"] = name
    return _validated(merged)


def _load_scenario(scenario: str | Path | None) -> dict[str, Any]:
    base = _read_bundled("default")
    if scenario is None or str(scenario) == "default":
        return _validated(base)
    if str(scenario) in BUNDLED:
        return _validated(_merge(base, _read_bundled(str(scenario))))
    path = Path(scenario)
    if not path.is_file():
        raise VeilleError(
            f"unknown scenario {str(scenario)!r}: not one of {', '.join(BUNDLED)} nor a YAML file"
        )
    try:
        over = yaml.safe_load(path.read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise VeilleError(f"scenario {path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(over, dict):
        raise VeilleError(f"scenario {path}: expected a mapping at the top level")
    merged = _merge(base, over)
    merged.setdefault("name", path.stem)
    if "name" not in over:
        merged["name"] = path.stem
    return _validated(merged)


def _validated(sc: dict[str, Any]) -> dict[str, Any]:
    missing = [k for k in _REQUIRED if k not in sc]
    if missing:
        raise VeilleError(f"scenario {sc.get('name')!r}: missing section(s) {', '.join(missing)}")
    for i, eff in enumerate(sc["effects"]):
        lacking = _EFFECT_KEYS - set(eff)
        if lacking:
            raise VeilleError(f"scenario effect #{i + 1}: missing {', '.join(sorted(lacking))}")
        if float(eff["hazard_ratio"]) <= 0:
            raise VeilleError(f"scenario effect #{i + 1}: hazard_ratio must be > 0")
        if eff["outcome_icd10"] not in sc["outcomes"]:
            raise VeilleError(
                f"scenario effect #{i + 1}: outcome {eff['outcome_icd10']!r} is not in 'outcomes'"
            )
        pop = str(eff["population"])
        if pop != "all" and not pop.startswith("age>="):
            raise VeilleError(f"scenario effect #{i + 1}: population must be 'all' or 'age>=N'")
        if eff.get("dose") is not None:
            _check_dose(i + 1, eff)
    _check_drugs(sc)
    for i, inter in enumerate(sc.get("interactions") or []):
        _check_interaction(sc, i + 1, inter)
    for o in sc["outcomes"]:
        n = sum((1 + len((e.get("dose") or {}).get("thresholds_mg", ()))) * (str(e["outcome_icd10"]) == o)
                for e in sc["effects"]) + sum(str(e["outcome_icd10"]) == o for e in sc.get("interactions") or [])
        if n > MAX_BITS:
            raise VeilleError(f"scenario: outcome {o!r} has {n} effects and interactions (at most {MAX_BITS})")
    return sc


def _check_drugs(sc: dict[str, Any]) -> None:
    from veille.synth.catalog import DRUG_INDEX, OUTCOME_CODES

    for o in sc["outcomes"]:
        if o not in OUTCOME_CODES:
            raise VeilleError(f"scenario outcome {o!r}: the generator has no hospital codes for it "
                              f"(known: {', '.join(OUTCOME_CODES)})")
    for section in ("classes", "courses"):
        for name, spec in (sc.get(section) or {}).items():
            unknown = [a for a in spec.get("drugs", {}) if a not in DRUG_INDEX]
            if unknown:
                raise VeilleError(f"scenario {section[:-1]} {name!r}: unknown drug(s) {', '.join(unknown)}")
            if section == "courses" and not {"rate", "drugs"} <= set(spec):
                raise VeilleError(f"scenario course {name!r}: needs 'rate' and 'drugs'")


def _check_interaction(sc: dict[str, Any], n: int, inter: dict[str, Any]) -> None:
    from veille.synth.referential import used_drugs

    where = f"scenario interaction #{n}"
    lacking = _INTERACTION_KEYS - set(inter)
    if lacking:
        raise VeilleError(f"{where}: missing {', '.join(sorted(lacking))}")
    a, b, o = str(inter["object_atc"]), str(inter["precipitant_atc"]), str(inter["outcome_icd10"])
    if float(inter["hazard_ratio"]) <= 0:
        raise VeilleError(f"{where}: hazard_ratio must be > 0")
    if a.startswith(b) or b.startswith(a):
        raise VeilleError(f"{where}: object {a!r} and precipitant {b!r} overlap")
    if o not in sc["outcomes"]:
        raise VeilleError(f"{where}: outcome {o!r} is not in 'outcomes'")
    pop = str(inter["population"])
    if pop != "all" and not pop.startswith("age>="):
        raise VeilleError(f"{where}: population must be 'all' or 'age>=N'")
    used = used_drugs(sc)
    for code in (a, b):
        if not any(u.startswith(code) for u in used):
            raise VeilleError(f"{where}: no drug of the scenario has ATC code {code!r}")
    shape = inter.get("shape")
    if shape is not None and shape not in SHAPES:
        raise VeilleError(f"{where}: shape must be one of {', '.join(SHAPES)}")
    if shape == "no_main":
        for e in sc["effects"]:
            x = str(e["exposure_atc"])
            if str(e["outcome_icd10"]) == o and float(e["hazard_ratio"]) != 1 and any(
                    c.startswith(x) or x.startswith(c) for c in (a, b)):
                raise VeilleError(f"{where}: shape no_main, but {x} has an effect on {o}")
    co = inter.get("co_start")
    if co is not None:
        if not isinstance(co, dict) or not {"share", "delay_days", "duration_days"} <= set(co):
            raise VeilleError(f"{where}: co_start needs share, delay_days [min, max] and duration_days")
        lo, hi = co["delay_days"]
        if not 0 < float(co["share"]) <= 1 or not 0 <= int(lo) <= int(hi) or float(co["duration_days"]) <= 0:
            raise VeilleError(f"{where}: co_start needs 0 < share <= 1, 0 <= min <= max, duration_days > 0")
        classed = {d for spec in sc["classes"].values() for d in spec["drugs"]}
        if not any(d.startswith(b) for d in classed):
            raise VeilleError(f"{where}: co_start needs a precipitant that a class dispenses")
