"""Screenshot of a job in the Flink web UI with its custom metrics, in headless Chromium: the
image in docs/cluster.md (``python -m tools.screenshot JOB_ID``), and the browser the serving UI
test drives. Development tooling: not part of the installed package.

Drives Chromium over the DevTools protocol on a pipe (``--remote-debugging-pipe``: fds 3/4,
NUL-separated JSON), so no websocket library or browser download is needed: Debian's
``chromium`` package is enough. Steps: open the job's page, open the chosen vertex's Metrics
tab, add the requested ``recstream`` metrics, wait for values, capture a PNG.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path


class BrowserError(RuntimeError):
    """Chromium is missing, died, or a page step did not happen in time."""


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise BrowserError("no chromium found (Debian: apt-get install -y chromium)")


class Chromium:
    """A headless Chromium with one page, controlled over the DevTools pipe."""

    def __init__(self, width: int = 1600, height: int = 1000) -> None:
        self.profile = tempfile.mkdtemp(prefix="recstream-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        # the browser reads commands on fd 3 and writes replies on fd 4
        def _fds():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.proc = subprocess.Popen(
            [find_chromium(), "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions", "--hide-scrollbars",
             f"--user-data-dir={self.profile}", f"--window-size={width},{height}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(3, 4),  # kept after preexec's dup2
            preexec_fn=_fds)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buf = b""
        self._id = 0
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, page=True)

    def call(self, method: str, params: dict | None = None, page: bool = False, timeout_s: float = 30.0) -> dict:
        self._id += 1
        msg = {"id": self._id, "method": method, "params": params or {}}
        if page:
            msg["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            while b"\0" in self._buf:
                raw, self._buf = self._buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self._id:
                    if "error" in reply:
                        raise BrowserError(f"{method}: {reply['error']}")
                    return reply.get("result", {})
            if self.proc.poll() is not None:
                raise BrowserError(f"chromium exited with {self.proc.returncode}")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                raise BrowserError("chromium closed the DevTools pipe")
            self._buf += chunk
        raise BrowserError(f"{method}: no reply in {timeout_s} s")

    def eval(self, js: str):
        got = self.call("Runtime.evaluate", {"expression": js, "returnByValue": True, "awaitPromise": True}, page=True)
        if "exceptionDetails" in got:
            raise BrowserError(f"script failed: {got['exceptionDetails'].get('text')}: {js[:200]}")
        return got.get("result", {}).get("value")

    def wait_for(self, js: str, timeout_s: float = 30.0, what: str = ""):
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            value = self.eval(js)
            if value:
                return value
            time.sleep(0.3)
        raise BrowserError(f"timed out waiting for {what or js[:120]}")

    def goto(self, url: str) -> None:
        self.call("Page.navigate", {"url": url}, page=True)

    def screenshot(self, out: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"}, page=True, timeout_s=60)["data"]
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(data))
        return out

    def close(self) -> None:
        try:
            self.call("Browser.close", timeout_s=5)
        except BrowserError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_OPEN_SELECT = """(() => {
  const sel = document.querySelector('nz-select .ant-select-selector');
  if (!sel) return false;
  sel.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  return true; })()"""

_SEARCH = """(() => {
  const i = document.querySelector('nz-select input');
  if (!i) return false;
  i.value = %s; i.dispatchEvent(new Event('input', {bubbles: true}));
  return true; })()"""

_PICK = """(() => {
  const want = %s;
  const opt = Array.from(document.querySelectorAll('nz-option-item'))
      .find(e => (e.getAttribute('title') || e.innerText).endsWith(want));
  if (!opt) return false;
  opt.dispatchEvent(new MouseEvent('click', {bubbles: true}));
  return opt.getAttribute('title') || opt.innerText; })()"""


def screenshot_job(rest_url: str, job_id: str, out: Path, vertex: str = "validate-fold-user-state",
                   metrics: list[str] = ("events_in",), group: str = "recstream", settle_s: float = 8.0,
                   width: int = 1600, height: int = 1300, numeric: bool = True, panel_height: int = 760) -> Path:
    """Open the job's vertex (name containing ``vertex``) on its Metrics tab, add ``group.<metric>``
    for each metric (from any operator in the vertex), wait ``settle_s`` for values, save a PNG."""
    from recstream.cluster.rest import FlinkRest

    rest_url = rest_url.rstrip("/")
    vid = FlinkRest(rest_url).vertex_id(job_id, vertex)
    with Chromium(width, height) as browser:
        browser.goto(f"{rest_url}/#/job/running/{job_id}/overview/{vid}/metrics")
        browser.wait_for("!!document.querySelector('nz-select .ant-select-selector')", what="the Metrics tab")
        # what a user does by dragging the panel's resize handle, and full metric names on the cards
        browser.eval(f"document.querySelector('div.container').style.height = '{panel_height}px'; "
                     "const st = document.createElement('style'); st.textContent = "
                     "'flink-job-chart .title .text {white-space: normal; word-break: break-all; overflow: visible}'; "
                     "document.head.appendChild(st); true")
        added = []
        for name in metrics:
            browser.wait_for(_OPEN_SELECT, what="the metric selector")
            want = f".{group}.{name}"
            browser.wait_for(_SEARCH % json.dumps(want.lstrip(".")), what="the metric search box")
            added.append(browser.wait_for(_PICK % json.dumps(want), timeout_s=20, what=f"metric {want}"))
            time.sleep(0.5)
        if numeric:  # show the values as numbers rather than sparkline charts
            browser.eval("Array.from(document.querySelectorAll('label, button, span'))"
                         ".filter(e => e.innerText && e.innerText.trim() === 'Numeric')"
                         ".forEach(e => e.dispatchEvent(new MouseEvent('click', {bubbles: true}))); true")
        time.sleep(settle_s)
        return browser.screenshot(Path(out))


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(prog="python -m tools.screenshot", description=screenshot_job.__doc__)
    p.add_argument("job_id", help="job to show")
    p.add_argument("--rest", default="http://127.0.0.1:8081", help="Flink REST / web UI address")
    p.add_argument("--out", type=Path, default=Path("docs/flink-web-ui.png"), help="PNG file")
    p.add_argument("--vertex", default="validate-fold-user-state", help="vertex (name part) whose metrics to show")
    p.add_argument("--metrics", default="events_in,events_applied,events_late,events_invalid,dead_letters_written,"
                                        "inference_rows", help="comma-separated recstream metric names to chart")
    a = p.parse_args(argv)
    print(f"wrote {screenshot_job(a.rest, a.job_id, a.out, vertex=a.vertex, metrics=a.metrics.split(','))}")


if __name__ == "__main__":
    main()
