"""The deterministic train/val/test split (80/10/10), a function of each file name alone."""

from __future__ import annotations

import hashlib
from pathlib import PurePosixPath

SPLITS = ("train", "val", "test")


def split_of(name: str) -> str:
    """The split a UTKFace file belongs to, from a hash of its base name.

    Depending on the base name only, the same image lands in the same split
    whether it is read from the archive or from any folder.
    """
    base = PurePosixPath(name.replace("\\", "/")).name
    bucket = int.from_bytes(hashlib.sha256(base.encode("utf-8")).digest()[:8], "big") % 10
    if bucket == 0:
        return "test"
    if bucket == 1:
        return "val"
    return "train"
