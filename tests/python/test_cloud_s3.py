"""`ivcs s3` (ivcs's own io_uring + OpenSSL + SigV4 transport) against the
local radosgw over verified TLS, checked with an independent client
(boto3) and curl."""

import concurrent.futures
import hashlib
import os
import stat
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg, s3  # noqa: F401

IVCS = os.environ.get("IVCS_BIN", "ivcs")


@pytest.fixture(scope="module")
def cfgfile():
    return str(tl.config_path())


def ivcs(*args, config=None, check=True, timeout=120):
    cmd = [IVCS, "s3", *map(str, args)]
    if config:
        cmd += ["--config", str(config)]
    p = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}): {p.stderr.decode(errors='replace')}")
    return p


def no_secret(cfg, p):
    out = p.stdout + p.stderr
    assert cfg["secret_key"].encode() not in out


def write_config(tmp_path, cfg, **changes):
    return tl.write_config(tmp_path / "ivcs.json", cfg, **changes)[1]


@pytest.mark.parametrize("size", [0, 1, 64 * 1024, 8 * 1024 * 1024])
def test_round_trip_is_byte_identical_and_etag_is_md5(cfg, s3, cfgfile, tmp_path, size):
    data = os.urandom(size)
    src = tmp_path / "src"
    src.write_bytes(data)
    key = tl.unique_key("s3rt")
    p = ivcs("put", src, key, config=cfgfile)
    md5 = hashlib.md5(data).hexdigest()
    assert p.stdout.decode().strip() == f'"{md5}"'
    # What landed, seen by boto3.
    obj = s3.get_object(Bucket=cfg["bucket"], Key=key)
    assert obj["Body"].read() == data
    assert obj["ETag"] == f'"{md5}"'
    # And read back by ivcs.
    dst = tmp_path / "dst"
    ivcs("get", key, "-o", dst, config=cfgfile)
    assert dst.read_bytes() == data
    h = ivcs("head", key, config=cfgfile).stdout.decode()
    assert f"content-length: {size}\n" in h
    assert f'etag: "{md5}"' in h


def test_metadata_range_and_conditional_put(cfg, s3, cfgfile, tmp_path):
    data = os.urandom(100000)
    src = tmp_path / "src"
    src.write_bytes(data)
    key = tl.unique_key("s3meta")
    ivcs("put", src, key, "--meta", "camera=cam-0001", "--meta", "kind=slice",
         "--if-none-match", "--content-type", "video/mp2t", config=cfgfile)
    h = s3.head_object(Bucket=cfg["bucket"], Key=key)
    assert h["Metadata"] == {"camera": "cam-0001", "kind": "slice"}
    assert h["ContentType"] == "video/mp2t"
    out = ivcs("head", key, config=cfgfile).stdout.decode()
    assert "x-amz-meta-camera: cam-0001" in out
    # If-None-Match: * refuses to overwrite.
    p = ivcs("put", src, key, "--if-none-match", config=cfgfile, check=False)
    assert p.returncode == 1
    assert b"PreconditionFailed" in p.stderr
    # Ranged GET.
    p = ivcs("get", key, "--range", "1000-1999", config=cfgfile)
    assert p.stdout == data[1000:2000]
    p = ivcs("get", key, "--range", "99990-", config=cfgfile)
    assert p.stdout == data[99990:]
    # Conditional GET with the current ETag: 304, no body.
    etag = h["ETag"]
    p = ivcs("get", key, "--if-none-match", etag, config=cfgfile)
    assert p.stdout == b"" and b"not modified" in p.stderr


def test_corrupted_content_md5_is_rejected_by_the_server(cfg, s3, cfgfile, tmp_path):
    for size in (1000, 3 * 1024 * 1024):  # signed payload, then UNSIGNED-PAYLOAD
        src = tmp_path / "src"
        src.write_bytes(os.urandom(size))
        key = tl.unique_key("s3badmd5")
        p = ivcs("put", src, key, "--debug-bad-md5", config=cfgfile, check=False)
        assert p.returncode == 1
        assert b"BadDigest" in p.stderr, p.stderr
        no_secret(cfg, p)
        with pytest.raises(s3.exceptions.ClientError):
            s3.head_object(Bucket=cfg["bucket"], Key=key)


def test_list_pages_over_more_than_1000_keys(cfg, s3, cfgfile):
    prefix = tl.unique_key("s3list") + "/"
    keys = [f"{prefix}k{i:05d} x" for i in range(1100)] + [f"{prefix}d/sub{i}" for i in range(3)]

    def put(k):
        s3.put_object(Bucket=cfg["bucket"], Key=k, Body=b"x")

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(put, keys))
    p = ivcs("ls", "--prefix", prefix, "--stats", config=cfgfile)
    lines = p.stdout.decode().splitlines()
    assert sorted(line.split(None, 1)[1] for line in lines) == sorted(keys)
    assert b"1103 entries, 2 pages" in p.stderr
    p = ivcs("ls", "--prefix", prefix, "--page-size", "300", "--stats", config=cfgfile)
    assert len(p.stdout.decode().splitlines()) == 1103
    assert b"4 pages" in p.stderr
    # Delimiter: the three keys under d/ fold into one common prefix.
    p = ivcs("ls", "--prefix", prefix, "--delimiter", "/", config=cfgfile)
    lines = p.stdout.decode().splitlines()
    assert len(lines) == 1101
    assert any(line.split() == ["PRE", f"{prefix}d/"] for line in lines)
    p = ivcs("ls", "--prefix", prefix, "--max", "5", config=cfgfile)
    assert len(p.stdout.decode().splitlines()) == 5


