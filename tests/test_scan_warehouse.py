"""The scan on the shared `strong` synthetic warehouse: injected pairs on top, CLI, report."""

from __future__ import annotations

import json

from typer.testing import CliRunner
from veille.cli import app
from veille.scan.evaluate import evaluate
from veille.scan.report import COUNT_COLUMNS, masked_signals, write_report
from veille.scan.run import read_lags, read_signals, run_scan
from veille.scan.settings import ScanSettings

MIN_COMBINED_AUC = 0.9
MIN_CONVSCCS_AUC = 0.85  # 0.90 measured (seed 11, 4,000 patients)


def test_scan_ranks_injected_pairs_above_negative_controls(warehouse, exports):
    # the fixture's `dbt build` built the scan marts with the default vars
    run_id, seconds = run_scan(ScanSettings(replicates=199), build=False)
    assert set(seconds) == {"read marts", "ConvSCCS", "statistics", "store"}
    signals = read_signals(run_id)
    assert signals["rank"].tolist() == list(range(1, len(signals) + 1))
    assert signals["combined_p"].is_monotonic_increasing
    result = evaluate(warehouse["extract"] / "truth.json", signals)
    assert (result["positives"], result["negatives"]) == (8, 22)
    assert result["auc"]["combined"] >= MIN_COMBINED_AUC, result
    assert result["auc"]["convsccs"] >= MIN_CONVSCCS_AUC, result
    # ConvSCCS: every drug at once per outcome; a lag curve per scanned ICD-10 code pair
    lags = read_lags(run_id)
    assert set(lags["lag"]) == set(range(12))
    curve = lags[(lags["drug_code"] == "N05CF") & (lags["outcome_code"] == "S72")]
    assert len(curve) == 12 and (curve["ci_low"] <= curve["ri"]).all() and (curve["ri"] <= curve["ci_high"]).all()
    hip = signals[(signals["drug_code"] == "N05CF") & (signals["outcome_code"] == "S72")].iloc[0]
    assert hip["conv_ri"] > 1.3 and hip["conv_p"] < 0.05, hip  # injected: 4 after 65

    runner = CliRunner()
    out = runner.invoke(app, ["scan", "evaluate", "--truth", str(warehouse["extract"]),
                              "--format", "json", "--run-id", str(run_id)])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == json.loads(json.dumps(result))
    (exports / "scan").mkdir(exist_ok=True)  # audited by tests/test_audit.py
    (exports / "scan" / "evaluate.json").write_text(out.output)

    report = write_report(signals, exports / "scan" / "scan.html", run_id, drill=5, lags=lags)
    text = report.read_text("utf-8")
    assert "ConvSCCS lag curves" in text
    assert text.count('<script type="text/javascript">') == 1  # plotly inlined once (veille.report)
    assert "Drill-down (top 5)" in text and "<h2>Volcano</h2>" in text
    # small cells: every exported count is "<10" or a number >= 10
    shown = masked_signals(signals)[COUNT_COLUMNS].to_numpy().ravel()
    assert all(v == "<10" or int(v) >= 10 for v in shown)
    assert (signals["oe_observed"] < 10).any() and "<10" in shown
    assert "&lt;10" in text and "<td><10" not in text
