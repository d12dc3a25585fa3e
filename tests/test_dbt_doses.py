"""Doses (issue 26) on a hand-written mini-extract: the dosage columns of IR_PHA_R loaded as
written, normalised to mg (two strengths of pioglitazone, a µg benzodiazepine, a decimal comma),
a regularised dispensing, a missing, an unparseable, an unknown-unit and an implausible dosage: exact rows of
int_drug_pack_doses and fct_drug_dispensing_doses, the load's note and the build's data-quality
line, and the days a dispensing covers in `days_covered_mode: ddd`."""

from __future__ import annotations

import json
from decimal import Decimal as D
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner
from veille import db
from veille.cli import app

KEYS = "DCT_ORD_NUM;FLX_DIS_DTD;FLX_EMT_NUM;FLX_EMT_ORD;FLX_EMT_TYP;FLX_TRT_DTD;ORG_CLE_NUM;PRS_ORD_NUM;REM_TYP_AFF"
P1, P2 = "DOSEDOSEDOSEDOSE1", "DOSEDOSEDOSEDOSE2"
PIO15, PIO30, ALPRA, METF, INSUL, ZOPI, METF2, JUNK = (f"34009300001{i:02d}" for i in range(1, 9))
PHA = f"""PHA_CIP_C13;PHA_ATC_C07;PHA_NOM_PA;PHA_CND_TOP;PHA_UNT_NBR_DSES;PHA_DOS_PRA_DSES;PHA_DOS_UNT_DSES
{PIO15};A10BG03;PIOGLITAZONE;NGC;28;15;MG
{PIO30};A10BG03;PIOGLITAZONE;NGC;28;30,0;mg
{ALPRA};N05BA12;ALPRAZOLAM;NGC;30;250;µG
{METF};A10BA02;METFORMINE;NGC;30;;
{INSUL};A10AE04;INSULINE GLARGINE;NGC;5;100;UI/ML
{ZOPI};N05CF01;ZOPICLONE;NGC;14;7,5;MG
{METF2};A10BA02;METFORMINE;NGC;30;850 mg;MG
{JUNK};A10BG03;PIOGLITAZONE;NGC;30;5000000;G
"""
# (line, patient, day, pharmacy, CIP13, packs): P2's 2 packs of PIO30 less 1 by a regularisation
DISPENSINGS = [
    (1, P1, "2019-01-10", PIO15, 1), (2, P1, "2019-02-07", PIO30, 2),
    (3, P2, "2019-01-15", PIO30, 2), (4, P2, "2019-01-15", PIO30, -1), (5, P2, "2019-01-20", ALPRA, 1),
    (6, P2, "2019-01-20", METF, 1), (7, P2, "2019-01-20", INSUL, 1), (8, P2, "2019-01-20", ZOPI, 1),
]


def _extract(d: Path) -> Path:
    d.mkdir()
    (d / "IR_BEN_R.csv").write_text(
        f"BEN_NIR_PSA;BEN_RNG_GEM;BEN_SEX_COD;BEN_NAI_ANN\n{P1};1;1;1950\n{P2};1;2;1960\n", "utf-8")
    (d / "IR_PHA_R.csv").write_text(PHA, "utf-8")
    key = "{n};2019-03-01;1;{n};1;2019-03-01;01C731223;1;1"
    prs = [f"{KEYS};BEN_NIR_PSA;BEN_RNG_GEM;EXE_SOI_DTD;PRS_NAT_REF;DPN_QLF;PRS_ACT_QTE;PFS_EXE_NUM;PFS_PRE_NUM"]
    pha = [f"{KEYS};PHA_PRS_C13;PHA_ACT_QSN"]
    for n, patient, day, cip, packs in DISPENSINGS:
        prs.append(f"{key.format(n=n)};{patient};1;{day};3317;0;{packs};11111111;22222222")
        pha.append(f"{key.format(n=n)};{cip};{packs}")
    (d / "ER_PRS_F.csv").write_text("\n".join(prs) + "\n", "utf-8")
    (d / "ER_PHA_F.csv").write_text("\n".join(pha) + "\n", "utf-8")
    return d


def _rows(sql: str) -> list[tuple]:
    with db.engine().connect() as c:
        return [tuple(r) for r in c.execute(sa.text(sql))]


def _veille_dbt(capfd, *args: str) -> str:
    """``veille dbt ARGS`` (it must succeed): what dbt printed, from its subprocess."""
    capfd.readouterr()
    out = CliRunner().invoke(app, ["dbt", *args])
    printed = capfd.readouterr().out
    assert out.exit_code == 0, printed
    return printed


