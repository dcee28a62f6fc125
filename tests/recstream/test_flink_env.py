import os

import pytest

from recstream import flink_env


def test_finds_a_jdk_11_plus():
    home = flink_env.find_java_home()
    assert flink_env.java_version(home) >= 11


def test_bad_java_home_falls_back(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    assert flink_env.find_java_home() != tmp_path


def test_no_jdk_gives_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nope"))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(flink_env, "JVM_DIRS", (str(tmp_path / "jvm" / "*"),))
    with pytest.raises(flink_env.JavaNotFoundError, match="JDK 11 or newer"):
        flink_env.find_java_home()


def test_old_jdk_is_rejected(monkeypatch, tmp_path):
    fake = tmp_path / "jdk8"
    (fake / "bin").mkdir(parents=True)
    java = fake / "bin" / "java"
    java.write_text('#!/bin/sh\necho \'openjdk version "1.8.0_382"\' >&2\n')
    java.chmod(0o755)
    assert flink_env.java_version(fake) == 8
    monkeypatch.setenv("JAVA_HOME", str(fake))
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(flink_env, "JVM_DIRS", ())
    with pytest.raises(flink_env.JavaNotFoundError, match="jdk8"):
        flink_env.find_java_home()


def test_python_conf_pins_this_interpreter():
    import sys
    conf = flink_env.python_conf()
    assert conf["python.executable"] == sys.executable == conf["python.client.executable"]
