"""Names are data: any name a file system or archive holds becomes valid text, and no text cell of a CSV we write
is run by a spreadsheet.

* :func:`safe_name` is the one form of a name in rows, JSON, Parquet and downloads. Linux hands Python a name's
  bytes that are not UTF-8 as lone surrogates (``b"caf\\xe9.jpg"`` is ``'caf\\udce9.jpg'``), which no UTF-8
  writer accepts; here each such byte is written ``\\xNN`` (``'caf\\\\xe9.jpg'``). Valid names are unchanged and
  the function is idempotent, so a name resumed from an output matches the input it was written for.
* :func:`csv_cell` / :func:`from_csv_cell` neutralise formulas (OWASP's CSV-injection advice): a text cell that
  a spreadsheet would run (starting with ``=``, ``+``, ``-``, ``@``, tab, carriage return, line feed or NUL) gets
  a leading single quote. Numbers are never touched. The pair is exact: reading back undoes writing.
  :func:`csv_text` writes every CSV of the project through it.
* :func:`printable` is the form of a name on a terminal or in a log line: its control and format characters (an
  escape sequence that recolours a terminal, a newline that breaks a table, a right-to-left override) written
  ``\\x1b`` or ``\\u202e``.
* :func:`posix_name` reads Windows ``\\`` separators as ``/`` without taking a ``\\xNN`` escape for one.
"""

from __future__ import annotations

import csv
import io
import itertools
import os
import re
import unicodedata
from collections.abc import Iterable

FORMULA_STARTS = frozenset("=+-@\t\r\n\0")
QUOTE = "'"
WINDOWS_SEPARATOR = re.compile(r"\\(?!x[0-9a-f]{2})")  # a backslash, but not the "\xNN" of safe_name


def safe_name(name: str | bytes | os.PathLike) -> str:
    """Valid Unicode text for any file or member name: bytes that are not UTF-8 become ``\\xNN``."""
    name = os.fspath(name)
    if isinstance(name, bytes):
        raw = name
    else:
        try:
            raw = name.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a lone surrogate that is no escaped byte (from JSON, say)
            raw = name.encode("utf-8", "surrogatepass")
    return raw.decode("utf-8", "backslashreplace")


def posix_name(name: str) -> str:
    """A name with Windows ``\\`` separators written ``/``, keeping the ``\\xNN`` escapes of :func:`safe_name`."""
    return WINDOWS_SEPARATOR.sub("/", name)


def _runs_as_formula(text: str) -> bool:
    """Whether a spreadsheet would run ``text`` once quotes we put before it are taken off."""
    return text.lstrip(QUOTE)[:1] in FORMULA_STARTS


def csv_cell(value: object) -> object:
    """A CSV cell value: text that would run as a formula gets a leading ``'``; other values as they are."""
    if isinstance(value, str) and _runs_as_formula(value):
        return QUOTE + value
    return value


def from_csv_cell(text: str) -> str:
    """The text a :func:`csv_cell` was made from (its leading ``'`` taken off where csv_cell put one)."""
    return text[1:] if text.startswith(QUOTE) and _runs_as_formula(text) else text


def csv_text(rows: Iterable[Iterable[object]], header: Iterable[str] | None = None) -> str:
    """Rows of values as CSV text (``\\n`` line ends), after the header when given, every value through
    :func:`csv_cell`: every CSV the project writes or offers for download is made here."""
    # Python 3.11's writer quotes a cell holding "\r" only when the line terminator has one: rows are written
    # with "\r\n" (so such cells are quoted, as spreadsheets need) and end with "\n".
    buffer, lines = io.StringIO(), []
    writer = csv.writer(buffer, lineterminator="\r\n")
    for values in itertools.chain([] if header is None else [header], rows):
        writer.writerow([csv_cell(value) for value in values])
        lines.append(buffer.getvalue()[:-2] + "\n")
        buffer.seek(0)
        buffer.truncate()
    return "".join(lines)


def printable(name: str | bytes | os.PathLike) -> str:
    """``safe_name`` with every control or format character escaped (``\\x1b``, ``\\n``, ``\\u202e``): a name
    printed to a terminal or written to a log line shows what it holds and cannot act on the terminal."""
    return "".join(_escaped(c) if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in safe_name(name))


def _escaped(character: str) -> str:
    return character.encode("unicode_escape").decode("ascii")


def printable_lines(text: str) -> str:
    """``printable`` of each line of a message of several lines."""
    return "\n".join(printable(line) for line in text.split("\n"))
