"""The pipeline benchmark's arithmetic and report (its timings belong in docs/benchmarks.md)."""

from __future__ import annotations

import pytest
from veille.pipeline_bench import growth_exponent, latest, report


def rec(profile, patients, stage, seconds, ok=True, lines=None):
    return {"profile": profile, "patients": patients, "years": 5, "stage": stage, "seconds": seconds,
            "peak_mb": 100, "server_mb": 900, "ok": ok, "claim_lines": lines or patients * 40}


def test_growth_exponent_is_the_log_log_slope():
    assert growth_exponent(1000, 2.0, 10000, 20.0) == pytest.approx(1.0)
    assert growth_exponent(1000, 1.0, 2000, 4.0) == pytest.approx(2.0)
    assert growth_exponent(50000, 30.0, 200000, 120.0) == pytest.approx(1.0)


def test_latest_keeps_the_last_successful_measure():
    best = latest([rec("default", 10, "load", 5.0), rec("default", 10, "load", 4.0),
                   rec("default", 10, "load", 1.0, ok=False)])
    assert best[("default", 10, "load")]["seconds"] == 4.0


def test_report_table_and_plot(tmp_path):
    records = [rec("default", 1000, "load", 2.0), rec("default", 1000, "dbt", 8.0),
               rec("default", 4000, "load", 8.0), rec("default", 4000, "dbt", 16.0)]
    plot = tmp_path / "p.svg"
    text = report(records, plot)
    assert text.splitlines() == [
        "**default**",
        "",
        "| stage | 1,000: s (peak MB, server MB) | 4,000: s (peak MB, server MB) | exponent 1,000→4,000 |",
        "|---|---|---|---|",
        "| load | 2.0 (100, 900) | 8.0 (100, 900) | 1.00 |",
        "| dbt | 8.0 (100, 900) | 16.0 (100, 900) | 0.50 |",
        "| whole pipeline | 10.0 | 24.0 |  |",
        "| load + dbt, claim lines/s | 4,000 | 6,667 |  |",
    ]
    assert plot.read_text().lstrip().startswith("<?xml") and "<path" in plot.read_text()
