from collections import Counter

import numpy as np
import pytest

from face2data.data.sources import scan_labels
from face2data.data.split import SPLITS, split_of
from face2data.schema import CLASS_HEADS, NO_LABEL


def _names(n: int) -> list[str]:
    rng = np.random.default_rng(1)
    return [f"{rng.integers(1, 90)}_{rng.integers(0, 2)}_{rng.integers(0, 5)}_{20170101000000000 + i}.jpg.chip.jpg"
            for i in range(n)]  # fmt: skip


def test_split_is_deterministic_and_ignores_the_folder():
    for name in _names(200):
        assert split_of(name) == split_of(name) == split_of(f"UTKFace/{name}") == split_of(f"/elsewhere/x/{name}")


def test_split_is_a_partition_close_to_80_10_10():
    names = _names(20000)
    splits = {s: {n for n in names if split_of(n) == s} for s in SPLITS}
    assert sum(len(v) for v in splits.values()) == len(names)
    assert not (splits["train"] & splits["val"]) and not (splits["train"] & splits["test"])
    assert not (splits["val"] & splits["test"])
    counts = Counter(split_of(n) for n in names)
    assert abs(counts["train"] / len(names) - 0.8) < 0.015
    assert abs(counts["val"] / len(names) - 0.1) < 0.01
    assert abs(counts["test"] / len(names) - 0.1) < 0.01


@pytest.mark.slow
def test_real_split_is_balanced(utkface_archive):
    found = scan_labels(utkface_archive)
    assert len(found.skipped) == 3
    by_split = {s: [lab for n, lab in found.labelled if split_of(n) == s] for s in SPLITS}
    total = len(found.labelled)
    assert abs(len(by_split["test"]) / total - 0.1) < 0.01
    checked = set()
    for labels in by_split.values():
        # each split's label mix stays within a few points of the whole set's
        for head in CLASS_HEADS:  # the heads UTKFace labels (gender, the five ethnicity classes)
            everyone = [lab.of(head.name) for _, lab in found.labelled if lab.of(head.name) != NO_LABEL]
            if not everyone:
                continue
            mine = [lab.of(head.name) for lab in labels if lab.of(head.name) != NO_LABEL]
            whole = np.bincount(everyone, minlength=len(head.classes)) / len(everyone)
            part = np.bincount(mine, minlength=len(head.classes)) / len(mine)
            assert np.abs(whole - part).max() < 0.03
            checked.add(head.name)
        ages = np.array([lab.age for lab in labels])
        assert abs(ages.mean() - np.mean([lab.age for _, lab in found.labelled])) < 1.5
    assert {"gender", "ethnicity"} <= checked
