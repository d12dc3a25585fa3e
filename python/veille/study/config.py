"""Study files: `analyses/studies/<id>.yml` parsed into validated pydantic models.

A study is one question (exposure vs comparator -> outcome) asked of one base population,
possibly in several comparisons (study c: four drug classes, each vs its own comparator).
Durations are in days. Every mistake becomes one line naming the file and the key:
``analyses/studies/x.yml: unknown key 'washot' (did you mean 'washout'?)`` (the wording is
`veille.settings`', shared with every domain's settings; the checks of a study are here).
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from veille.errors import VeilleError
from veille.settings import STRICT, read_yaml, validate
from veille.settings import hint as _hint

ATC_PREFIX = re.compile(r"^[ABCDGHJLMNPRSV]([0-9]{2}([A-Z]([A-Z]([0-9]{2})?)?)?)?$")
STUDY_ID = re.compile(r"^[a-z][a-z0-9_]*$")

PATIENT_COVARIATES = (
    "age_at_index",
    "sex",
    "ald_count",
    "ald_diabetes",
    "n_stays_prior_year",
    "n_drugs_prior_year",
    "index_year",
)
ANALYSES = (
    "incidence",
    "kaplan_meier",
    "cox_crude",
    "cox_adjusted",
    "iptw",
    "matching",
    "ph_test",
    "cumulative_exposure",
    "cumulative_dose",
    "cumulative_dose_continuous",
)
DOSE_ANALYSES = ("cumulative_dose", "cumulative_dose_continuous")
HR_ANALYSES = ("cox_crude", "cox_adjusted", "iptw", "matching")


class _Strict(BaseModel):
    model_config = STRICT


class DrugSet(_Strict):
    """A labelled set of ATC prefixes (or names of the study's concept sets)."""

    label: str = Field(min_length=1)
    atc: list[str] = Field(min_length=1)


class Comparator(_Strict):
    """An active drug (``atc``) or non-users of the exposure; non-users can also be required
    never to have used other drugs (``exclude_users_of``, e.g. the other fall-risk drugs)."""

    kind: Literal["active", "non_user"]
    label: str = Field(min_length=1)
    atc: list[str] | None = None
    exclude_users_of: list[str] | None = None

    @model_validator(mode="after")
    def _atc_matches_kind(self) -> Comparator:
        if self.kind == "active" and not self.atc:
            raise ValueError("an active comparator needs 'atc' codes")
        if self.kind == "non_user" and self.atc:
            raise ValueError("a non_user comparator takes no 'atc' (it is the base population)")
        if self.kind == "active" and self.exclude_users_of:
            raise ValueError("'exclude_users_of' applies to a non_user comparator only")
        return self


class Comparison(_Strict):
    id: str
    exposure: DrugSet
    comparator: Comparator

    @field_validator("id")
    @classmethod
    def _id_shape(cls, v: str) -> str:
        if not STUDY_ID.match(v):
            raise ValueError(f"comparison id {v!r} must be lowercase letters, digits and _")
        return v


WHOLE_HISTORY = 36525  # days: 'lookback: all' reaches back further than any extract


class Outcome(_Strict):
    """An outcome; subjects with it in the ``lookback`` days before index are excluded
    (``all``, the default: at any time in the data, i.e. first occurrences only)."""

    id: str = Field(min_length=1)
    lookback: int = WHOLE_HISTORY

    @field_validator("lookback", mode="before")
    @classmethod
    def _days(cls, v: Any) -> int:
        if v == "all":
            return WHOLE_HISTORY
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"lookback must be a number of days >= 0 or 'all', got {v!r}")
        return v


class AgeRange(_Strict):
    min: int | None = Field(None, ge=0, le=120)
    max: int | None = Field(None, ge=0, le=120)

    @model_validator(mode="after")
    def _ordered(self) -> AgeRange:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"impossible age range: min {self.min} > max {self.max}")
        return self


class Period(_Strict):
    """Study period; null bounds mean the span of the loaded data."""

    start: dt.date | None = None
    end: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Period:
        if self.start and self.end and self.start >= self.end:
            raise ValueError(f"impossible study period: start {self.start} is not before end {self.end}")
        return self


class Purchases(_Strict):
    count: int = Field(1, ge=1)
    window: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _window_needed(self) -> Purchases:
        if self.count > 1 and self.window == 0:
            raise ValueError(f"impossible window: {self.count} purchases within 0 days")
        return self


class Strategy(_Strict):
    kind: Literal["as_treated", "itt"] = "as_treated"
    grace: int = Field(30, ge=0)


