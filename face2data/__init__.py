"""face2data: offline, explainable age, gender and ethnicity prediction from faces.

The floors of the package and where a new head, detector, output format or API route goes: ARCHITECTURE.md at
the project's root.
"""

__version__ = "0.1.0"
