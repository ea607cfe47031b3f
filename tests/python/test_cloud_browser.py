"""The web viewer (`ivcs serve` + viewer/web/) in Debian's headless Chromium,
against the real radosgw (ctest label "browser"; docs/VIEWER.md).

`ivcs push` records the test clip in real time through iv_cs_* with two
events (pre-record 2 s, the test JPEG as picture); `ivcs serve --cors` serves
the page and sets the bucket's CORS rule for its origin; Chromium is driven
over the DevTools protocol (python3-websocket), no browser download. The
TLS of radosgw is the test CA's: Chromium is told to accept exactly the
server certificate's key (--ignore-certificate-errors-spki-list).

Checked: one range and two event markers on the timeline; hovering a marker
shows its JPEG (fetched from the bucket by presigned URL); clicking the first
event plays it: currentTime passes 2 s, no error event, videoWidth is the
clip's width (ffprobe); a screenshot goes to <build>/browser/viewer.png. Bad
input: an unknown day, an empty range, an expired presign and a stopped
server are told in words on the page; the API answers 4xx with JSON; slow,
vanishing and surplus clients do not block others.
"""

import base64
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg  # noqa: F401

websocket = pytest.importorskip("websocket")

BIN = os.environ.get("IVCS_BIN", "ivcs")
MEDIA = Path(os.environ.get("IVCS_MEDIA_DIR", ""))
BUILD = Path(os.environ.get("IVCS_BUILD_DIR", tempfile.gettempdir()))
CHROMIUM = shutil.which("chromium")


def wait_for(what, fn, timeout=30.0, step=0.1):
    """Polls fn() until it returns a true value; fails naming what after timeout s."""
    end = time.monotonic() + timeout
    last = None
    while time.monotonic() < end:
        last = fn()
        if last:
            return last
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last: {last!r})")


def page_wait(b, what, fn, timeout=30.0):
    """wait_for on the page; a failure quotes what the page says and its console."""
    try:
        return wait_for(what, fn, timeout=timeout)
    except AssertionError as e:
        raise AssertionError(f"{e}; the page says: {b.msg()!r}; console: {b.console()}") from None


class Serve:
    """An `ivcs serve` process on a free loopback port."""

    def __init__(self, config, *extra):
        self.p = subprocess.Popen([BIN, "serve", "--config", str(config), "--listen", "127.0.0.1:0",
                                   *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL, text=True)
        line = self.p.stdout.readline()  # bounded: serve prints it or exits
        assert line.startswith("listening on http://"), (line, self.p.stderr.read())
        self.url = line.split()[2]
        self.port = int(self.url.rstrip("/").rsplit(":", 1)[1])

    def get(self, path, method="GET", headers=None):
        req = urllib.request.Request(self.url + path.lstrip("/"), method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def stop(self):
        if self.p.stdout.closed:
            return self.p.returncode, ""
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        err = self.p.stderr.read()
        self.p.stdout.close()
        self.p.stderr.close()
        return self.p.returncode, err


class Browser:
    """Headless Chromium and one page, driven over the DevTools protocol."""

    def __init__(self, spki):
        self.dir = tempfile.mkdtemp(prefix="ivcs-chromium-")
        args = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
                "--disable-extensions", "--disable-background-networking", "--mute-audio",
                "--autoplay-policy=no-user-gesture-required", "--window-size=1280,900",
                f"--ignore-certificate-errors-spki-list={spki}",
                "--remote-debugging-port=0", f"--user-data-dir={self.dir}", "about:blank"]
        self.p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  stdin=subprocess.DEVNULL)
        port_file = Path(self.dir) / "DevToolsActivePort"
        wait_for("Chromium's DevToolsActivePort", lambda: port_file.exists() and
                 port_file.read_text().count("\n") >= 1, timeout=60)
        port = int(port_file.read_text().split("\n")[0])
        pages = wait_for("a page target", lambda: [t for t in json.load(urllib.request.urlopen(
            f"http://127.0.0.1:{port}/json/list", timeout=10)) if t["type"] == "page"])
        self.ws = websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.id = 0
        self.events = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def call(self, method, **params):
        self.id += 1
        my = self.id
        self.ws.send(json.dumps({"id": my, "method": method, "params": params}))
        while True:
            m = json.loads(self.ws.recv())
            if m.get("id") == my:
                assert "error" not in m, (method, m["error"])
                return m.get("result", {})
            self.events.append(m)
            del self.events[:-500]

    def js(self, expr):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in r, (expr, r["exceptionDetails"])
        return r["result"].get("value")

    def console(self):
        """The page's console messages and exceptions seen so far."""
        out = []
        for m in self.events:
            if m.get("method") == "Runtime.consoleAPICalled":
                out.append(" ".join(str(a.get("value", a.get("description", "")))
                                    for a in m["params"]["args"]))
            elif m.get("method") == "Runtime.exceptionThrown":
                out.append(json.dumps(m["params"]["exceptionDetails"])[:500])
        return out[-20:]

    def msg(self):
        return self.js("document.getElementById('msg').textContent")

    def click(self, selector, index=0):
        box = self.js(f"(() => {{ const e = document.querySelectorAll({json.dumps(selector)})"
                      f"[{index}]; if (!e) return null; e.scrollIntoView(); const r = "
                      "e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + "
                      "r.height / 2]; })()")
        assert box, f"no {selector}[{index}] on the page"
        x, y = box
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=x, y=y)
        self.call("Input.dispatchMouseEvent", type="mousePressed", x=x, y=y, button="left",
                  clickCount=1)
        self.call("Input.dispatchMouseEvent", type="mouseReleased", x=x, y=y, button="left",
                  clickCount=1)

    def hover(self, selector, index=0):
        box = self.js(f"(() => {{ const r = document.querySelectorAll({json.dumps(selector)})"
                      f"[{index}].getBoundingClientRect(); return [r.left + r.width / 2, "
                      "r.top + r.height / 2]; })()")
        self.call("Input.dispatchMouseEvent", type="mouseMoved", x=box[0], y=box[1])

    def close(self):
        try:
            self.call("Browser.close")
        except Exception:  # noqa: BLE001 - closing anyway
            pass
        try:
            self.ws.close()
        except Exception:  # noqa: BLE001
            pass
        try:
            self.p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
        self.p.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def spki_hash(pem):
    """base64 SHA-256 of the certificate's SubjectPublicKeyInfo (as Chromium wants)."""
    der = subprocess.run(["openssl", "x509", "-in", str(pem), "-pubkey", "-noout"],
                         capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=der,
                         capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def video_width():
    p = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                        "stream=width", "-of", "csv=p=0", str(MEDIA / "clip_h264.h264")],
                       capture_output=True, text=True, timeout=60, check=True)
    return int(p.stdout.strip())