class Covariates(_Strict):
    patient: list[str] = Field(default_factory=lambda: list(PATIENT_COVARIATES))
    atc: list[str] = Field(default_factory=list)

    @field_validator("patient")
    @classmethod
    def _known(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in PATIENT_COVARIATES:
                raise ValueError(f"unknown patient covariate {name!r}{_hint(name, PATIENT_COVARIATES)}")
        return v


class RiskWindow(_Strict):
    """Days ``start`` to ``end`` after an exposure episode starts (``end`` null: to the
    episode's end); ``label`` names it in the report (default: the days)."""

    label: str | None = None
    start: int = Field(0, ge=0)
    end: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> RiskWindow:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"impossible risk window: end {self.end} < start {self.start}")
        return self

    @property
    def name(self) -> str:
        return self.label or (f"days {self.start}-{self.end}" if self.end is not None
                              else f"day {self.start} to the episode's end")


class Convolution(_Strict):
    """The multi-drug ConvSCCS of a case series (veille.study.convsccs): the exposure and these
    ``drugs`` in one model, each with a lag curve of ``lags`` buckets of ``bucket_days`` after
    every episode start (the last lasting to the episode's end), penalised by total variation
    (``strength_tv``); intervals analytic, or from ``replicates`` bootstrap samples of cases.
    ``on_treatment``: the lags stop when the episode ends (an effect acting only while the drug
    is taken) rather than running out after a stop."""

    drugs: list[DrugSet] = Field(min_length=1)
    lags: int = Field(12, ge=1, le=60)
    bucket_days: int = Field(30, ge=1, le=365)
    strength_tv: float = Field(2.0, ge=0)
    replicates: int = Field(0, ge=0, le=1000)
    seed: int = 1
    on_treatment: bool = False


class Interaction(_Strict):
    """A drug-drug interaction asked of a case series (docs/sccs.md): the series' exposure is the
    precipitant, ``object`` the drug it may interact with. The precipitant's relative incidence
    within the object's exposed time over the same in the cases never exposed to the object is
    the ratio of ratios (Leonard et al., Clin Pharmacol Ther 2018)."""

    object: DrugSet


class CaseSeries(_Strict):
    """A self-controlled case series (``design: sccs``): the cases of each outcome, each
    compared with itself, exposed time in ``risk_windows`` against the rest of its observation;
    with ``convolution``, also the multi-drug ConvSCCS of the exposure and other drugs; with
    ``interaction``, also the ratio of ratios of the exposure (the precipitant) within and
    without an object drug."""

    exposure: DrugSet
    risk_windows: list[RiskWindow] = Field(default_factory=lambda: [RiskWindow()], min_length=1)
    pre_exposure: int = Field(0, ge=0)
    grace: int = Field(30, ge=0)
    age_groups: list[int] = Field(default_factory=list)
    calendar: Literal["none", "year"] = "year"
    convolution: Convolution | None = None
    interaction: Interaction | None = None

    @field_validator("age_groups")
    @classmethod
    def _ascending(cls, v: list[int]) -> list[int]:
        if any(a < 0 or a > 120 for a in v) or v != sorted(set(v)):
            raise ValueError(f"age_groups must be ascending ages between 0 and 120, got {v}")
        return v


class _Thresholds(_Strict):
    """Categories of a cumulative measure, cut at ascending thresholds: [a, b] gives < a, a to
    < b and >= b, labelled in the block's unit."""

    thresholds: list[float] = Field(min_length=1)

    @field_validator("thresholds")
    @classmethod
    def _ascending(cls, v: list[float]) -> list[float]:
        if any(t <= 0 for t in v):
            raise ValueError("thresholds must be positive")
        if any(b <= a for a, b in itertools.pairwise(v)):
            raise ValueError("thresholds must be in ascending order")
        return v

    def labels(self) -> list[str]:
        """One label per category: '<10,500 mg', '10,500-27,999 mg', '>=28,000 mg'."""
        def f(x: float) -> str:
            return f"{x:,.0f}" if float(x).is_integer() else f"{x:,}"
        t, u = self.thresholds, self.unit
        middle = [f"{f(a)}-{f(b - 1)} {u}" if float(a).is_integer() and float(b).is_integer()
                  else f"{f(a)} to <{f(b)} {u}" for a, b in itertools.pairwise(t)]
        return [f"<{f(t[0])} {u}", *middle, f">={f(t[-1])} {u}"]


DAYS_PER_MONTH = 365.25 / 12


