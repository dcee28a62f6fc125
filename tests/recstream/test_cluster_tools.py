"""The paced replay step and the headless-Chromium driver used for the web UI screenshot."""
from __future__ import annotations

import shutil
import time

import pytest

from flink_jobs.cluster_entry import Pace


def test_pace_holds_the_rate_and_passes_lines_through():
    pace = Pace(rate=500)
    pace.open(None)
    t0 = time.monotonic()
    out = [pace.map((f"line {i}",)) for i in range(200)]  # Row(f0) records from the file source
    elapsed = time.monotonic() - t0
    assert out == [f"line {i}" for i in range(200)]
    assert elapsed >= 199 / 500 - 0.01  # never faster than the rate (slower is fine on a busy box)


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium not installed (apt-get install chromium)")
def test_chromium_over_the_devtools_pipe_renders_and_captures(tmp_path):
    from recstream.cluster.screenshot import Chromium

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
