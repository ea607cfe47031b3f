"""`ivcs` against an in-process fake S3 (s3_fake.py) for what the real
radosgw cannot do on demand: a server that pages forever or replays its
pages, a download reset mid-body, and the answers of a second S3
implementation (OpenStack Swift's s3api: no bucket lifecycle, no
conditional PUT, BucketAlreadyOwnedByYou). Issue 9."""

import hashlib
import os
import subprocess
import time

import pytest

import s3_fake as fk

BIN = os.environ.get("IVCS_BIN", "ivcs")


def run(*args, timeout=60):
    t0 = time.monotonic()
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    p.seconds = time.monotonic() - t0
    p.err = p.stderr.decode(errors="replace")
    return p


def is_list(req):
    return req.method == "GET" and req.query.get("list-type") == "2"


# ---------------------------------------------------------------- listing

def test_repeated_continuation_token_ends_every_listing(tmp_path):
    """Item 3: IsTruncated with the same NextContinuationToken made `ivcs s3
    ls` loop forever; `ivcs ls` and `ivcs playlist` never ended."""
    def h(req):
        if is_list(req):
            n = int(req.query.get("continuation-token", "0") or 0)
            # page 1 hands token "1", every later page hands "1" again
            return fk.list_page("fake", [f"cam-fake/ch0/k{n:04d}"], True, "1")
        return fk.error(404, "NoSuchKey")
    with fk.FakeS3(tmp_path, h) as srv:
        cfg = srv.config(tmp_path / "c.json")
        for args in (["s3", "ls"], ["ls"], ["playlist", "--day", "2026-12-01"]):
            before = srv.count()
            p = run(*args, "--config", cfg)
            assert p.returncode == 1, (args, p.err)
            assert "InvalidPagination" in p.err and "repeated" in p.err, p.err
            assert srv.count() - before <= 4, (args, srv.count() - before)
            assert p.seconds < 20


def test_truncated_page_without_token_and_replayed_pages_fail(tmp_path):
    mode = {}

    def h(req):
        if not is_list(req):
            return fk.error(404, "NoSuchKey")
        tok = req.query.get("continuation-token", "")
        if mode["m"] == "empty":
            return fk.list_page("fake", ["a"], True, "")
        # fresh tokens, but the same keys again: a server replaying its pages
        n = int(tok or 0) + 1
        return fk.list_page("fake", ["a", "b"], True, str(n))
    with fk.FakeS3(tmp_path, h) as srv:
        cfg = srv.config(tmp_path / "c.json")
        for m, why in (("empty", "without a continuation token"),
                       ("replay", "repeated keys of an earlier page")):
            mode["m"] = m
            before = srv.count()
            p = run("s3", "ls", "--config", cfg)
            assert p.returncode == 1 and why in p.err, p.err
            assert srv.count() - before <= 3
            # nothing listed twice
            assert p.stdout.count(b" a\n") == 1


def test_pages_are_bounded(tmp_path):
    """A server that pages forever with fresh tokens and fresh keys: the
    listing stops at IVCS_S3_LIST_PAGES_MAX (10000) pages."""
    def h(req):
        n = int(req.query.get("continuation-token", "") or 0)
        return fk.list_page("fake", [f"k{n:08d}"], True, str(n + 1))
    with fk.FakeS3(tmp_path, h, tls=False) as srv:
        cfg = srv.config(tmp_path / "c.json")
        p = run("s3", "ls", "--config", cfg, timeout=300)
        assert p.returncode == 1 and "more than 10000 listing pages" in p.err, p.err
        assert srv.count() == 10000
        assert p.stdout.count(b"\n") == 10000


# ---------------------------------------------------------------- get, retried

BODY = hashlib.sha256(b"x").digest() * 32  # 1024 bytes
ETAG = '"' + hashlib.md5(BODY).hexdigest() + '"'


