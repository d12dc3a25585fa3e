"""What every evaluation against a synthetic extract's truth shares: reading the truth the
generator wrote, and the metrics of a ranking against it.

`veille synth` writes ``truth.json`` beside the extract: ``effects`` (exposure ATC prefix x
outcome ICD-10 code, injected hazard ratio, optional comparator; 1 = negative control),
``pathways`` (patient pseudonym -> archetype) and ``fraud`` (actor id -> kind, ...). Each domain
reads its section with :func:`truth_section` (or the effects with :func:`truth_effects`), says
what the warehouse found, and scores it here:

* :func:`auc` and :func:`average_precision`: how well a score separates the true entities from
  the others (scikit-learn's ``roc_auc_score`` and ``average_precision_score``);
* :func:`top_k` over a ranking: the true entities in the first k, recall and precision at k.

Each domain's evaluation returns a dict of plain numbers; counts in it are exact, to be masked
where they leave for a file or a screen (:mod:`veille.privacy`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import rankdata
from sklearn.metrics import average_precision_score, roc_auc_score

from veille.errors import VeilleError

# --------------------------------------------------------------------------- the truth


def read_truth_file(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The truth file (``path`` itself, or ``path/truth.json`` for an extract folder) and its content."""
    p = Path(path)
    if p.is_dir():
        p = p / "truth.json"
    if not p.is_file():
        raise VeilleError(f"truth file not found: {p}")
    try:
        doc = json.loads(p.read_text("utf-8"))
    except json.JSONDecodeError as exc:
        raise VeilleError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(doc, dict):
        raise VeilleError(f"{p}: not a truth file (expected a JSON object)")
    return p, doc


def truth_section(path: str | Path, name: str, what: str, kind: type = dict) -> tuple[Path, Any]:
    """Section ``name`` of a truth file, a non-empty ``kind`` (dict or list) described as
    ``what`` in the error when it is missing: ``truth.json has no 'pathways' section (...)``."""
    p, doc = read_truth_file(path)
    section = doc.get(name)
    if not isinstance(section, kind) or not section:
        raise VeilleError(f"{p.name} has no '{name}' section ({what})")
    return p, section


@dataclass(frozen=True)
class Effect:
    """One injected effect: drugs whose ATC code starts with ``exposure_atc`` multiply the
    hazard of outcomes whose ICD-10 code starts with ``outcome_icd10`` by ``hazard_ratio``
    (relative to ``comparator_atc`` when given). A hazard ratio of 1 is a negative control."""

    exposure_atc: str
    outcome_icd10: str
    hazard_ratio: float
    comparator_atc: str | None = None


def truth_effects(doc: dict[str, Any], source: str | Path = "truth.json", *,
                  required: bool = True) -> list[Effect]:
    """The ``effects`` of a truth document, checked (at least one unless not ``required``);
    ``source`` names the file in errors."""
    effects = doc.get("effects")
    if not isinstance(effects, list) or (required and not effects):
        raise VeilleError(f"{Path(source).name} has no 'effects' section (a list of injected effects)")
    out = []
    for i, eff in enumerate(effects, start=1):
        try:
            comparator = eff.get("comparator_atc")
            out.append(Effect(str(eff["exposure_atc"]).upper(), str(eff["outcome_icd10"]).upper(),
                              float(eff["hazard_ratio"]), str(comparator).upper() if comparator else None))
        except (AttributeError, KeyError, TypeError, ValueError):
            raise VeilleError(
                f"{source}: effect #{i} needs exposure_atc, outcome_icd10 and a numeric hazard_ratio"
            ) from None
    return out


def read_effects(path: str | Path) -> list[Effect]:
    """The injected effects of a truth file (or of the extract folder holding it)."""
    p, doc = read_truth_file(path)
    return truth_effects(doc, p)


# --------------------------------------------------------------------------- ranking metrics


def _oriented(scores: Any, positive: Any, higher_is_stronger: bool) -> tuple[np.ndarray, np.ndarray] | None:
    """(ranks, labels) with a higher rank for a stronger score (ties share their rank, infinite
    scores allowed), or None when the labels do not hold both classes."""
    y = np.asarray(positive, dtype=bool)
    if y.all() or not y.any():
        return None
    s = np.asarray(scores, dtype=float)
    return rankdata(s if higher_is_stronger else -s), y


def auc(scores: Any, positive: Any, *, higher_is_stronger: bool = True) -> float | None:
    """Area under the ROC curve: the probability that a true entity outscores another, ties
    counting one half. None without both true and other entities."""
    oriented = _oriented(scores, positive, higher_is_stronger)
    return None if oriented is None else float(roc_auc_score(oriented[1], oriented[0]))


def average_precision(scores: Any, positive: Any, *, higher_is_stronger: bool = True) -> float | None:
    """Average precision (area under the precision-recall curve, scikit-learn's step-wise
    estimate). None without both true and other entities."""
    oriented = _oriented(scores, positive, higher_is_stronger)
    return None if oriented is None else float(average_precision_score(oriented[1], oriented[0]))


@dataclass(frozen=True)
class TopK:
    """The first ``k`` of a ranking against the truth: ``found`` true entities among the
    ``ranked`` ones listed there (fewer than k when the ranking is shorter), out of ``true``."""

    k: int
    ranked: int
    found: int
    true: int

    @property
    def recall(self) -> float | None:
        return self.found / self.true if self.true else None

    @property
    def precision(self) -> float | None:
        return self.found / self.ranked if self.ranked else None


def top_k(ranked_positive: Any, k: int, true: int | None = None) -> TopK:
    """:class:`TopK` of a ranking given as its labels, best first (True = a true entity);
    ``true`` = how many true entities there are in all (default: those in the ranking)."""
    y = np.asarray(ranked_positive, dtype=bool)
    head = y[:k]
    return TopK(k, len(head), int(head.sum()), int(y.sum()) if true is None else true)