def test_wrong_secret_surfaces_signature_does_not_match(cfg, tmp_path):
    bad = write_config(tmp_path, cfg, secret_key="W" + cfg["secret_key"][1:])
    p = ivcs("ls", config=bad, check=False)
    assert p.returncode == 1
    assert b"SignatureDoesNotMatch" in p.stderr
    assert b"HTTP 403" in p.stderr
    no_secret(cfg, p)
    assert b"W" + cfg["secret_key"][1:].encode() not in p.stdout + p.stderr


def test_wrong_ca_fails_verification_clearly(cfg, tmp_path):
    bad = write_config(tmp_path, cfg, ca_file=tl.SYSTEM_CA_BUNDLE)
    p = ivcs("ls", config=bad, check=False)
    assert p.returncode == 1
    err = p.stderr.decode()
    assert "is not trusted" in err and "ca_file" in err
    assert "unable to get local issuer certificate" in err
    # And the host must match too: 127.0.0.1's certificate is not for ::2.
    host, port = tl.endpoint_host_port(cfg)
    if host == "127.0.0.1":
        bad = write_config(tmp_path, cfg, endpoint=f"https://localhost:{port}")
        ivcs("ls", "--max", "1", config=bad)  # DNS:localhost is in the SAN


def test_presigned_url_works_with_curl(cfg, s3, cfgfile, tmp_path):
    data = os.urandom(5000)
    key = tl.unique_key("s3presign") + " with space"
    s3.put_object(Bucket=cfg["bucket"], Key=key, Body=data)
    url = ivcs("presign", key, "--expires", "120", config=cfgfile).stdout.decode().strip()
    assert cfg["secret_key"] not in url
    out = tmp_path / "o"
    r = subprocess.run(["curl", "-sS", "-f", "--cacert", cfg["ca_file"], "-o", out, url],
                       capture_output=True)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes() == data
    # A tampered URL is refused.
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert",
                        cfg["ca_file"], url[:-1] + ("0" if url[-1] != "0" else "1")],
                       capture_output=True)
    assert r.stdout == b"403"


def test_rm_and_missing_objects(cfg, s3, cfgfile, tmp_path):
    key = tl.unique_key("s3rm")
    s3.put_object(Bucket=cfg["bucket"], Key=key, Body=b"abc")
    ivcs("rm", key, config=cfgfile)
    with pytest.raises(s3.exceptions.ClientError):
        s3.head_object(Bucket=cfg["bucket"], Key=key)
    p = ivcs("get", key, "-o", tmp_path / "x", config=cfgfile, check=False)
    assert p.returncode == 1 and b"NoSuchKey" in p.stderr
    assert not list(tmp_path.iterdir())  # nothing created, nothing left behind
    p = ivcs("head", key, config=cfgfile, check=False)
    assert p.returncode == 1 and b"404" in p.stderr


def test_failed_get_never_removes_the_output(cfg, s3, cfgfile, tmp_path):
    """Issue 9 item 1: `get -o PATH` writes beside PATH and renames on
    success; a failure leaves PATH as it was: an existing file keeps its
    bytes, a character device (our own, made with mknod) stays a device."""
    missing = tl.unique_key("s3get-missing")
    f = tmp_path / "existing.bin"
    f.write_bytes(b"precious bytes\n")
    dev = tmp_path / "null"
    os.mknod(dev, 0o666 | stat.S_IFCHR, os.makedev(1, 3))
    for out in (f, dev):
        p = ivcs("get", missing, "-o", out, config=cfgfile, check=False)
        assert p.returncode == 1 and b"NoSuchKey" in p.stderr
    assert f.read_bytes() == b"precious bytes\n"
    assert stat.S_ISCHR(dev.stat().st_mode) and dev.stat().st_rdev == os.makedev(1, 3)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["existing.bin", "null"]
    # Success: the file is replaced whole, the device just gets the bytes.
    key, body = tl.unique_key("s3get-ok"), os.urandom(70_000)
    s3.put_object(Bucket=cfg["bucket"], Key=key, Body=body)
    for out in (f, dev):
        ivcs("get", key, "-o", out, config=cfgfile)
    assert f.read_bytes() == body
    assert stat.S_ISCHR(dev.stat().st_mode)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["existing.bin", "null"]
    p = ivcs("get", key, "-o", "-", config=cfgfile)
    assert p.stdout == body
    # A directory is refused, and kept.
    p = ivcs("get", key, "-o", tmp_path, config=cfgfile, check=False)
    assert p.returncode == 1 and b"Is a directory" in p.stderr and f.exists()


