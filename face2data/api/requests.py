"""Reading an image out of an HTTP request: the raw body or a multipart field, in memory, within the limits."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import anyio
from fastapi import HTTPException, Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from face2data.limits import MAX_FILE_BYTES, MULTIPART_SLACK

FILE_FIELD = "file"
# Most parts a multipart body may have: the file and a few form fields. Counted before the body is parsed, so a
# body of thousands of tiny parts costs a byte search, not a parse.
MAX_PARTS = 16
# The parser's warnings quote a client's bytes; the API logs nothing a client sent, and its 422 says enough.
logging.getLogger("python_multipart.multipart").setLevel(logging.ERROR)
# nginx's "client closed request": the status the request log shows for a client that went away (it never gets it).
CLIENT_CLOSED = 499
# Most bytes of request bodies the server holds at once, all clients together, from the first byte received until
# the photo is decoded: four of the largest uploads. Twenty clients that each send 49 MB and stall took the
# server from 0.7 to 1.7 GB; a body that would go over this waits for no one: it gets a 503 with Retry-After.
BODY_BYTES_AT_ONCE = 4 * (MAX_FILE_BYTES + MULTIPART_SLACK)
# A client that sends nothing for this long in the middle of its body gets a 408 (and its bytes are let go).
BODY_IDLE_SECONDS = 30.0
RETRY_AFTER_SECONDS = 5


class BodyBytes:
    """The bytes of request bodies held now (used from the event loop only, so it needs no lock)."""

    def __init__(self, most: int = BODY_BYTES_AT_ONCE) -> None:
        self.most, self.held = most, 0

    def take(self, size: int) -> None:
        """Hold ``size`` more bytes, or a 503 when that would pass ``most``."""
        if self.held + size > self.most:
            raise HTTPException(503, "the server is receiving too many uploads at once; try again in a moment",
                                headers={"Retry-After": str(RETRY_AFTER_SECONDS)})  # fmt: skip
        self.held += size

    def give_back(self, size: int) -> None:
        """Let go of ``size`` bytes taken before."""
        self.held -= size


BODIES = BodyBytes()


async def read_body(request: Request, limit: int = MAX_FILE_BYTES + MULTIPART_SLACK, held: BodyBytes = BODIES,
                    idle_seconds: float = BODY_IDLE_SECONDS) -> bytes:  # fmt: skip
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` (never read whole), 503 when
    the server holds too many bodies already, 408 when the client stalls, or 499 when it disconnects before sending
    all of it. The body's bytes are taken from ``held``: the caller gives them back once it has done with them."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the request is too large ({int(declared) / 2**20:.0f} MB); {_limit_text()}")
    chunks: list[bytes] = []
    received = 0
    stream = request.stream()
    try:
        while True:
            with anyio.fail_after(idle_seconds):
                chunk = await anext(stream, None)
            if chunk is None:
                return b"".join(chunks)
            if received + len(chunk) > limit:
                raise HTTPException(413, f"the request is too large; {_limit_text()}")
            held.take(len(chunk))
            received += len(chunk)
            chunks.append(chunk)
    except BaseException as error:
        held.give_back(received)
        if isinstance(error, ClientDisconnect):
            raise HTTPException(CLIENT_CLOSED, "the client closed the connection during the upload") from None
        if isinstance(error, TimeoutError):
            raise HTTPException(408, f"the upload stalled: nothing arrived for {idle_seconds:.0f} s") from None
        raise


def _limit_text() -> str:
    return f"the limit is {MAX_FILE_BYTES / 2**20:.0f} MB per image"


def image_bytes(content_type: str, body: bytes) -> tuple[bytes, str | None]:
    """The image's bytes and file name (if any) from a raw ``image/*`` body or a multipart ``file`` field.

    Raises HTTPException 400 (no file), 413 (more than MAX_PARTS parts), 415 (a body that is neither) or 422 (a
    malformed multipart body). Parsing a multipart body is CPU work: call this in a worker thread.
    """
    kind = content_type.split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        return _multipart_file(content_type, body)
    if kind.startswith("image/") or kind in ("application/octet-stream", ""):
        if not body:
            raise HTTPException(400, "no file: the request body is empty")
        return body, None
    raise HTTPException(
        415, f"unsupported content type {kind!r}: send the image as the body (image/...) or as a multipart field "
        f"named {FILE_FIELD!r}",
    )  # fmt: skip


@dataclass
class _Part:
    """One part of a multipart body: its headers (names in lower case) and its data, as the parser hands them over."""

    headers: dict[bytes, bytes] = field(default_factory=dict)
    chunks: list[bytes] = field(default_factory=list)
    header_name: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)

    def end_header(self) -> None:
        self.headers[bytes(self.header_name).strip().lower()] = bytes(self.header_value).strip()
        self.header_name.clear()
        self.header_value.clear()

    def option(self, header: bytes, name: bytes) -> bytes | None:
        return parse_options_header(self.headers.get(header))[1].get(name)


def _parts(boundary: bytes, body: bytes) -> list[_Part]:
    """The parts of a multipart body, in memory. python-multipart finds boundaries with bytes searches; the standard
    library's email parser holds the GIL for 0.7 s on a 40 MB part, which stalls the event loop."""
    parts: list[_Part] = []
    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": lambda: parts.append(_Part()),
            "on_header_field": lambda data, start, end: parts[-1].header_name.extend(data[start:end]),
            "on_header_value": lambda data, start, end: parts[-1].header_value.extend(data[start:end]),
            "on_header_end": lambda: parts[-1].end_header(),
            "on_part_data": lambda data, start, end: parts[-1].chunks.append(data[start:end]),
        },
    )
    try:
        parser.write(body)
        parser.finalize()
    except MultipartParseError:
        raise HTTPException(422, "malformed multipart request") from None
    return parts


def _multipart_file(content_type: str, body: bytes) -> tuple[bytes, str | None]:
    boundary = parse_options_header(content_type)[1].get(b"boundary")
    if not boundary:
        raise HTTPException(422, "malformed multipart request: no boundary in its Content-Type")
    # Every part opens with a line "--boundary" and the body closes with one more.
    delimiter = b"--" + boundary
    if body.startswith(delimiter) + body.count(b"\n" + delimiter) > MAX_PARTS + 1:
        raise HTTPException(413, f"the multipart request has more than {MAX_PARTS} parts; send the image alone, in "
                            f"the field {FILE_FIELD!r}")  # fmt: skip
    for part in _parts(boundary, body):
        if part.option(b"content-disposition", b"name") == FILE_FIELD.encode():
            data = b"".join(part.chunks)
            if not data:
                raise HTTPException(400, f"no file: the {FILE_FIELD!r} field is empty")
            name = part.option(b"content-disposition", b"filename")
            return data, None if name is None else name.decode("utf-8", "replace")
    raise HTTPException(400, f"no file: the multipart request has no field named {FILE_FIELD!r}")
