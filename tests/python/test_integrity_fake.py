"""Integrity modes against servers radosgw cannot stand in for (the
in-process fake S3, s3_fake.py):

- one that implements the CRC32C trailer as AWS S3 documents it
  (STREAMING-UNSIGNED-PAYLOAD-TRAILER, aws-chunked, x-amz-checksum-crc32c
  checked against the decoded body, 400 BadDigest when it differs): the
  body lands byte for byte, a byte flipped in flight is refused, and the
  probe of integrity "auto" picks crc32c-trailer;
- servers that check nothing: the probe must not pick a mode they do not
  enforce (md5-etag when their ETag is the MD5 of the body, else md5).
"""

import base64
import hashlib
import os
import subprocess

from s3_fake import FakeS3, error, reply

IVCS = os.environ.get("IVCS_BIN", "")


def _crc32c_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def decode_aws_chunked(body):
    """(data, trailers) of an aws-chunked body; ValueError if malformed."""
    out, pos, trailers = bytearray(), 0, {}
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            break
        out += body[pos:pos + size]
        if body[pos + size:pos + size + 2] != b"\r\n":
            raise ValueError("chunk not followed by CRLF")
        pos += size + 2
    while True:
        eol = body.index(b"\r\n", pos)
        line = body[pos:eol]
        pos = eol + 2
        if not line:
            break
        k, _, v = line.partition(b":")
        trailers[k.decode().lower()] = v.decode()
    if pos != len(body):
        raise ValueError("bytes after the trailer")
    return bytes(out), trailers


class TrailerS3:
    """Stores PUT bodies; checks a CRC32C trailer like AWS."""

    def __init__(self):
        self.objects = {}
        self.seen = []

    def __call__(self, req):
        if req.method == "DELETE":
            self.objects.pop(req.path, None)
            return reply(204)
        if req.method != "PUT":
            return error(404, "NoSuchKey")
        h = req.headers
        self.seen.append(h)
        body = req.body
        if h.get("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER":
            if h.get("content-encoding") != "aws-chunked" or \
                    h.get("x-amz-trailer") != "x-amz-checksum-crc32c":
                return error(400, "InvalidRequest")
            try:
                body, tr = decode_aws_chunked(req.body)
            except ValueError:
                return error(400, "IncompleteBody")
            if len(body) != int(h["x-amz-decoded-content-length"]):
                return error(400, "IncompleteBody")
            want = base64.b64encode(crc32c(body).to_bytes(4, "big")).decode()
            if tr.get("x-amz-checksum-crc32c") != want:
                return error(400, "BadDigest", "The CRC32C you specified did not match")
        elif h.get("x-amz-content-sha256", "").startswith("STREAMING-"):
            return error(400, "InvalidArgument")  # this server has no chunk signatures
        self.objects[req.path] = body
        return reply(200, headers={"ETag": '"%s"' % hashlib.md5(body).hexdigest()})


def run(*args):
    return subprocess.run([IVCS, *map(str, args)], capture_output=True, text=True, timeout=120,
                          stdin=subprocess.DEVNULL)


def test_crc32c_trailer_lands_byte_for_byte_and_corruption_is_refused(tmp_path):
    srv = TrailerS3()
    data = os.urandom(200_000)  # 4 chunks of 65,424 bytes
    f = tmp_path / "obj.bin"
    f.write_bytes(data)
    with FakeS3(tmp_path, srv) as fake:
        cfg = fake.config(tmp_path / "ivcs.json", integrity="crc32c-trailer")
        r = run("s3", "put", "--config", cfg, f, "k1")
        assert r.returncode == 0, r.stderr
        assert srv.objects["/fake/k1"] == data
        h = srv.seen[-1]
        assert h["x-amz-decoded-content-length"] == "200000"
        assert "content-md5" not in h  # one pass: no MD5 before the send
        assert int(h["content-length"]) > 200_000
        r = run("s3", "put", "--config", cfg, "--debug-corrupt", 123_456, f, "k2")
        assert r.returncode == 1 and "BadDigest: The CRC32C you specified did not match (HTTP 400)" in r.stderr, r.stderr
        assert "/fake/k2" not in srv.objects
        # the empty body: just the trailer
        e = tmp_path / "empty"
        e.write_bytes(b"")
        r = run("s3", "put", "--config", cfg, e, "k3")
        assert r.returncode == 0 and srv.objects["/fake/k3"] == b"", r.stderr
        r = run("s3", "probe", "--config", cfg, "dev/probe")
        assert r.returncode == 0, r.stderr
        mode, note = r.stdout.splitlines()
        assert mode == "crc32c-trailer", r.stdout
        assert "a corrupted body is refused (HTTP 400 BadDigest)" in note
        assert "/fake/dev/probe" not in srv.objects  # deleted after


def test_probe_never_picks_a_check_the_server_does_not_make(tmp_path):
    stored = {}

    def lax_md5_etag(req):  # stores whatever comes, ETag = MD5 of the raw body
        if req.method == "PUT":
            stored[req.path] = req.body
            return reply(200, headers={"ETag": '"%s"' % hashlib.md5(req.body).hexdigest()})
        if req.method == "DELETE":
            stored.pop(req.path, None)
            return reply(204)
        return error(404, "NoSuchKey")

    def lax_other_etag(req):  # stores whatever comes, ETag not an MD5
        if req.method == "PUT":
            return reply(200, headers={"ETag": '"1-abc"'})
        return reply(204)

    for handler, want in ((lax_md5_etag, "md5-etag"), (lax_other_etag, "md5")):
        with FakeS3(tmp_path, handler) as fake:
            cfg = fake.config(tmp_path / "ivcs.json")
            r = run("s3", "probe", "--config", cfg, "dev/probe")
            assert r.returncode == 0, r.stderr
            mode, note = r.stdout.splitlines()
            assert mode == want, r.stdout
            assert "crc32c-trailer not checked (corrupted body: stored)" in note
            assert "sha256-chunked not checked (corrupted body: stored)" in note
    assert not stored  # the probe deleted its object
    # a server that cannot be reached: md5, said so
    with FakeS3(tmp_path, lax_md5_etag) as fake:
        cfg = fake.config(tmp_path / "ivcs.json")
    r = run("s3", "probe", "--config", cfg, "dev/probe")
    assert r.returncode == 0 and r.stdout.startswith("md5\nprobe failed ("), r.stdout
