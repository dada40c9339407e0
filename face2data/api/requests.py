"""Reading an image out of an HTTP request: the raw body or a multipart field, in memory, within the limits."""

from __future__ import annotations

import email.parser
import email.policy

from fastapi import HTTPException, Request

from face2data.limits import MAX_FILE_BYTES

# A multipart body carries its boundaries and headers beside the file.
MULTIPART_SLACK = 64 * 1024
FILE_FIELD = "file"


async def read_body(request: Request, limit: int = MAX_FILE_BYTES + MULTIPART_SLACK) -> bytes:
    """The request body, refused with 413 as soon as it is known to exceed ``limit`` (never read whole)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the request is too large ({int(declared) / 2**20:.0f} MB); {_limit_text()}")
    chunks: list[bytes] = []
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise HTTPException(413, f"the request is too large; {_limit_text()}")
        chunks.append(chunk)
    return b"".join(chunks)


def _limit_text() -> str:
    return f"the limit is {MAX_FILE_BYTES / 2**20:.0f} MB per image"


def image_bytes(content_type: str, body: bytes) -> tuple[bytes, str | None]:
    """The image's bytes and file name (if any) from a raw ``image/*`` body or a multipart ``file`` field.

    Raises HTTPException 400 (no file), 415 (a body that is neither) or 422 (a malformed multipart body).
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
    if "boundary=" not in content_type:
        raise HTTPException(422, "malformed multipart request: no boundary in its Content-Type")
    header = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
    if not message.is_multipart():
        raise HTTPException(422, "malformed multipart request")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == FILE_FIELD:
            data = part.get_payload(decode=True)
            if not data:
                raise HTTPException(400, f"no file: the {FILE_FIELD!r} field is empty")
            return bytes(data), part.get_filename()
    raise HTTPException(400, f"no file: the multipart request has no field named {FILE_FIELD!r}")
