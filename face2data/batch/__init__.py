"""Batch scoring: files, folders, globs and archives through the Predictor into CSV, JSON Lines or Parquet.

- ``inputs``: what to read, as lazily enumerated entries (archives read in memory);
- ``rows``: the flat row of a face or of a file without one, the one schema of every output;
- ``outputs``: chunked writers that a killed run leaves readable, reading back, resuming;
- ``local`` (process pool, one Predictor per worker) and ``ray_engine`` (Ray Data actors) run it;
- ``run``: one batch from start to end, as ``python -m face2data batch`` runs it.
"""
