"""Event sources for the embedded default: a seeded synthetic generator, the MovieLens
(ML-100K layout) loader, and the replay file the Flink FileSource reads."""
