"""The web viewer's bucket side against the real radosgw (issue 15; the page
itself is tested in headless Chromium by test_cloud_browser.py):

- `ivcs cors` sets the viewer's CORS rule merged into the bucket's other
  rules (kept field for field, read back with boto3), radosgw then answers
  a presigned GET from that origin with Access-Control-Allow-Origin (and
  not for another origin), and --remove takes only ours away;
- `ivcs serve --proxy`: the playlist's segments and the pictures go through
  the server, byte for byte the bucket's objects (boto3), and ffprobe reads
  every frame pushed through the server's playlist; keys of another kind or
  another device are refused.

Each test module uses its own bucket: the CORS configuration is per bucket
and other tests run beside this one.
"""

import json
import os
import re
import ssl
import subprocess
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg  # noqa: F401

BIN = os.environ.get("IVCS_BIN", "ivcs")
MEDIA = Path(os.environ.get("IVCS_MEDIA_DIR", ""))

APP_RULE = {"ID": "app", "AllowedOrigins": ["https://app.example"], "AllowedMethods": ["PUT"],
            "AllowedHeaders": ["*"], "MaxAgeSeconds": 60}


def run(*args, timeout=120):
    return subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def bucket(cfg, tmp_path_factory):  # noqa: F811
    s3 = tl.s3_client(cfg)
    name = "web-" + uuid.uuid4().hex[:12]
    s3.create_bucket(Bucket=name)
    _, conf = tl.write_config(tmp_path_factory.mktemp("web") / "ivcs.json", cfg, bucket=name,
                              device_id=tl.device_id("web-"))
    yield s3, name, conf
    for o in s3.list_objects_v2(Bucket=name).get("Contents", []):
        s3.delete_object(Bucket=name, Key=o["Key"])
    s3.delete_bucket(Bucket=name)


def cors_get(s3, name):
    try:
        return s3.get_bucket_cors(Bucket=name)["CORSRules"]
    except s3.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "NoSuchCORSConfiguration", e.response
        return None


def acao(cfg, url, origin):  # noqa: F811
    ctx = ssl.create_default_context(cafile=cfg["ca_file"])
    req = urllib.request.Request(url, headers={"Origin": origin})
    with urllib.request.urlopen(req, context=ctx, timeout=30) as r:
        r.read()
        return r.headers.get("Access-Control-Allow-Origin")


def test_cors_merged_and_honoured(cfg, bucket):  # noqa: F811
    s3, name, conf = bucket
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": [APP_RULE]})
    s3.put_object(Bucket=name, Key="probe.txt", Body=b"x")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "probe.txt"},
                                    ExpiresIn=300)
    assert acao(cfg, url, "http://127.0.0.1:8080") is None  # no rule for it yet

    p = run("cors", "--config", conf, "--origin", "http://127.0.0.1:8080",
            "--origin", "http://localhost:8080")
    assert p.returncode == 0, p.stderr
    rules = cors_get(s3, name)
    assert len(rules) == 2, rules
    assert {k: rules[0].get(k) for k in APP_RULE} == APP_RULE  # the other rule, unchanged
    ours = rules[1]
    dev = json.loads(Path(conf).read_text())["device_id"]
    assert ours["ID"] == f"ivcs-web:{dev}/"
    assert ours["AllowedOrigins"] == ["http://127.0.0.1:8080", "http://localhost:8080"]
    assert sorted(ours["AllowedMethods"]) == ["GET", "HEAD"]
    assert acao(cfg, url, "http://127.0.0.1:8080") == "http://127.0.0.1:8080"
    assert acao(cfg, url, "http://evil.example") is None

    # again with another origin: still two rules, ours replaced
    assert run("cors", "--config", conf, "--origin", "http://127.0.0.1:9000").returncode == 0
    rules = cors_get(s3, name)
    assert len(rules) == 2 and rules[1]["AllowedOrigins"] == ["http://127.0.0.1:9000"], rules

    # removed: the other rule stays; removing again changes nothing
    for _ in range(2):
        p = run("cors", "--config", conf, "--remove")
        assert p.returncode == 0, p.stderr
        rules = cors_get(s3, name)
        assert len(rules) == 1 and {k: rules[0].get(k) for k in APP_RULE} == APP_RULE

    # ours alone, then removed: the bucket has no CORS configuration left
    s3.delete_bucket_cors(Bucket=name)
    assert run("cors", "--config", conf, "--origin", "*").returncode == 0
    assert cors_get(s3, name)[0]["AllowedOrigins"] == ["*"]
    assert run("cors", "--config", conf, "--remove").returncode == 0
    assert cors_get(s3, name) is None

    for bad in ["http://a\"><b", "ftp://x", "http://x/path", ""]:
        p = run("cors", "--config", conf, "--origin", bad)
        assert p.returncode == 2 and "origin" in p.stderr, (bad, p.stderr)
    assert cors_get(s3, name) is None