def test_lifecycle_rule_is_merged_into_the_bucket_rules(cfg, s3, tmp_path):
    """`ivcs s3 lifecycle` sets its one rule (ivcs-expire) and keeps every
    other rule of the bucket (those of `ivcs plan set`, anyone's). A bucket of
    its own, so the shared bucket's rules are not raced."""
    bucket = f"ivcs-lc-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=bucket)
    conf = write_config(tmp_path, cfg, bucket=bucket)

    def lifecycle_rules():  # [] when the bucket has no configuration
        try:
            return s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
        except s3.exceptions.ClientError as e:
            assert e.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"
            return []

    try:
        # no configuration yet: removing is a no-op, not an error
        ivcs("lifecycle", "--days", "0", config=conf)
        assert lifecycle_rules() == []
        # alone: a configuration of one rule is created
        ivcs("lifecycle", "--days", "2", "--prefix", "a/", config=conf)
        rules = lifecycle_rules()
        assert [r["ID"] for r in rules] == ["ivcs-expire"]
        # someone else's rule, then ours again: both stay
        other = {"ID": "ivcs:cams/cam-9/", "Filter": {"Prefix": "cams/cam-9/ch"},
                 "Status": "Enabled", "Expiration": {"Days": 9}}
        s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": [other, rules[0]]})
        ivcs("lifecycle", "--days", "3", "--prefix", "expire-me/", config=conf)
        rules = {r["ID"]: r for r in lifecycle_rules()}
        assert set(rules) == {"ivcs-expire", "ivcs:cams/cam-9/"}
        mine = rules["ivcs-expire"]
        assert mine["Expiration"]["Days"] == 3 and mine["Status"] == "Enabled"
        assert mine.get("Filter", {}).get("Prefix", mine.get("Prefix")) == "expire-me/"
        kept = rules["ivcs:cams/cam-9/"]
        assert kept["Expiration"]["Days"] == 9
        assert kept["Filter"]["Prefix"] == "cams/cam-9/ch"
        # --days 0 removes ours only; then the last rule goes with the configuration
        ivcs("lifecycle", "--days", "0", config=conf)
        assert [r["ID"] for r in lifecycle_rules()] == ["ivcs:cams/cam-9/"]
        s3.delete_bucket_lifecycle(Bucket=bucket)
        ivcs("lifecycle", "--days", "4", config=conf)
        ivcs("lifecycle", "--days", "0", config=conf)
        assert lifecycle_rules() == []
    finally:
        s3.delete_bucket(Bucket=bucket)


def test_lifecycle_errors(cfg, s3, tmp_path):
    # a missing bucket: the S3 code, exit 1, no secret
    conf = write_config(tmp_path, cfg, bucket="ivcs-no-such-bucket-lc")
    p = ivcs("lifecycle", "--days", "3", config=conf, check=False)
    assert p.returncode == 1 and b"NoSuchBucket" in p.stderr, p.stderr
    no_secret(cfg, p)
    # usage: no --days, days out of range, a prefix the XML writer refuses
    conf = write_config(tmp_path, cfg)
    for args in ([], ["--days", "36501"], ["--days", "-1"], ["--days", "3", "--prefix", "a\x01"]):
        p = ivcs("lifecycle", *args, config=conf, check=False)
        assert p.returncode == 2, (args, p.stderr)


def test_usage_errors_exit_2(cfgfile):
    assert ivcs("put", "only-one-arg", config=cfgfile, check=False).returncode == 2
    assert ivcs("frobnicate", config=cfgfile, check=False).returncode == 2
    assert ivcs("get", "k", "--range", "5-1", config=cfgfile, check=False).returncode == 2


def test_zz_server_stopped_fails_cleanly_then_recovers():
    """A private cloud (own --dir and ports, so the shared fixture is left
    alone): stop it, a call fails with a connect error, start it, the next
    call succeeds."""
    d = Path(tempfile.mkdtemp(prefix="ivcs-s3-restart-"))
    try:
        r = tl.run_cloud("start", "--dir", d, "--auto-ports")
        assert r.returncode == 0, r.stderr
        conf = d / "ivcs.json"
        src = d / "obj"
        src.write_bytes(os.urandom(3000))
        ivcs("put", src, "before", config=conf)
        r = tl.run_cloud("stop", "--dir", d)
        assert r.returncode == 0, r.stderr
        p = ivcs("put", src, "during", "--retries", "2", config=conf, check=False, timeout=60)
        assert p.returncode == 1
        assert b"connect" in p.stderr.lower(), p.stderr
        r = tl.run_cloud("start", "--dir", d, "--auto-ports")
        assert r.returncode == 0, r.stderr
        ivcs("put", src, "after", config=conf)
        p = ivcs("get", "after", config=conf)
        assert p.stdout == src.read_bytes()
    finally:
        tl.run_cloud("stop", "--dir", d)
