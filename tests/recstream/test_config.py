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