class CumulativeExposure(_Thresholds):
    """Cumulative-duration categories: the days inside the subject's own-group episodes since
    index, in months (12 and 24: < 12, 12-23 and >= 24 months, Neumann 2012) or days. A month
    is 365.25 / 12 days, rounded down: 12 months are 365 days, 24 are 730."""

    unit: Literal["months", "days"] = "months"
    thresholds: list[float] = Field(default_factory=lambda: [12, 24], min_length=1)

    def bounds_days(self) -> list[int]:
        """The lower bound of each category in whole days, from 0."""
        per = DAYS_PER_MONTH if self.unit == "months" else 1.0
        bounds = [0, *(int(t * per) for t in self.thresholds)]
        if any(b <= a for a, b in itertools.pairwise(bounds)):
            raise ValueError(f"cumulative_exposure thresholds {self.thresholds} {self.unit} are not whole, "
                             "distinct days")
        return bounds


class CumulativeDose(_Thresholds):
    """Cumulative-dose categories (issue 26): the dose of the exposure's dispensings since index,
    in mg, IU or DDDs, cut at ascending thresholds (pioglitazone: [10500, 28000] mg gives
    < 10,500, 10,500-27,999 and >= 28,000 mg). mg and IU add up one substance only: a class
    (N05BA) or several molecules need ``unit: ddd``. The continuous analysis
    (cumulative_dose_continuous) gives the hazard ratio per ``per`` units (default: the first
    threshold)."""

    unit: Literal["mg", "IU", "ddd"] = "mg"
    per: float | None = Field(None, gt=0)

    def step(self) -> float:
        return self.per or self.thresholds[0]


class PublishedEstimate(_Strict):
    """A published hazard ratio: the overall one (term ``exposed``, shown beside the primary
    analysis), or one category of a cumulative analysis (``analysis: cumulative_dose, term:
    '>=28,000 mg'``), shown beside the study's estimate of the same category."""

    comparison: str
    outcome: str
    analysis: str | None = None
    term: str = "exposed"
    hr: float = Field(gt=0)
    ci_low: float = Field(gt=0)
    ci_high: float = Field(gt=0)
    note: str = ""


class Reference(_Strict):
    citation: str
    estimates: list[PublishedEstimate] = Field(default_factory=list)


