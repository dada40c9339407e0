"""About / model card: what the model is, what it was trained on, how well it does, its limits and privacy."""

from __future__ import annotations

import streamlit as st

from face2data import limits
from face2data.data.scores import RANGE_HIT_KEY
from face2data.evaluation.run import TEST_SET_NAMES
from face2data.explanation.faithfulness import MIN_RATIO
from face2data.faces.regions import REGIONS
from face2data.image_loading import SUPPORTED
from face2data.model_card import (
    INTENDED_USE,
    INTENDED_USE_HEADING,
    LIMITS,
    LIMITS_HEADING,
    RESULTS_HEADING,
    without_section,
)
from face2data.schema import (
    AGE_INTERVAL_MASS,
    AGE_MAX,
    AGE_MIN,
    AGE_RANGE_TOLERANCE,
    ALLAGEFACES_AGES_TEXT,
    CLASS_HEADS,
    ETHNICITIES,
    HEAD_TABLE,
    INPUT_SIZE,
)
from face2data.ui import cache

st.title("About face2data")
st.markdown(
    "face2data predicts **age, gender and ethnicity** for every face in a photo with one multi-output Keras "
    f"network (MobileNetV3 trunk, {INPUT_SIZE}×{INPUT_SIZE} pixel input, {len(HEAD_TABLE)} softmax heads: "
    f"{', '.join(head.title.lower() for head in HEAD_TABLE)}) and explains each "
    "prediction by facial region (exact Shapley values) and with SHAP pixel maps. Faces are found by YuNet "
    "(OpenCV) and aligned to one reference layout; the app runs the "
    "trained network exported to TFLite with LiteRT (the same answers, several times faster on a CPU) and never "
    "loads TensorFlow. The Live page labels a webcam stream in real time; programs can use the same model through "
    "`python -m face2data predict` and the HTTP API (`python -m face2data serve`). Speed and accuracy figures, "
    "measured by the scripts in `benchmarks/`, are in `benchmarks/RESULTS.md`. Everything runs on this computer "
    "and no other machine is contacted (the Live page's video travels between your browser and this app's server: "
    "see Privacy)."
)

st.header("Measured performance")
st.markdown(
    "Three held-out test sets, all run through the same face detection and alignment as your photos: faces from "
    "UTKFace (a training source with exact ages), real-world Flickr photos from FairFace (**in the wild**: "
    "many poses, lights and image qualities, balanced over seven race groups, ages given as ranges; the closest "
    "to what you will upload) and All-Age-Faces (mostly East Asian faces of every age, exact ages, no ethnicity "
    "labels)."
)
shipped = {source: cache.test_metrics(source) for source in TEST_SET_NAMES}
utk = shipped["utkface"]
if not any(shipped.values()):
    st.info("Not evaluated yet: `python -m face2data evaluate --data PATH --shipped` writes the metrics.")
for source, metrics in shipped.items():
    if metrics is None:
        continue
    name = TEST_SET_NAMES[source][:1].upper() + TEST_SET_NAMES[source][1:]
    st.subheader(name)
    cols = st.columns(2 + len(CLASS_HEADS))
    cols[0].metric(
        "Test faces", f"{int(metrics['n']):,}", help=f"A face was found in {metrics.get('faces_found', 1.0):.1%}."
    )
    if "age_mae" in metrics:
        cols[1].metric("Age MAE", f"{metrics['age_mae']:.2f} years")
    else:
        cols[1].metric(f"Age within range ± {AGE_RANGE_TOLERANCE} y", f"{metrics[RANGE_HIT_KEY]:.1%}")
    for col, head in zip(cols[2:], CLASS_HEADS, strict=True):  # "—" where the set has no labels of the head
        accuracy = metrics.get(f"{head.name}_accuracy")
        col.metric(f"{head.title} accuracy", "—" if accuracy is None else f"{accuracy:.1%}", help=head.scheme or None)
if utk is not None:
    st.caption(
        f"The age interval (central {AGE_INTERVAL_MASS:.0%} of the predicted distribution) held the true age for "
        f"{utk['age_interval_coverage']:.1%} of UTKFace test faces. Per group, with confidence intervals: the "
        "Evaluation page; where the model is weak: the model card below."
    )

