"""Uploads stay in memory on the app's server.

Streamlit receives an upload through Starlette's multipart parser, which spools every file part over 1 MB into
a temporary file on disk (``tempfile.SpooledTemporaryFile``) before Streamlit reads it into memory. Raising the
parser's spool size above the largest upload the server accepts keeps each part in memory from the first byte.
"""

from __future__ import annotations

from face2data.limits import MAX_BATCH_BYTES, MULTIPART_SLACK


def keep_uploads_in_memory() -> int:
    """Make Starlette keep uploaded parts up to the largest upload in memory; returns the spool size set."""
    from starlette.formparsers import MultiPartParser

    size = MAX_BATCH_BYTES + MULTIPART_SLACK
    MultiPartParser.spool_max_size = max(MultiPartParser.spool_max_size, size)
    return MultiPartParser.spool_max_size
