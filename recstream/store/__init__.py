"""Online stores: one abstract contract (``base.OnlineStore``), one module per backend."""
from recstream.store.base import DeadLetter, FeatureRow, OnlineStore, ScoreRow
from recstream.store.factory import open_store

__all__ = ["DeadLetter", "FeatureRow", "OnlineStore", "ScoreRow", "open_store"]
