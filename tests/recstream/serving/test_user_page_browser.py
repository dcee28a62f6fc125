"""The user page in a real headless Chromium (Debian's package, driven over the DevTools pipe):
it renders the charts from the stored state and carries no raw id. Set RECSTREAM_DOCS_SCREENSHOT=1
to also write the screenshot docs/img/serving-user.png."""
from __future__ import annotations

import os
import shutil
import struct
from pathlib import Path

import pytest

from recstream.reader import open_reader
from tests.recstream.serving.conftest import API_KEY, KEY, ROOT
from udfs.privacy import Pseudonymizer

pytestmark = [pytest.mark.flink, pytest.mark.skipif(
    not any(shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")),
    reason="no Chromium on PATH (Debian: apt-get install -y chromium)")]


def _showcase_user(job_store) -> str:
    """The raw id of the user with the most stored interest entries (dislikes count double)."""
    overrides, _, raws = job_store
    ps = Pseudonymizer(KEY)

    def richness(raw):
        with open_reader(overrides=overrides) as r:
            interest = r.get_user_state(ps(raw))["features"].get("interest", {})
        values = list(interest.get("short", {}).values()) + list(interest.get("long", {}).values())
        return len(values) + sum(v < 0 for v in values)

    return max(raws, key=richness)


def test_user_page_renders_in_chromium(server, job_store, tmp_path):
    from tools.screenshot import Chromium

    raw = _showcase_user(job_store)
    key = Pseudonymizer(KEY)(raw)
    with Chromium(width=1500, height=1250) as browser:
        browser.call("Network.enable", page=True)
        browser.call("Network.setExtraHTTPHeaders", {"headers": {"X-API-Key": API_KEY}}, page=True)
        browser.goto(f"{server.base}/ui/users/{raw}?as_of=event")  # the windows of its newest event
        browser.wait_for("document.readyState === 'complete' && document.querySelectorAll('svg').length >= 4",
                         what="the user page")
        assert browser.eval("document.querySelector('h1').innerText") == f"User {key}"
        charts = browser.eval("[...document.querySelectorAll('svg')].map(s => s.getAttribute('aria-label'))")
        assert charts == ["interest", "window counts", "top-K", "recent sequence"]
        bars = browser.eval("document.querySelector('svg[aria-label=\"top-K\"]').querySelectorAll('rect').length")
        assert bars == min(15, len(server.client.get(f"/users/{raw}").json()["top_k"]["items"]))
        text = browser.eval("document.body.innerText")
        assert raw not in text and "Sessions" in text and "model version" in text
        # drawn, not just present: the charts have a size on the page
        assert browser.eval("document.querySelector('svg[aria-label=\"interest\"]').getBoundingClientRect()"
                            ".height") > 50
        shot = browser.screenshot(tmp_path / "user.png")
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", png[16:24]) == (1500, 1250)
    if os.environ.get("RECSTREAM_DOCS_SCREENSHOT"):
        (ROOT / "docs" / "img").mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(ROOT / "docs" / "img" / "serving-user.png"))
