"""The Spark target (docs/spark.md): Parquet flattening of the extract, the same dbt models."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def spark_settings(home: Path, parquet: Path, master: str | None = None) -> Iterator[None]:
    """Inside the block, the spark target keeps its catalog and tables under ``home`` and reads
    the Parquet of ``parquet`` (VEILLE_SPARK_HOME, VEILLE_PARQUET; VEILLE_SPARK_MASTER when
    given); the variables are as they were afterwards."""
    values = {"VEILLE_SPARK_HOME": str(home), "VEILLE_PARQUET": str(parquet)}
    if master is not None:
        values["VEILLE_SPARK_MASTER"] = master
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
