"""Settings of a pathways run: sequence lengths, clustering, treatment paths, dbt build.

`veille pathways run --settings pathways.yml` reads them from YAML (keys: the field names
below); the options typed on the command line override the file (docs/pathways.md).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from veille.settings import Settings


class RunSettings(Settings):
    """What `veille pathways run` computes, and which dbt models it builds first."""

    months: int = Field(60, ge=2, description="months of monthly states per patient")
    min_months: int = Field(12, ge=1, description="months observed needed to be clustered")
    method: Literal["mixture", "clara"] = Field(
        "mixture", description="trajectory clustering: latent classes of the monthly counts (mixture) "
                               "or k-medoids on Hamming distances (clara)")
    k: int | None = Field(None, description="number of clusters; none or 0: chosen in 2-8")
    sample_size: int = Field(2000, ge=10, description="patients of the sample on which k is chosen")
    n_samples: int = Field(5, ge=1, description="CLARA samples")
    seed: int = Field(0, description="random seed")
    path_filter: Literal["first", "changes", "all"] = Field("first", description="treatment paths kept")
    build: Literal["upstream", "pathways", "indicators"] = Field(
        "upstream", description="dbt models built first: +tag:pathways, tag:pathways, or the indicator mart")
    indicators_path: str | None = Field(None, description="indicator YAML file or directory "
                                                          "(default analyses/indicators)")
    target: Literal["default", "spark", "spark_cluster"] = Field(
        "default", description="dbt target that builds and holds the marts: default (PostgreSQL), spark or "
                               "spark_cluster")

    @field_validator("k", mode="before")
    @classmethod
    def _k(cls, v: Any) -> Any:
        if v == 0 and not isinstance(v, bool):
            return None  # 0 on the command line: automatic
        if isinstance(v, int) and not isinstance(v, bool) and v < 2:
            raise ValueError(f"must be 0 (automatic) or at least 2, got {v}")
        return v

    def dbt_vars(self) -> dict[str, object]:
        return {"pathways_months": self.months}
