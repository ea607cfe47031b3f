"""Integrity modes of slice uploads (config "integrity", docs/TRANSPORT.md
"Integrity") against the real radosgw:

- each mode radosgw implements records every frame, byte-exact (ffmpeg
  framemd5 of the slices = the input), with the TS continuity counters
  running on from slice to slice, and every object's ETag the MD5 of its
  bytes;
- a byte flipped in flight (a proxy built on the fake S3 machinery forwards
  each request to radosgw and flips one body byte of the first slice PUT):
  radosgw refuses it (md5: BadDigest, sha256-chunked: the chunk signature)
  or the engine catches it (md5-etag: the ETag is not the MD5 of what was
  sent), the slice is sent again, and what is stored is the good slice;
- `ivcs s3 put --debug-corrupt` shows the same per request, and what
  radosgw (Ceph 16) does with a CRC32C trailer: refuses the request;
- the start-up probe of "auto" picks sha256-chunked here; a start-up probe
  that gets no answer at all (md5 meanwhile) runs again after the first
  PUT that succeeds, and the later slices use what it picked.
"""

import hashlib
import http.client
import json
import os
import ssl
import subprocess
import threading

import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg, put_plan, s3  # noqa: F401
from s3_fake import CLOSE, FakeS3, reply
from test_cloud_record import MEDIA, device_config, fetch_slices, framemd5, push

IVCS = os.environ.get("IVCS_BIN", "")
MODES = ["md5", "sha256-chunked", "md5-etag"]  # crc32c-trailer: radosgw refuses it


def ts_continuity_ok(data):
    """Every PID's continuity counter goes up by one per packet with payload."""
    assert len(data) % 188 == 0
    last = {}
    for i in range(0, len(data), 188):
        p = data[i:i + 188]
        assert p[0] == 0x47, f"sync byte lost at packet {i // 188}"
        pid = ((p[1] & 0x1F) << 8) | p[2]
        afc = (p[3] >> 4) & 3
        cc = p[3] & 15
        if afc & 1:  # payload
            if pid in last and cc != (last[pid] + 1) % 16:
                return f"PID {pid:#x}: CC {cc} after {last[pid]} at packet {i // 188}"
            last[pid] = cc
    return None


def check_recording(s3, c, tmp_path, res, loops):
    assert res["frames_uploaded"] == res["frames_pushed"], res
    assert res["refused"] == 0 and res["slices_dropped"] == 0, res
    slices, cat = fetch_slices(s3, c, tmp_path, res["boot"])
    assert len(slices) == res["slices"]
    data = cat.read_bytes()
    assert ts_continuity_ok(data) is None, ts_continuity_ok(data)
    for m in slices:
        key = c["prefix"] + m.group(0)
        o = s3.get_object(Bucket=c["bucket"], Key=key)
        body = o["Body"].read()
        assert o["ETag"].strip('"') == hashlib.md5(body).hexdigest(), key
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", str(cat), "-f", "null", "-"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    bsf = "filter_units=remove_types=9"
    assert framemd5(cat, "v", bsf) == framemd5(MEDIA / "clip_h264.h264", "v", bsf) * loops
    assert framemd5(cat, "a") == framemd5(MEDIA / "clip_aac.aac", "a") * loops
    return slices


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_records_every_frame_byte_exact(cfg, s3, tmp_path, mode):
    c, cfgfile = device_config(tmp_path, cfg, integrity=mode)
    put_plan(s3, c, "full_time")
    loops = 2
    p, res, _ = push(cfgfile, "--video", MEDIA / "clip_h264.h264", "--audio",
                     MEDIA / "clip_aac.aac", "--fps", 25, "--speed", "max", "--loop", loops)
    assert p.returncode == 0, p.stdout + p.stderr
    assert res["integrity"] == mode and res["integrity_note"] == ""
    assert res["integrity_failures"] == 0 and res["retries"] == 0
    check_recording(s3, c, tmp_path, res, loops)


def test_auto_probes_and_picks_sha256_chunked_on_radosgw(cfg, s3, tmp_path):
    c, cfgfile = device_config(tmp_path, cfg)  # integrity: the default, auto
    assert "integrity" not in c
    put_plan(s3, c, "full_time")
    p, res, _ = push(cfgfile, "--video", MEDIA / "clip_h264.h264", "--audio",
                     MEDIA / "clip_aac.aac", "--fps", 25, "--speed", "max", "--loop", 1)
    assert p.returncode == 0, p.stdout + p.stderr
    assert res["integrity"] == "sha256-chunked", res
    note = res["integrity_note"]
    assert "crc32c-trailer refused (HTTP 400" in note, note
    assert "sha256-chunked: a corrupted body is refused (HTTP 403 SignatureDoesNotMatch)" in note
    check_recording(s3, c, tmp_path, res, 1)
    # the probe object is gone: nothing but plan.json and the slices
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=c["bucket"], Prefix=f"{c['prefix']}{c['device_id']}/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert not [k for k in keys if "integrity-probe" in k], keys