@pytest.fixture(scope="module")
def rec(cfg):  # noqa: F811
    """A device with the clip recorded in real time and two events."""
    if not CHROMIUM:
        pytest.skip("no chromium (Debian package chromium; scripts/setup installs it)")
    tmp = Path(tempfile.mkdtemp(prefix="ivcs-browser-"))
    dev = tl.device_id("web-")
    _, conf = tl.write_config(tmp / "ivcs.json", cfg, device_id=dev)
    subprocess.run([BIN, "plan", "set", "--config", conf, "--type", "full_time", "--days", "1"],
                   check=True, capture_output=True, timeout=120)
    t0 = int(time.time() * 1000)
    p = subprocess.run([BIN, "push", "--config", conf, "--video", MEDIA / "clip_h264.h264",
                        "--audio", MEDIA / "clip_aac.aac", "--fps", "25", "--realtime",
                        "--event", "1:2:5", "--event", "2:7:10", "--prerecord", "2",
                        "--picture", MEDIA / "snapshot.jpg"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    res = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("result ")][-1][7:])
    assert res["frames_dropped"] == 0 and res["event_records"] >= 2, res
    yield {"config": conf, "t0": t0, "t1": int(time.time() * 1000), "device": dev}
    shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def serve(rec):
    s = Serve(rec["config"], "--cors")
    yield s
    s.stop()


@pytest.fixture(scope="module")
def browser(rec):
    b = Browser(spki_hash(tl.cloud_dir() / "tls" / "server.pem"))
    yield b
    b.close()


def test_page_plays_first_event(rec, serve, browser):
    b = browser
    b.call("Page.navigate", url=serve.url)
    page_wait(b, "one range and two event markers", lambda: b.js(
        "document.querySelectorAll('#track .range').length === 1 && "
        "document.querySelectorAll('#track .event').length === 2"), timeout=30)
    assert "1 recorded range" in b.msg() and "2 events" in b.msg(), b.msg()
    # zoomed to the recording ("fit"): the range is wide, the markers apart
    b.click("#zfit")
    page_wait(b, "the zoomed timeline", lambda: b.js(
        "(() => { const r = document.querySelector('#track .range').getBoundingClientRect();"
        " const m = [...document.querySelectorAll('#track .event')].map("
        "e => e.getBoundingClientRect().left); return r.width > 200 && m.length === 2 &&"
        " m[1] - m[0] > 20; })()"))
    # hover: the event's JPEG, straight from the bucket
    b.hover("#track .event", 0)
    page_wait(b, "the event picture in the hover box", lambda: b.js(
        "!document.getElementById('tip').hidden && "
        "document.getElementById('tip-img').naturalWidth > 0"), timeout=20)
    b.js("window.__errs = []; document.getElementById('video').addEventListener('error', "
         "() => window.__errs.push(String(document.getElementById('video').error && "
         "document.getElementById('video').error.message)))")
    b.click("#track .event", 0)
    page_wait(b, "playback past 2 s", lambda: b.js(
        "document.getElementById('video').currentTime > 2 || window.__errs.length > 0"),
        timeout=45)
    assert b.js("window.__errs") == []
    assert "Playing event 1" in b.msg(), b.msg()
    assert b.js("document.getElementById('video').videoWidth") == video_width()
    shot = BUILD / "browser" / "viewer.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    shot.write_bytes(base64.b64decode(b.call("Page.captureScreenshot", format="png")["data"]))
    assert shot.stat().st_size > 10000


