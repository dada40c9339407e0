"""Batch output files (CSV, JSON Lines, Parquet) written in chunks so that a killed run leaves a readable file.

Design, per format:

* **CSV and JSONL: one file, appended a chunk at a time.** A chunk (all rows of a few hundred photos) is
  encoded first and then appended with a single ``write``, flushed and fsync'd. Rewriting the file per chunk
  (temp file + rename) would cost O(rows²) over a million photos; appending costs O(rows). A kill can at worst
  interrupt that one ``write``, which leaves a partial last line and possibly some rows of the last file:
  :func:`read_rows` ignores a line without its newline, and :func:`prepare_resume` cuts such a tail off (and
  drops the rows of a file that did not get all its rows, which ``faces`` tells) before a run continues.
* **Parquet: a folder of part files** (``results.parquet/part-<run>-<n>.parquet``), each written to a hidden
  temporary name and renamed into place, so every visible part is whole; any Parquet reader reads the folder
  (``pandas.read_parquet("results.parquet")``). It is also what Ray Data's ``write_parquet`` makes, so both
  engines leave the same kind of output and a run of one can be resumed by the other.
"""

from __future__ import annotations

import csv
import io
import json
import os
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

from face2data.batch.rows import expected_rows
from face2data.results import COLUMNS, encode_csv
from face2data.safe_text import from_csv_cell, safe_name

FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
PART_GLOB = "*.parquet"


class OutputError(ValueError):
    """An output path that cannot be used, with a message for people."""


def output_format(path: str | os.PathLike) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the output's suffix; OutputError otherwise."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise OutputError(f"the output must end with .csv, .jsonl or .parquet, not {suffix or 'nothing'}: {path}")
    return FORMATS[suffix]


def exists(path: str | os.PathLike) -> bool:
    """Whether an output holds anything already (a file, or a Parquet folder with any file in it)."""
    path = Path(path)
    return any(path.iterdir()) if path.is_dir() else path.exists()


def arrow_schema():
    """The pyarrow schema of the rows (pyarrow is imported here, only where Parquet is used)."""
    import pyarrow as pa

    types = {"str": pa.string(), "int": pa.int64(), "float": pa.float64()}
    return pa.schema([(name, types[kind]) for name, kind in COLUMNS.items()])


def arrow_table(rows: list[dict[str, Any]]):
    """Rows as a pyarrow Table of :func:`arrow_schema`."""
    import pyarrow as pa

    return pa.Table.from_pylist([{name: row.get(name) for name in COLUMNS} for row in rows], schema=arrow_schema())


class RowWriter:
    """Appends chunks of rows to a batch output (see the module docstring for how each format stays readable)."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.format = output_format(path)
        self._parts = 0
        self._run = uuid.uuid4().hex[:8]
        if self.format == "parquet":
            self.path.mkdir(parents=True, exist_ok=True)
        elif not self.path.exists() or self.path.stat().st_size == 0:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._append(encode_csv([], header=True) if self.format == "csv" else "")

    def write(self, rows: list[dict[str, Any]]) -> None:
        """Write one chunk of rows durably (all rows of each file it holds)."""
        if not rows:
            return
        if self.format == "parquet":
            self._write_part(rows)
        elif self.format == "csv":
            self._append(encode_csv(rows))
        else:
            self._append("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))

    def _append(self, text: str) -> None:
        with self.path.open("a", encoding="utf-8", newline="") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())

    def _write_part(self, rows: list[dict[str, Any]]) -> None:
        import pyarrow.parquet as pq

        name = f"part-{self._run}-{self._parts:06d}.parquet"
        temporary = self.path / f".{name}.tmp"  # hidden: Parquet readers skip it
        pq.write_table(arrow_table(rows), temporary)
        with temporary.open("rb") as handle:
            os.fsync(handle.fileno())
        os.replace(temporary, self.path / name)
        self._parts += 1


def read_rows(path: str | os.PathLike) -> list[dict[str, Any]]:
    """Every complete row of a batch output, typed as ``results.COLUMNS`` (a partial last line is left out).
    OutputError for a file that ``batch`` did not write (other columns, values that are not its)."""
    path = Path(path)
    fmt = output_format(path)
    if not exists(path):
        return []
    if fmt == "parquet":
        return [row for part in _parts(path) for row in (_read_part(part) or [])]
    text = _complete_text(path)
    if fmt == "jsonl":
        # lines end with "\n" only: a name may hold U+2028 or U+0085, which JSON leaves as they are
        return [_checked(path, _json_object(path, line)) for line in text.split("\n") if line.strip()]
    lines = ([from_csv_cell(cell) for cell in values] for values in csv.reader(io.StringIO(text)))  # undo csv_cell
    header = next(lines, None)
    if header is None:
        return []
    if sorted(header) != sorted(COLUMNS):
        raise _not_ours(path, "its columns are not those of batch's rows")
    return [_checked(path, dict(zip(header, values, strict=False))) for values in lines if values]


def _not_ours(path: Path, why: str) -> OutputError:
    return OutputError(
        f"{safe_name(path)} is not an output of face2data batch ({why}); it was left as it is: give another --out, "
        "or --overwrite to replace it"
    )


def _json_object(path: Path, line: str) -> dict[str, Any]:
    try:
        row = json.loads(line)
    except ValueError:
        raise _not_ours(path, "a line is not JSON") from None
    if not isinstance(row, dict) or set(row) != set(COLUMNS):
        raise _not_ours(path, "a line is not one of batch's rows")
    return row


def _checked(path: Path, row: dict[str, Any]) -> dict[str, Any]:
    """``_typed``, or OutputError when a value is not of its column's type."""
    try:
        return _typed(row)
    except (TypeError, ValueError):
        raise _not_ours(path, "a value is not of its column's type") from None