class Study(_Strict):
    id: str
    title: str = Field(min_length=1)
    question: str = Field(min_length=1)
    reference: Reference | None = None
    design: Literal["cohort", "sccs"] = "cohort"
    sccs: CaseSeries | None = None
    concept_sets: dict[str, list[str]] = Field(default_factory=dict)
    base_population: list[str] | None = None
    age: AgeRange = AgeRange()
    sex: Literal[1, 2] | None = None
    study_period: Period = Period()
    prior_observation: int = Field(365, ge=0)
    washout: int = Field(365, ge=0)
    min_purchases: Purchases = Purchases()
    start_delay: int = Field(0, ge=0)
    exposure_strategy: Strategy = Strategy()
    max_followup: int | None = Field(None, gt=0)
    comparisons: list[Comparison] = Field(default_factory=list)
    outcomes: list[Outcome] = Field(min_length=1)
    negative_controls: list[Outcome] = Field(default_factory=list)
    covariates: Covariates = Covariates()
    cumulative_exposure: CumulativeExposure = CumulativeExposure()
    cumulative_dose: CumulativeDose | None = None
    analyses: list[str] = Field(default_factory=lambda: [a for a in ANALYSES
                                                         if a != "cumulative_exposure" and a not in DOSE_ANALYSES])
    primary_analysis: str = "cox_adjusted"
    min_events: int = Field(5, ge=1)
    min_events_per_covariate: int = Field(5, ge=0)

    @field_validator("analyses")
    @classmethod
    def _known_analyses(cls, v: list[str]) -> list[str]:
        for name in v:
            if name not in ANALYSES:
                raise ValueError(f"unknown analysis {name!r}{_hint(name, ANALYSES)}")
        return v

    @model_validator(mode="after")
    def _coherent(self) -> Study:
        if not STUDY_ID.match(self.id):
            raise ValueError(f"study id {self.id!r} (the file name) must be lowercase letters, digits and _")
        if self.design == "sccs":
            if self.sccs is None:
                raise ValueError("design sccs needs an 'sccs' block (exposure, risk_windows)")
            if self.comparisons:
                raise ValueError("design sccs takes no 'comparisons': each case is its own comparator")
            names = [o.id for o in self.outcomes + self.negative_controls]
            if len(set(names)) != len(names):
                raise ValueError("an outcome is listed twice (outcomes and negative_controls)")
            for name, codes in self.concept_sets.items():
                for code in codes:
                    _check_atc(code, f"concept_sets.{name}")
            self._resolve(self.sccs.exposure.atc, "sccs.exposure.atc")
            if self.sccs.convolution:
                labels = [self.sccs.exposure.label] + [d.label for d in self.sccs.convolution.drugs]
                if len(set(labels)) != len(labels):
                    raise ValueError("sccs.convolution.drugs: labels must differ from each other and from the exposure's")
                for i, d in enumerate(self.sccs.convolution.drugs):
                    self._resolve(d.atc, f"sccs.convolution.drugs[{i}].atc")
            if self.sccs.interaction:
                self._check_object(self.sccs.interaction.object)
            if self.reference and self.reference.estimates:
                raise ValueError("reference estimates name comparisons: a case series has none")
            return self
        if self.sccs is not None:
            raise ValueError("an 'sccs' block needs design: sccs")
        if not self.comparisons:
            raise ValueError("comparisons: a cohort study needs at least one comparison")
        dose_analyses = [a for a in self.analyses if a in DOSE_ANALYSES]
        if bool(dose_analyses) != (self.cumulative_dose is not None):
            raise ValueError("the cumulative_dose analyses need a cumulative_dose block (unit, thresholds), "
                             "and the block needs cumulative_dose or cumulative_dose_continuous in analyses")
        self.cumulative_exposure.bounds_days()
        if self.primary_analysis not in HR_ANALYSES:
            raise ValueError(f"primary_analysis must be one of {', '.join(HR_ANALYSES)}")
        if self.primary_analysis not in self.analyses:
            raise ValueError(f"primary_analysis {self.primary_analysis!r} is not in analyses")
        ids = [c.id for c in self.comparisons]
        if len(set(ids)) != len(ids):
            raise ValueError("comparison ids must be unique")
        names = [o.id for o in self.outcomes + self.negative_controls]
        if len(set(names)) != len(names):
            raise ValueError("an outcome is listed twice (outcomes and negative_controls)")
        if self.max_followup is not None and self.start_delay >= self.max_followup:
            raise ValueError(
                f"impossible window: start_delay {self.start_delay} days >= max_followup {self.max_followup} days"
            )
        if self.min_purchases.window > self.washout + 3650:
            raise ValueError("impossible window: min_purchases.window is longer than ten years")
        for name, codes in self.concept_sets.items():
            for code in codes:
                _check_atc(code, f"concept_sets.{name}")
        self._resolve(self.base_population or [], "base_population")
        for i, c in enumerate(self.comparisons):
            self._resolve(c.exposure.atc, f"comparisons[{i}].exposure.atc")
            self._resolve(c.comparator.atc or [], f"comparisons[{i}].comparator.atc")
            self._resolve(c.comparator.exclude_users_of or [], f"comparisons[{i}].comparator.exclude_users_of")
            self._check_dose_unit(c, i)
        for code in self.covariates.atc:
            _check_atc(code, "covariates.atc")
        for r in self.reference.estimates if self.reference else []:
            if r.comparison not in ids:
                raise ValueError(f"reference estimate names unknown comparison {r.comparison!r}")
            if not r.ci_low <= r.hr <= r.ci_high:
                raise ValueError(f"reference estimate HR {r.hr} is outside its CI")
            self._check_published_term(r)
        return self

    def _check_published_term(self, r: PublishedEstimate) -> None:
        """A published category names one of the study's own categories, in its analysis."""
        if r.analysis is not None and r.analysis not in self.analyses:
            raise ValueError(f"reference estimate names analysis {r.analysis!r}, which is not in analyses")
        if r.term == "exposed":
            return
        labels = {"cumulative_exposure": self.cumulative_exposure.labels(),
                  "cumulative_dose": self.cumulative_dose.labels() if self.cumulative_dose else []}.get(r.analysis)
        if labels is None:
            raise ValueError(f"reference estimate term {r.term!r} needs analysis: cumulative_exposure or cumulative_dose")
        if r.term not in labels:
            raise ValueError(f"reference estimate term {r.term!r} is not a category of {r.analysis} "
                             f"({', '.join(labels)})")

    def published(self, comparison: Comparison, outcome: str, analysis: str, term: str) -> PublishedEstimate | None:
        """The published estimate for this estimate row, if the reference gives one (an overall
        one goes beside the primary analysis)."""
        for r in self.reference.estimates if self.reference else []:
            if (r.comparison, r.outcome, r.term) == (comparison.id, outcome, term) and \
                    (r.analysis or self.primary_analysis) == analysis:
                return r
        return None

    def _check_dose_unit(self, c: Comparison, i: int) -> None:
        """mg or IU add up one substance: an exposure code that is not a whole ATC7 code (a class
        such as N05BA) would add the mg of different molecules."""
        dose = self.cumulative_dose
        if dose is None or dose.unit == "ddd":
            return
        for code in self._resolve(c.exposure.atc, f"comparisons[{i}].exposure.atc"):
            if len(code) < 7:
                raise ValueError(f"cumulative_dose in {dose.unit} adds the {dose.unit} of one substance, but "
                                 f"comparisons[{i}].exposure.atc has {code}, a class of several: use unit: ddd")

    def _check_object(self, obj: DrugSet) -> None:
        """The object drug of an interaction is not the precipitant (the exposure), nor part of it."""
        where = "sccs.interaction.object"
        if obj.label == self.sccs.exposure.label:
            raise ValueError(f"{where}.label: {obj.label!r} is the exposure's label too")
        exposure = self._resolve(self.sccs.exposure.atc, "sccs.exposure.atc")
        for code in self._resolve(obj.atc, f"{where}.atc"):
            clash = next((e for e in exposure if code.startswith(e) or e.startswith(code)), None)
            if clash:
                raise ValueError(f"{where}.atc: {code} overlaps the exposure's {clash} (the precipitant)")

    def _resolve(self, codes: list[str], where: str) -> list[str]:
        out: list[str] = []
        for code in codes:
            if code in self.concept_sets:
                out.extend(self.concept_sets[code])
            else:
                _check_atc(code, where)
                out.append(code)
        return sorted(set(out))

    def atc(self, codes: list[str] | None) -> list[str]:
        """ATC prefixes with concept-set names expanded (sorted, unique)."""
        return self._resolve(codes or [], "")

    def cohort_id(self, comparison: Comparison) -> str:
        return f"{self.id}__{comparison.id}"


