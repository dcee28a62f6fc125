"""Layered configuration: packaged defaults < YAML files < ``--set key=value`` overrides.

Every section is a pydantic model with ``extra='forbid'`` so a typo in a key fails
fast with the offending path instead of being ignored.
"""
from recstream.config.loader import ConfigError, load_config
from recstream.config.models import RecstreamConfig

__all__ = ["ConfigError", "RecstreamConfig", "load_config"]