def prepare_resume(path: str | os.PathLike) -> set[str]:
    """Make an interrupted output whole again and return the names of the files it has all rows of.

    Cuts a partial last line (CSV, JSONL), drops the rows of files with rows missing (rewriting the file, or the
    Parquet part, through a temporary file) and removes unreadable or temporary Parquet parts of a killed run.
    """
    path = Path(path)
    fmt = output_format(path)
    if not exists(path):
        return set()
    if fmt == "parquet":
        for temporary in path.glob(".*.tmp"):
            temporary.unlink()
        rows_by_part = {part: _read_part(part) for part in _parts(path)}
        for part, rows in rows_by_part.items():
            if rows is None:  # a part a killed writer left half-written (Ray writes in place)
                part.unlink()
        all_rows = [row for rows in rows_by_part.values() if rows for row in rows]
    else:
        all_rows = read_rows(path)
    complete = _complete_files(all_rows)
    if fmt == "parquet":
        for part, rows in rows_by_part.items():
            if rows and any(row["file"] not in complete for row in rows):
                _rewrite_part(part, [row for row in rows if row["file"] in complete])
    elif len(all_rows) != sum(row["file"] in complete for row in all_rows) or _has_partial_line(path):
        kept = [row for row in all_rows if row["file"] in complete]
        _replace(path, _encode(fmt, kept))
    return complete


def _complete_files(rows: list[dict[str, Any]]) -> set[str]:
    counts = Counter(row["file"] for row in rows)
    wanted = {row["file"]: expected_rows(row) for row in rows}
    return {name for name, count in counts.items() if count == wanted[name]}


def _encode(fmt: str, rows: list[dict[str, Any]]) -> str:
    if fmt == "csv":
        return encode_csv(rows, header=True)
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def _replace(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with temporary.open("w", encoding="utf-8", newline="") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _complete_text(path: Path) -> str:
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].decode("utf-8", errors="replace")


def _has_partial_line(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(0, os.SEEK_END)
        if handle.tell() == 0:
            return False
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) != b"\n"


def _parts(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob(PART_GLOB) if p.is_file() and not p.name.startswith((".", "_")))


def _read_part(part: Path) -> list[dict[str, Any]] | None:
    """The rows of one Parquet part, or None when it cannot be read."""
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(part)
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        return None
    if sorted(table.column_names) != sorted(COLUMNS):
        raise _not_ours(part, "its columns are not those of batch's rows")
    return [_checked(part, row) for row in table.to_pylist()]


def _rewrite_part(part: Path, rows: list[dict[str, Any]]) -> None:
    import pyarrow.parquet as pq

    if not rows:
        part.unlink()
        return
    temporary = part.with_name(f".{part.name}.tmp")
    pq.write_table(arrow_table(rows), temporary)
    os.replace(temporary, part)


def _typed(row: dict[str, Any]) -> dict[str, Any]:
    """A row with every column of COLUMNS, each None or of its type (CSV gives strings, "" for None)."""
    typed: dict[str, Any] = {}
    for name, kind in COLUMNS.items():
        value = row.get(name)
        if value is None or value == "" or (isinstance(value, float) and value != value):  # NaN: pandas' None
            typed[name] = None
        elif kind == "int":
            typed[name] = int(value)
        elif kind == "float":
            typed[name] = float(value)
        else:
            typed[name] = str(value)
    return typed