class FlipProxy:
    """The fake S3 server as a TLS-terminating proxy to radosgw: every
    request is forwarded as received; the body of the first PUT whose key
    holds `match` gets byte `at` flipped on the way (once)."""

    def __init__(self, tmp_path, c, match="/rec/", at=5000):
        self.c = c
        self.match = match
        self.at = at
        self.flipped = []
        self.puts = []
        self.put_headers = []
        self.lock = threading.Lock()
        host = c["endpoint"].split("//", 1)[1]
        self.host, self.port = host.rsplit(":", 1)
        self.ctx = ssl.create_default_context(cafile=c["ca_file"])
        self.fake = FakeS3(tmp_path, self.handle)

    def handle(self, req):
        body = req.body
        if req.method == "PUT" and self.match in req.path:
            with self.lock:
                self.puts.append(req.path)
                self.put_headers.append(req.headers)
                if not self.flipped and len(body) > self.at:
                    b = bytearray(body)
                    b[self.at] ^= 0x20
                    body = bytes(b)
                    self.flipped.append(req.path)
        conn = http.client.HTTPSConnection(self.host, int(self.port), context=self.ctx,
                                           timeout=60)
        try:
            conn.putrequest(req.method, req.target, skip_host=True, skip_accept_encoding=True)
            for k, v in req.headers.items():
                conn.putheader(k, v)
            conn.endheaders(body if body else None)
            r = conn.getresponse()
            data = r.read()
            hdrs = {k: v for k, v in r.getheaders()
                    if k.lower() not in ("content-length", "transfer-encoding", "connection")}
            return reply(r.status, data, hdrs, reason=r.reason)
        finally:
            conn.close()

    def config(self, path, **changes):
        c = dict(self.c)
        c.update(endpoint=self.fake.endpoint, ca_file=str(self.fake.cert), **changes)
        path.write_text(json.dumps(c))
        return c, path

    def __enter__(self):
        self.fake.__enter__()
        return self

    def __exit__(self, *exc):
        self.fake.__exit__(*exc)


@pytest.mark.parametrize("mode", MODES)
def test_byte_flipped_in_flight_is_caught_and_the_slice_sent_again(cfg, s3, tmp_path, mode):
    c, _ = device_config(tmp_path, cfg)
    put_plan(s3, c, "full_time")
    with FlipProxy(tmp_path, c) as px:
        pc, pfile = px.config(tmp_path / "proxy.json", integrity=mode)
        p, res, _ = push(pfile, "--video", MEDIA / "clip_h264.h264", "--audio",
                         MEDIA / "clip_aac.aac", "--fps", 25, "--speed", "max", "--loop", 1)
        assert p.returncode == 0, p.stdout + p.stderr
        assert len(px.flipped) == 1, px.puts
        # the damaged slice was sent again, under the same key
        assert px.puts.count(px.flipped[0]) == 2, px.puts
    assert res["integrity"] == mode
    assert res["integrity_failures"] == 1, res
    assert res["retries"] >= 1, res
    slices = check_recording(s3, c, tmp_path, res, 1)
    assert px.flipped[0].endswith(slices[0].group(0))


