"""The model card is rendered from the metrics files, every class head alike: its accuracy in the results table, its
confusion matrices and per-class tables in a section of its own, its weakest group; a head a set has no labels of
is left out there, and a second scheme of an attribute gets its own section with its matrix against the first."""

from __future__ import annotations

import numpy as np
import pytest

from face2data import model_card
from face2data.evaluation.metrics import RANGE_HIT_KEY, Outcomes, summarize
from face2data.schema import CLASS_HEADS, HEAD_BY_NAME, RACES, Head

SUMMARY = {"config": {"batch_size": 64, "learning_rate": 1e-3, "weight_decay": 1e-4, "seed": 0},
           "training_seconds": 3600.0, "epochs_completed": 3, "best_epoch": 2, "keras_backend": "jax",
           "train_images_per_second": 90}  # fmt: skip


def _set(n: int, ranges: bool, heads: dict[str, int], seed: int = 0) -> dict:
    """A metrics report of made-up outcomes: exact ages or ranges, labels of the class heads in ``heads``
    (name -> number of classes), the others unlabelled."""
    rng = np.random.default_rng(seed)
    low = rng.integers(1, 80, n).astype(float)
    high = low + 9 if ranges else low
    pred = low + rng.normal(3, 5, n)
    truth, predicted = {}, {}
    for head in CLASS_HEADS:
        size = len(head.classes)
        truth[head.name] = rng.integers(0, size, n) if head.name in heads else np.full(n, -1)
        predicted[head.name] = np.where(rng.random(n) < 0.8, truth[head.name] % size, rng.integers(0, size, n))
    report = summarize(Outcomes(low, high, pred, pred - 6, pred + 6, truth, predicted))
    return {"faces_total": n, "faces_found": 1.0, **report}


def _card(metrics, wild=None, all_ages=None) -> str:
    return model_card.render_model_card(metrics, wild, SUMMARY, 10**7, all_ages)


def _row_label(head: Head) -> str:
    """A class head's row in the results table: its title, or for one scheme of an attribute the attribute and
    the scheme ("ethnicity (FairFace's 7 groups) accuracy")."""
    attribute = next(h for h in CLASS_HEADS if h.attribute == head.attribute)
    return f"{attribute.title.lower()} ({head.scheme}) accuracy" if head.scheme else f"{head.title.lower()} accuracy"


def test_every_labelled_head_has_its_row_section_and_weakest_group():
    utk = _set(300, False, {"gender": 2, "ethnicity": 5})
    wild = _set(300, True, {head.name: len(head.classes) for head in CLASS_HEADS}, seed=1)  # FairFace: every head
    aaf = _set(200, False, {"gender": 2}, seed=2)
    card = _card(utk, wild, aaf)
    assert f"MAE {utk['age_mae']:.2f} years" in card and f"MAE {aaf['age_mae']:.2f} years" in card
    assert f"within range ± 5 years: {100 * wild[RANGE_HIT_KEY]:.1f} %" in card
    weak = card.split("## Where it is weak")[1].split("##")[0]
    for head in CLASS_HEADS:
        assert f"| {_row_label(head)} |" in card and f"### {head.title}\n" in card
        # in its section, a confusion matrix per set with the head's labels, as shares of each true class (a matrix
        # against another scheme of the attribute has that scheme's classes as columns); its weakest group per set
        section = card.split(f"### {head.title}\n")[1].split("###")[0]
        labelled = sum(f"{head.name}_accuracy" in metrics for metrics in (utk, wild, aaf))
        assert section.count("| true \\ predicted | " + " | ".join(head.classes) + " |") == labelled
        assert weak.count(f"{head.title.lower()} accuracy is lowest for") == labelled
    ethnicity_row = next(line for line in card.splitlines() if line.startswith("| ethnicity (UTKFace's"))
    assert ethnicity_row.endswith("| — (no labels) |")  # All-Age-Faces has no ethnicity labels
    assert card.count("| true \\ predicted | male | female |") == 3
    assert "All-Age-Faces test split, per true age bucket:" in card
    assert weak.count("gender accuracy is lowest for") == 3 and weak.count("ethnicity accuracy is lowest for") == 2
    assert "- In the wild (FairFace test split):" in weak and "least often within its range" in weak


def test_a_set_not_evaluated_and_a_head_without_labels_are_left_out():
    card = _card(_set(100, False, {"gender": 2}))
    assert "### Gender" in card and "### Ethnicity" not in card and "| ethnicity accuracy" not in card
    assert "| faces found | 100.0 % | — | — |" in card


def test_a_second_scheme_of_an_attribute_gets_its_own_section_and_its_matrix_against_the_first(monkeypatch):
    seven = Head("ethnicity7", "classes", "Ethnicity (7 groups)", RACES, attribute="ethnicity",
                 scheme="FairFace's 7 groups")  # fmt: skip
    monkeypatch.setitem(HEAD_BY_NAME, seven.name, seven)
    monkeypatch.setattr(model_card, "CLASS_HEADS", (*CLASS_HEADS, seven))
    wild = _set(300, True, {"gender": 2, "ethnicity": 5}, seed=1)
    groups = [{**row, "group": race} for row, race in zip(wild["per_group"]["ethnicity"] * 2, RACES, strict=False)]
    wild["ethnicity7_accuracy"] = 0.6
    wild["per_group"]["ethnicity7"] = groups
    five = list(HEAD_BY_NAME["ethnicity"].classes)
    wild["confusion"]["ethnicity7_to_ethnicity"] = {
        "rows": list(RACES),
        "labels": five,
        "counts": [[10, 0, 0, 0, 2]] * 7,
    }
    card = _card(_set(300, False, {"gender": 2, "ethnicity": 5}), wild)
    section = card.split("### Ethnicity (7 groups)\n")[1].split("###")[0]
    assert section.startswith("FairFace's 7 groups: White, Black")
    assert "In the wild (FairFace test split), against the predicted ethnicity" in section
    assert "| Latino_Hispanic | 83.3 % (10) |" in section and "| Southeast Asian |" in section
    assert "| ethnicity (FairFace's 7 groups) accuracy | — (no labels) | 60.0 % (—) | — |" in card


@pytest.mark.parametrize("heads", [{"gender": 2}, {}])
def test_a_set_without_cells_or_ages_still_renders(heads):
    metrics = _set(50, False, heads)
    del metrics["per_group"]["cells"]
    assert "## Where it is weak" in _card(metrics)