def _check_atc(code: str, where: str) -> None:
    if not isinstance(code, str) or not ATC_PREFIX.match(code):
        raise ValueError(f"{where}: {code!r} is not an ATC code (a prefix such as N05BA or A10BG03)")


def parse_study(data: Any, source: str, study_id: str) -> Study:
    """Validate a parsed YAML document; errors name ``source``."""
    if not isinstance(data, dict):
        raise VeilleError(f"{source}: a study file is a mapping of keys (title, question, ...)")
    if "id" in data and data["id"] != study_id:
        raise VeilleError(f"{source}: id {data['id']!r} differs from the file name {study_id!r}")
    return validate(Study, {**data, "id": study_id}, source)


GENERIC_OUTCOME = re.compile(r"^(dp|dpdr|dx|ald|act):[A-Z0-9]+$")


def outcome_algorithms() -> list[str]:
    """Outcome algorithm names of the dbt seed (empty when the seed is not there)."""
    import csv

    from veille import db

    try:
        seed = db.project_root() / "dbt_project" / "seeds" / "outcome_algorithms.csv"
    except VeilleError:
        return []
    if not seed.is_file():
        return []
    with seed.open(encoding="utf-8") as f:
        return [row["outcome_id"] for row in csv.DictReader(f)]


def check_outcomes(study: Study, source: str) -> None:
    """Each outcome is a seeded algorithm or a generic code outcome such as dp:J18."""
    known = outcome_algorithms()
    if not known:
        return
    for i, o in enumerate(study.outcomes + study.negative_controls):
        if o.id in known or GENERIC_OUTCOME.match(o.id):
            continue
        key = "outcomes" if i < len(study.outcomes) else "negative_controls"
        raise VeilleError(
            f"{source}: {key}: unknown outcome {o.id!r}{_hint(o.id, known)} "
            f"(an algorithm of dbt_project/seeds/outcome_algorithms.csv or a code outcome like dp:J18)"
        )


def load_study(path: Path | str) -> Study:
    """Read and validate one study file; the id is the file name."""
    path = Path(path)
    study = parse_study(read_yaml(path, "study file"), str(path), path.stem)
    check_outcomes(study, str(path))
    return study


def studies_dir() -> Path:
    from veille import db

    return db.project_root() / "analyses" / "studies"


def find_study(study_id: str, directory: Path | None = None) -> Study:
    directory = directory or studies_dir()
    path = directory / f"{study_id}.yml"
    if not path.is_file():
        known = sorted(p.stem for p in directory.glob("*.yml"))
        raise VeilleError(f"no study {study_id!r}{_hint(study_id, known)}; known: {', '.join(known) or 'none'}")
    return load_study(path)


def load_all(directory: Path | None = None) -> list[Study]:
    directory = directory or studies_dir()
    return [load_study(p) for p in sorted(directory.glob("*.yml"))]