@pytest.fixture(scope="module")
def dose_db(pg_server, tmp_path_factory):
    from conftest import scratch_database
    from veille.load import load_extract

    extract = _extract(tmp_path_factory.mktemp("dose") / "extract")
    with scratch_database("dose_marts", migrated=True):
        summary = load_extract(extract)
        out = CliRunner().invoke(app, ["dbt", "build", "--select", "+fct_drug_dispensing_doses", "+fct_drug_episode_doses",
                                              "+fct_drug_cumulative_exposure", "--quiet"])
        yield {"summary": summary, "build": out}


def test_the_load_keeps_dosages_as_written_and_says_which_are_unusable(dose_db):
    assert dose_db["summary"].notes == [
        ("IR_PHA_R: 2 pack(s) without a usable dosage (1 missing, 1 not a positive number; see "
        "ref.drug.dosage_text): they get no dose")]
    assert _rows("select cip13, dosage_text, dosage, dosage_unit from ref.drug order by 1") == [
        (PIO15, "15", D("15.000000"), "MG"), (PIO30, "30,0", D("30.000000"), "mg"),
        (ALPRA, "250", D("250.000000"), "µG"), (METF, None, None, None),
        (INSUL, "100", D("100.000000"), "UI/ML"), (ZOPI, "7,5", D("7.500000"), "MG"),
        (METF2, "850 mg", None, "MG"), (JUNK, "5000000", D("5000000.000000"), "G")]


def test_pack_doses_in_mg_and_ddd_with_a_reason_for_each_missing_one(dose_db):
    assert _rows("select cip13, dose_status, dose_unit, dose_per_unit, dose_per_pack, ddd, ddd_unit, ddd_status, "
                 "ddd_per_pack from intermediate.int_drug_pack_doses order by 1") == [
        (PIO15, "ok", "mg", D(15), D(420), D(30), "mg", "ok", D(14)),
        (PIO30, "ok", "mg", D(30), D(840), D(30), "mg", "ok", D(28)),
        (ALPRA, "ok", "mg", D("0.25"), D("7.5"), D(1), "mg", "ok", D("7.5")),
        (METF, "missing dosage", None, None, None, D(2000), "mg", "no dose", None),
        (INSUL, "unknown unit", None, None, None, D(40), "IU", "no dose", None),
        (ZOPI, "ok", "mg", D("7.5"), D(105), D("7.5"), "mg", "ok", D(14)),
        (METF2, "unparseable dosage", None, None, None, D(2000), "mg", "no dose", None),
        # 5,000,000 g a tablet: a referential error, no dose (and no numeric overflow)
        (JUNK, "implausible dosage", None, None, None, D(30), "mg", "no dose", None)]


def test_the_dose_of_each_net_dispensing(dose_db):
    assert _rows("select p.ben_nir_psa, d.dispensing_date::text, d.cip13, d.atc7, d.packs, d.dose_unit, "
                 "d.dose_dispensed, d.ddd_dispensed from marts.fct_drug_dispensing_doses d "
                 "join claims.patient p using (patient_id) order by 1, 2, 3") == [
        (P1, "2019-01-10", PIO15, "A10BG03", 1, "mg", D(420), D(14)),
        (P1, "2019-02-07", PIO30, "A10BG03", 2, "mg", D(1680), D(56)),
        (P2, "2019-01-15", PIO30, "A10BG03", 1, "mg", D(840), D(28)),  # 2 packs less 1 regularised
        (P2, "2019-01-20", ALPRA, "N05BA12", 1, "mg", D("7.5"), D("7.5")),  # 30 x 250 µg
        (P2, "2019-01-20", ZOPI, "N05CF01", 1, "mg", D(105), D(14))]


def test_the_dose_of_each_episode(dose_db):
    # fixed days: 30 a normal pack. P1's pioglitazone: 15 mg then 30 mg x 2, one episode of 90
    # days (stockpiled), 14 + 56 DDDs; P2's metformin and insulin packs have no DDD count
    assert _rows("select p.ben_nir_psa, e.drug_code, e.episode_start::text, e.episode_end::text, e.n_dispensings, "
                 "e.n_dispensings_with_ddd, e.ddd_dispensed, e.ddd_per_day from marts.fct_drug_episode_doses e "
                 "join claims.patient p using (patient_id) order by 1, 2") == [
        (P1, "A10BG03", "2019-01-10", "2019-04-10", 2, 2, D(70), D("0.777778")),
        (P2, "A10AE04", "2019-01-20", "2019-02-19", 1, 0, None, None),
        (P2, "A10BA02", "2019-01-20", "2019-02-19", 1, 0, None, None),
        (P2, "A10BG03", "2019-01-15", "2019-02-14", 1, 1, D(28), D("0.933333")),
        (P2, "N05BA12", "2019-01-20", "2019-02-19", 1, 1, D("7.5"), D("0.25")),
        (P2, "N05CF01", "2019-01-20", "2019-02-19", 1, 1, D(14), D("0.466667"))]


