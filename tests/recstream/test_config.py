import pytest

from recstream.config import ConfigError, load_config
from recstream.config.loader import parse_override


def test_defaults_are_valid():
    cfg = load_config()
    assert cfg.source.kind == "synthetic" and cfg.features.sequence_length == 50
    assert cfg.features.params().windows_ms == (300_000, 3_600_000, 86_400_000)


def test_layers_then_overrides(tmp_path):
    a = tmp_path / "a.yaml"
    a.write_text("job: {parallelism: 2}\nfeatures: {sequence_length: 20}\n")
    b = tmp_path / "b.yaml"
    b.write_text("features: {sequence_length: 30}\n")
    cfg = load_config([a, b], ["job.parallelism=3"])
    assert cfg.job.parallelism == 3 and cfg.features.sequence_length == 30


def test_parse_override_types():
    assert parse_override("a.b=2") == {"a": {"b": 2}}
    assert parse_override("a=[1, 2]") == {"a": [1, 2]}
    with pytest.raises(ConfigError):
        parse_override("novalue")


@pytest.mark.parametrize("override, fragment", [
    ("job.paralelism=2", "job.paralelism"),
    ("job.parallelism=0", "job.parallelism"),
    ("source.kind=kafkaa", "source.kind"),
    ("source.kind=file", "source.file.path"),
])
def test_bad_config_names_the_key(override, fragment):
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        load_config(overrides=[override])


def test_bad_yaml_file(tmp_path):
    f = tmp_path / "bad.yaml"
    f.write_text("job: [")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config([f])
    with pytest.raises(ConfigError, match="not found"):
        load_config([tmp_path / "missing.yaml"])


def test_the_default_model_path_is_where_demo_model_writes():
    from model_export.demo import DEMO_DIR

    assert load_config([], []).model.path.resolve() == DEMO_DIR


def test_other_defaults_come_from_the_lower_layers_dataclasses():
    from recstream.sources.synthetic import SyntheticSpec
    from udfs.inference import ScorerOptions
    from udfs.privacy import DEFAULT_DIGEST_CHARS

    cfg = load_config()
    assert cfg.source.synthetic.spec() == SyntheticSpec()
    scorer = ScorerOptions(model_dir="")
    for name in ("provider", "gpu_mem_limit_mb", "cold_start_min_events", "threads", "spin", "batch_size"):
        assert getattr(cfg.model, name) == getattr(scorer, name), name
    assert cfg.privacy.digest_chars == DEFAULT_DIGEST_CHARS


@pytest.mark.parametrize("old, new", [
    ("job.checkpoint_interval_ms=300", "checkpoint.interval_ms"),
    ("job.checkpoint_dir=/tmp/chk", "checkpoint.dir"),
    ("job.restart_attempts=2", "restart.attempts"),
    ("cluster.checkpoint.interval_ms=1000", "checkpoint.interval_ms"),
    ("cluster.checkpoint.state_backend=rocksdb", "checkpoint.state_backend"),
    ("cluster.restart.attempts=0", "restart.attempts"),
    ("cluster.restart.delay_s=1", "restart.delay_s"),
    ("features.buckets_per_window=30", "features.tiles_per_window"),
    ("features.items.buckets_per_window=30", "features.items.tiles_per_window"),
    ("features.anomaly.bucket_s=30", "features.anomaly.rate_interval_s"),
    ("features.anomaly.min_own_buckets=3", "features.anomaly.min_own_intervals"),
    ("features.half_life_short_h=1", "features.interest.half_life_short_h"),
    ("features.half_life_long_h=100", "features.interest.half_life_long_h"),
    ("features.max_categories=32", "features.interest.max_categories"),
    ("features.top_categories=5", "features.interest.top_categories"),
    ("features.event_weights={view: 1}", "features.interest.event_weights"),
    ("features.rating_weight=2", "features.interest.rating_weight"),
])
def test_a_renamed_key_fails_naming_the_new_key(old, new, tmp_path):
    key = old.split("=", 1)[0]
    with pytest.raises(ConfigError, match=f"--set {old}: {key} was renamed: use {new}".replace(".", r"\.")
                       .replace("{", r"\{").replace("}", r"\}")):
        load_config(overrides=[old])
    # the same key in a YAML file names the file
    parts = key.split(".")
    f = tmp_path / "old.yaml"
    f.write_text("".join(f"{'  ' * i}{p}:\n" for i, p in enumerate(parts[:-1]))
                 + f"{'  ' * (len(parts) - 1)}{parts[-1]}: {old.split('=', 1)[1]}\n")
    with pytest.raises(ConfigError) as err:
        load_config([f])
    assert f"{f}: {key} was renamed: use {new}" in str(err.value)
    load_config(overrides=[f"{new}={old.split('=', 1)[1]}"])  # the new key takes the same value


def test_a_removed_key_fails_saying_why():
    with pytest.raises(ConfigError, match=r"features\.items\.trending_min_events was removed: .*never calls"):
        load_config(overrides=["features.items.trending_min_events=3"])


def test_every_renamed_key_points_at_an_existing_key():
    from recstream.config.loader import RENAMED, SECTIONS_RENAMED
    from tools.config_reference import leaves

    keys = [k for k, _, _ in leaves(load_config())]
    for old, new in RENAMED.items():
        assert old not in keys
        if old in SECTIONS_RENAMED:
            assert any(k.startswith(new + ".") for k in keys), new
        else:
            assert new in keys, new


def test_a_whole_old_section_names_every_key_in_it(tmp_path):
    f = tmp_path / "old.yaml"
    f.write_text("cluster:\n  rest_port: 8082\n  checkpoint: {interval_ms: 1000, retained: 2}\n"
                 "job:\n  checkpoint_interval_ms: 0\n")
    with pytest.raises(ConfigError) as err:
        load_config([f])
    msg = str(err.value)
    assert f"{f}: cluster.checkpoint.interval_ms was renamed: use checkpoint.interval_ms" in msg
    assert f"{f}: cluster.checkpoint.retained was renamed: use checkpoint.retained" in msg
    # a local-only key now reaches cluster jobs too: the message says so, and what unset means
    assert "job.checkpoint_interval_ms was renamed: use checkpoint.interval_ms (it now applies to local runs " \
           "and jobs on a cluster alike; unset it is 0 in a local run, 10000 on a cluster)" in msg


def test_restart_inherit_sets_no_restart_keys_and_excludes_attempts():
    from recstream.cluster.job_conf import cluster_job_conf, local_job_conf

    local = load_config()
    assert local_job_conf(local.checkpoint, local.restart)["restart-strategy.type"] == "none"
    inherit = load_config(overrides=["restart.inherit=true"])
    assert not [k for k in local_job_conf(inherit.checkpoint, inherit.restart) if k.startswith("restart")]
    assert not [k for k in cluster_job_conf(inherit.cluster, inherit.checkpoint, inherit.restart)
                if k.startswith("restart")]
    with pytest.raises(ConfigError, match="unset restart.attempts"):
        load_config(overrides=["restart.inherit=true", "restart.attempts=3"])
