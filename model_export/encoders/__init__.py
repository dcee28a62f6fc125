"""Model definitions (``InterestNet``): item embeddings plus a pluggable sequence encoder.

Encoders are looked up by name in :data:`ENCODERS` (``"sasrec"`` by default,
``"gru"`` for the GRU4Rec-style baseline); new encoders (e.g. an
evolution-aware one) register themselves with :func:`register_encoder`.
"""

from model_export.encoders.base import ENCODERS, InterestNet, ModelConfig, register_encoder
from model_export.encoders import gru as _gru  # noqa: F401  (registers "gru")
from model_export.encoders import sasrec as _sasrec  # noqa: F401  (registers "sasrec")

__all__ = ["ENCODERS", "InterestNet", "ModelConfig", "register_encoder"]
