"""What a batch reads (face2data.inputs): archive members read in memory, and only as far as they are used."""

from __future__ import annotations

import io
import zipfile
from functools import partial

import numpy as np
import pytest
from conftest import tar_bytes, zip_bytes
from PIL import Image

from face2data.image_loading import ImageLoadError, load_rgb
from face2data.inputs import iter_entries, iter_upload_entries, read_member

PADDING = bytes(5 * 2**20)  # zeros after the image: a few kilobytes once compressed in the archive


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 60, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


DEFLATED_ZIP = partial(zip_bytes, compression=zipfile.ZIP_DEFLATED)


@pytest.mark.parametrize(("suffix", "pack"), [(".zip", DEFLATED_ZIP), (".tar.gz", tar_bytes)])
def test_an_archived_png_is_read_only_to_its_end_chunk(tmp_path, suffix, pack):
    png = png_bytes()
    archive = pack({"padded.png": png + PADDING, "plain.png": png, "other.bin": b"abc" + PADDING})
    (tmp_path / f"set{suffix}").write_bytes(archive)
    for entries in (iter_entries([str(tmp_path / f"set{suffix}")]), iter_upload_entries([(f"set{suffix}", archive)])):
        data = {entry.name.rsplit("/", 1)[1]: entry.data for entry in entries}
        assert data["padded.png"] == png and data["plain.png"] == png  # the zeros are never inflated or held
        assert data["other.bin"] == b"abc" + PADDING  # a file without a definite end is read whole
        assert load_rgb(data["padded.png"]).shape == (40, 60, 3)


def test_a_png_cut_short_is_read_as_far_as_it_goes_and_reported_truncated():
    png = png_bytes()
    for cut in (4, 8, 20, len(png) // 2):
        data = read_member(io.BytesIO(png[:cut]))
        assert data == png[:cut]
        with pytest.raises(ImageLoadError):
            load_rgb(data)


def test_a_png_of_more_chunks_than_a_photo_has_is_read_whole_not_walked_chunk_by_chunk():
    from face2data.inputs import PNG_CHUNKS_WALKED

    empty_chunk = b"\0\0\0\0tEXt\0\0\0\0"  # a crafted file of millions of these made a loop of seconds per member
    crafted = png_bytes()[:8] + empty_chunk * (PNG_CHUNKS_WALKED + 10) + b"\0\0\0\0IEND\xaeB`\x82" + PADDING
    assert read_member(io.BytesIO(crafted)) == crafted
