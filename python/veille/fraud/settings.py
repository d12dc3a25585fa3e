"""Alerting thresholds of the sweep (the dbt models take theirs as vars, docs/fraud.md).

`veille fraud sweep --settings fraud.yml` (and `fraud scan`) read them from YAML; the keys are
the field names below.
"""

from __future__ import annotations

import re
from datetime import date

from pydantic import Field

from veille.errors import VeilleError
from veille.settings import Settings

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")


class SweepSettings(Settings):
    """How detector outputs become alerts."""

    z_alert: float = Field(8.0, gt=0, description="robust z-score that alerts on its own")
    z_reason: float = Field(3.0, gt=0, description="robust z-score worth naming as a reason")
    z_with_forest: float = Field(4.0, gt=0, description="robust z-score that alerts with a forest outlier")
    persistent_z: float = Field(8.0, gt=0, description="12-month mean z against the peers' mean z that alerts")
    persistent_months: int = Field(6, ge=1, le=12, description="scored months needed in those 12")
    forest_share: float = Field(0.02, gt=0, lt=0.5, description="share of providers the forest calls outliers")
    class_z: float = Field(4.0, gt=0, description="Poisson z of a prescriber x drug class excess")
    class_ratio: float = Field(2.0, gt=1, description="shrunk observed/expected ratio of that excess")
    class_pooled_z: float = Field(
        3.5, gt=0, description="Poisson z of an excess of the pooled controlled drugs (drug class 'controlled')")
    class_pooled_ratio: float = Field(
        1.5, gt=1, description="shrunk ratio of an excess of the pooled controlled drugs")
    shopping_share: float = Field(0.2, ge=0, le=1, description="doctor-shopping share of a patient's units")
    shopping_min_overlapping: int = Field(
        3, ge=1, description="overlapping dispensings a shopper needs in the window to be alerted")
    shopping_supply_ratio: float = Field(
        1.5, gt=0, description="days supplied over days they could be taken in, that a shopper needs to be alerted")
    seed: int = Field(0, description="random seed of the isolation forest")


def parse_month(text: str) -> date:
    """'YYYY-MM' as the first day of that month, or a readable error."""
    m = MONTH.match(text.strip())
    if not m:
        raise VeilleError(f"month must be YYYY-MM, got {text!r}")
    return date(int(m.group(1)), int(m.group(2)), 1)