st.header("How to read an explanation")
st.markdown(
    f"""
Every face is aligned to one reference layout, so {len(REGIONS)} named regions ({", ".join(REGIONS)}; left and
right as seen in the picture) sit on the same part of every face. An explanation hides regions — fills them from a
blurred copy of the face — in all {2 ** len(REGIONS):,} combinations and
gives each region its **Shapley value**: how much it moved the output, on average, compared with the fully
blurred face (the **base value**). Values are in the head's own unit: years for the age, percentage points for a
probability. They add up exactly to the output minus the base value; the waterfall chart reads from the blurred
face, region by region, to this face's output. Red regions added, blue ones took away. The per-pixel SHAP maps
(a switch under the charts) say *where* inside a region; they are finer and noisier.

- **An explanation of the model, not of the person.** It shows what the network responded to in this picture,
  not why someone looks their age or what their gender or ethnicity is.
- **Relative to a blurred face.** "The eyes added 6 years" means compared with the same face with blurred eyes;
  another reference would give other numbers, and the blurred face's own output can be far from a real one.
- **Fixed regions.** On a turned or unusual face a region can hold part of its neighbour; effects shared by all
  regions (skin tone, lighting) are split among them.
- **Checked for faithfulness.** On test faces, hiding the regions an explanation ranks first must undo the
  prediction at least {MIN_RATIO:g}× as fast as hiding them in random order; a head that fails is not shown
  as explained.
"""
)

st.header("Training data")
summary = cache.training_summary()
sources = (summary or {}).get("sources", {})
counts = {
    name: f" ({entry['train_faces']:,} training and {entry['val_faces']:,} validation faces)"
    for name, entry in sources.items()
}
st.markdown(
    f"- **UTKFace**: aligned and cropped faces (200×200) labelled with age {AGE_MIN}–{AGE_MAX}, binary gender and "
    f"one of {len(ETHNICITIES)} ethnicity classes{counts.get('utkface', '')}.\n"
    "- **FairFace** (CC BY 4.0): real-world Flickr faces balanced over seven race groups (learned as they are by "
    "the seven-group head, and mapped onto the five classes), binary gender and an age range"
    f"{counts.get('fairface', '')}.\n"
    f"- **All-Age-Faces** (research use): mostly East Asian faces of {ALLAGEFACES_AGES_TEXT} with the exact age and "
    f"binary gender; no ethnicity label, so they do not train the ethnicity heads{counts.get('allagefaces', '')}.\n\n"
    "Each source is split by a hash of the file name into training, validation and test sets (80/10/10)."
)

st.header("Limits — read before use")
# The model card's statements (face2data.model_card), so the page and the card cannot drift apart.
st.markdown("\n".join(f"- {line}" for line in LIMITS) + "\n\nPer group: the Evaluation page.")
st.markdown(f"**Intended use.** {INTENDED_USE}")

st.header("Privacy")
session_ttl = st.get_option("server.disconnectedSessionTTL")
st.markdown(
    f"""
- Uploaded photos and webcam snapshots are held **in memory only** for your session: they are never written to
  disk (uploads are received in memory, not spooled to a temporary file), never logged and never sent anywhere.
  After you close the tab, work still under way for it (a batch, an evaluation, an explanation, also the one the
  app computes ahead for a new photo's first face) stops at its next photo or step, and the server keeps the
  session for **{session_ttl} seconds** in case the connection comes back (`server.disconnectedSessionTTL`),
  then drops it with its photos.
- Live video goes from your browser to this app's server by WebRTC. While a Live session runs, the server opens
  UDP ports on this computer's network interfaces for it (WebRTC's host candidates; no STUN or TURN server is
  asked), and the frames are analysed in memory and never stored.
- The model, the face detector (YuNet, Apache-2.0, `face2data/faces/yunet/`) and the explainer ship with the
  app; nothing is downloaded at run time, and the app does not load TensorFlow (LiteRT runs the model).
- Usage statistics of Streamlit are switched off (`browser.gatherUsageStats = false`).
"""
)

st.header("Input limits")
st.markdown(
    f"""
- Files up to **{limits.MAX_FILE_BYTES / 2**20:.0f} MB** and **{limits.MAX_PIXELS / 1e6:.0f} megapixels**.
- Faces smaller than **{limits.MIN_FACE_PX} pixels** across cannot be found; small or blurry faces that are
  found get a quality note.
- Formats: {SUPPORTED} (the first frame of an animation); other formats are refused.
"""
)

st.divider()
card = cache.model_card()
if card is None:
    st.info("The model card (weights/MODEL_CARD.md) is not there yet.")
else:
    # The card's results, limits and intended use are at the top of this page: shown once, not twice.
    for heading in (RESULTS_HEADING, LIMITS_HEADING, INTENDED_USE_HEADING):
        card = without_section(card, heading)
    st.markdown(card)  # the card is its own document, with its own title
    st.caption(
        "The card's results, known limits and intended use (weights/MODEL_CARD.md) are the sections under "
        "Measured performance and Limits above."
    )
