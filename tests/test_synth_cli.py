"""`veille synth`: same seed same bytes, chunking, and one-line errors for bad arguments."""

from __future__ import annotations

import hashlib
import json
import sys
from datetime import date
from pathlib import Path

import pytest
from veille.cli import main
from veille.errors import VeilleError
from veille.synth import generate


def run_cli(args: list[str], capsys, monkeypatch) -> tuple[int, str, str]:
    """Run `veille ...` in-process as the console script does: exit code, stdout, stderr."""
    monkeypatch.setattr(sys, "argv", ["veille", *args])
    code = 0
    try:
        main()
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def _digests(root: Path) -> dict[str, str]:
    return {str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(root.rglob("*")) if f.is_file()}


def test_same_seed_same_bytes_across_chunks(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 5), (b, 5), (c, 6)):
        generate(out, patients=700, years=2, start=date(2018, 1, 1), seed=seed,
                 scenario="strong", chunk_size=300)
    da, db, dc = _digests(a), _digests(b), _digests(c)
    assert da == db
    assert set(da) == set(dc) and da["IR_BEN_R.csv"] != dc["IR_BEN_R.csv"]
    assert sorted(p.name for p in (a / "latent").iterdir()) == [
        "chunk_00000.npz", "chunk_00001.npz", "chunk_00002.npz"]
    truth = json.loads((a / "truth.json").read_text("utf-8"))
    assert truth["counts"]["rows"]["IR_BEN_R"] == 700


def test_cli_writes_an_extract_and_refuses_to_overwrite(tmp_path, capsys, monkeypatch):
    out = tmp_path / "x"
    args = ["synth", "--patients", "200", "--years", "1", "--seed", "2", "--out", str(out)]
    code, stdout, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    assert stdout.startswith(f"wrote {out}: 200 patients, ")
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 2
    assert err.strip() == f"error: --out {out} is not empty (use --force to replace an extract)"
    code, _, err = run_cli([*args, "--force"], capsys, monkeypatch)
    assert code == 0, err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--patients", "0"], "error: --patients must be a positive integer, got 0"),
        (["--years", "0"], "error: --years must be between 1 and 20, got 0"),
        (["--start", "2015-13-01"], "error: --start must be a date as YYYY-MM-DD, got '2015-13-01'"),
        (["--scenario", "nope"],
         "error: unknown scenario 'nope': not one of default, strong, interactions, dose nor a YAML file"),
        (["--profile", "nope"], "error: unknown profile 'nope': not one of default, stress"),
    ],
)
def test_cli_bad_arguments_give_one_line(tmp_path, capsys, monkeypatch, extra, message):
    code, _, err = run_cli(["synth", "--out", str(tmp_path / "y"), *extra], capsys, monkeypatch)
    assert code == 2
    assert err.strip() == message


def test_force_never_deletes_a_directory_that_is_not_an_extract(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(VeilleError, match="holds no truth.json: not replacing it"):
        generate(tmp_path, 10, 1, date(2015, 1, 1), 1, force=True)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_scenario_file_overrides_the_default(tmp_path):
    sc = tmp_path / "mine.yml"
    sc.write_text("effects:\n  - {exposure_atc: A10BG03, outcome_icd10: C67, hazard_ratio: 2.0,"
                  " window: on_treatment, latency_days: 0, population: all}\n"
                  "outcomes:\n  C67: {rate: 50.0}\n")
    generate(tmp_path / "out", 300, 1, date(2015, 1, 1), 1, sc)
    truth = json.loads((tmp_path / "out" / "truth.json").read_text("utf-8"))
    assert truth["scenario"]["name"] == "mine"
    assert truth["scenario"]["outcomes"]["C67"]["rate"] == 50.0
    assert truth["scenario"]["outcomes"]["C67"]["age"] == 0.7  # kept from default
    assert [(e["exposure_atc"], e["hazard_ratio"]) for e in truth["effects"]] == [("A10BG03", 2.0)]
    bad = tmp_path / "bad.yml"
    bad.write_text("effects:\n  - {exposure_atc: A10BG03, outcome_icd10: X99, hazard_ratio: 2,"
                   " window: on_treatment, latency_days: 0, population: all}\n")
    with pytest.raises(VeilleError, match=r"scenario effect #1: outcome 'X99' is not in 'outcomes'"):
        generate(tmp_path / "out2", 300, 1, date(2015, 1, 1), 1, bad)
