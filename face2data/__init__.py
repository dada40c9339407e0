"""face2data: offline, explainable age, gender and ethnicity prediction from faces."""

__version__ = "0.1.0"
