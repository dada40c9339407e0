"""View helpers of the Streamlit app: artifact readers, Plotly figure builders, photo annotation.

Everything here except ``face2data.ui.cache`` is free of Streamlit so it can be tested with plain data.
"""
