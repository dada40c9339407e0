"""Aligned training crops: the serving path run over a source, cached under a key that rebuilds it."""

from __future__ import annotations

import os
import shutil

import cv2
import numpy as np
from conftest import utkface_names, write_fairface_source, write_utkface_images

from face2data import crops
from face2data.crops import cache_path, crop_key, load_crops, read_crops_file, write_crops_copy
from face2data.schema import INPUT_SIZE


def test_crops_of_a_fairface_source_with_a_face_missing(tmp_path):
    folder = write_fairface_source(tmp_path, [("30-39", "Female", "Black")] * 3 + [("3-9", "Male", "White")])
    blank = np.full((144, 144, 3), 128, np.uint8)  # no face at all: counted as missed
    cv2.imwrite(str(folder / "train" / "4.jpg"), blank)
    found = load_crops(folder)
    assert found.source == "fairface" and len(found.faces) == 3 and found.missed == ["train/4.jpg"]
    assert found.faces.images.shape == (3, INPUT_SIZE, INPUT_SIZE, 3) and found.faces.images.dtype == np.uint8
    assert list(found.faces.age_low) == [30] * 3 and list(found.faces.age_high) == [39] * 3
    assert set(found.faces.sources) == {"fairface"} and list(found.faces.labels["ethnicity"]) == [1, 1, 1]


def test_the_cache_is_reused_and_rebuilt_when_its_key_changes(tmp_path, monkeypatch):
    folder = tmp_path / "utk"
    write_utkface_images(folder, utkface_names({"train": 3, "val": 1, "test": 1}))
    first = load_crops(folder)
    file = cache_path(folder, crop_key(folder))
    assert file.exists() and len(first.faces) == 5
    built = []
    original = crops.build_crops
    monkeypatch.setattr(crops, "build_crops", lambda *a, **k: built.append(1) or original(*a, **k))
    load_crops(folder)
    assert built == []  # same key: read from the cache
    monkeypatch.setattr(crops.DETECTOR, "version", "another detector")
    again = load_crops(folder)
    assert built == [1] and cache_path(folder, crop_key(folder)) != file  # a new detector: rebuilt
    np.testing.assert_array_equal(again.faces.images, first.faces.images)


def test_the_cache_follows_the_contents_not_the_file_times_or_place(tmp_path, monkeypatch):
    folder = tmp_path / "utk"
    write_utkface_images(folder, utkface_names({"train": 2, "val": 1, "test": 1}))
    load_crops(folder)
    built = []
    original = crops.build_crops
    monkeypatch.setattr(crops, "build_crops", lambda *a, **k: built.append(1) or original(*a, **k))
    copy = tmp_path / "copied" / "utk"
    shutil.copytree(folder, copy)  # a fresh copy: new modification times, another place
    for file in copy.iterdir():
        os.utime(file, (1, 1))
    load_crops(copy)
    assert built == []
    changed = sorted(copy.iterdir())[0]
    changed.write_bytes(cv2.imencode(".jpg", np.full((200, 200, 3), 90, np.uint8))[1].tobytes())
    load_crops(copy)
    assert built == [1]  # one image's contents changed: rebuilt


def test_a_copy_holds_the_chosen_splits_and_shard(tmp_path):
    folder = tmp_path / "utk"
    names = utkface_names({"train": 6, "val": 2, "test": 2})
    write_utkface_images(folder, names)
    out = tmp_path / "part.crops.npz"
    written = write_crops_copy(folder, out, ("train",), (1, 2))
    copy = read_crops_file(out)
    assert written == len(copy.faces) == 3 and set(copy.faces.splits) == {"train"}
    whole = load_crops(folder).faces.of_splits("train")
    np.testing.assert_array_equal(copy.faces.images, whole.images[1::2])
    assert list(copy.faces.names) == list(whole.names[1::2])


def test_cached_crops_of_named_faces_without_building_anything(tmp_path):
    from face2data.crops import cached_crops

    folder = write_fairface_source(tmp_path, [("30-39", "Female", "Black"), ("3-9", "Male", "White")] * 2)
    assert cached_crops(folder, ["train/1.jpg"]) is None  # never built: nothing is built for a gallery
    assert cached_crops(tmp_path / "nowhere", ["train/1.jpg"]) is None
    found = load_crops(folder)
    wanted = ["train/3.jpg", "train/no-such.jpg", "train/1.jpg"]
    picked = cached_crops(folder, wanted)
    assert list(picked) == ["train/3.jpg", "train/1.jpg"]  # in the order asked, the unknown name left out
    names = list(found.faces.names)
    for name, image in picked.items():
        assert np.array_equal(image, found.faces.images[names.index(name)])
    assert cached_crops(folder, []) == {}