def run_ivcs(*args, timeout=120):
    return subprocess.run([IVCS, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("size", [100, 300_000])
def test_put_debug_corrupt_per_mode(cfg, s3, tmp_path, size):
    """ivcs s3 put --debug-corrupt N flips body byte N on the wire in the
    first attempt, after every checksum was taken."""
    f = tmp_path / "obj.bin"
    data = os.urandom(size)
    f.write_bytes(data)
    cfgfile = tl.config_path()
    for mode in MODES + ["crc32c-trailer"]:
        key = tl.unique_key(f"integ-{mode}")
        # as sent: stored byte for byte (crc32c-trailer: refused whole)
        r = run_ivcs("s3", "put", "--config", cfgfile, "--integrity", mode, f, key)
        if mode == "crc32c-trailer":
            assert r.returncode == 1 and "XAmzContentSHA256Mismatch (HTTP 400)" in r.stderr, r
            with pytest.raises(s3.exceptions.NoSuchKey):
                s3.get_object(Bucket=cfg["bucket"], Key=key)
            continue
        assert r.returncode == 0, r.stderr
        assert s3.get_object(Bucket=cfg["bucket"], Key=key)["Body"].read() == data
        s3.delete_object(Bucket=cfg["bucket"], Key=key)
        # corrupted: refused, or (md5-etag) caught and sent again
        r = run_ivcs("s3", "put", "--config", cfgfile, "--integrity", mode,
                     "--debug-corrupt", size // 2, f, key)
        if mode == "md5-etag" and size > 256 * 1024:
            assert r.returncode == 0, r.stderr
            assert s3.get_object(Bucket=cfg["bucket"], Key=key)["Body"].read() == data
            s3.delete_object(Bucket=cfg["bucket"], Key=key)
            continue
        # small bodies are signed with their SHA-256 (md5, md5-etag)
        want = {"md5": "BadDigest (HTTP 400)" if size > 256 * 1024 else "XAmzContentSHA256Mismatch",
                "md5-etag": "XAmzContentSHA256Mismatch",
                "sha256-chunked": "SignatureDoesNotMatch (HTTP 403)" if size > 70000
                else "XAmzContentSHA256Mismatch"}[mode]
        assert r.returncode == 1 and want in r.stderr, (mode, r.stderr)
        with pytest.raises(s3.exceptions.NoSuchKey):
            s3.get_object(Bucket=cfg["bucket"], Key=key)


def test_probe_without_sha256_instructions_picks_md5_etag(cfg, s3):
    """On a CPU without SHA-256 instructions (IVCS_SHA256_HW=0 stands in for
    one) software SHA-256 would cost more than the MD5 pass it saves: the
    probe skips sha256-chunked and, radosgw's ETag being the MD5, picks
    md5-etag."""
    key = tl.unique_key("integ-probe")
    env = dict(os.environ, IVCS_SHA256_HW="0")
    r = subprocess.run([IVCS, "s3", "probe", "--config", tl.config_path(), key],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.returncode == 0, r.stderr
    mode, note = r.stdout.splitlines()
    assert mode == "md5-etag", r.stdout
    assert "sha256-chunked skipped: no SHA-256 instructions on this CPU" in note
    with pytest.raises(s3.exceptions.NoSuchKey):
        s3.get_object(Bucket=cfg["bucket"], Key=key)
    env["IVCS_SHA256_HW"] = "1"
    r = subprocess.run([IVCS, "s3", "probe", "--config", tl.config_path(), key],
                       capture_output=True, text=True, timeout=120, env=env)
    assert r.stdout.splitlines()[0] == "sha256-chunked", r.stdout


class NoAnswerFirstProxy(FlipProxy):
    """The proxy above (nothing flipped) that gives no answer at all to the
    first request of the integrity probe (the connection is closed): the
    server looks unreachable at the engine's start, then it is back."""

    def __init__(self, tmp_path, c):
        super().__init__(tmp_path, c, at=1 << 40)
        self.closed = []

    def handle(self, req):
        with self.lock:
            if "integrity-probe" in req.path and not self.closed:
                self.closed.append(req.path)
                return CLOSE
        return super().handle(req)


def test_auto_probes_again_once_the_server_answers(cfg, s3, tmp_path):
    c, _ = device_config(tmp_path, cfg)
    put_plan(s3, c, "full_time")
    loops = 2
    with NoAnswerFirstProxy(tmp_path, c) as px:
        pc, pfile = px.config(tmp_path / "proxy.json")  # integrity: auto
        assert "integrity" not in pc
        # paced (24 s of media in 6 s): the second probe runs beside the
        # uploads, and the slices after it must be sent in its mode
        p, res, _ = push(pfile, "--video", MEDIA / "clip_h264.h264", "--audio",
                         MEDIA / "clip_aac.aac", "--fps", 25, "--speed", 4, "--loop", loops)
        assert p.returncode == 0, p.stdout + p.stderr
        assert len(px.closed) == 1
        heads = list(px.put_headers)
    # md5 until the first slice landed, then what the second probe picked
    assert res["integrity"] == "sha256-chunked", res
    note = res["integrity_note"]
    assert "sha256-chunked: a corrupted body is refused (HTTP 403 SignatureDoesNotMatch)" in note
    assert "content-md5" in heads[0], heads[0]
    modes = [h.get("x-amz-content-sha256", "") for h in heads]
    assert modes[-1] == "STREAMING-AWS4-HMAC-SHA256-PAYLOAD", modes
    assert res["integrity_failures"] == 0 and res["retries"] == 0, res
    check_recording(s3, c, tmp_path, res, loops)
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(
            Bucket=c["bucket"], Prefix=f"{c['prefix']}{c['device_id']}/"):
        keys += [o["Key"] for o in page.get("Contents", [])]
    assert not [k for k in keys if "integrity-probe" in k], keys