def test_api_errors_are_json(rec, serve):
    def err(path, want, method="GET"):
        st, hd, body = serve.get(path, method=method)
        assert st == want, (path, st, body)
        assert hd["Content-Type"] == "application/json", (path, hd["Content-Type"])
        j = json.loads(body)
        assert j["status"] == want and j["error"], j
        return j

    day_2001 = 978307200000
    assert err(f"/api/timeline?from={day_2001}&to={day_2001 + 86400000}", 404)["code"] == "empty"
    assert err(f"/api/playlist.m3u8?from={day_2001}&to={day_2001 + 60000}", 404)["code"] == "empty"
    err("/api/timeline?from=abc&to=1", 400)
    err(f"/api/timeline?from={rec['t1']}&to={rec['t0']}", 400)
    err("/api/event.m3u8?key=../../etc/passwd", 400)
    err("/api/event.m3u8?key=ch0/rec/2026-01-01/x.ts", 400)
    err("/api/segment?key=ch0/rec/x.ts", 404)  # no --proxy
    err("/../etc/passwd", 404)
    err("/api/info", 405, method="POST")
    st, _, body = serve.get("/api/info", headers={"Host": "evil.example:80"})
    assert st == 403 and json.loads(body)["code"] == "host"
    # a presigned playlist: segments in the bucket, no credentials in it
    st, hd, body = serve.get(f"/api/playlist.m3u8?from={rec['t0'] - 60000}&to={rec['t1'] + 60000}")
    assert st == 200 and body.startswith(b"#EXTM3U"), body[:200]
    text = body.decode()
    assert "X-Amz-Signature=" in text and json.loads(Path(rec["config"]).read_text())[
        "secret_key"] not in text


def test_page_says_what_went_wrong(rec, serve, browser):
    b = browser
    if not b.js("!!window.ivcsView && !!window.ivcsView.info"):
        b.call("Page.navigate", url=serve.url)
        page_wait(b, "the page", lambda: b.js("!!window.ivcsView && !!window.ivcsView.info"))
    # an unknown day, picked in the date box
    b.js("(() => { const p = document.getElementById('pick'); p.value = '2001-01-01'; "
         "p.dispatchEvent(new Event('change')); })()")
    page_wait(b, "'nothing recorded' for 2001-01-01",
             lambda: "Nothing was recorded on" in b.msg() and "2001" in b.msg())
    # an empty range
    b.js("ivcsView.playRange(978307200000, 978307260000)")
    page_wait(b, "'nothing recorded' for an empty range", lambda: "Nothing was recorded from" in b.msg())
    # an expired presign: a playlist from a server that signs for 1 s, played 2 s later
    s1 = Serve(rec["config"], "--expires", "1")
    try:
        st, _, body = s1.get(f"/api/playlist.m3u8?from={rec['t0'] - 60000}&to={rec['t1'] + 60000}")
        assert st == 200
    finally:
        code, err = s1.stop()
    assert code == 0, err
    time.sleep(2.5)  # past the links' 1 s life (what is tested is expiry itself)
    b.js(f"ivcsView.playText({json.dumps(body.decode())}, 'expired links', 0)")
    page_wait(b, "the expired-link message", lambda: "may have expired" in b.msg(), timeout=30)
    # a stopped server
    b.js("(() => { const p = document.getElementById('pick'); p.value = '2001-01-02'; })()")
    code, err = serve.stop()
    assert code == 0, err
    b.click("#reload")
    page_wait(b, "the stopped-server message", lambda: "does not answer" in b.msg(), timeout=30)


