"""The malformed-input corpus: each way a real extract goes wrong, made from the mini-extract
(tests/fixtures/mini) by changing one file. A file the loader cannot read stops the load with
one exact line naming the file (and the line) and leaves the database as it was; what it can
read loads to exact rows, the broken rows rejected with their line and reason (issue 18).
Classes tested elsewhere: a stray double quote, a broken line of a quoted file and exact
duplicate lines (test_load.py); a killed load and two loads at once (test_load_reliability.py)."""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from test_load import EXPECTED, MINI, rows, snapshot
from veille.errors import LoadError
from veille.load import load_extract

CAM = (MINI / "ER_CAM_F.csv").read_bytes()
CAM_HEADER, CAM_LINE = CAM.splitlines(keepends=True)
BEN = (MINI / "IR_BEN_R.csv").read_bytes()
PRS = (MINI / "ER_PRS_F_2019_01.csv").read_bytes()
ORPHAN_CAM = CAM_LINE.replace(b"6;", b"8;", 1)  # an act whose service line is not in the extract

REFUSED = {
    "binary garbage": ("ER_CAM_F.csv", b"\x00\x01\x02garbage",
                       "ER_CAM_F.csv: binary file (NUL bytes), not a CSV export"),
    "UTF-16 text": ("ER_CAM_F.csv", CAM.decode().encode("utf-16"),
                    "ER_CAM_F.csv: binary file (NUL bytes), not a CSV export"),
    "control bytes": ("ER_CAM_F.csv", CAM + b"7;\x01\x02;1\n",
                      "ER_CAM_F.csv: binary file (control bytes), not a CSV export"),
    "empty file": ("ER_BIO_F.csv", b"", "ER_BIO_F.csv: empty file"),
    "blank lines only": ("ER_BIO_F.csv", b"  \n\n", "ER_BIO_F.csv: empty file (no header line)"),
    "missing required column": ("IR_IMB_R.csv", b"BEN_NIR_PSA;BEN_RNG_GEM;IMB_ALD_DTD\nX;1;2019-01-01\n",
                                "IR_IMB_R.csv: required column MED_MTF_COD missing: not a valid IR_IMB_R file"),
    "another table's file": ("ER_CAM_F.csv", (MINI / "ER_BIO_F.csv").read_bytes(),
                             "ER_CAM_F.csv: required column CAM_PRS_IDE missing: not a valid ER_CAM_F file"),
    "duplicate header": ("T_MCO19D.csv", b"ETA_NUM;RSA_NUM;ASS_DGN;ASS_DGN\n",
                         "T_MCO19D.csv: line 1: column ASS_DGN appears twice in the header"),
    "empty column name": ("ER_CAM_F.csv", CAM.replace(b";CAM_PRS_IDE;", b";;CAM_PRS_IDE;"),
                          "ER_CAM_F.csv: line 1: empty column name in the header"),
    "wrong delimiter (tab)": ("ER_CAM_F.csv", CAM.replace(b";", b"\t"),
                              "ER_CAM_F.csv: header is not delimited by ';' or ','"),
    "missing fields": ("ER_CAM_F.csv", CAM + b"1;2;3\n",
                       "ER_CAM_F.csv: line 3: fewer fields than the header has columns"),
    "extra fields": ("ER_BIO_F.csv", (MINI / "ER_BIO_F.csv").read_bytes().replace(b";592;1", b";592;1;7;8"),
                     "ER_BIO_F.csv: line 2: more fields than the header has columns"),
    "truncated file": ("ER_CAM_F.csv", CAM + b"7;01FEB2019:00:00:00;1;7;1;01FE",
                       "ER_CAM_F.csv: line 3: fewer fields than the header has columns"),
    "blank line inside": ("ER_CAM_F.csv", CAM + b"\n" + ORPHAN_CAM,
                          "ER_CAM_F.csv: line 3: fewer fields than the header has columns"),
    "CR-only line ends": ("ER_CAM_F.csv", CAM.replace(b"\n", b"\r"),
                          ("ER_CAM_F.csv: lines end in CR alone (old Mac text): save the file with LF or "
                           "CRLF line ends")),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_file_the_loader_cannot_read_stops_the_load_and_changes_nothing(migrated_db, tmp_path, case):
    name, content, message = REFUSED[case]
    load_extract(MINI)  # a first good load: the bad one must leave it as it is
    before, batches = snapshot(), rows("select count(*) from meta.load_batch")
    d = tmp_path / "bad"
    shutil.copytree(MINI, d)
    (d / name).write_bytes(content)
    for f in d.iterdir():  # make every other file new (its header in lower case), so that the
        if f.suffix == ".csv" and f.name != name:  # whole extract is tried again
            header, rest = f.read_bytes().split(b"\n", 1)
            f.write_bytes(header.lower() + b"\n" + rest)
    with pytest.raises(LoadError) as err:
        load_extract(d)
    assert str(err.value) == message
    assert snapshot() == before
    assert rows("select count(*) from meta.load_batch") == batches


def test_folder_mistakes_get_one_line(migrated_db, tmp_path):
    with pytest.raises(LoadError, match=r"^/nowhere/at/all: no such directory$"):
        load_extract(Path("/nowhere/at/all"))
    (tmp_path / "IR_BEN_R.csv").write_bytes(BEN)
    with pytest.raises(LoadError) as err:
        load_extract(tmp_path / "IR_BEN_R.csv")
    assert str(err.value) == f"{tmp_path / 'IR_BEN_R.csv'}: not a directory (give the folder of the extract)"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.csv").write_text("a;b\n1;2\n")
    with pytest.raises(LoadError) as err:
        load_extract(tmp_path / "other")
    assert str(err.value) == (f"{tmp_path / 'other'}: no SNDS table files found "
                              "(expected e.g. ER_PRS_F.csv, IR_BEN_R.csv)")
    assert rows("select count(*) from meta.load_batch") == [(0,)]


def _rejected(*extra):
    return sorted(EXPECTED["rejected"] + list(extra), key=lambda r: (r[0], r[1]))


ACCEPTED = {
    "UTF-8 byte order mark": ("ER_CAM_F.csv", b"\xef\xbb\xbf" + CAM, {}),
    "CRLF line ends": ("ER_CAM_F.csv", CAM.replace(b"\n", b"\r\n"), {}),
    "mixed CRLF and LF line ends": ("ER_CAM_F.csv", CAM.replace(b"\n", b"\r\n") + ORPHAN_CAM, {
        "rejected": _rejected(("ER_CAM_F.csv", 3, "DCT_ORD_NUM..REM_TYP_AFF",
                               "detail line without its service line (ER_PRS_F)"))}),
    "no newline at the end": ("ER_CAM_F.csv", CAM.rstrip(b"\n"), {}),
    "a delimiter ending every line": (
        "ER_CAM_F.csv", b"".join(line.rstrip(b"\n") + b";\n" for line in CAM.splitlines(keepends=True)), {}),
    "header without rows": ("ER_CAM_F.csv", CAM_HEADER, {  # the act's service line stays a service line
        "medical_act": [],
        "service_line": EXPECTED["service_line"] + [
            ("BBBBBBBBBBBBBBBB2", date(2019, 1, 25), 1352, "44444444", "15", Decimal("28.00"))]}),
    "quoted header and fields": ("ER_CAM_F.csv", b"\n".join(
        b";".join(b'"' + v + b'"' for v in line.split(b";")) for line in CAM.splitlines()) + b"\n", {}),
    "impossible date": ("ER_PRS_F_2019_01.csv", PRS.replace(b"10JAN2019:00:00:00", b"31/02/2019"), {
        "service_line": [],
        "rejected": _rejected(("ER_PRS_F_2019_01.csv", 3, "EXE_SOI_DTD", "missing or unparseable date"))}),
    "huge field": ("IR_BEN_R.csv", BEN + b"Z" * 1_000_000 + b";1;1;1960;01;;075;;0;01C731223\n", {
        "rejected": _rejected(("IR_BEN_R.csv", 7, "BEN_NIR_PSA", "patient key longer than 17 characters"))}),
}


@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_what_the_loader_can_read_loads_to_exact_rows(migrated_db, tmp_path, case):
    name, content, changes = ACCEPTED[case]
    d = tmp_path / "odd"
    shutil.copytree(MINI, d)
    (d / name).write_bytes(content)
    load_extract(d)
    assert snapshot() == {**EXPECTED, **changes}