def test_the_cumulative_exposure_of_each_patient_and_drug(dose_db):
    # the default categories (365 and 730 days, 365 and 730 DDDs) are far: one interval while
    # exposed, one open after; the packs without a DDD count leave the cumulative DDDs unknown
    assert _rows("select p.ben_nir_psa, c.drug_code, c.start_date::text, c.end_date::text, c.exposed, c.cum_days, "
                 "c.duration_category, c.cum_ddd, c.ddd_category from marts.fct_drug_cumulative_exposure c "
                 "join claims.patient p using (patient_id) order by 1, 2, 3") == [
        (P1, "A10BG03", "2019-01-10", "2019-04-10", 1, 0, 0, D(14), 0),
        (P1, "A10BG03", "2019-04-10", None, 0, 90, 0, D(70), 0),
        (P2, "A10AE04", "2019-01-20", "2019-02-19", 1, 0, 0, None, None),
        (P2, "A10AE04", "2019-02-19", None, 0, 30, 0, None, None),
        (P2, "A10BA02", "2019-01-20", "2019-02-19", 1, 0, 0, None, None),
        (P2, "A10BA02", "2019-02-19", None, 0, 30, 0, None, None),
        (P2, "A10BG03", "2019-01-15", "2019-02-14", 1, 0, 0, D(28), 0),
        (P2, "A10BG03", "2019-02-14", None, 0, 30, 0, D(28), 0),
        (P2, "N05BA12", "2019-01-20", "2019-02-19", 1, 0, 0, D("7.5"), 0),
        (P2, "N05BA12", "2019-02-19", None, 0, 30, 0, D("7.5"), 0),
        (P2, "N05CF01", "2019-01-20", "2019-02-19", 1, 0, 0, D(14), 0),
        (P2, "N05CF01", "2019-02-19", None, 0, 30, 0, D(14), 0)]


def test_the_build_lists_the_packs_without_a_dose(dose_db):
    out = dose_db["build"]
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1] == (
        "data quality: 4 drug packs without a usable dose (no dose per dispensing for them; by reason: "
        "select dose_status, count(*) from intermediate.int_drug_pack_doses group by 1)")


def test_ddd_mode_covers_one_day_per_ddd(dose_db):
    from veille.dbt import run_dbt

    run_dbt(["run", "--select", "int_drug_dispensings", "--quiet", "--vars",
             json.dumps({"days_covered_mode": "ddd"})], check=True)
    try:
        got = _rows("select cip13, packs, days_covered from intermediate.int_drug_dispensings order by 1, 2")
    finally:
        run_dbt(["run", "--select", "int_drug_dispensings", "--quiet"], check=True)
    # 14 and 28 DDDs a pack; 7.5 DDDs round up to 8 days; no DDDs (no dose): 30 fixed days
    assert got == [(PIO15, 1, 14), (PIO30, 1, 28), (PIO30, 2, 56), (ALPRA, 1, 8), (METF, 1, 30),
                   (INSUL, 1, 30), (ZOPI, 1, 14)]


def test_rebuilding_their_parents_keeps_the_views_that_read_them(dose_db, capfd):
    # dbt drops a rebuilt model's old relation with cascade: the views reading it, outside the
    # selection (a study build rebuilds int_drug_dispensings), are re-pointed first
    # (macros/keep_dependent_views.sql); a view whose columns would change is dropped with a warning
    views = ("marts.fct_drug_episode_doses", "marts.fct_drug_cumulative_exposure", "marts.fct_drug_dispensing_doses")
    before = [_rows(f"select * from {v} order by 1, 2, 3") for v in views]
    with db.engine(db.ENGINEER).begin() as c:
        c.execute(sa.text("create view marts.renamed_reader as "
                          "select dispensing_id as int_drug_dispensings__dbt_backup from intermediate.int_drug_dispensings"))
    # a table, a view reading it (in the selection) and views reading both (outside it), rebuilt
    # by two threads
    printed = _veille_dbt(capfd, "run", "--select", "int_drug_pack_doses", "fct_drug_dispensing_doses",
                          "int_drug_dispensings")
    assert [_rows(f"select * from {v} order by 1, 2, 3") for v in views] == before
    assert _rows("select to_regclass('marts.renamed_reader')") == [(None,)]
    assert [line.split("  ", 1)[-1].strip() for line in printed.splitlines() if "renamed_reader" in line] == [
        ("veille: the view marts.renamed_reader read intermediate.int_drug_dispensings and could not be re-pointed at "
         "its rebuilt version (its columns would change): it was dropped; rebuild it (`dbt run --select "
         "renamed_reader` for a model)")]


