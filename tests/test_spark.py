"""The spark target (docs/spark.md): `veille flatten`, the same dbt models built on Spark (session
mode, local), every warehouse table equal to PostgreSQL's row by row, one study's estimates the
same on both. Needs Java 17 (`apt-get install openjdk-17-jre-headless`; .ci/run installs it)."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from datetime import date

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa
from conftest import scratch_database
from veille import db
from veille.dbt import run_dbt
from veille.errors import VeilleError
from veille.fraud.settings import SweepSettings
from veille.fraud.sweep import score_month
from veille.load import load_extract
from veille.marts import PostgresMarts, SparkMarts, marts_for
from veille.pathways.clusters import load as load_trajectories
from veille.pathways.indicators import read_indicators
from veille.pathways.indicators import register as register_indicators
from veille.pathways.summaries import adherence, care_rates, care_strata, indicator_rates, paths
from veille.refresh_bench import register_studies
from veille.scan.run import read_marts
from veille.scan.settings import ScanSettings
from veille.scan.signals import rank_signals
from veille.spark import spark_settings
from veille.spark.compare import compare_warehouses, normal
from veille.spark.flatten import flatten
from veille.study.config import find_study
from veille.study.run import analyse_study, read_study_marts
from veille.synth import generate

# what `dbt build --selector warehouse` makes as tables (views are not stored)
WAREHOUSE_TABLES = 27
# the pathways, scan and fraud models, as `veille pathways run`, `veille scan` and `veille fraud
# sweep` build them, and the interaction screen's (tag scan_ddi)
AREAS = ["run", "--select", "tag:pathways", "tag:scan", "tag:scan_ddi", "tag:fraud", "--quiet"]


@pytest.fixture(scope="module")
def both(pg_server, tmp_path_factory):
    """One small strong extract, the shipped studies registered, built on PostgreSQL, flattened
    from that warehouse and built again on Spark (seeds, models, data and unit tests)."""
    if shutil.which("java") is None:
        pytest.fail("the spark target needs Java 17: apt-get install openjdk-17-jre-headless (.ci/run does it)")
    root = tmp_path_factory.mktemp("spark")
    extract = root / "extract"
    generate(extract, patients=1500, years=3, start=date(2016, 1, 1), seed=5, scenario="strong")
    # one pack of the referential with a 5-digit CIP13: the loader rejects its line
    referential = next(extract.glob("IR_PHA_R*.csv"))
    header = referential.read_text(encoding="utf-8").splitlines()[0]
    with referential.open("a", encoding="utf-8") as fh:
        fh.write("12345" + ";" * header.count(";") + "\n")
    with (spark_settings(root / "spark", root / "parquet"),
          scratch_database("spark_equality", migrated=True) as name):
        load_extract(extract)
        register_studies()
        with db.engine(db.ENGINEER).begin() as conn:
            register_indicators(conn, read_indicators())
        run_dbt(["build", "--selector", "warehouse", "--quiet"])
        run_dbt(AREAS)
        summary = flatten(None, root / "parquet", echo=lambda _: None)
        rc = run_dbt(["build", "--selector", "warehouse", "--target", "spark", "--quiet"], check=False)
        areas_rc = run_dbt([*AREAS, "--target", "spark"], check=False) if rc == 0 else None
        yield {"database": name, "root": root, "extract": extract, "summary": summary, "rc": rc,
               "areas_rc": areas_rc}

def test_the_warehouse_builds_on_spark_with_its_data_and_unit_tests(both):
    assert both["rc"] == 0


def test_every_warehouse_table_built_on_spark_equals_postgresql(both):
    results = compare_warehouses(schemas=("intermediate", "marts"))
    assert len(results) == WAREHOUSE_TABLES
    assert [(r.table, r.detail) for r in results if not r.equal] == []
    rows = {r.table: r.pg_rows for r in results}
    # not a comparison of empty tables: the study chain and the case series have rows
    assert rows["marts.fct_study_survival"] > 1000
    assert rows["marts.fct_sccs_intervals"] > 100
    assert rows["intermediate.int_drug_episodes_built"] > 2000


def test_every_pathways_scan_and_fraud_table_built_on_spark_equals_postgresql(both):
    assert both["areas_rc"] == 0
    results = compare_warehouses(schemas=("pathways", "scan", "fraud"))
    assert [(r.table, r.detail) for r in results if not r.equal] == []
    rows = {r.table: r.pg_rows for r in results}
    assert rows["pathways.fct_pathways_indicator_patient"] > 50
    assert rows["pathways.agg_pathways_paths"] > 10
    assert rows["scan.scan_pair_counts"] > 50
    assert rows["fraud.fraud_shopping_dispensings"] > 1000
    assert rows["fraud.fraud_provider_peer_scores"] > 1000
    assert len([t for t in rows if t.startswith("fraud.")]) == 8
    assert len(results) == 43


def _same(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    """Same columns, and the same rows in the same order (numbers to 9 significant digits)."""
    columns = list(a.columns)
    return list(b.columns) == columns and [
        tuple(normal(v) for v in r) for r in a.itertuples(index=False, name=None)] == [
        tuple(normal(v) for v in r) for r in b[columns].itertuples(index=False, name=None)]


def test_the_scan_reads_the_same_marts_and_ranks_the_same_signals_on_both_engines(both):
    on_pg, on_spark = read_marts("default"), read_marts("spark")
    for name in on_pg:
        assert _same(on_pg[name], on_spark[name]), name
    settings = ScanSettings(replicates=99)
    pg = rank_signals(on_pg["scan_pair_counts"], on_pg["scan_tree_events"], settings)
    sp = rank_signals(on_spark["scan_pair_counts"], on_spark["scan_tree_events"], settings)
    assert len(pg) > 50 and _same(pg, sp)


def test_the_pathways_summaries_and_trajectories_are_the_same_on_both_engines(both):
    with db.engine().connect() as conn:
        pg = PostgresMarts(conn)
        sp = SparkMarts()
        assert _same(care_rates(care_strata(pg)), care_rates(care_strata(sp)))
        assert _same(adherence(pg), adherence(sp))
        assert _same(indicator_rates(pg), indicator_rates(sp))
        assert _same(paths(pg), paths(sp))
        a, b = load_trajectories(pg, 6), load_trajectories(sp, 6)
    assert len(a.patient_id) > 100
    assert (a.patient_id == b.patient_id).all() and (a.codes == b.codes).all()
    assert _same(a.people, b.people) and _same(a.contacts, b.contacts)


def test_the_fraud_alerts_are_the_same_on_both_engines(both):
    months = [date(2017, m, 1) for m in (10, 11, 12)]
    ranked = {}
    with db.engine(db.ENGINEER).begin() as conn:
        for target in ("default", "spark"):
            for month in months:
                score_month(conn, month, SweepSettings(), target=target)
            ranked[target] = pd.read_sql(
                sa.text("select month, entity_kind, entity_id, alert_kind, score, alert_rank, status, reasons "
                        "from results.fraud_alert order by month, alert_rank, entity_kind, entity_id"), conn)
            conn.execute(sa.text("delete from results.fraud_alert"))
            conn.execute(sa.text("delete from results.fraud_provider_score"))
    assert len(ranked["default"]) >= 3
    assert _same(ranked["default"], ranked["spark"])


def test_a_study_gives_the_same_estimates_on_both_engines(both):
    study = find_study("fall_risk_hip_fracture")
    cohort_ids = [study.cohort_id(c) for c in study.comparisons]
    with db.engine().connect() as conn:
        on_pg = read_study_marts(PostgresMarts(conn), cohort_ids)
    on_spark = read_study_marts(SparkMarts(), cohort_ids)
    assert [len(f) for f in on_spark] == [len(f) for f in on_pg]
    pg = {(a.cohort_id, a.outcome_id): a for a in analyse_study(study, *on_pg[:3])}
    sp = {(a.cohort_id, a.outcome_id): a for a in analyse_study(study, *on_spark[:3])}
    assert pg.keys() == sp.keys()
    compared = 0
    for key, a in pg.items():
        for e in a.estimates:
            f = sp[key].estimate(e["analysis"], e["term"])
            for col in ("hr", "ci_low", "ci_high", "p_value"):
                if e[col] is None:
                    assert f[col] is None
                else:
                    assert math.isclose(f[col], e[col], rel_tol=1e-9), (key, e["analysis"], col)
                    compared += col == "hr"
    assert compared >= 10
    # the injected effect is there: antipsychotics against non-users, hip fracture
    anti = pg[(study.cohort_id(study.comparisons[3]), "hip_fracture")].estimate("cox_adjusted")
    assert anti["hr"] > 1.5


def test_flatten_writes_the_loaders_tables_and_rejections(both):
    manifest = json.loads((both["root"] / "parquet" / "manifest.json").read_text())["tables"]
    with db.raw_connection() as conn:
        for name in ("claims.dispensing", "claims.hospital_stay", "claims.patient", "meta.rejected_row"):
            (n,) = conn.execute(f"select count(*) from {name}").fetchone()
            assert manifest[name]["rows"] == n, name
        rejected = conn.execute("select file_name, line_number, reason from meta.rejected_row "
                                "order by 1, 2, 3").fetchall()
    files = sorted((both["root"] / "parquet" / "claims" / "dispensing").glob("*.parquet"))
    assert [f.name for f in files] == ["part-2016.parquet", "part-2017.parquet", "part-2018.parquet"]
    table = pq.read_table(both["root"] / "parquet" / "meta" / "rejected_row").to_pandas()
    assert sorted(table[["file_name", "line_number", "reason"]].itertuples(index=False, name=None)) == \
        [tuple(r) for r in rejected]
    referential = next(both["extract"].glob("IR_PHA_R*.csv"))
    last_line = len(referential.read_text(encoding="utf-8").splitlines())  # the line the fixture added
    assert (referential.name, last_line, "CIP13 is not 13 digits") in [tuple(r) for r in rejected]


def test_a_failed_flatten_leaves_the_folder_as_it_was(both, tmp_path):
    out = tmp_path / "pq"
    out.mkdir()
    (out / "keep.txt").write_text("before")
    with db.raw_connection() as conn:
        conn.execute("alter table ref.nabm rename to nabm_gone")
        conn.commit()
    try:
        with pytest.raises(VeilleError, match=r"^flatten: the database has no table ref.nabm \(run `veille migrate` first\)$"):
            flatten(None, out, echo=lambda _: None)
    finally:
        with db.raw_connection() as conn:
            conn.execute("alter table ref.nabm_gone rename to nabm")
            conn.commit()
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["pq"]  # no half-written folder beside it


def test_flatten_without_an_extract_says_what_to_give(both):
    proc = subprocess.run([sys.executable, "-m", "veille.cli", "flatten", "--out", str(both["root"] / "x")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "error: flatten: give either an EXTRACT folder or --from-warehouse"


def test_the_spark_marts_read_only_what_is_asked(both):
    marts = SparkMarts()
    frame = marts.read("marts.fct_study_cohort", {"exposed": [1]})
    assert len(frame) > 0 and set(frame["exposed"]) == {1}
    with pytest.raises(VeilleError, match=r"^mart marts\.nothing is missing on Spark"):
        marts.read("marts.nothing")
    assert isinstance(frame, pd.DataFrame)
    # only the columns asked; a column's distinct values; a source table, from the flattened extract
    assert list(marts.read("marts.fct_study_cohort", columns=["cohort_id", "patient_id"]).columns) == \
        ["cohort_id", "patient_id"]
    with db.engine().connect() as conn:
        pg = PostgresMarts(conn)
        assert marts.distinct("fraud.fraud_provider_features", "month") == \
            pg.distinct("fraud.fraud_provider_features", "month")
        assert len(marts.distinct("fraud.fraud_provider_features", "month")) >= 30  # 3 years of flow months
        assert sorted(marts.read("claims.patient", columns=["patient_id"])["patient_id"]) == \
            sorted(pg.read("claims.patient", columns=["patient_id"])["patient_id"])
    assert marts.pg_types("fraud.fraud_rule_hits") == {
        "month": "date", "rule": "text", "entity_kind": "text", "entity_id": "text", "hits": "bigint",
        "n_patients": "bigint", "measure": "double precision", "evidence": "text"}


def test_the_cluster_target_needs_its_warehouse_folder(both, monkeypatch):
    monkeypatch.delenv("VEILLE_SPARK_WAREHOUSE", raising=False)
    with pytest.raises(VeilleError) as e:
        marts_for("spark_cluster")
    assert str(e.value) == ("the spark_cluster target's tables are read from its warehouse folder: set "
                            "VEILLE_SPARK_WAREHOUSE to the Thrift server's spark.sql.warehouse.dir (docs/spark.md)")
    with pytest.raises(VeilleError, match=r"^unknown target 'hive': expected one of default, spark, spark_cluster$"):
        marts_for("hive")


def _hand_tables(root, pg_rows: str, spark: pa.Table) -> None:
    """marts.t on PostgreSQL from ``pg_rows`` (SQL values) and on Spark from ``spark``."""
    with db.engine(db.ENGINEER).begin() as conn:
        conn.exec_driver_sql("create schema if not exists marts")
        conn.exec_driver_sql("drop table if exists marts.t")
        conn.exec_driver_sql("create table marts.t (id bigint, ratio numeric, day date, codes text[], label text)")
        conn.exec_driver_sql(f"insert into marts.t values {pg_rows}")
    folder = SparkMarts().path("marts.t")
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    pq.write_table(spark, folder / "part-0.parquet")


def test_the_comparison_ignores_row_order_and_engine_spellings_and_names_a_differing_row(pg_server, tmp_path):
    pg_rows = ("(1, 0.333333333333, '2020-01-31', '{A,B}', 'x'), (2, null, null, null, null), "
               "(2, null, null, null, null)")
    spark = {"id": pa.array([2, 2, 1], pa.int32()),
             "ratio": pa.array([None, None, 1 / 3], pa.float64()),
             "day": pa.array([None, None, date(2020, 1, 31)], pa.date32()),
             "codes": pa.array([None, None, ["A", "B"]], pa.list_(pa.string())),
             "label": pa.array([None, None, "x"])}
    with spark_settings(tmp_path / "spark", tmp_path / "parquet"), scratch_database("spark_compare"):
        _hand_tables(tmp_path, pg_rows, pa.table(spark))
        assert [(r.table, r.pg_rows, r.spark_rows, r.equal, r.detail) for r in compare_warehouses(("marts",))] == [
            ("marts.t", 3, 3, True, "")]
        _hand_tables(tmp_path, pg_rows, pa.table({**spark, "label": pa.array([None, None, "y"])}))
        [result] = compare_warehouses(("marts",))
        assert (result.equal, result.detail) == (False, (
            "3 rows against 3, 1 of them differ; e.g. PostgreSQL {id=1.0, ratio=0.333333333, day=2020-01-31, "
            "codes=('A', 'B'), label=x}; the closest Spark row differs in label (x against y)"))
        _hand_tables(tmp_path, pg_rows, pa.table(spark).slice(0, 2))
        [result] = compare_warehouses(("marts",))
        assert (result.equal, result.detail) == (False, (
            "3 rows against 2; only on PostgreSQL: {id=1.0, ratio=0.333333333, day=2020-01-31, codes=('A', 'B'), "
            "label=x}"))
        _hand_tables(tmp_path, pg_rows, pa.table(spark).slice(1))
        [result] = compare_warehouses(("marts",))
        assert (result.equal, result.detail) == (
            False, "3 rows against 2; the same rows, repeated a different number of times")
