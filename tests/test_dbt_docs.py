"""The dbt docs of the shared synthetic warehouse: every model and published column described,
the exposures declaring which report reads which mart, the load log fresh."""

from __future__ import annotations

import json
import re

from veille import db
from veille.dbt import run_dbt
from veille.docs import PUBLISHED_SCHEMAS, generate, published_counts, undocumented

EXPOSURES = {"study_reports", "study_results_export", "scan_report", "interaction_report", "pathways_report",
             "fraud_sweep", "fraud_report"}


def _queried_relations() -> set[str]:
    """Relations of the published schemas that the Python layer names in its SQL."""
    pattern = re.compile(rf"\b(?:{'|'.join(PUBLISHED_SCHEMAS)})\.((?:fct|scan|fraud)_[a-z_]+)")
    root = db.project_root() / "python" / "veille"
    files = [p for ext in ("*.py", "*.sql") for p in root.rglob(ext) if "synth" not in p.parts]
    return {m.group(1) for p in files for m in pattern.finditer(p.read_text())}


def test_docs_describe_everything_and_sources_are_fresh(warehouse, tmp_path):
    index = generate(tmp_path)
    assert index.is_file()

    # every model described; every column the database has in the published schemas described
    assert undocumented(tmp_path) == []
    models, columns = published_counts(tmp_path)
    assert models >= 40 and columns >= 300

    # one exposure per report, each on models of the published schemas, each naming its command;
    # every published relation the Python code queries is declared by some exposure
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    exposures = {e["name"]: e for e in manifest["exposures"].values()}
    assert set(exposures) == EXPOSURES
    read = set()
    for name, exposure in exposures.items():
        assert exposure["owner"]["name"] == "veille"
        assert "`veille " in exposure["description"], name
        parents = [manifest["nodes"][uid] for uid in exposure["depends_on"]["nodes"]]
        assert parents and all(p["schema"] in PUBLISHED_SCHEMAS for p in parents), name
        read |= {p["name"] for p in parents}
    assert _queried_relations() - read == set()

    # the load log the claims freshness reads: fresh after the session's load
    assert run_dbt(["source", "freshness", "--quiet", "--target-path", str(tmp_path)], check=False) == 0
    results = json.loads((tmp_path / "sources.json").read_text())["results"]
    assert {r["unique_id"].rsplit(".", 1)[1]: r["status"] for r in results} == {"load_batch": "pass",
                                                                                 "load_run": "pass"}