def resuming_server(first_cut=300, second=None):
    """GET: the first answer is reset after first_cut body bytes; later ones
    as second(req) says (default: honour Range and If-Match)."""
    state = {"n": 0}

    def honour(req):
        if req.headers.get("if-match", ETAG) != ETAG:
            return fk.error(412, "PreconditionFailed")
        rg = req.headers.get("range")
        if not rg:
            return fk.reply(200, BODY, {"ETag": ETAG})
        a = int(rg.split("=")[1].split("-")[0])
        return fk.reply(206, BODY[a:], {"ETag": ETAG,
                                        "Content-Range": f"bytes {a}-{len(BODY) - 1}/{len(BODY)}"})

    def h(req):
        state["n"] += 1
        if state["n"] == 1:
            head = fk.reply(200, BODY, {"ETag": ETAG})
            cut = len(head) - len(BODY) + first_cut
            return [head[:cut], 0.3, fk.RESET]
        return (second or honour)(req)
    return h


@pytest.mark.parametrize("out", ["-", "file"])
def test_retried_get_resumes_and_never_writes_a_byte_twice(tmp_path, out):
    """Item 4: a reset after 300 of 1024 bytes, then a good retry, gave
    1324 bytes on stdout. Now the retry asks for bytes 300- of the same ETag."""
    with fk.FakeS3(tmp_path, resuming_server()) as srv:
        cfg = srv.config(tmp_path / "c.json")
        dst = tmp_path / "got.bin"
        p = run("s3", "get", "obj", "-o", "-" if out == "-" else dst, "--config", cfg)
        assert p.returncode == 0, p.err
        got = p.stdout if out == "-" else dst.read_bytes()
        assert got == BODY
        assert len(srv.requests) == 2
        r2 = srv.requests[1]
        assert r2.headers["range"] == "bytes=300-"
        assert r2.headers["if-match"] == ETAG


@pytest.mark.parametrize("second,why", [
    (lambda req: fk.reply(200, BODY, {"ETag": ETAG}), "ignored the Range"),
    (lambda req: fk.reply(206, BODY[300:], {"ETag": '"other"', "Content-Range":
                                             "bytes 300-1023/1024"}), "object changed"),
    (lambda req: fk.reply(206, BODY[200:], {"ETag": ETAG, "Content-Range":
                                             "bytes 200-1023/1024"}), "another byte range"),
    (lambda req: fk.error(412, "PreconditionFailed"), "PreconditionFailed"),
])
def test_retried_get_that_cannot_resume_fails(tmp_path, second, why):
    with fk.FakeS3(tmp_path, resuming_server(second=second)) as srv:
        cfg = srv.config(tmp_path / "c.json")
        p = run("s3", "get", "obj", "-o", "-", "--config", cfg)
        assert p.returncode == 1 and why in p.err, p.err
        assert p.stdout == BODY[:300]  # what was written is never written again
        f = tmp_path / "keep.bin"
        f.write_bytes(b"old")
        srv.handler = resuming_server(second=second)
        p = run("s3", "get", "obj", "-o", f, "--config", cfg)
        assert p.returncode == 1 and f.read_bytes() == b"old"
        assert sorted(x.name for x in tmp_path.iterdir() if x.name.startswith("keep")) == \
            ["keep.bin"]


# ---------------------------------------------------------------- first-time user

def test_unusable_ca_file_is_named_on_one_line(tmp_path):
    """A missing ca_file printed "TLS error (ca_file PATH", a line break and
    ")"; now one line says what is wrong with the file."""
    notpem = tmp_path / "notpem.crt"
    notpem.write_text("hello, I am not a certificate\n")
    empty = tmp_path / "empty.crt"
    empty.write_bytes(b"")
    cases = [(tmp_path / "missing.pem", "No such file or directory"),
             (tmp_path, "is a directory"),
             (notpem, "not PEM"),
             (empty, "is empty")]
    with fk.FakeS3(tmp_path, lambda req: fk.error(500, "InternalError")) as srv:
        for ca, why in cases:
            cfg = srv.config(tmp_path / "c.json", ca_file=str(ca))
            p = run("s3", "ls", "--config", cfg)
            assert p.returncode == 1
            assert p.err.count("\n") == 1 and p.err.endswith("\n"), p.err
            assert f"ca_file {ca}: " in p.err and why in p.err, p.err
        assert srv.count() == 0


# ---------------------------------------------------------------- a second S3 implementation

