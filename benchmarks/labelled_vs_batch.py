"""The Evaluation page's "Your labelled photos" against the Batch page, on the same uploaded photos.

    python benchmarks/labelled_vs_batch.py [--photos 500] [--data ../shared/data/UTKFace.tar.gz]

Takes the first N UTKFace photos of the archive (labels in their names) as one in-memory zip, the way a person
would upload them, and times what each page runs on it, in this process as the pages do: the Batch page's
``score_uploads`` and the Evaluation page's ``evaluate_uploads`` (faces found and read, then the metrics with
their bootstrap intervals). The target: evaluating takes no longer than the batch plus 20 %. Interleaved
repeats; prints a Markdown table and one JSON line.
"""

from __future__ import annotations

import argparse
import io
import tarfile
import zipfile

import common

common.setup_path()

from face2data.ui.batch import score_uploads  # noqa: E402
from face2data.ui.cache import _shared_predictor  # noqa: E402
from face2data.ui.labelled import evaluate_uploads  # noqa: E402

TARGET = 1.2  # evaluating may take this many times the batch's time


def first_photos(archive: str, count: int) -> bytes:
    """A zip (in memory) of the first ``count`` JPEG photos of a tar archive, under their own names."""
    out = io.BytesIO()
    with tarfile.open(archive) as tar, zipfile.ZipFile(out, "w") as zipped:
        taken = 0
        for member in tar:
            if taken == count:
                break
            name = member.name.rsplit("/", 1)[-1]
            if member.isfile() and name.lower().endswith(".jpg") and not name.startswith("."):
                data = tar.extractfile(member)
                if data is not None:
                    zipped.writestr(name, data.read())
                    taken += 1
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=500)
    parser.add_argument("--data", default=str(common.SHARED_DATA / "UTKFace.tar.gz"))
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="20 photos, one repeat: checks the script works")
    args = parser.parse_args()
    photos, repeats = (20, 1) if args.quick else (args.photos, args.repeats)
    info = common.machine_info()
    uploads = [("photos.zip", first_photos(args.data, photos))]
    predictor = _shared_predictor()
    times = common.interleaved(
        {
            "Batch page (score_uploads)": lambda: score_uploads(uploads, lambda: predictor),
            "Evaluation page (evaluate_uploads)": lambda: evaluate_uploads(uploads, predictor.model),
        },
        repeats,
        warmup=1,
    )
    batch, evaluation = (common.median(t) for t in times.values())
    common.print_header(f"Your labelled photos against the Batch page ({photos} UTKFace photos)", info, args.quick)
    rows = [(name, f"{common.median(t):.1f}", common.rate(photos / common.median(t))) for name, t in times.items()]
    print(common.markdown_table(("page (library call)", "seconds (median)", "photos/s"), rows))
    ratio = evaluation / batch
    verdict = "met" if ratio <= TARGET else "NOT met"
    print(f"\nEvaluating takes {ratio:.2f}× the batch's time (target ≤ {TARGET:.1f}×: {verdict}).\n")
    common.print_json("labelled_vs_batch", info, args.quick, photos=photos, seconds=times, ratio=ratio)


if __name__ == "__main__":
    main()
