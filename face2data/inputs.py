"""What a batch reads: files, folders (recursive), glob patterns and .zip/.tar(.gz) archives, as named inputs.

Everything is enumerated lazily, in a stable order (the order given, each folder sorted), as :class:`Entry`
objects: a file on disk is read only when it is scored (in the worker), an archive member is read in memory when
it is reached (archives are never extracted to disk). What cannot be read becomes an entry carrying the reason,
so the batch writes an error row for it and goes on: a missing path, a damaged or unreadable archive, an
encrypted or oversized member. Members that are not images are handed on like any file: the image loader says
what they are. Hidden files and folders (``.name``) and macOS ``__MACOSX/`` resource forks are left out.
"""

from __future__ import annotations

import glob
import io
import os
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from face2data.image_loading import ImageLoadError, read_image_bytes
from face2data.limits import MAX_FILE_BYTES
from face2data.safe_text import safe_name

ZIP_SUFFIXES = (".zip",)
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz")
GLOB_CHARACTERS = frozenset("*?[")
# Which archive members' bytes are read: all (True), none (False: names only), or those whose name (inside the
# archive) the function accepts.
Reading = bool | Callable[[str], bool]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# Chunks of a PNG walked to find its end: a photo has a few thousand at most (its pixels in IDAT chunks of 8 KB or
# more); a crafted file of millions of empty chunks would otherwise cost seconds of this loop per member.
PNG_CHUNKS_WALKED = 20_000
# A compressed tar is walked by inflating it, members skipped included. Photos hardly compress (a tar.gz of photos
# is about their size), so a tar that expands to more than this many times its size, plus one largest member, is
# a compression bomb (an 852-byte .tar.bz2 held a 1 GiB member): it is read no further.
TAR_EXPANSION = 100


@dataclass(frozen=True)
class Entry:
    """One input of a batch: a file on disk (``path``), an archive member's bytes (``data``), or ``error``.

    ``name`` is what the output rows call it: the path as given (joined under a folder), or
    ``<archive>/<member>`` for a member of an archive, always as ``safe_text.safe_name`` text (bytes that are not
    UTF-8 written ``\\xNN``), the form rows and ``--resume`` use; ``path`` is the name the file system knows.
    """

    name: str
    path: str | None = None
    data: bytes | None = None
    error: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", safe_name(self.name))

    def read(self) -> bytes:
        """The bytes to decode; ImageLoadError (with the reason) when there are none."""
        if self.error is not None:
            raise ImageLoadError(self.error)
        if self.data is not None:
            return self.data
        if self.path is None:
            raise ImageLoadError("nothing to read (the entry was listed without its data)")
        return read_image_bytes(self.path)


def is_archive_name(name: str) -> bool:
    """Whether a file name says zip or tar archive (by its suffix)."""
    lowered = name.lower()
    return lowered.endswith(ZIP_SUFFIXES + TAR_SUFFIXES)


def iter_entries(inputs: Iterable[str], skip: frozenset[str] | set[str] = frozenset(), read: Reading = True
                 ) -> Iterator[Entry]:  # fmt: skip
    """Every entry of the inputs (files, folders, globs, archives), each name once, leaving out names in ``skip``.

    With ``read=False`` archive members are listed without reading their bytes (to count them, or to list names);
    with a function of the member's name, only the members it accepts are read (a set's tables, not its photos).
    """
    seen: set[str] = set()
    for spec in inputs:
        for entry in _expand(spec, skip, read):
            if entry.name in seen or entry.name in skip:
                continue
            seen.add(entry.name)
            yield entry


def iter_upload_entries(files: Iterable[tuple[str, bytes]], read: Reading = True) -> Iterator[Entry]:
    """Entries of in-memory uploads ``(file name, bytes)``: archives opened in memory, other files as they are."""
    seen: set[str] = set()
    for name, data in files:
        entries = _archive_entries(name, data, frozenset(), read) if is_archive_name(name) else [Entry(name, data=data)]
        for entry in entries:
            if entry.name not in seen:
                seen.add(entry.name)
                yield entry


