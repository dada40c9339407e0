"""face2data, the app: ``streamlit run streamlit_app.py``.

The entrypoint only frames the pages; each page is a thin script over the ``face2data`` library.
"""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import streamlit as st  # noqa: E402

from face2data.machine import limit_malloc_arenas  # noqa: E402
from face2data.ui.uploads import keep_uploads_in_memory  # noqa: E402

keep_uploads_in_memory()  # before the first upload reaches this server process
limit_malloc_arenas(1)  # before the pages' worker threads decode photos (face2data.machine)

# An emoji favicon is drawn by the browser itself; a ":material/…:" one would be fetched from Google.
st.set_page_config(page_title="face2data", page_icon="🙂", layout="wide")

# The page scripts live in app_pages/, not pages/: a pages/ folder would switch Streamlit to its legacy
# multipage mode for any session that opens a page URL before st.navigation has run once.
pages = [
    st.Page("app_pages/predict.py", title="Predict", icon=":material/photo_camera:", default=True),
    st.Page("app_pages/batch.py", title="Batch", icon=":material/photo_library:"),
    st.Page("app_pages/live.py", title="Live", icon=":material/videocam:"),
    st.Page("app_pages/explain.py", title="Explain", icon=":material/insights:"),
    st.Page("app_pages/training.py", title="Training", icon=":material/show_chart:"),
    st.Page("app_pages/evaluation.py", title="Evaluation", icon=":material/fact_check:"),
    st.Page("app_pages/about.py", title="About / model card", icon=":material/description:"),
]
page = st.navigation(pages)
with st.sidebar:
    st.caption("Age, gender and ethnicity from faces, explained with SHAP. Runs offline: photos stay in memory.")
page.run()
