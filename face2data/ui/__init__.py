"""View helpers of the Streamlit app (the pages in app_pages/ stay thin and call these).

- ``artifacts``: read weights/ files into plain objects; ``figures``: Plotly figures from plain data;
  ``photo``: check, predict and annotate one photo in memory. None of these import Streamlit, so they test alone.
- ``cache``: Streamlit caches (the model once per process, artifacts until their file changes);
  ``views``: Streamlit blocks shared by pages (face card, SHAP panel, group tables).
"""
