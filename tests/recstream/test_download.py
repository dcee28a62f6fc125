"""`recstream data fetch-movielens` offline: archives built here, served from file:// URLs."""
from __future__ import annotations

import hashlib
import zipfile

import pytest
from typer.testing import CliRunner

from recstream.cli import app
from recstream.sources.download import ML100K_SHA256, DownloadError, fetch_movielens
from recstream.sources.movielens import MovieLensError, load_events

runner = CliRunner()

U_ITEM = "1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0|1|1|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n"
U_DATA = "196\t1\t3\t881250949\n186\t1\t4\t891717742\n"
SMALL = {"u.data": hashlib.sha256(U_DATA.encode()).hexdigest(), "u.item": hashlib.sha256(U_ITEM.encode()).hexdigest()}


def make_zip(path, members: dict[str, bytes | str]):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path.as_uri()


def flat(text: str) -> str:
    return " ".join(text.split())


def test_fetch_unpacks_and_checks_a_local_archive(tmp_path):
    url = make_zip(tmp_path / "ml.zip", {"ml-100k/u.data": U_DATA, "ml-100k/u.item": U_ITEM, "ml-100k/README": "r"})
    dest = tmp_path / "data" / "ml-100k"
    path, downloaded = fetch_movielens(dest, url=url, checksums=SMALL)
    assert downloaded and path == dest and sorted(p.name for p in dest.iterdir()) == ["README", "u.data", "u.item"]
    events = load_events(dest)
    assert [(e["user_id"], e["category"]) for e in events] == [("196", "Animation"), ("186", "Animation")]
    assert not [p for p in dest.parent.iterdir() if p.name.startswith(".ml-100k-")]  # no temp folder left
    # a second call finds the checked copy and downloads nothing (the URL is gone now)
    (tmp_path / "ml.zip").unlink()
    assert fetch_movielens(dest, url=url, checksums=SMALL) == (dest, False)


def test_checksum_mismatch_installs_nothing(tmp_path):
    url = make_zip(tmp_path / "ml.zip", {"ml-100k/u.data": U_DATA + "1\t2\t3\t4\n", "ml-100k/u.item": U_ITEM})
    dest = tmp_path / "ml-100k"
    with pytest.raises(DownloadError, match=r"u.data: SHA-256 [0-9a-f]{64} does not match the pinned"):
        fetch_movielens(dest, url=url, checksums=SMALL)
    assert not dest.exists() and [p.name for p in tmp_path.iterdir()] == ["ml.zip"]


@pytest.mark.parametrize("members, message", [
    ({"ml-100k/u.item": U_ITEM}, "u.data is missing from the archive"),
    ({"ml-100k/../evil": "x", "ml-100k/u.data": U_DATA}, "unexpected member"),
    ({"/etc/evil": "x"}, "unexpected member"),
    ({"a/b/c/u.data": U_DATA}, "unexpected member"),
])
def test_archives_that_are_not_ml100k_are_refused(tmp_path, members, message):
    url = make_zip(tmp_path / "ml.zip", members)
    with pytest.raises(DownloadError, match=message):
        fetch_movielens(tmp_path / "out", url=url, checksums=SMALL)
    assert not (tmp_path / "out").exists() and not (tmp_path.parent / "evil").exists()


def test_not_a_zip_and_unreachable_urls_fail_clearly(tmp_path):
    (tmp_path / "page.html").write_text("<html>moved</html>")
    with pytest.raises(DownloadError, match="not a zip archive"):
        fetch_movielens(tmp_path / "out", url=(tmp_path / "page.html").as_uri(), checksums=SMALL)
    with pytest.raises(DownloadError, match="cannot download"):
        fetch_movielens(tmp_path / "out", url=(tmp_path / "none.zip").as_uri(), checksums=SMALL)
    with pytest.raises(DownloadError, match="cannot download"):
        fetch_movielens(tmp_path / "out", url="not a url", checksums=SMALL)


def test_an_unrelated_folder_is_not_replaced_without_force(tmp_path):
    url = make_zip(tmp_path / "ml.zip", {"ml-100k/u.data": U_DATA, "ml-100k/u.item": U_ITEM})
    dest = tmp_path / "ml-100k"
    dest.mkdir()
    (dest / "mine.txt").write_text("keep")
    with pytest.raises(DownloadError, match="use --force"):
        fetch_movielens(dest, url=url, checksums=SMALL)
    assert (dest / "mine.txt").read_text() == "keep"
    assert fetch_movielens(dest, url=url, checksums=SMALL, force=True) == (dest, True)
    assert sorted(p.name for p in dest.iterdir()) == ["u.data", "u.item"]


def test_cli_pins_the_real_ml100k_sums(tmp_path):
    """The command checks against the pinned sums: small files fail, the real files (when present) pass."""
    url = make_zip(tmp_path / "small.zip", {"ml-100k/u.data": U_DATA, "ml-100k/u.item": U_ITEM})
    out = runner.invoke(app, ["data", "fetch-movielens", "--url", url, "--dest", str(tmp_path / "ml")])
    assert out.exit_code == 1 and "does not match the pinned" in flat(out.output)
    assert not (tmp_path / "ml").exists()


def test_cli_fetches_the_real_files(tmp_path, ml100k_dir):
    url = make_zip(tmp_path / "ml-100k.zip", {f"ml-100k/{n}": (ml100k_dir / n).read_bytes() for n in ML100K_SHA256})
    dest = tmp_path / "ml"
    out = runner.invoke(app, ["data", "fetch-movielens", "--url", url, "--dest", str(dest)])
    assert out.exit_code == 0, out.output
    assert f"source.movielens.path={dest}" in flat(out.stdout) and len(load_events(dest)) == 100_000
    again = runner.invoke(app, ["data", "fetch-movielens", "--url", url, "--dest", str(dest)])
    assert again.exit_code == 0 and "already there, checked" in again.stdout


def test_missing_movielens_files_say_how_to_get_them(tmp_path):
    with pytest.raises(MovieLensError, match="recstream data fetch-movielens"):
        load_events(tmp_path)
