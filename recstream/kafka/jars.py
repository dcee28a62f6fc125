"""The Flink Kafka connector jars: where they come from and where the job finds them.

``apache-flink`` on PyPI ships no connectors. The job needs two jars next to each other
in ``kafka.jars_dir``: ``flink-connector-kafka.jar`` (Apache flink-connector-kafka
4.0.1-2.0, built for Flink 2.0, works on 2.3) and ``kafka-clients.jar`` (3.9.1).

Two ways to get them, both scripted by ``recstream kafka jars``:

* ``--from pypi`` (default; needs only a PyPI mirror): ``pip download`` the wheel
  ``shigawire-apache-flink-libraries==2.0.0.post1`` and extract just those two jars.
  Never ``pip install`` that wheel: it drops Flink 2.0 core jars into ``pyflink/lib``.
* ``--from maven``: download both from Maven Central.

Either way the SHA-256 of each jar is checked against the values pinned below.
"""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

PYPI_WHEEL = "shigawire-apache-flink-libraries==2.0.0.post1"
MAVEN = "https://repo1.maven.org/maven2"
JARS = {
    # name: (path inside the PyPI wheel, Maven path, sha256 of the PyPI copy)
    "flink-connector-kafka.jar": (
        "pyflink/lib/flink-connector-kafka.jar",
        "org/apache/flink/flink-connector-kafka/4.0.1-2.0/flink-connector-kafka-4.0.1-2.0.jar",
        "842885a51c768b2f31c946a2071656c166ee8cc6d3c02fe6c557e134e03bf228",
    ),
    "kafka-clients.jar": (
        "pyflink/lib/kafka-clients.jar",
        "org/apache/kafka/kafka-clients/3.9.1/kafka-clients-3.9.1.jar",
        "7568b998572d256f0b7bc0afdc1b7a2588b8b08415c62ce314c864a6851ae9d9",
    ),
}


class JarsMissing(FileNotFoundError):
    pass


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def connector_jars(jars_dir: Path) -> list[Path]:
    """The jar paths the Kafka job adds, or a clear error saying how to get them."""
    jars_dir = Path(jars_dir)
    paths = [jars_dir / name for name in JARS]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise JarsMissing(f"Kafka connector jars missing in {jars_dir.resolve()}: {', '.join(missing)}. "
                          f"Run `recstream kafka jars --dest {jars_dir}` (from PyPI) or set kafka.jars_dir.")
    return [p.resolve() for p in paths]


def fetch_from_pypi(dest: Path, verify: bool = True) -> list[Path]:
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", PYPI_WHEEL, "-d", tmp],
                       check=True)
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for name, (inner, _, _) in JARS.items():
                with zf.open(inner) as src, open(dest / name, "wb") as out:
                    shutil.copyfileobj(src, out)
    return _verified(dest, verify)


def fetch_from_maven(dest: Path, repo: str = MAVEN, verify: bool = False) -> list[Path]:
    """Same releases from Maven Central. Untested here (no Maven access from this machine), and
    whether they are byte-identical to the PyPI copies could not be checked, so the pinned hashes
    are not enforced for them (Maven publishes a ``.sha1`` next to each jar)."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for name, (_, maven_path, _) in JARS.items():
        with urllib.request.urlopen(f"{repo.rstrip('/')}/{maven_path}", timeout=60) as src, \
                open(dest / name, "wb") as out:
            shutil.copyfileobj(src, out)
    return _verified(dest, verify)


def _verified(dest: Path, verify: bool) -> list[Path]:
    paths = connector_jars(dest)
    if verify:
        for p in paths:
            expected = JARS[p.name][2]
            if sha256(p) != expected:
                raise ValueError(f"{p} has SHA-256 {sha256(p)}, expected {expected}")
    return paths


def ensure_jars(dest: Path) -> list[Path]:
    """Jars in ``dest``, fetched from PyPI first if they are not there (tests, demos)."""
    try:
        return connector_jars(dest)
    except JarsMissing:
        return fetch_from_pypi(dest)
