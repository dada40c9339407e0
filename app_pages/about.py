"""About / model card: what the model is, what it was trained on, how well it does, its limits and privacy."""

from __future__ import annotations

import streamlit as st

from face2data import limits
from face2data.schema import AGE_INTERVAL_MASS, ETHNICITIES, INPUT_SIZE
from face2data.ui import cache

st.title("About face2data")
st.markdown(
    "face2data predicts **age, gender and ethnicity** for every face in a photo with one multi-output Keras "
    f"network (MobileNetV3 trunk, {INPUT_SIZE}×{INPUT_SIZE} pixel input, three softmax heads) and explains each "
    "prediction with SHAP. The app runs the trained network exported to TFLite with LiteRT (the same answers, "
    "several times faster on a CPU). Everything runs on this computer; no network is used."
)

st.header("Measured performance")
metrics = cache.test_metrics()
if metrics is None:
    st.info("Not evaluated yet: `python -m face2data evaluate` writes weights/test_metrics.json.")
else:
    cols = st.columns(4)
    cols[0].metric("Test faces", f"{int(metrics['n']):,}")
    cols[1].metric("Age MAE", f"{metrics['age_mae']:.2f} years")
    cols[2].metric("Gender accuracy", f"{metrics['gender_accuracy']:.1%}")
    cols[3].metric("Ethnicity accuracy", f"{metrics['ethnicity_accuracy']:.1%}")
    st.caption(
        f"On the held-out {metrics.get('split', 'test')} split of UTKFace. The age interval (central "
        f"{AGE_INTERVAL_MASS:.0%} of the predicted distribution) held the true age for "
        f"{metrics['age_interval_coverage']:.1%} of test faces. Details on the Evaluation page."
    )

st.header("Training data")
summary = cache.training_summary()
sizes = (
    f" ({summary['train_images']:,} training and {summary['val_images']:,} validation images)"
    if summary and "train_images" in summary and "val_images" in summary
    else ""
)
st.markdown(
    f"UTKFace: about 23,700 aligned and cropped face images (200×200) labelled with age 0–116, binary gender and "
    f"one of five ethnicity classes{sizes}, split by file name into train, validation and test sets."
)

st.header("Limits — read before use")
st.markdown(
    f"""
- **Labels are partly estimated.** UTKFace ages, genders and ethnicities were assigned by an algorithm and
  checked by people; they are not self-reported. The model learns their errors too.
- **Coarse categories.** Gender is binary and ethnicity has five coarse classes ({", ".join(ETHNICITIES)});
  neither describes how a person identifies. "Others" mixes many groups.
- **Uneven accuracy.** The model is weaker for some groups, ages and picture conditions (see the per-group view on
  the Evaluation page). Profile views, occlusion, heavy make-up, blur and poor light reduce accuracy.
- **Not for decisions about people.** Do not use it for hiring, policing, access, age verification or any other
  decision about a person. It is a demonstration of a model and its explanations.
"""
)

st.header("Privacy")
st.markdown(
    """
- Uploaded photos and webcam snapshots are held **in memory only** for your session: they are never written to
  disk, never logged and never sent anywhere. Closing the tab discards them.
- The model, the face detector and the explainer ship with the app; nothing is downloaded at run time.
- Usage statistics of Streamlit are switched off (`browser.gatherUsageStats = false`).
"""
)

st.header("Input limits")
st.markdown(
    f"""
- Files up to **{limits.MAX_FILE_BYTES / 2**20:.0f} MB** and **{limits.MAX_PIXELS / 1e6:.0f} megapixels**.
- Faces smaller than **{limits.MIN_FACE_PX} pixels** across cannot be found; small or blurry faces that are
  found get a quality note.
- Formats: JPEG, PNG, WebP, BMP, GIF (first frame), TIFF and others Pillow can read.
"""
)

st.divider()
card = cache.model_card()
if card is None:
    st.info("The model card (weights/MODEL_CARD.md) is not there yet.")
else:
    st.markdown(card)  # the card is its own document, with its own title
