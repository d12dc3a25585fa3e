"""Guideline indicators as data: YAML files validated and written to the indicator registry.

A file holds one indicator or a list under ``indicators:``. An indicator is a population
(``atc`` dispensing prefixes with a minimum number of dispensings in the year, or
``hospital_dp`` principal-diagnosis prefixes of an index stay), a window (``calendar`` years or
``after_index`` days) and required care items (all required). The dbt model
``fct_pathways_indicator_patient`` evaluates every registered indicator with one query.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from veille.errors import VeilleError
from veille.settings import read_yaml, validate


class Population(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["atc", "hospital_dp"]
    codes: list[str] = Field(min_length=1)
    min_events: int = Field(1, ge=1)


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["calendar", "after_index"]
    length: int = Field(ge=1)


class Item(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["nabm", "ccam", "atc", "visit_specialty"]
    codes: list[str] = Field(min_length=1)
    min_count: int = Field(1, ge=1)


class Indicator(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    label: str
    reference: str | None = None
    population: Population
    window: Window
    items: list[Item] = Field(min_length=1)

    @model_validator(mode="after")
    def _window_fits_population(self) -> Indicator:
        if self.population.kind == "hospital_dp" and self.window.kind != "after_index":
            raise ValueError("a hospital_dp population needs an after_index window")
        if self.population.kind == "atc" and self.window.kind != "calendar":
            raise ValueError("an atc population needs a calendar window")
        return self


def default_dir() -> Path:
    from veille.db import project_root

    return project_root() / "analyses" / "indicators"


def read_indicators(path: str | Path | None = None) -> list[tuple[Indicator, str]]:
    """Indicators of a YAML file or of every ``*.yml`` of a directory, with their file name."""
    root = Path(path) if path else default_dir()
    files = sorted(root.glob("*.yml")) if root.is_dir() else [root]
    if not files or not files[0].exists():
        raise VeilleError(f"no indicator file found at {root}")
    out: list[tuple[Indicator, str]] = []
    seen: set[str] = set()
    for f in files:
        doc = read_yaml(f, "indicator file")
        listed = isinstance(doc, dict) and "indicators" in doc
        entries = doc["indicators"] if listed else [doc]
        if not isinstance(entries, list):
            raise VeilleError(f"{f}: 'indicators' must be a list")
        for i, entry in enumerate(entries):
            ind = validate(Indicator, entry, f"{f}: indicators[{i}]" if listed else str(f))
            if ind.id in seen:
                raise VeilleError(f"{f}: indicator id {ind.id} is declared twice")
            seen.add(ind.id)
            out.append((ind, f.name))
    return out


def register(conn: sa.Connection, indicators: list[tuple[Indicator, str]]) -> None:
    """Replace the registry with ``indicators`` (in the caller's transaction)."""
    conn.execute(sa.text("delete from results.pathways_indicator_definition"))
    for ind, fname in indicators:
        conn.execute(
            sa.text(
                "insert into results.pathways_indicator_definition (indicator_id, label, "
                "population_kind, population_codes, population_min_events, window_kind, "
                "window_length, source_file) values (:i, :l, :pk, :pc, :pm, :wk, :wl, :f)"
            ),
            {"i": ind.id, "l": ind.label, "pk": ind.population.kind, "pc": ind.population.codes,
             "pm": ind.population.min_events, "wk": ind.window.kind, "wl": ind.window.length,
             "f": fname},
        )
        for n, item in enumerate(ind.items, start=1):
            conn.execute(
                sa.text(
                    "insert into results.pathways_indicator_item (indicator_id, item_number, "
                    "item_kind, item_codes, min_count) values (:i, :n, :k, :c, :m)"
                ),
                {"i": ind.id, "n": n, "k": item.kind, "c": item.codes, "m": item.min_count},
            )
