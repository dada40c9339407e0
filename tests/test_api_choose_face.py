"""The API's choice of one face of a photo: faces read only, 1 = the largest, a 404 past the last."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fastapi import HTTPException

from face2data.api.app import choose_face


def test_possible_faces_do_not_count_and_a_number_past_the_last_is_a_404():
    faces = [SimpleNamespace(read=True, n=1), SimpleNamespace(read=False, n=2), SimpleNamespace(read=True, n=3)]
    assert choose_face(faces, 1).n == 1
    assert choose_face(faces, 2).n == 3
    with pytest.raises(HTTPException) as raised:
        choose_face(faces, 3)
    assert raised.value.status_code == 404 and raised.value.detail == "no face number 3: the photo has 2 faces"
    with pytest.raises(HTTPException) as raised:
        choose_face([SimpleNamespace(read=True)], 2)
    assert raised.value.detail == "no face number 2: the photo has 1 face"
