"""Settings of the HTTP server (not of the job): bind address, limits, auth and TLS."""
from __future__ import annotations

import hmac
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

DEFAULT_API_KEY_ENV = "RECSTREAM_API_KEY"
MIN_API_KEY_BYTES = 16


class ApiKeyError(RuntimeError):
    """An API key was asked for but cannot be read or is too short (the message never holds the key)."""


class ServeSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    max_batch: int = Field(1000, ge=1, le=100_000, description="most users one POST /users:batchGet may ask for")
    request_timeout_s: float = Field(2.0, gt=0, description="a store read slower than this answers 504")
    store_threads: int = Field(4, ge=1, le=64, description="threads that run the (blocking) store reads")
    api_key_env: str = Field(DEFAULT_API_KEY_ENV, min_length=1,
                             description="environment variable holding the API key; auth is on when it is set")
    api_key_file: Path | None = Field(None, description="file holding the API key (takes precedence over the env)")
    tls_certfile: Path | None = None
    tls_keyfile: Path | None = None

    @model_validator(mode="after")
    def _tls_pair(self):
        if (self.tls_certfile is None) != (self.tls_keyfile is None):
            raise ValueError("tls_certfile and tls_keyfile go together")
        return self

    def api_key(self) -> bytes | None:
        """The API key requests must carry, or None when auth is off."""
        if self.api_key_file is not None:
            try:
                key = self.api_key_file.read_bytes().strip()
            except OSError as e:
                raise ApiKeyError(f"api key file {self.api_key_file}: cannot read ({e.strerror})") from None
            source = f"api key file {self.api_key_file}"
        else:
            value = os.environ.get(self.api_key_env, "").strip()
            if not value:
                return None
            key, source = value.encode(), f"${self.api_key_env}"
        if len(key) < MIN_API_KEY_BYTES:
            raise ApiKeyError(f"{source}: key is {len(key)} bytes, need at least {MIN_API_KEY_BYTES}")
        return key


def key_matches(expected: bytes, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected, given.encode())
