"""Scenario files: the bundled ``default``/``strong`` ones, or a user YAML deep-merged over default;
then a profile (the shape of the data, not its truth) deep-merged over the scenario."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from veille.errors import VeilleError

BUNDLED = ("default", "strong")
PROFILES = ("default", "stress")
_TRUTH_SECTIONS = ("effects", "outcomes")  # a profile may not change what is injected
_REQUIRED = ("population", "conditions", "classes", "refills", "outcomes", "effects", "pathways",
             "care", "noise", "fraud", "providers")
_EFFECT_KEYS = {"exposure_atc", "outcome_icd10", "hazard_ratio", "window", "latency_days",
                "population"}


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
    return sc