def test_slow_and_vanishing_clients(rec):
    s = Serve(rec["config"], "--max-conns", "3", "--client-timeout", "3000")
    try:
        slow = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        slow.sendall(b"GET /api/info HTTP/1.1\r\nHo")  # and nothing more
        # vanishing: a request for the largest file, closed before reading
        for _ in range(5):
            v = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            v.sendall(f"GET /vendor/hls.min.js HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n\r\n"
                      .encode())
            v.close()
            v = socket.create_connection(("127.0.0.1", s.port), timeout=10)
            v.close()
        # the vanished ones free their slots (some were told 503: more than 3 at
        # once), and the slow one does not hold the others up
        st, _, body = wait_for("an answer while the slow client waits",
                               lambda: (lambda r: r[0] == 200 and r)(s.get("/api/info")),
                               timeout=5)
        assert json.loads(body)["device"] == rec["device"]
        # the slow client is dropped at its deadline
        slow.settimeout(15)
        assert slow.recv(100) == b""
        slow.close()
        # more than --max-conns: the surplus one is told 503 in JSON
        held = [socket.create_connection(("127.0.0.1", s.port), timeout=10) for _ in range(3)]
        extra = socket.create_connection(("127.0.0.1", s.port), timeout=10)
        extra.sendall(f"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:{s.port}\r\n\r\n".encode())
        data = extra.recv(4096)
        assert data.startswith(b"HTTP/1.1 503"), data
        assert json.loads(data.split(b"\r\n\r\n", 1)[1])["code"] == "busy"
        for c in held + [extra]:
            c.close()
        st = wait_for("a free slot again", lambda: s.get("/")[0] == 200, timeout=10)
        over = s.get("/api/info", headers={"X-Pad": "a" * 9000})[0]
        assert over == 431
    finally:
        code, err = s.stop()
    assert code == 0, err
    assert "timed out" in err


def test_h265_is_told_in_words(cfg, browser, tmp_path):  # noqa: F811
    """An H.265 recording: played if this Chromium decodes HEVC, else the page
    says in words that the browser cannot decode H.265 (no black box)."""
    dev = tl.device_id("web265-")
    _, conf = tl.write_config(tmp_path / "ivcs.json", cfg, device_id=dev)
    subprocess.run([BIN, "plan", "set", "--config", conf, "--type", "full_time", "--days", "1"],
                   check=True, capture_output=True, timeout=120)
    p = subprocess.run([BIN, "push", "--config", conf, "--video", MEDIA / "clip_h265.h265",
                        "--fps", "25", "--speed", "max"], capture_output=True, text=True,
                       timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    s = Serve(conf, "--cors")
    b = browser
    try:
        b.call("Page.navigate", url=s.url)
        page_wait(b, "the H.265 range", lambda: b.js(
            "document.querySelectorAll('#track .range').length === 1"))
        b.click("#zfit")
        b.click("#track .range")
        state = page_wait(b, "playback or the H.265 message", lambda: b.js(
            "(() => { const v = document.getElementById('video'); const m = "
            "document.getElementById('msg').textContent; if (/H\\.265.*cannot decode/.test(m))"
            " return 'told'; if (v.currentTime > 1 && v.videoWidth > 0) return 'played:' +"
            " v.videoWidth; return ''; })()"), timeout=45)
        if state.startswith("played:"):  # this Chromium decodes HEVC
            assert int(state[7:]) == video_width(), state
        else:
            assert "ivcs export" in b.msg(), b.msg()
        # and no black box left running: a picture, or the player stopped
        page_wait(b, "a picture or a stopped player", lambda: b.js(
            "(() => { const v = document.getElementById('video');"
            " return v.videoWidth > 0 || v.paused; })()"), timeout=10)
    finally:
        code, err = s.stop()
    assert code == 0, err


def test_live_edge_followed(cfg, browser, tmp_path):  # noqa: F811
    """"follow live": while a recording is going on, the timeline grows by itself."""
    dev = tl.device_id("weblive-")
    _, conf = tl.write_config(tmp_path / "ivcs.json", cfg, device_id=dev)
    subprocess.run([BIN, "plan", "set", "--config", conf, "--type", "full_time", "--days", "1"],
                   check=True, capture_output=True, timeout=120)
    push = subprocess.Popen([BIN, "push", "--config", conf, "--video", MEDIA / "clip_h264.h264",
                             "--fps", "25", "--realtime"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    s = Serve(conf, "--cors")
    b = browser
    try:
        b.call("Page.navigate", url=s.url)
        page_wait(b, "the page", lambda: b.js("!!window.ivcsView && !!window.ivcsView.info"))
        b.click("#live")
        first = page_wait(b, "a first range while recording", lambda: b.js(
            "ivcsView.tl && ivcsView.tl.ranges.length ? ivcsView.tl.ranges[0].end_ms : 0"),
            timeout=30)
        page_wait(b, "the range growing without a click", lambda: b.js(
            f"ivcsView.tl && ivcsView.tl.ranges.length === 1 && "
            f"ivcsView.tl.ranges[0].end_ms > {first} && "
            "document.querySelectorAll('#track .range').length === 1"), timeout=30)
        b.click("#live")  # off again
    finally:
        try:
            push.wait(timeout=60)
        finally:
            push.stderr.close()
        code, err = s.stop()
    assert push.returncode == 0
    assert code == 0, err
