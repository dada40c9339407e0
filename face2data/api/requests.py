"""Reading an image out of an HTTP request: the raw body or a multipart field, in memory, within the limits."""

from __future__ import annotations

import email.parser
import email.policy

from fastapi import HTTPException, Request
from starlette.requests import ClientDisconnect

from face2data.limits import MAX_FILE_BYTES

# A multipart body carries its boundaries and headers beside the file.
MULTIPART_SLACK = 64 * 1024
FILE_FIELD = "file"
# Most parts a multipart body may have: the file and a few form fields. Counted before the body is parsed, so a
# body of thousands of tiny parts costs a byte search, not a parse.
MAX_PARTS = 16
# nginx's "client closed request": the status the request log shows for a client that went away (it never gets it).
CLIENT_CLOSED = 499
_EMAIL_PARSER = email.parser.BytesParser(policy=email.policy.HTTP)


async def read_body(request: Request, limit: int = MAX_FILE_BYTES + MULTIPART_SLACK) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` (never read whole), or a 499
    when the client disconnects before sending all of it."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the request is too large ({int(declared) / 2**20:.0f} MB); {_limit_text()}")
    chunks: list[bytes] = []
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit:
                raise HTTPException(413, f"the request is too large; {_limit_text()}")
            chunks.append(chunk)
    except ClientDisconnect:
        raise HTTPException(CLIENT_CLOSED, "the client closed the connection during the upload") from None
    return b"".join(chunks)


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


def _multipart_file(content_type: str, body: bytes) -> tuple[bytes, str | None]:
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    boundary = _EMAIL_PARSER.parsebytes(header, headersonly=True).get_boundary()
    if not boundary:
        raise HTTPException(422, "malformed multipart request: no boundary in its Content-Type")
    # Every part opens with a line "--boundary" and the body closes with one more.
    delimiter = b"--" + boundary.encode("utf-8", "replace")
    if body.startswith(delimiter) + body.count(b"\n" + delimiter) > MAX_PARTS + 1:
        raise HTTPException(413, f"the multipart request has more than {MAX_PARTS} parts; send the image alone, in "
                            f"the field {FILE_FIELD!r}")  # fmt: skip
    message = _EMAIL_PARSER.parsebytes(header + body)
    if not message.is_multipart():
        raise HTTPException(422, "malformed multipart request")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == FILE_FIELD:
            data = part.get_payload(decode=True)
            if not data:
                raise HTTPException(400, f"no file: the {FILE_FIELD!r} field is empty")
            return bytes(data), part.get_filename()
    raise HTTPException(400, f"no file: the multipart request has no field named {FILE_FIELD!r}")