def _expand(spec: str, skip: frozenset[str] | set[str], read: Reading) -> Iterator[Entry]:
    path = Path(spec)
    if path.is_dir():
        yield from _folder_entries(path, skip, read)
    elif path.exists() or os.path.lexists(spec):
        yield from _file_entries(spec, skip, read)
    elif GLOB_CHARACTERS & set(spec):
        matches = sorted(glob.glob(spec, recursive=True))
        if not matches:
            yield Entry(spec, error="no file matches this pattern")
        for match in matches:
            if not _hidden(Path(match).name):
                yield from _expand(match, skip, read)
    else:
        yield Entry(spec, error="no such file or folder")


def _folder_entries(folder: Path, skip: frozenset[str] | set[str], read: Reading) -> Iterator[Entry]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not _hidden(d))
        for name in dirs:  # os.walk does not follow them (a link may lead back up: a loop)
            if os.path.islink(os.path.join(root, name)):
                yield Entry(os.path.join(root, name), error="a link to a folder is not followed: give that folder")
        for name in sorted(files):
            if not _hidden(name):
                yield from _file_entries(os.path.join(root, name), skip, read)


def _file_entries(path: str, skip: frozenset[str] | set[str], read: Reading) -> Iterator[Entry]:
    if is_archive_name(path) and Path(path).is_file():
        yield from _archive_entries(path, Path(path), skip, read)
    else:
        yield Entry(path, path=path)


def _archive_entries(name: str, source: Path | bytes, skip: frozenset[str] | set[str], read: Reading
                     ) -> Iterator[Entry]:  # fmt: skip
    """Members of a zip or tar archive (a file, or bytes in memory), each read only when reached."""
    if name.lower().endswith(ZIP_SUFFIXES):
        yield from _zip_entries(name, source, skip, read)
    else:
        yield from _tar_entries(name, source, skip, read)


def _zip_entries(name: str, source: Path | bytes, skip, read: Reading) -> Iterator[Entry]:
    try:
        archive = zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as error:
        yield Entry(name, error=f"the archive cannot be read: it is damaged or not a ZIP file ({_brief(error)})")
        return
    with archive:
        seen: dict[str, int] = {}
        for info in archive.infolist():
            member = safe_name(f"{name}/{info.filename}")
            if info.is_dir() or _left_out(info.filename) or member in skip:
                continue
            row_name, problem = _member_problem(info.filename, member, seen)
            if problem is not None:
                yield Entry(row_name, error=problem)
            elif info.flag_bits & 0x1:
                yield Entry(member, error="the file is encrypted in the archive (password-protected ZIP)")
            elif info.file_size > MAX_FILE_BYTES:
                yield Entry(member, error=_too_large(info.file_size))
            elif not _reads(read, info.filename):
                yield Entry(member)
            else:
                try:
                    with archive.open(info) as handle:
                        data = read_member(handle)
                    yield Entry(member, data=data)
                except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, OSError, EOFError) as err:
                    yield Entry(member, error=f"the file is damaged in the archive ({_brief(err)})")


def _tar_entries(name: str, source: Path | bytes, skip, read: Reading) -> Iterator[Entry]:
    members = files = 0
    size = len(source) if isinstance(source, bytes) else source.stat().st_size
    most = TAR_EXPANSION * size + MAX_FILE_BYTES  # bytes of the inflated archive walked at most
    try:
        fileobj = io.BytesIO(source) if isinstance(source, bytes) else None
        with tarfile.open(name=None if fileobj else source, fileobj=fileobj, mode="r:*") as archive:
            seen: dict[str, int] = {}
            for info in archive:
                members += 1
                member = safe_name(f"{name}/{info.name}")
                if info.offset_data + info.size > most:
                    yield Entry(name, error=_bomb(members - 1))
                    return
                if info.isdir() or _left_out(info.name):
                    continue
                files += 1
                if member in skip:
                    continue
                row_name, problem = _member_problem(info.name, member, seen)
                if problem is None and not info.isfile():
                    problem = f"left out: {_not_a_file(info)} in the archive, not a file"
                if problem is not None:
                    yield Entry(row_name, error=problem)
                elif info.size > MAX_FILE_BYTES:
                    yield Entry(member, error=_too_large(info.size))
                elif not _reads(read, info.name):
                    yield Entry(member)
                else:
                    handle = archive.extractfile(info)
                    data = b""
                    if handle is not None:
                        with handle:
                            data = read_member(handle)
                    yield Entry(member, data=data)
    except (tarfile.TarError, OSError, EOFError, zlib.error, ValueError) as error:
        where = "" if members == 0 else f" after {members} entries"
        yield Entry(name, error=f"the archive cannot be read{where}: it is damaged or not a tar file ({_brief(error)})")
        return
    if files == 0:
        yield Entry(name, error="the archive holds no file")


