"""Batch scoring: files, folders, globs and archives through the Predictor into CSV, JSON Lines or Parquet.

- ``inputs``: what to read, as lazily enumerated entries (archives read in memory);
- ``rows``: scoring one entry into its flat rows (``face2data.results.COLUMNS``, the one schema of every output);
- ``writers``: chunked writers that a killed run leaves readable, reading back, resuming;
- ``local`` (process pool, one Predictor per worker) and ``ray_engine`` (Ray Data actors) run it;
- ``run``: one batch from start to end, as ``python -m face2data batch`` runs it.
"""
