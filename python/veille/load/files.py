"""Find the files of an extract and check each is what it claims, before touching the database."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

from veille.errors import LoadError
from veille.load.spec import SPECS, table_of

_CHUNK = 1 << 22
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class ExtractFile:
    path: Path
    table: str
    pmsi_year: int | None
    checksum: str
    encoding: str  # PostgreSQL encoding name: UTF8 or WIN1252
    delimiter: str
    header: list[str]  # upper-cased column names, in file order
    size: int
    data_lines: int = 0
    extra: dict = field(default_factory=dict)
    quoted: bool = False  # fields in double quotes (CSV quoting); SNDS exports are not quoted
    mixed_endings: bool = False  # some lines end in CRLF, others in LF: COPY gets LF only

    @property
    def name(self) -> str:
        return self.path.name

    def column_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.header)}


def _scan(path: Path) -> tuple[str, str, int, int]:
    """SHA-256, encoding (UTF8 unless a byte sequence is not UTF-8), line count and how many
    of the lines end in CRLF, one pass."""
    sha = hashlib.sha256()
    utf8 = True
    lines = crlf = 0
    pending = b""
    last = b""
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            sha.update(chunk)
            lines += chunk.count(b"\n")
            crlf += chunk.count(b"\r\n") + (last == b"\r" and chunk[:1] == b"\n")
            last = chunk[-1:]
            if b"\x00" in chunk:
                raise LoadError(f"{path.name}: binary file (NUL bytes), not a CSV export")
            if b"\x01" in chunk:  # the loader's stand-in quote for unquoted files (landing.py)
                raise LoadError(f"{path.name}: binary file (control bytes), not a CSV export")
            if utf8:
                data = pending + chunk
                try:
                    data.decode("utf-8")
                    pending = b""
                except UnicodeDecodeError as exc:
                    # an incomplete multi-byte sequence at the chunk's end is fine
                    if exc.start >= len(data) - 3 and exc.reason == "unexpected end of data":
                        pending = data[exc.start:]
                    else:
                        utf8 = False
        if pending:
            utf8 = False
    return sha.hexdigest(), ("UTF8" if utf8 else "WIN1252"), lines, crlf


def _header(path: Path, encoding: str) -> tuple[list[str], str]:
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    first = head.split(b"\n", 1)[0]
    if b"\r" in first.rstrip(b"\r"):
        raise LoadError(f"{path.name}: lines end in CR alone (old Mac text): save the file with LF or CRLF line ends")
    if _CONTROL.search(head):
        raise LoadError(f"{path.name}: binary file (control bytes), not a CSV export")
    try:
        text = first.decode("utf-8" if encoding == "UTF8" else "cp1252")
    except UnicodeDecodeError:
        raise LoadError(f"{path.name}: binary file (undecodable bytes), not a CSV export") from None
    text = text.lstrip("\ufeff").rstrip("\r\n")
    if not text.strip():
        raise LoadError(f"{path.name}: empty file (no header line)")
    delimiter = ";" if text.count(";") >= text.count(",") and ";" in text else ","
    if delimiter not in text and len(text.split()) > 1:
        raise LoadError(f"{path.name}: header is not delimited by ';' or ','")
    cols = [c.strip().strip('"').strip().upper() for c in text.split(delimiter)]
    if len(cols) > 1 and not cols[-1]:  # a delimiter ending every line (some SAS exports)
        cols[-1] = "_TRAILING_DELIMITER"
    seen: set[str] = set()
    for c in cols:
        if not c:
            raise LoadError(f"{path.name}: line 1: empty column name in the header")
        if c in seen:
            raise LoadError(f"{path.name}: line 1: column {c} appears twice in the header")
        seen.add(c)
    return cols, delimiter


def _is_quoted(path: Path, delimiter: str) -> bool:
    """Whether the export quotes its fields: a header name or a whole field of the first 64 KB
    in double quotes. A double quote elsewhere (a label such as SOL. BUV. "FORTE") is then read
    as an ordinary character, as SNDS exports, which are not quoted, mean it."""
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    d = re.escape(delimiter.encode())
    return re.search(rb'(?:^|' + d + rb')"[^"\r\n]*"(?=' + d + rb'|\r?$)', head, re.MULTILINE) is not None


def odd_quote_lines(path: Path) -> dict[int, bytes]:
    """The lines (by number, the header being line 1) of a quoted file whose double quotes do
    not pair up: a quoted field left open, which would swallow the lines after it."""
    with path.open("rb") as fh:
        return {i: line for i, line in enumerate(fh, start=1) if i > 1 and line.count(b'"') % 2}


def inspect_file(path: Path) -> ExtractFile | None:
    """Describe one file, or None when it is not an SNDS table the loader reads."""
    if path.suffix.lower() not in (".csv", ".txt"):
        return None
    found = table_of(path.stem)
    if found is None:
        return None
    table, year = found
    size = path.stat().st_size
    if size == 0:
        raise LoadError(f"{path.name}: empty file")
    checksum, encoding, lines, crlf = _scan(path)
    header, delimiter = _header(path, encoding)
    spec = SPECS[table]
    missing = [c for c in spec.required if c not in header]
    if missing:
        raise LoadError(
            f"{path.name}: required column{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)} missing: not a valid {table} file"
        )
    with path.open("rb") as fh:
        fh.seek(max(0, size - 1))
        ends_with_newline = fh.read(1) == b"\n"
    data_lines = lines - 1 + (0 if ends_with_newline else 1)
    return ExtractFile(path, table, year, checksum, encoding, delimiter, header, size, data_lines,
                       quoted=_is_quoted(path, delimiter),
                       mixed_endings=0 < crlf < lines)


def discover(directory: Path) -> tuple[list[ExtractFile], list[Path]]:
    """The extract's table files (checked) and the files ignored."""
    if not directory.exists():
        raise LoadError(f"{directory}: no such directory")
    if not directory.is_dir():
        raise LoadError(f"{directory}: not a directory (give the folder of the extract)")
    files: list[ExtractFile] = []
    ignored: list[Path] = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        described = inspect_file(path)
        if described is None:
            ignored.append(path)
        else:
            files.append(described)
    if not files:
        raise LoadError(f"{directory}: no SNDS table files found (expected e.g. ER_PRS_F.csv, IR_BEN_R.csv)")
    return files, ignored