def _bomb(members: int) -> str:
    return (f"the archive is read no further than its first {members} entries: it expands to more than "
            f"{TAR_EXPANSION} times its size (a compression bomb?)")  # fmt: skip


def _not_a_file(info: tarfile.TarInfo) -> str:
    if info.issym():
        return f"a symbolic link (to {safe_name(info.linkname)})"
    if info.islnk():
        return f"a hard link (to {safe_name(info.linkname)}, read under that name)"
    return "a device or a pipe"


def _reads(read: Reading, member: str) -> bool:
    return read(member) if callable(read) else read


def read_member(handle: IO[bytes]) -> bytes:
    """An archive member's bytes; of a PNG only up to its end chunk (IEND). Nothing after it is ever decoded, and a
    crafted PNG can hide tens of megabytes of zeros there (which compress to almost nothing in the archive) that
    would otherwise be inflated and held in memory."""
    head = handle.read(len(PNG_SIGNATURE))
    if head != PNG_SIGNATURE:
        return head + handle.read()
    parts = [head]
    for _ in range(PNG_CHUNKS_WALKED):  # chunks: 4-byte length, 4-byte type, data, 4-byte CRC
        chunk_head = handle.read(8)
        body = handle.read(int.from_bytes(chunk_head[:4], "big") + 4) if len(chunk_head) == 8 else b""
        parts += (chunk_head, body)
        if chunk_head[4:] == b"IEND" or len(body) < 4:
            return b"".join(parts)
    return b"".join([*parts, handle.read()])  # so many chunks is no photo: read whole, as any other file


def _hidden(name: str) -> bool:
    return name.startswith(".")


def _left_out(member: str) -> bool:
    """Hidden files, anything in a hidden folder, and macOS resource forks (a '..' is no hidden folder: it is
    reported, see ``_member_problem``)."""
    parts = PurePosixPath(member.replace("\\", "/")).parts
    return any(_hidden(part) and part != ".." for part in parts) or "__MACOSX" in parts


def _member_problem(raw: str, member: str, seen: dict[str, int]) -> tuple[str, str | None]:
    """The row name of an archive member and why it is not read: a path leading out of the archive, a second
    member of the same name (its row gets a name of its own, so every row names one entry), or an archive inside
    the archive; no reason for a member to read. ``seen`` counts the names met so far."""
    parts = PurePosixPath(raw.replace("\\", "/")).parts
    if ".." in parts or raw.startswith(("/", "\\")):
        return member, "left out: its path in the archive leads outside the archive ('..' or an absolute path)"
    seen[member] = seen.get(member, 0) + 1
    if seen[member] > 1:
        return f"{member} (copy {seen[member]})", "left out: another file of the same name in the archive was read"
    if is_archive_name(raw):
        return member, "an archive inside an archive is not opened: unpack it and add its photos"
    return member, None


def _too_large(size: int) -> str:
    return f"the file is too large ({size / 2**20:.0f} MB, the limit is {MAX_FILE_BYTES / 2**20:.0f} MB)"


def _brief(error: BaseException) -> str:
    """The first line of an error's message (tarfile lists every compression it tried, one per line)."""
    text = (str(error) or type(error).__name__).splitlines()[0].rstrip(":")
    if text == "file could not be opened successfully":
        text = "no tar, tar.gz, tar.bz2 or tar.xz content"
    return text[:120]