def test_the_dose_seeds_rebuild_the_episodes_in_ddd_mode_only(dose_db, capfd):
    # an incremental model rebuilds in full when an input in its fingerprint changes
    # (macros/refresh.sql): int_drug_dispensings reads the pack doses only in ddd mode
    def upstream(*extra: str) -> list[str]:
        return _veille_dbt(capfd, "run-operation", "print_refresh_upstream", "--quiet",
                           "--args", "{model: int_drug_episodes_built}", *extra).split()

    base = ["model.veille.int_drug_dispensings", "model.veille.stg_claims__dispensings",
            "model.veille.stg_claims__patients", "model.veille.stg_ref__drugs", "seed.veille.drug_daily_units"]
    assert upstream() == base
    assert upstream("--vars", "{days_covered_mode: units}") == base
    assert upstream("--vars", "{days_covered_mode: ddd}") == sorted(
        [*base, "model.veille.int_drug_pack_doses", "seed.veille.dose_units", "seed.veille.drug_ddd"])


def test_the_generator_packs_get_their_doses(warehouse):
    # the shared `strong` extract: 60 packs of 30 drugs, of which aspirin's large pack and
    # bromazepam's have no dosage and insulin's two are written per ml
    assert _rows("select dose_status, count(*) from intermediate.int_drug_pack_doses group by 1 order by 1") == [
        ("missing dosage", 2), ("ok", 56), ("unknown unit", 2)]
    assert _rows("select dose_per_unit, units_per_pack, dose_per_pack, ddd_per_pack from intermediate.int_drug_pack_doses "
                 "where atc7 = 'A10BG03' order by 1, 2") == [
        (D(15), 28, D(420), D(14)), (D(15), 84, D(1260), D(42)), (D(30), 28, D(840), D(28)),
        (D(30), 84, D(2520), D(84)), (D(45), 28, D(1260), D(42)), (D(45), 84, D(3780), D(126))]
    # every pioglitazone dispensing has its dose, in each of the three strengths
    assert _rows("select count(distinct d.cip13), count(*) = count(f.dispensing_id) "
                 "from intermediate.int_drug_dispensings d left join marts.fct_drug_dispensing_doses f "
                 "using (dispensing_id) where d.atc7 = 'A10BG03'") == [(6, True)]


def test_a_later_referential_without_dosages_keeps_them(migrated_db, tmp_path):
    from veille.load import load_extract

    load_extract(_extract(tmp_path / "first"))
    later = tmp_path / "later"
    later.mkdir()
    (later / "IR_PHA_R.csv").write_text(f"PHA_CIP_C13;PHA_ATC_C07;PHA_UNT_NBR_DSES\n{PIO15};A10BG03;28\n", "utf-8")
    summary = load_extract(later)
    assert summary.notes == [("IR_PHA_R.csv: no PHA_DOS_PRA_DSES or PHA_DOS_UNT_DSES column: its packs have no "
                             "dosage, so no dose per dispensing (the dose marts stay empty for them)")]
    assert _rows(f"select dosage_text, dosage, dosage_unit from ref.drug where cip13 = '{PIO15}'") == [
        ("15", D("15.000000"), "MG")]


def test_an_extract_without_dosage_columns_builds_empty_dose_marts(migrated_db):
    from veille.load import load_extract

    load_extract(Path(__file__).parent / "fixtures" / "mini")
    out = CliRunner().invoke(app, ["dbt", "build", "--select", "+fct_drug_dispensing_doses", "--quiet"])
    assert out.exit_code == 0, out.output
    assert out.output.splitlines()[-1].startswith("data quality: 2 drug packs without a usable dose")
    assert _rows("select count(*) from marts.fct_drug_dispensing_doses") == [(0,)]
    assert _rows("select dose_status, count(*) from intermediate.int_drug_pack_doses group by 1") == [
        ("missing dosage", 2)]
