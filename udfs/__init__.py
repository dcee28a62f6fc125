"""Feature and inference logic for recstream.

``udfs.events`` and ``udfs.features`` are plain Python (no Flink import) so the same
code serves the streaming job, batch backfill and unit tests. ``udfs.flink`` holds
the thin PyFlink function wrappers around them.
"""
