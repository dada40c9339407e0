"""Live: the browser's camera stream, every face boxed and labelled in real time; freeze a frame to analyse it."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import streamlit as st

from face2data.predictor import Predictor
from face2data.schema import Head
from face2data.ui import cache, schemes, views
from face2data.ui.live import LiveAnnotator
from face2data.ui.photo import analyze, relabelled

LIVE = "live"  # the source of a frozen frame's analysis (the Predict page's are "upload", "camera", "sample")

st.title("Live webcam")
st.caption(
    "Every face in your camera's stream gets a box and a label (its age and classes), kept steady by following "
    "each face from frame to frame. Frames are analysed in memory as they arrive and never stored. Press "
    "**Freeze** to analyse the current frame like a snapshot, with its SHAP maps. No camera or no WebRTC in your "
    "browser? The Predict page's webcam snapshot works without it."
)

try:
    import av
    from streamlit_webrtc import VideoProcessorBase, WebRtcMode, webrtc_streamer
except ImportError:  # a requirement, but the page should say so rather than crash
    st.error("Live video needs the streamlit-webrtc package (`pip install -r requirements.txt`).")
    st.stop()


class LiveVideoProcessor(VideoProcessorBase):
    """streamlit-webrtc's video processor: one per connection, sharing the process-wide predictor."""

    def __init__(self, predictor: Predictor, heads: Sequence[Head]) -> None:
        self.annotator = LiveAnnotator(predictor, heads)

    def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
        """One camera frame in, the annotated frame out (called from streamlit-webrtc's worker thread)."""
        rgb = frame.to_ndarray(format="rgb24")
        return av.VideoFrame.from_ndarray(self.annotator.annotate(rgb), format="rgb24")


schemes.picker()
shown = schemes.shown()
predictor = cache.predictor()
context = webrtc_streamer(
    key="live",
    mode=WebRtcMode.SENDRECV,
    # Offline: no STUN or TURN server; the browser and the server reach each other on this machine's network.
    rtc_configuration={"iceServers": []},
    media_stream_constraints={"video": {"width": 640, "height": 480}, "audio": False},
    video_processor_factory=lambda: LiveVideoProcessor(predictor, shown),
    async_processing=True,
)
if context.video_processor is not None:  # a stream that runs on: its labels follow a new choice of heads
    context.video_processor.annotator.heads = shown


@st.fragment(run_every=1.0)
def readout() -> None:
    """The frame rate and the labels shown, refreshed every second while the stream runs."""
    # The live worker, not ``context.state``: the state is only updated by a full rerun, and the rerun that follows
    # START can be lost when the click lands while the page's first run is still going.
    processor = context.video_processor
    if processor is None:
        st.caption("Press START to use your camera.")
        return
    stats = processor.annotator.stats()
    left, right = st.columns([1, 3])
    left.metric("Frames per second", f"{stats['fps']:.1f}")
    faces = stats["labels"]
    right.markdown(
        "**Faces now:** " + ("; ".join(f"{i}: {label}" for i, label in enumerate(faces, 1)) if faces else "none")
    )


readout()

live_processor = context.video_processor
if st.button("Freeze", icon=":material/pause:", disabled=live_processor is None):
    frame = live_processor.annotator.latest_frame() if live_processor else None
    if frame is None:
        st.warning("No frame has arrived yet: wait for the video to start.")
    else:
        ok, png = cv2.imencode(".png", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        st.session_state["analysis"] = analyze(png.tobytes(), cache.predictor, LIVE, heads=shown)

analysis = st.session_state.get("analysis")
# Only a frame frozen here: the Predict page's webcam snapshot is its own source and stays on its page
if analysis is not None and analysis.source == LIVE and analysis.ok:
    st.session_state["analysis"] = analysis = relabelled(analysis, shown)
    st.subheader("Frozen frame")
    if analysis.photo is not None:
        st.image(analysis.photo, width=640)
    if not analysis.faces:
        st.warning("No face found in the frozen frame.")
    for face in analysis.faces[:5]:
        with st.expander(views.face_title(face), expanded=face.index == 0, icon=":material/face:"):
            views.face_card(face, key=f"live_face{face.index}")
            views.shap_section(analysis, face)
    views.explain_ahead(analysis)  # once the cards are out: its first face, while they are read
