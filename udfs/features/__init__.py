"""Framework-free per-user feature state: sliding-window counts, decayed interest,
last-N sequence, sessions and recency. Used by the Flink job and by batch backfill."""
from udfs.features.params import FeatureParams
from udfs.features.user_state import UserState

__all__ = ["FeatureParams", "UserState"]
