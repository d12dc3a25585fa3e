"""The shared settings skeleton (veille.settings, veille.cliapp): YAML settings files of every
domain, one exact error line per kind of mistake, and the command line over the file."""

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from pydantic import Field
from typer.main import get_command
from typer.testing import CliRunner
from veille import cliapp
from veille.errors import VeilleError
from veille.fraud.settings import SweepSettings
from veille.pathways.settings import RunSettings
from veille.scan.settings import ScanSettings
from veille.settings import Settings


def _error(tmp_path: Path, model: type[Settings], text: str, name: str = "settings.yml") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    with pytest.raises(VeilleError) as exc:
        model.from_yaml(path)
    return str(exc.value).replace(str(tmp_path) + "/", "")


@pytest.mark.parametrize(
    ("model", "text", "message"),
    [
        (ScanSettings, "washout_day: 30\n",
         "settings.yml: unknown key 'washout_day' (did you mean 'washout_days'?)"),
        (SweepSettings, "threshold: 3\n",
         ("settings.yml: unknown key 'threshold' (known keys: z_alert, z_reason, z_with_forest, persistent_z, "
          "persistent_months, forest_share, class_z, class_ratio, class_pooled_z, class_pooled_ratio, "
          "shopping_share, shopping_min_overlapping, shopping_supply_ratio, seed)")),
        (ScanSettings, "replicates: many\n", "settings.yml: replicates: must be a whole number, got 'many'"),
        (ScanSettings, "replicates: 99.5\n", "settings.yml: replicates: must be a whole number, got 99.5"),
        (SweepSettings, "z_alert: high\n", "settings.yml: z_alert: must be a number, got 'high'"),
        (ScanSettings, "replicates: 5\n", "settings.yml: replicates: must be >= 19, got 5"),
        (SweepSettings, "forest_share: 0.7\n", "settings.yml: forest_share: must be < 0.5, got 0.7"),
        (SweepSettings, "persistent_months: 13\n", "settings.yml: persistent_months: must be <= 12, got 13"),
        (RunSettings, "method: clarra\n",
         "settings.yml: method: must be 'mixture' or 'clara', got 'clarra' (did you mean 'clara'?)"),
        (RunSettings, "build: everything\n",
         "settings.yml: build: must be 'upstream', 'pathways' or 'indicators', got 'everything'"),
        (RunSettings, "k: 1\n", "settings.yml: k: must be 0 (automatic) or at least 2, got 1"),
        (ScanSettings, "tree_gap_days: -1\n", "settings.yml: tree_gap_days: must be >= 0, got -1"),
        (ScanSettings, "- washout_days\n", "settings.yml: expected a mapping of keys, got ['washout_days']"),
        (ScanSettings, "replicates: 99\nseed: [1, 2\n",
         "settings.yml: line 3 not valid YAML (expected ',' or ']', but got '<stream end>')"),
        (ScanSettings, "washout_days: 30\n  fdr: 0.1\n",
         "settings.yml: line 2 not valid YAML (mapping values are not allowed here)"),
    ],
)
def test_a_bad_settings_file_is_one_exact_line(tmp_path, model, text, message):
    assert _error(tmp_path, model, text) == message


def test_missing_file_and_empty_file(tmp_path):
    with pytest.raises(VeilleError) as exc:
        ScanSettings.from_yaml(tmp_path / "nope.yml")
    assert str(exc.value) == f"{tmp_path}/nope.yml: no such settings file"
    empty = tmp_path / "empty.yml"
    empty.write_text("# nothing set\n")
    assert ScanSettings.from_yaml(empty) == ScanSettings()


def test_each_domain_loads_its_file(tmp_path):
    (tmp_path / "scan.yml").write_text("replicates: 99\ntree_gap_days: 60\nfdr: 0.1\n")
    scan = ScanSettings.from_yaml(tmp_path / "scan.yml")
    assert (scan.replicates, scan.tree_gap_days, scan.fdr, scan.washout_days) == (99, 60, 0.1, 365)
    assert scan.dbt_vars()["scan_tree_gap_days"] == 60
    (tmp_path / "pathways.yml").write_text("method: clara\nk: 0\nmonths: 24\n")
    path = RunSettings.from_yaml(tmp_path / "pathways.yml")
    assert (path.method, path.k, path.dbt_vars()) == ("clara", None, {"pathways_months": 24})
    (tmp_path / "fraud.yml").write_text("z_alert: 6\nshopping_min_overlapping: 2\n")
    fraud = SweepSettings.from_yaml(tmp_path / "fraud.yml")
    assert (fraud.z_alert, fraud.shopping_min_overlapping, fraud.z_reason) == (6.0, 2, 3.0)
    assert SweepSettings.from_dict({"seed": 4}).seed == 4


