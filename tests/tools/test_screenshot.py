"""The headless-Chromium driver (tools/screenshot.py) used for the web UI screenshot and the serving page test."""
from __future__ import annotations

import shutil

import pytest


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (apt-get install chromium)")
def test_chromium_over_the_devtools_pipe_renders_and_captures(tmp_path):
    from tools.screenshot import Chromium

    page = tmp_path / "page.html"
    page.write_text("<html><body><h1 id='t'>recstream</h1></body></html>")
    with Chromium(640, 480) as browser:
        browser.goto(page.as_uri())
        assert browser.wait_for("document.getElementById('t') && document.getElementById('t').innerText") == \
            "recstream"
        png = browser.screenshot(tmp_path / "shot.png")
        proc = browser.proc
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 1000
    assert proc.poll() is not None  # the browser is gone after close