def test_proxy_serves_the_bucket_bytes(cfg, bucket):  # noqa: F811
    s3, name, conf = bucket
    assert run("plan", "set", "--config", conf, "--type", "full_time", "--days", "1").returncode == 0
    p = run("push", "--config", conf, "--video", MEDIA / "clip_h264.h264", "--fps", "25",
            "--speed", "max", "--event", "1:0:1", "--picture", MEDIA / "snapshot.jpg")
    assert p.returncode == 0, p.stderr
    res = json.loads([ln for ln in p.stdout.splitlines() if ln.startswith("result ")][-1][7:])
    srv = subprocess.Popen([BIN, "serve", "--config", str(conf), "--listen", "127.0.0.1:0",
                            "--proxy"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, text=True)
    try:
        base = srv.stdout.readline().split()[2]

        def get(path):
            try:
                with urllib.request.urlopen(base + path.lstrip("/"), timeout=30) as r:
                    return r.status, r.read()
            except urllib.error.HTTPError as e:
                return e.code, e.read()

        st, body = get("/api/playlist.m3u8?from=0&to=" + str(8 * 86400000 + 1))
        assert st == 400  # more than 8 days
        import time
        now = int(time.time() * 1000)
        st, body = get(f"/api/timeline?from={now - 3600000}&to={now + 600000}")
        assert st == 200, body
        tl_ = json.loads(body)
        assert len(tl_["ranges"]) == 1 and len(tl_["events"]) == 1, tl_
        pic = tl_["events"][0]["picture_url"]
        assert pic.startswith("/api/picture?key="), pic
        st, jpg = get(pic)
        pic_key = json.loads(Path(conf).read_text())["device_id"] + "/" + \
            urllib.parse.unquote(pic.split("key=", 1)[1])
        assert st == 200 and jpg == s3.get_object(Bucket=name, Key=pic_key)["Body"].read()
        st, m3u = get(f"/api/playlist.m3u8?from={now - 3600000}&to={now + 600000}")
        assert st == 200, m3u
        segs = [ln for ln in m3u.decode().splitlines() if ln and not ln.startswith("#")]
        assert len(segs) == res["slices"] and all(s.startswith("/api/segment?key=") for s in segs)
        assert "X-Amz" not in m3u.decode()
        dev = json.loads(Path(conf).read_text())["device_id"]
        for s in segs:
            st, data = get(s)
            key = dev + "/" + urllib.parse.unquote(s.split("key=", 1)[1])
            assert st == 200 and data == s3.get_object(Bucket=name, Key=key)["Body"].read()
        # every pushed frame, decoded by ffprobe through the server's playlist
        pr = subprocess.run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", "v:0",
                             "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0",
                             base + f"api/playlist.m3u8?from={now - 3600000}&to={now + 600000}"],
                            capture_output=True, text=True, timeout=120)
        assert pr.returncode == 0, pr.stderr
        assert int(pr.stdout.split()[0]) == res["video_frames_pushed"], pr.stdout
        # only slices and pictures of this device and channel
        seg_key = urllib.parse.unquote(segs[0].split("key=", 1)[1])
        for bad in [seg_key.replace("ch0/", "ch1/"), "../" + seg_key, "/etc/passwd",
                    tl_["events"][0]["key"], "ch0/rec/2026-01-01/x.ts"]:
            st, body = get("/api/segment?key=" + urllib.parse.quote(bad))
            assert st == 400 and json.loads(body)["code"] == "bad_key", (bad, st, body)
        st, body = get("/api/picture?key=" + urllib.parse.quote(seg_key))
        assert st == 400
        assert re.match(rb"^\{.*\}\n$", body)
    finally:
        srv.terminate()
        srv.wait(timeout=10)
        err = srv.stderr.read()
        srv.stdout.close()
        srv.stderr.close()
    assert srv.returncode == 0, err  # SIGTERM: a clean stop (and no sanitizer report)


def test_serve_over_tls(cfg, bucket, tmp_path):  # noqa: F811
    """--cert/--key: HTTPS verified against the certificate; a client that never
    starts its handshake or speaks plain HTTP does not hold up others."""
    _, _, conf = bucket
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert, "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True, timeout=60)
    p = run("serve", "--config", conf, "--cert", cert)
    assert p.returncode == 2 and "--key" in p.stderr
    p = run("serve", "--config", conf, "--cert", cert, "--key", cert, "--listen", "127.0.0.1:0")
    assert p.returncode == 1 and "cannot use --cert" in p.stderr, p.stderr
    srv = subprocess.Popen([BIN, "serve", "--config", str(conf), "--listen", "127.0.0.1:0",
                            "--cert", str(cert), "--key", str(key), "--client-timeout", "2000"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           stdin=subprocess.DEVNULL, text=True)
    try:
        base = srv.stdout.readline().split()[2]
        assert base.startswith("https://127.0.0.1:"), base
        port = int(base.rstrip("/").rsplit(":", 1)[1])
        import socket
        idle = socket.create_connection(("127.0.0.1", port), timeout=10)  # no ClientHello
        plain = socket.create_connection(("127.0.0.1", port), timeout=10)
        plain.sendall(f"GET /api/info HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode())
        ctx = ssl.create_default_context(cafile=str(cert))
        with urllib.request.urlopen(base + "api/info", context=ctx, timeout=10) as r:
            assert r.status == 200 and json.loads(r.read())["device"]
        with urllib.request.urlopen(base, context=ctx, timeout=10) as r:
            assert b"ivcs viewer" in r.read()
        plain.settimeout(10)
        try:
            got = plain.recv(100)
        except ConnectionResetError:  # closed with the request unread
            got = b""
        assert not got.startswith(b"HTTP/1.1 200")  # no plain answer
        idle.settimeout(10)
        assert idle.recv(100) == b""  # dropped at --client-timeout
        plain.close()
        idle.close()
        # the system CA store does not know this certificate: refused
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(base + "api/info", timeout=10)
    finally:
        srv.terminate()
        srv.wait(timeout=10)
        err = srv.stderr.read()
        srv.stdout.close()
        srv.stderr.close()
    assert srv.returncode == 0, err  # SIGTERM: a clean stop (and no sanitizer report)