def swift_like(lifecycle_get="listing"):
    """Answers as OpenStack Swift's s3api does (issue 9): no bucket lifecycle
    (GET ?lifecycle gives the bucket listing, PUT MalformedXML, DELETE would
    delete an empty bucket), no conditional PUT (501), and
    BucketAlreadyOwnedByYou for a bucket that exists."""
    store = {}

    def h(req):
        parts = req.path.split("/", 2)
        key = parts[2] if len(parts) > 2 else ""
        if not key:
            if "lifecycle" in req.query:
                if req.method == "GET" and lifecycle_get == "listing":
                    return fk.list_page("fake", sorted(store))
                if req.method == "GET":
                    return fk.error(501, "NotImplemented", "lifecycle")
                if req.method == "PUT":
                    return fk.error(400, "MalformedXML")
                return fk.reply(204)  # DELETE: must never be sent
            if req.method == "PUT":
                return fk.error(409, "BucketAlreadyOwnedByYou", "Your previous request to "
                                "create the named bucket succeeded and you already own it.")
            if is_list(req):
                pre = req.query.get("prefix", "")
                return fk.list_page("fake", sorted(k for k in store if k.startswith(pre)),
                                    prefix=pre)
            return fk.error(400, "InvalidRequest")
        if req.method == "PUT":
            if req.headers.get("if-none-match") == "*":
                return fk.error(501, "NotImplemented", "A header you provided implies "
                                "functionality that is not implemented")
            store[key] = req.body
            return fk.reply(200, b"", {"ETag": '"' + hashlib.md5(req.body).hexdigest() + '"'})
        if req.method in ("GET", "HEAD"):
            if key not in store:
                return fk.error(404, "NoSuchKey")
            b = store[key]
            return fk.reply(200, b if req.method == "GET" else b"",
                            {"ETag": '"' + hashlib.md5(b).hexdigest() + '"'},
                            content_length=len(b))
        return fk.error(405, "MethodNotAllowed")
    h.store = store
    return h


@pytest.mark.parametrize("lc", ["listing", "501"])
def test_plan_on_a_server_without_lifecycle(tmp_path, lc):
    h = swift_like(lc)
    with fk.FakeS3(tmp_path, h) as srv:
        cfg = srv.config(tmp_path / "c.json")
        p = run("plan", "set", "--config", cfg, "--type", "full_time", "--days", "7")
        assert p.returncode == 3, p.err  # documented: plan written, retention not set
        assert "plan.json was written; retention NOT set" in p.err
        assert "does not support bucket lifecycle" in p.err
        assert b'"cs_days":7' in h.store["cam-fake/plan.json"].replace(b" ", b"")
        p = run("plan", "set", "--config", cfg, "--type", "full_time", "--days", "0")
        assert p.returncode == 0, p.err
        p = run("plan", "get", "--config", cfg)
        assert p.returncode == 0, p.err
        assert b"retention: none: the server does not support bucket lifecycle" in p.stdout
        p = run("plan", "get", "--config", cfg, "--json")
        assert p.returncode == 0 and b'"lifecycle_supported":\tfalse' in p.stdout, p.stdout
        p = run("s3", "lifecycle", "--days", "3", "--config", cfg)
        assert p.returncode == 1 and "not supported by" in p.err, p.err
        # Nothing ever written to ?lifecycle: no PUT, and never the DELETE
        # that deletes an empty bucket there.
        assert srv.count("PUT", "lifecycle") == 0
        assert srv.count("DELETE") == 0


def test_conditional_put_501_is_not_retried_and_mb_of_our_bucket_succeeds(tmp_path):
    h = swift_like()
    with fk.FakeS3(tmp_path, h) as srv:
        cfg = srv.config(tmp_path / "c.json")
        f = tmp_path / "f.bin"
        f.write_bytes(b"data")
        p = run("s3", "put", f, "k1", "--if-none-match", "--config", cfg)
        assert p.returncode == 1
        assert "does not support conditional PUT" in p.err and "nothing was written" in p.err
        assert srv.count("PUT") == 1  # 501 is permanent: one request, no retry
        assert "k1" not in h.store
        p = run("s3", "mb", "--config", cfg)
        assert p.returncode == 0, p.err
        assert "already exists and is yours" in p.err
