"""Training: the learning curves from weights/history.csv and the facts from weights/training.json."""

from __future__ import annotations

import streamlit as st

from face2data.ui import cache, figures
from face2data.ui.artifacts import best_epoch, duration

st.title("Training")
history = cache.history()
if history is None:
    st.info("No training history yet: `python -m face2data train --data PATH` writes weights/history.csv.")
    st.stop()

best = best_epoch(history)
row = history.loc[history["epoch"] == best].iloc[0]
summary = cache.training_summary()

cols = st.columns(4)
cols[0].metric("Best epoch", f"{best}", help="The epoch with the lowest validation loss; its weights are shipped.")
cols[1].metric(
    "Validation age error",
    f"{row['val_age_mae']:.2f} years",
    help="Mean distance of the expected age from the label: the true age, or a FairFace range (0 inside it).",
)
cols[2].metric("Validation gender accuracy", f"{row['val_gender_accuracy']:.1%}")
cols[3].metric("Validation ethnicity accuracy", f"{row['val_ethnicity_accuracy']:.1%}")
st.caption(
    f"Best epoch {best} of {len(history)} recorded, chosen by the lowest validation loss ({row['val_loss']:.4f})."
)

if summary is None:
    st.info("Training has not finished yet (weights/training.json is written at the end); curves so far:")
else:
    facts = st.columns(4)
    facts[0].metric("Epochs", f"{summary.get('epochs_completed', len(history))}")
    seconds = summary.get("training_seconds")
    facts[1].metric("Training time", duration(seconds) if seconds else "—", help="Sum of the epochs' times.")
    speed = summary.get("train_images_per_second")
    facts[2].metric("Throughput", f"{speed:.0f} images/s" if speed else "—")
    sizes = [summary.get(key) for key in ("train_images", "val_images")]
    facts[3].metric("Images (train / val)", " / ".join(f"{n:,}" if isinstance(n, int) else "—" for n in sizes))
    if summary.get("mixing"):
        st.caption(f"**How the sources are mixed.** {summary['mixing']}")
    if summary.get("initialised_from"):
        start = summary["initialised_from"]
        st.caption(f"**Starting point.** {start[:1].upper()}{start[1:]}")

st.subheader("Losses")
st.plotly_chart(figures.loss_figure(history), key="losses")
st.subheader("Age error and accuracies")
st.caption("The age error of a range label (FairFace) is its distance from the range, 0 inside it.")
st.plotly_chart(figures.metrics_figure(history), key="metrics")
per_source = figures.per_source_figure(history)
if per_source is not None:
    st.subheader("Validation figures per source")
    st.caption(
        "Each epoch's model on the validation faces of each source, in inference mode (BatchNorm and dropout as "
        "served) but on each face alone (the served answers average a face with its mirror image). "
        "UTKFace's and All-Age-Faces' exact ages, FairFace's real-world photos with age ranges. All-Age-Faces "
        "has no ethnicity labels; epochs before a source joined the training have no point for it."
    )
    st.plotly_chart(per_source, key="per_source")
st.subheader("Learning rate")
st.plotly_chart(figures.learning_rate_figure(history), key="learning_rate")
with st.expander("The history as a table"):
    st.dataframe(history, hide_index=True)
if summary is not None:
    with st.expander("Training configuration"):
        st.json(summary)