def test_python_construction_gives_the_same_line():
    with pytest.raises(VeilleError, match=r"^fdr: must be < 1, got 1.5$"):
        ScanSettings(fdr=1.5)
    with pytest.raises(VeilleError, match=r"^unknown key 'sed' \(did you mean 'seed'\?\)$"):
        SweepSettings(sed=1)


class _Toy(Settings):
    seed: int = Field(1, ge=0)
    method: str = "a"
    level: float = 0.5


def _toy_app() -> typer.Typer:
    app = cliapp.sub_app("toy", "A toy group.")

    @app.command("go")
    def go(
        ctx: typer.Context,
        settings_file: cliapp.SettingsFile = None,
        seed: int = typer.Option(1, "--seed"),
        how: str = typer.Option("a", "--method"),
    ) -> None:
        s = cliapp.load_settings(ctx, _Toy, settings_file, {"seed": seed, "method": how},
                                 params={"method": "how"})
        typer.echo(f"{s.seed} {s.method} {s.level}")

    @app.command("other")
    def other() -> None:
        pass

    return app


def test_typed_options_override_the_file_and_defaults_do_not(tmp_path):
    app = _toy_app()
    f = tmp_path / "toy.yml"
    f.write_text("seed: 7\nmethod: b\nlevel: 0.9\n")
    run = CliRunner().invoke
    assert run(app, ["go"]).output == "1 a 0.5\n"
    assert run(app, ["go", "--settings", str(f)]).output == "7 b 0.9\n"
    assert run(app, ["go", "--settings", str(f), "--seed", "2"]).output == "2 b 0.9\n"
    assert run(app, ["go", "--settings", str(f), "--method", "a"]).output == "7 a 0.9\n"
    out = run(app, ["go", "--seed", "-3"])
    assert str(out.exception) == "--seed: must be >= 0, got -3"  # a typed value names its option
    f.write_text("seed: -3\n")
    out = run(app, ["go", "--settings", str(f)])
    assert str(out.exception) == f"{f}: seed: must be >= 0, got -3"  # a file value names the file


def test_cli_defaults_are_the_settings_defaults():
    """`veille scan` and `veille pathways run` with no option run the settings' defaults."""
    from veille.pathways.cli import pathways_app
    from veille.scan.cli import scan_app

    scan = {p.name: p.default for p in get_command(scan_app).params}
    assert scan["settings_file"] is None
    fields = {k: v.default for k, v in ScanSettings.model_fields.items()}
    for name in ("washout_days", "ssa_window_days", "tree_gap_days", "latency_days", "min_events", "replicates",
                 "seed", "fdr"):
        assert scan[name] == fields[name], name

    run = {p.name: p.default for p in get_command(pathways_app).commands["run"].params}
    fields = {k: v.default for k, v in RunSettings.model_fields.items()}
    for name in ("months", "min_months", "method", "sample_size", "seed", "path_filter", "build"):
        assert run[name] == fields[name], name
    assert (run["samples"], run["indicators"], run["k"], fields["k"]) == (fields["n_samples"], None, 0, None)


def test_closed_choice_of_an_option():
    assert cliapp.choice("json", ("text", "json"), "--format") == "json"
    with pytest.raises(VeilleError, match=r"^--format must be text or json, got 'jsn' \(did you mean 'json'\?\)$"):
        cliapp.choice("jsn", ("text", "json"), "--format")


def test_the_command_prints_one_line_and_exits_2(tmp_path):
    """No traceback for a user mistake: the settings file, then a bad option value."""
    veille = Path(sys.executable).parent / "veille"
    bad = tmp_path / "p.yml"
    bad.write_text("metod: clara\n")
    out = subprocess.run([veille, "pathways", "run", "--settings", str(bad)], capture_output=True, text=True, check=False)
    assert (out.returncode, out.stdout) == (2, "")
    assert out.stderr == f"error: {bad}: unknown key 'metod' (did you mean 'method'?)\n"
    out = subprocess.run([veille, "scan", "--replicates", "lots"], capture_output=True, text=True, check=False)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "Invalid value for '--replicates'" in out.stderr
