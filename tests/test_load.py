"""The loader on a hand-written mini-extract (tests/fixtures/mini) that uses every format variant
of the contract: ';' and ',' delimiters, decimal commas, Latin-1, ISO / SAS / DD/MM/YYYY /
DDMMYYYY dates, 1600-01-01, split monthly files, PMSI year files, extra columns."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import SHARED_SNDS as SHARED
from veille import db
from veille.errors import LoadError
from veille.load import load_extract
from veille.load.spec import SPECS

MINI = Path(__file__).parent / "fixtures" / "mini"
P1, P2 = "AAAAAAAAAAAAAAAA1", "BBBBBBBBBBBBBBBB2"


def rows(query: str) -> list[tuple]:
    with db.engine().connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(query))]


def snapshot() -> dict[str, list[tuple]]:
    """Everything the loader writes, without generated ids."""
    return {
        "patient": rows("select ben_nir_psa, ben_rng_gem, sex, birth_year, birth_month, death_date, "
                        "residence_dpt, rights_date from claims.patient order by 1, 2"),
        "dispensing": rows("select ben_nir_psa, dispensing_date, cip13, packs, prescriber_id, pharmacy_id, "
                           "amount_paid, amount_reimbursed, flow_month from claims.dispensing "
                           "join claims.patient using (patient_id) order by 1, 2"),
        "service_line": rows("select ben_nir_psa, service_date, nature_code, provider_id, provider_specialty, "
                             "amount_paid from claims.service_line join claims.patient using (patient_id) "
                             "order by 1, 2"),
        "lab_test": rows("select ben_nir_psa, test_date, nabm_code, quantity, provider_id, prescriber_id "
                         "from claims.lab_test join claims.patient using (patient_id) order by 1, 2"),
        "medical_act": rows("select ben_nir_psa, act_date, ccam_code, provider_id from claims.medical_act "
                            "join claims.patient using (patient_id) order by 1, 2"),
        "stay": rows("select facility_id, rsa_num, pmsi_year, ben_nir_psa, admission_date, discharge_date, "
                     "ghm, los_days, exit_mode from claims.hospital_stay join claims.patient using (patient_id) "
                     "order by 2"),
        "diagnosis": rows("select rsa_num, role, icd10 from claims.stay_diagnosis "
                          "join claims.hospital_stay using (stay_id) order by 1, 2, 3"),
        "stay_act": rows("select rsa_num, ccam_code, act_date from claims.stay_act "
                         "join claims.hospital_stay using (stay_id)"),
        "ald": rows("select ben_nir_psa, ald_number, icd10, start_date, end_date from claims.ald "
                    "join claims.patient using (patient_id)"),
        "provider": rows("select provider_id, kind, specialty from claims.provider order by 1"),
        "drug": rows("select * from ref.drug order by 1"),
        "rejected": rows("select file_name, line_number, column_name, reason from meta.rejected_row "
                         "order by 1, 2"),
    }


EXPECTED = {
    "patient": [
        (P1, 1, 1, 1950, 3, None, "075", date(2010, 1, 1)),
        (P2, 1, 2, 1980, 12, date(2020, 6, 15), "013", date(2011, 3, 14)),
        ("CCCCCCCCCCCCCCCC3", 1, 1, 1990, 5, None, "069", None),
        ("CCCCCCCCCCCCCCCC3", 2, 2, 1990, 5, None, "069", None),
    ],
    # 2 packs on 2019-01-14, less 1 by a regularisation arriving in the next flow; the
    # 2019-02-14 dispensing is cancelled by its regularisation in the same flow.
    "dispensing": [
        (P1, date(2019, 1, 14), "3400930000011", 1, "22222222", "11111111", Decimal("6.25"),
         Decimal("4.37"), date(2019, 2, 1)),
        (P2, date(2019, 2, 3), "3400930000028", 1, "22222222", "11111111", Decimal("30.00"),
         Decimal("19.50"), date(2019, 3, 1)),
    ],
    "service_line": [(P1, date(2019, 1, 10), 1111, "22222222", "1", Decimal("25.00"))],
    "lab_test": [(P2, date(2019, 1, 20), "0592", 1, "33333333", "22222222")],
    "medical_act": [(P2, date(2019, 1, 25), "BGQP002", "44444444")],
    "stay": [("750000001", "0000000001", 2019, P1, date(2019, 3, 5), date(2019, 3, 10), "12C04Z", 5, "8")],
    "diagnosis": [("0000000001", "DAS", "C787"), ("0000000001", "DAS", "E119"), ("0000000001", "DP", "C679")],
    "stay_act": [("0000000001", "JDFA003", date(2019, 3, 6))],
    "ald": [(P1, 8, "E11", date(2015, 6, 1), None)],
    "provider": [("11111111", "pharmacy", None), ("22222222", "professional", "1"),
                 ("33333333", "professional", "38"), ("44444444", "professional", "15"),
                 ("750000001", "facility", None)],
    # no dosage columns in this IR_PHA_R: its packs have none (the load says so)
    "drug": [("3400930000011", "A10BA02", "METFORMINE", "MÉTFORMINE BIOGARAN 850 mg", "NGC", 30, None, None, None),
             ("3400930000028", "A10BG03", "PIOGLITAZONE", "ACTOS 30 mg", "GC", 90, None, None, None)],
    "rejected": [
        ("ER_PHA_F_2019_01.csv", 3, "PHA_PRS_C13", "unknown CIP13 (not in IR_PHA_R)"),
        ("ER_PHA_F_2019_01.csv", 4, "DCT_ORD_NUM..REM_TYP_AFF", "detail line without its service line (ER_PRS_F)"),
        ("ER_PRS_F_2019_01.csv", 6, "BEN_NIR_PSA", "unknown patient (not in IR_BEN_R)"),
        ("ER_PRS_F_2019_01.csv", 9, "EXE_SOI_DTD", "missing or unparseable date"),
        ("IR_BEN_R.csv", 6, "BEN_DCD_DTE", "death before birth"),
        ("IR_IMB_R.csv", 3, "IMB_ALD_DTF", "ALD end before its start"),
        ("T_MCO19B.csv", 5, "NIR_ANO_17",
         "T_MCOaaC line rejected: ambiguous patient link (several BEN_RNG_GEM share this BEN_NIR_PSA)"),
        ("T_MCO19B.csv", 6, "ETA_NUM, RSA_NUM", "stay without its T_MCOaaC line"),
        ("T_MCO19C.csv", 5, "NIR_ANO_17", "ambiguous patient link (several BEN_RNG_GEM share this BEN_NIR_PSA)"),
    ],
}


def test_mini_extract_loads_to_exact_rows(migrated_db):
    summary = load_extract(MINI)
    assert snapshot() == EXPECTED
    assert summary.ignored == ["README.txt"]
    assert summary.notes == [("IR_PHA_R.csv: no PHA_DOS_PRA_DSES or PHA_DOS_UNT_DSES column: its packs have no "
                             "dosage, so no dose per dispensing (the dose marts stay empty for them)")]
    assert summary.totals() == {"read": 45, "loaded": 27, "dropped": 9, "rejected": 9}
    assert summary.dropped_by_reason == {
        "return code not 0 (T_MCOaaC)": 3,  # the C line, and the B and D lines of its stay
        "cancelled by a regularisation line": 2,
        "error GHM (90*)": 1,
        "DPN_QLF = 71 (information-only line)": 1,
        "regularisation line (netted)": 1,
        "ETE_IND_TAA = 1 (public hospital activity, already in PMSI)": 1,
    }
    batches = rows("select file_name, flow_month, rows_read, rows_loaded, rows_rejected, rows_dropped "
                   "from meta.load_batch where file_name like 'ER_PRS_F%' order by 1")
    assert batches == [("ER_PRS_F_2019_01.csv", date(2019, 2, 1), 8, 5, 2, 1),
                       ("ER_PRS_F_2019_02.csv", date(2019, 3, 1), 5, 4, 0, 1)]


def test_reload_is_a_no_op(migrated_db):
    load_extract(MINI)
    before = snapshot()
    n = rows("select count(*) from meta.load_batch")
    summary = load_extract(MINI)
    assert all(f.skipped for f in summary.files) and len(summary.files) == 14
    assert snapshot() == before and rows("select count(*) from meta.load_batch") == n


def test_a_later_monthly_flow_appends(migrated_db, tmp_path):
    first = tmp_path / "extract"
    first.mkdir()
    for f in MINI.iterdir():
        if "_2019_02" not in f.name:
            shutil.copy(f, first)
    load_extract(first)
    assert rows("select packs, dispensing_date from claims.dispensing") == [(2, date(2019, 1, 14))]
    for f in MINI.glob("*_2019_02.csv"):
        shutil.copy(f, first)
    summary = load_extract(first)
    assert sorted(f.file for f in summary.loaded_files) == [
        "ER_ETE_F_2019_02.csv", "ER_PHA_F_2019_02.csv", "ER_PRS_F_2019_02.csv"]
    assert snapshot() == EXPECTED
    assert rows("select count(*) from meta.load_batch") == [(14,)]
    # the regularisation of the second flow was netted against the first flow's dispensing
    assert summary.dropped_by_reason["regularisation of an earlier load (netted)"] == 1


def test_a_flow_month_already_loaded_is_refused_and_changes_nothing(migrated_db, tmp_path):
    load_extract(MINI)
    assert rows("select file_name, flow_month, flow_month_last from meta.load_batch "
                "where flow_month is not null order by file_name") == [
        ("ER_BIO_F.csv", date(2019, 2, 1), date(2019, 2, 1)),
        ("ER_CAM_F.csv", date(2019, 2, 1), date(2019, 2, 1)),
        ("ER_ETE_F_2019_02.csv", date(2019, 3, 1), date(2019, 3, 1)),
        ("ER_PHA_F_2019_01.csv", date(2019, 2, 1), date(2019, 2, 1)),
        ("ER_PHA_F_2019_02.csv", date(2019, 3, 1), date(2019, 3, 1)),
        ("ER_PRS_F_2019_01.csv", date(2019, 2, 1), date(2019, 2, 1)),
        ("ER_PRS_F_2019_02.csv", date(2019, 3, 1), date(2019, 3, 1)),
    ]
    assert rows("select file_name, care_month_first, care_month_last from meta.load_batch "
                "where care_month_first is not null order by file_name") == [
        ("ER_PRS_F_2019_01.csv", date(2019, 1, 1), date(2019, 1, 1)),  # its 32JAN2019 line is rejected
        ("ER_PRS_F_2019_02.csv", date(2019, 1, 1), date(2019, 2, 1)),  # a late line for 2019-01-14
    ]
    before, batches = snapshot(), rows("select count(*) from meta.load_batch")
    (batch,) = rows("select batch_id from meta.load_batch where file_name = 'ER_PRS_F_2019_02.csv'")[0]
    again = tmp_path / "again"
    again.mkdir()
    lines = (MINI / "ER_PRS_F_2019_02.csv").read_text().splitlines(keepends=True)
    (again / "ER_PRS_F_2019_02_resent.csv").write_text("".join(lines[:2]))  # the same month, other content
    with pytest.raises(LoadError) as err:
        load_extract(again, append=True)
    assert str(err.value) == (
        f"ER_PRS_F_2019_02_resent.csv: flow month 2019-03 of ER_PRS_F is already loaded "
        f"(ER_PRS_F_2019_02.csv, batch {batch}); a flow month is loaded once, its corrections come in "
        "later flow months")
    assert snapshot() == before and rows("select count(*) from meta.load_batch") == batches
    assert rows("select status from meta.load_run order by run_id desc limit 1") == [("failed",)]
    # the CLI says it in one line; without --append the file is another part of the month
    proc = subprocess.run([sys.executable, "-m", "veille.cli", "load", "--quiet", "--append", str(again)],
                          capture_output=True, text=True, check=False)
    assert (proc.returncode, proc.stderr.strip()) == (2, f"error: {err.value}")
    proc = subprocess.run([sys.executable, "-m", "veille.cli", "load", "--quiet", str(again)],
                          capture_output=True, text=True, check=True)
    assert proc.stdout.splitlines()[-3:-1] == ["flow months: 2019-03", "care months touched: 2019-02"]
    assert rows("select count(*) from meta.load_batch") == [(batches[0][0] + 1,)]


def test_a_duplicated_service_line_key_keeps_the_first_usable_line(migrated_db, tmp_path):
    d = tmp_path / "dup"
    shutil.copytree(MINI, d)
    prs = d / "ER_PRS_F_2019_01.csv"
    prs.write_bytes(prs.read_bytes() + (
        # line 10: the keys of line 3, flow dates written in two other forms: a duplicate
        b"2;2019-02-01;1;2;1;01/02/2019;01C731223;1;1;AAAAAAAAAAAAAAAA1;1;10JAN2019:00:00:00;;1111;1111;0;1;"
        b"99,00;17,50;22222222;;1;;;68\n"
        # line 11: the keys of line 6, whose patient is unknown: this usable line keeps them
        b"5;01FEB2019:00:00:00;1;5;1;01FEB2019:00:00:00;01C731223;1;1;BBBBBBBBBBBBBBBB2;1;12JAN2019:00:00:00;;"
        b"1111;1111;0;1;30,00;21,00;22222222;;1;;;40\n"))
    summary = load_extract(d)
    got = snapshot()
    assert got["service_line"] == EXPECTED["service_line"] + [
        (P2, date(2019, 1, 12), 1111, "22222222", "1", Decimal("30.00"))]
    assert got["rejected"] == sorted(
        EXPECTED["rejected"] + [("ER_PRS_F_2019_01.csv", 10, "DCT_ORD_NUM..REM_TYP_AFF", "duplicate service line key")],
        key=lambda r: (r[0], r[1]))
    assert summary.totals() == {"read": 47, "loaded": 28, "dropped": 9, "rejected": 10}


def test_exact_duplicate_detail_lines_are_kept_once_and_reported(migrated_db, tmp_path):
    d = tmp_path / "dup"
    shutil.copytree(MINI, d)
    cam = d / "ER_CAM_F.csv"
    cam.write_bytes(cam.read_bytes() + cam.read_bytes().splitlines(keepends=True)[1])  # line 3 = line 2
    pha = d / "ER_PHA_F_2019_02.csv"  # line 6: line 2 of the January flow file, re-extracted
    pha.write_bytes(pha.read_bytes() + b"1,2019-02-01,1,1,1,2019-02-01,01C731223,1,1,3400930000011,2,6.25\n")
    summary = load_extract(d)
    got = snapshot()
    assert {k: v for k, v in got.items() if k != "rejected"} == {k: v for k, v in EXPECTED.items() if k != "rejected"}
    assert rows("select file_name, line_number, column_name, value, reason from meta.rejected_row "
                "where reason = 'duplicate line' order by 1") == [
        ("ER_CAM_F.csv", 3, "DCT_ORD_NUM..REM_TYP_AFF, CAM_ORD_NUM (or CAM_PRS_IDE)", "same key as line 2",
         "duplicate line"),
        ("ER_PHA_F_2019_02.csv", 6, "DCT_ORD_NUM..REM_TYP_AFF, PHA_ORD_NUM (or PHA_PRS_C13, PHA_ACT_QSN)",
         "same key as ER_PHA_F_2019_01.csv line 2", "duplicate line")]
    assert summary.rejected_by_reason["duplicate line"] == 2
    assert summary.totals() == {"read": 47, "loaded": 27, "dropped": 9, "rejected": 11}


def test_a_double_quote_inside_an_unquoted_field_is_an_ordinary_character(migrated_db, tmp_path):
    d = tmp_path / "quote"
    shutil.copytree(MINI, d)
    pha = d / "IR_PHA_R.csv"  # not a quoted export: one label with a pair of quotes, one with a single one
    pha.write_bytes(pha.read_bytes().replace(b"ACTOS 30 mg", b'ACTOS "FORTE" 30 mg')
                    .replace(b"850 mg", b'850 mg 5" X'))
    load_extract(d)
    got = snapshot()
    assert got["drug"] == [
        ("3400930000011", "A10BA02", "METFORMINE", 'MÉTFORMINE BIOGARAN 850 mg 5" X', "NGC", 30, None, None, None),
        ("3400930000028", "A10BG03", "PIOGLITAZONE", 'ACTOS "FORTE" 30 mg', "GC", 90, None, None, None)]
    assert {k: v for k, v in got.items() if k != "drug"} == {k: v for k, v in EXPECTED.items() if k != "drug"}


def test_a_broken_line_of_a_quoted_file_is_rejected_alone_with_its_line(migrated_db, tmp_path):
    d = tmp_path / "quoted"
    shutil.copytree(MINI, d)
    keys = '"6";"01FEB2019:00:00:00";"1";"6";"1";"01FEB2019:00:00:00";"01C731223";"1";"1"'
    (d / "ER_CAM_F.csv").write_text(
        '"DCT_ORD_NUM";"FLX_DIS_DTD";"FLX_EMT_NUM";"FLX_EMT_ORD";"FLX_EMT_TYP";"FLX_TRT_DTD";'
        '"ORG_CLE_NUM";"PRS_ORD_NUM";"REM_TYP_AFF";"CAM_PRS_IDE";"CAM_ACT_COD"\n'
        f'{keys};"BGQP002";"1"\n'
        f'{keys};"BGQP0;"1"\n'  # line 3: a quoted field left open
        f'{keys.replace(chr(34) + "6" + chr(34), chr(34) + "77" + chr(34), 1)};"ZZZZ001";"1"\n')
    summary = load_extract(d)
    got = snapshot()
    assert got["medical_act"] == EXPECTED["medical_act"]
    assert rows("select line_number, column_name, value, reason from meta.rejected_row "
                "where file_name = 'ER_CAM_F.csv' order by 1") == [
        (3, None, keys + ';"BGQP0;"1"', "unbalanced double quote (a quoted field is not closed)"),
        (4, "DCT_ORD_NUM..REM_TYP_AFF", None, "detail line without its service line (ER_PRS_F)")]
    cam = next(f for f in summary.files if f.file == "ER_CAM_F.csv")
    assert (cam.rows_read, cam.rows_loaded, cam.rows_rejected) == (3, 1, 2)


def _bad_copy(tmp_path: Path, name: str, content: bytes | None = None) -> Path:
    d = tmp_path / "bad"
    shutil.copytree(MINI, d)
    if content is not None:
        (d / name).write_bytes(content)
    return d


def test_the_cli_prints_one_line_for_a_user_mistake(migrated_db, tmp_path):
    d = _bad_copy(tmp_path, "ER_CAM_F.csv", b"\x00binary")
    proc = subprocess.run([sys.executable, "-m", "veille.cli", "load", str(d)], capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "error: ER_CAM_F.csv: binary file (NUL bytes), not a CSV export"
    proc = subprocess.run([sys.executable, "-m", "veille.cli", "load", str(tmp_path / "nowhere")],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {tmp_path / 'nowhere'}: no such directory"


def test_load_without_schema_says_to_migrate(empty_db):
    with pytest.raises(LoadError, match=r"run `veille migrate` first"):
        load_extract(MINI)


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/snds not present")
def test_the_hdh_synthetic_sample_ends_in_counted_rejections(migrated_db):
    summary = load_extract(SHARED / "synthetic-snds-sample")
    tot = summary.totals()
    assert tot["read"] == 110
    assert tot["read"] == tot["loaded"] + tot["dropped"] + tot["rejected"]
    assert tot["rejected"] > 50  # random pseudonyms link to nothing
    assert rows("select count(*) from meta.rejected_row") == [(tot["rejected"],)]
    assert summary.rejected_by_reason["unknown patient (not in IR_BEN_R)"] > 0


@pytest.mark.skipif(not SHARED.exists(), reason="../shared/snds not present")
def test_required_columns_exist_in_the_official_schemas():
    for name, spec in SPECS.items():
        schema = SHARED / "schemas" / f"{name}.json"
        if not schema.exists():  # nomenclatures: checked against the shipped samples' headers
            sample = {"IR_CIM_V": "IR_CIM_V.csv", "IR_CCAM_V": "IR_CCAM_V63.csv", "IR_BIO_R": "IR_BIO_R.csv"}[name]
            header = (SHARED / "nomenclatures" / sample).read_text(encoding="utf-8", errors="replace")
            official = {c.strip('"') for c in header.splitlines()[0].split(";")}
        else:
            official = {f["name"] for f in json.loads(schema.read_text())["fields"]}
        assert set(spec.columns) <= official, (name, set(spec.columns) - official)


def test_the_set_based_foreign_key_check_catches_an_orphan(migrated_db):
    from veille.load.loader import _check_foreign_keys, _open_work_schema

    with db.raw_connection() as conn, conn.cursor() as cur:
        _open_work_schema(cur)
        cur.execute("create table ins_dispensing (patient_id bigint, cip13 char(13), "
                    "prescriber_id text, pharmacy_id text, batch_id bigint)")
        cur.execute("insert into ins_dispensing values (42, null, null, null, null)")
        with pytest.raises(LoadError, match=r"claims.dispensing.patient_id = 42 has no row in claims.patient"):
            _check_foreign_keys(cur)
