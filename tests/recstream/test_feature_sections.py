import dataclasses

import pytest

from recstream.config.loader import ConfigError, load_config
from udfs.features.anomaly import AnomalyParams
from udfs.features.content_interest import ContentParams
from udfs.features.interactions import InteractionParams
from udfs.features.items import ItemParams
from udfs.features.params import FeatureParams

# which feature parts the user state computes: off in a bare FeatureParams, the config's
# features.<part>.enabled turns them on (by default interactions and anomaly; content needs embeddings)
PART_SWITCHES = {"interactions_on": True, "anomaly_on": True, "content_on": False}


def differing_fields(built, default) -> list[str]:
    """Init fields of two dataclass instances whose values differ, by name (nested dataclasses: dotted)."""
    out = []
    for f in dataclasses.fields(default):
        if not f.init:
            continue
        a, b = getattr(built, f.name), getattr(default, f.name)
        if dataclasses.is_dataclass(b):
            out += [f"{f.name}.{n}" for n in differing_fields(a, b)]
        elif a != b:
            out.append(f"{f.name}: config {a!r} != dataclass {b!r}")
    return out


def test_a_default_config_builds_the_default_dataclasses_field_by_field():
    """The dataclasses own the defaults; a config default written separately that drifted shows up here."""
    p = load_config().features.params()
    assert {k: getattr(p, k) for k in PART_SWITCHES} == PART_SWITCHES
    assert differing_fields(p, FeatureParams(**PART_SWITCHES)) == []  # nested: interactions, items, anomaly, content
    assert (p.interactions, p.items, p.anomaly, p.content) == (InteractionParams(), ItemParams(), AnomalyParams(),
                                                               ContentParams())


def test_overrides_convert_units_and_share_the_session_gap():
    cfg = load_config(overrides=[
        "features.session_gap_s=600", "features.anomaly.rate_interval_s=30", "features.anomaly.exclude_tier=warn",
        "features.items.windows_s=[600,7200]", "features.items.trending_short_s=600",
        "features.items.trending_long_s=7200", "features.items.popularity_weights={purchase: 4}",
        "features.interactions.affinity_half_life_h=0.5", "features.content.half_life_h=2",
        "privacy.pseudonymize=true", "privacy.persist_fields=[counts, interest.short]",
    ])
    p = cfg.features.params()
    assert p.anomaly.session_gap_ms == 600_000 and p.anomaly.bucket_ms == 30_000 and p.anomaly.exclude_tier == "warn"
    assert p.items.windows_ms == (600_000, 7_200_000) and p.items.weights[4] == 4.0  # purchase is type 4
    assert p.interactions.affinity_half_life_ms == 1_800_000 and p.content.half_life_ms == 7_200_000
    assert cfg.privacy.pseudonymize and cfg.privacy.persist_fields == ["counts", "interest.short"]


@pytest.mark.parametrize("override, key", [
    ("features.anomaly.warn_z=9", "features.anomaly"),
    ("features.items.trending_short_s=60", "features.items"),
    ("features.items.popularity_weights={teleport: 1}", "features.items"),
    ("features.interactions.max_items=0", "features.interactions.max_items"),
    ("features.content.event_weights={view: -1}", "features.content"),
    ("privacy.persist_fields=['a..b']", "privacy"),
    ("privacy.digest_chars=8", "privacy.digest_chars"),
    ("privacy.secret=1", "privacy.secret"),
])
def test_invalid_values_name_the_key(override, key):
    with pytest.raises(ConfigError) as err:
        load_config(overrides=[override])
    assert f"  {key}" in str(err.value)
