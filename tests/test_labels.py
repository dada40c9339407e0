from face2data.data.labels import FaceLabel, parse_name


def test_parses_a_regular_name():
    assert parse_name("26_1_2_20170116174525125.jpg.chip.jpg") == FaceLabel(26, classes={"gender": 1, "ethnicity": 2})


def test_ignores_folders_in_the_name():
    assert parse_name("UTKFace/1_0_4_20161221193724393.jpg.chip.jpg") == FaceLabel(
        1, classes={"gender": 0, "ethnicity": 4}
    )


def test_names_with_a_missing_field_are_not_labelled():
    # the three malformed names of the official archive
    for name in (
        "39_1_20170116174525125.jpg.chip.jpg",
        "61_1_20170109142408075.jpg.chip.jpg",
        "61_1_20170109150557335.jpg.chip.jpg",
    ):
        assert parse_name(name) is None


def test_odd_but_complete_names_are_labelled():
    # a stray space and a missing dot in the date part do not touch the labels
    assert parse_name("24_0_1_20170116220224657 .jpg.chip.jpg") == FaceLabel(24, classes={"gender": 0, "ethnicity": 1})
    assert parse_name("55_0_0_20170116232725357jpg.chip.jpg") == FaceLabel(55, classes={"gender": 0, "ethnicity": 0})


def test_out_of_range_or_non_numeric_labels_are_rejected():
    for name in ("117_0_0_1.jpg", "30_2_0_1.jpg", "30_0_5_1.jpg", "-1_0_0_1.jpg", "a_0_0_1.jpg", "photo.jpg", ""):
        assert parse_name(name) is None
