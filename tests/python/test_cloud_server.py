"""The local cloud (scripts/cloud) is a real, strict S3 server and its
client config is right: checked with independent clients (boto3, curl,
Python's ssl), TLS always verified against the cloud's own CA."""

import hashlib
import os
import re
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import botocore.exceptions
import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg, s3  # noqa: F401


def test_config_has_the_documented_shape(cfg):
    assert tuple(cfg) == tl.CONFIG_KEYS
    assert re.fullmatch(r"https://127\.0\.0\.1:[0-9]{1,5}", cfg["endpoint"])
    assert cfg["region"] == "us-east-1"
    assert cfg["bucket"] == "ivcs"
    assert cfg["prefix"] == ""
    assert cfg["device_id"] == "cam-0001"
    assert re.fullmatch(r"[A-Z0-9]{20}", cfg["access_key"])
    assert re.fullmatch(r"[A-Za-z0-9]{40}", cfg["secret_key"])
    assert cfg["session_token"] is None
    assert cfg["verify_tls"] is True
    assert cfg["plan_poll_s"] == 60 and cfg["slice_ms"] == 4000
    ca = Path(cfg["ca_file"])
    assert ca.is_absolute() and ca.parent == tl.config_path().parent
    out = subprocess.run(["openssl", "x509", "-in", ca, "-noout", "-text"],
                         capture_output=True, text=True, check=True).stdout
    assert "CA:TRUE" in out


def test_put_get_list_delete_round_trip(cfg, s3):
    bucket = cfg["bucket"]
    base = tl.unique_key("cloud-server")
    bodies = {f"{base}/a.bin": os.urandom(100_000), f"{base}/b/c.txt": b"hello\n",
              f"{base}/b/d.txt": b""}
    for key, body in bodies.items():
        r = s3.put_object(Bucket=bucket, Key=key, Body=body, Metadata={"seq": "7"})
        # ETag of a single PUT is the MD5 of the body.
        assert r["ETag"].strip('"') == hashlib.md5(body).hexdigest()

    for key, body in bodies.items():
        r = s3.get_object(Bucket=bucket, Key=key)
        assert r["Body"].read() == body
        assert r["ContentLength"] == len(body)
        assert r["Metadata"] == {"seq": "7"}

    r = s3.get_object(Bucket=bucket, Key=f"{base}/a.bin", Range="bytes=10-19")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert r["Body"].read() == bodies[f"{base}/a.bin"][10:20]

    listed = s3.list_objects_v2(Bucket=bucket, Prefix=base + "/")
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(bodies)
    sizes = {o["Key"]: o["Size"] for o in listed["Contents"]}
    assert sizes == {k: len(v) for k, v in bodies.items()}

    top = s3.list_objects_v2(Bucket=bucket, Prefix=base + "/", Delimiter="/")
    assert [o["Key"] for o in top["Contents"]] == [f"{base}/a.bin"]
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == [f"{base}/b/"]

    paged = s3.list_objects_v2(Bucket=bucket, Prefix=base + "/", MaxKeys=2)
    assert paged["IsTruncated"] and len(paged["Contents"]) == 2
    rest = s3.list_objects_v2(Bucket=bucket, Prefix=base + "/",
                              ContinuationToken=paged["NextContinuationToken"])
    assert len(rest["Contents"]) == 1 and not rest["IsTruncated"]

    r = s3.delete_objects(Bucket=bucket,
                          Delete={"Objects": [{"Key": k} for k in bodies]})
    assert sorted(d["Key"] for d in r["Deleted"]) == sorted(bodies)
    assert s3.list_objects_v2(Bucket=bucket, Prefix=base + "/")["KeyCount"] == 0


def test_wrong_secret_is_rejected(cfg, s3):
    key = tl.unique_key("cloud-server-badsig")
    bad_secret = cfg["secret_key"][:-1] + ("A" if cfg["secret_key"][-1] != "A" else "B")
    bad = tl.s3_client(cfg, secret_key=bad_secret)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.put_object(Bucket=cfg["bucket"], Key=key, Body=b"must not land")
    assert e.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket=cfg["bucket"], Key=key)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_unknown_access_key_is_rejected(cfg):
    bad = tl.s3_client(cfg, access_key="AKIANOTAKEY000000000")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        bad.list_objects_v2(Bucket=cfg["bucket"])
    assert e.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_unsigned_request_is_denied(cfg):
    ctx = ssl.create_default_context(cafile=cfg["ca_file"])
    req = urllib.request.Request(f"{cfg['endpoint']}/{cfg['bucket']}?list-type=2")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, context=ctx, timeout=10)
    assert e.value.code == 403


def _handshake(cfg, cafile, server_hostname):
    host, port = tl.endpoint_host_port(cfg)
    ctx = ssl.create_default_context(cafile=cafile)
    with socket.create_connection((host, port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_hostname) as tls:
            return tls.getpeercert()


def test_certificate_is_for_loopback_and_verifies_with_our_ca(cfg):
    cert = _handshake(cfg, cfg["ca_file"], "127.0.0.1")
    assert ("IP Address", "127.0.0.1") in cert["subjectAltName"]
    assert ("DNS", "localhost") in cert["subjectAltName"]
    _handshake(cfg, cfg["ca_file"], "localhost")
    # Hostname checking is on: the same certificate is wrong for another name.
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(cfg, cfg["ca_file"], "example.com")


def test_tls_fails_with_the_system_ca_bundle(cfg):
    assert Path(tl.SYSTEM_CA_BUNDLE).is_file()
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(cfg, tl.SYSTEM_CA_BUNDLE, "127.0.0.1")
    s3 = tl.s3_client(cfg, verify=tl.SYSTEM_CA_BUNDLE)
    with pytest.raises(botocore.exceptions.SSLError):
        s3.list_objects_v2(Bucket=cfg["bucket"])
    with pytest.raises(ValueError):
        tl.s3_client(cfg, verify=False)


def test_status_command(cfg, tmp_path):
    r = tl.run_cloud("status", "--dir", tl.cloud_dir())
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("cloud: up") and cfg["endpoint"] in r.stdout
    r = tl.run_cloud("status", "--dir", tmp_path / "nothing-here")
    assert r.returncode != 0 and "down" in r.stdout


def test_start_when_running_succeeds_and_keeps_the_config(cfg):
    r = tl.run_cloud("start", "--dir", tl.cloud_dir())
    assert r.returncode == 0, r.stdout + r.stderr
    assert "already running" in r.stdout
    assert tl.load_config() == cfg


def test_env_command_matches_config_and_works_with_curl(cfg):
    script = (f'eval "$({tl.cloud_script()} env --dir {tl.cloud_dir()})" && '
              'curl -sS -o /dev/null -w "%{http_code}" --max-time 10 '
              '--cacert "$AWS_CA_BUNDLE" --aws-sigv4 "aws:amz:$AWS_DEFAULT_REGION:s3" '
              '--user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" '
              '-H "x-amz-content-sha256: UNSIGNED-PAYLOAD" '
              '"$IVCS_S3_ENDPOINT/$IVCS_S3_BUCKET?list-type=2" && echo && env')
    r = subprocess.run(["bash", "-c", script], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    code, _, envtext = r.stdout.partition("\n")
    assert code == "200"
    env = dict(line.split("=", 1) for line in envtext.splitlines() if "=" in line)
    assert env["AWS_ACCESS_KEY_ID"] == cfg["access_key"]
    assert env["AWS_SECRET_ACCESS_KEY"] == cfg["secret_key"]
    assert env["AWS_DEFAULT_REGION"] == cfg["region"]
    assert env["AWS_CA_BUNDLE"] == cfg["ca_file"]
    assert env["IVCS_S3_ENDPOINT"] == cfg["endpoint"]
    assert env["IVCS_S3_BUCKET"] == cfg["bucket"]
    assert Path(env["IVCS_CONFIG"]).resolve() == tl.config_path().resolve()
    # Without our CA curl must refuse the server (exit 60: peer certificate).
    r = subprocess.run(["curl", "-sS", "-o", "/dev/null", "--max-time", "10",
                        "--cacert", tl.SYSTEM_CA_BUNDLE, cfg["endpoint"] + "/"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 60, r.stderr


def test_start_refuses_a_busy_port(cfg, tmp_path):
    _, port = tl.endpoint_host_port(cfg)
    d = tmp_path / "second"
    r = tl.run_cloud("start", "--dir", d, "--https-port", port, timeout=60)
    assert r.returncode != 0
    assert f"port {port} (https) is busy" in r.stderr
    assert "refusing to start" in r.stderr
    # It refused before starting anything.
    assert not (d / "ceph.conf").exists()
    assert not list(d.glob("run/*.pid"))


def test_missing_packages_are_named_with_a_hint(tmp_path):
    # A PATH with everything of /usr/bin except Ceph's programs.
    fake = tmp_path / "bin"
    fake.mkdir()
    for d in ("/usr/bin", "/usr/sbin"):
        for f in os.scandir(d):
            if re.match(r"(ceph|radosgw|monmaptool)", f.name) or (fake / f.name).exists():
                continue
            (fake / f.name).symlink_to(f.path)
    env = dict(os.environ, PATH=str(fake))
    r = tl.run_cloud("start", "--dir", tmp_path / "c", env=env, timeout=60)
    assert r.returncode != 0
    assert "missing programs:" in r.stderr and "radosgw" in r.stderr
    assert "scripts/setup" in r.stderr


def test_persistent_cloud_keeps_objects_across_restart(tmp_path):
    d = tmp_path / "persistent"
    try:
        r = tl.run_cloud("start", "--dir", d, "--persistent", "--auto-ports")
        assert r.returncode == 0, r.stdout + r.stderr
        assert "up (bluestore)" in r.stdout
        cfg = tl.load_config(d / "ivcs.json")
        key, body = tl.unique_key("persist"), os.urandom(3000)
        tl.s3_client(cfg).put_object(Bucket=cfg["bucket"], Key=key, Body=body)

        r = tl.run_cloud("stop", "--dir", d)
        assert r.returncode == 0, r.stdout + r.stderr
        assert tl.run_cloud("status", "--dir", d).returncode != 0

        r = tl.run_cloud("start", "--dir", d)  # no flag: the cluster is reused
        assert r.returncode == 0, r.stdout + r.stderr
        assert "reusing the persistent" in r.stdout
        cfg2 = tl.load_config(d / "ivcs.json")
        assert cfg2 == cfg  # same endpoint, keys and CA
        got = tl.s3_client(cfg2).get_object(Bucket=cfg["bucket"], Key=key)["Body"].read()
        assert got == body
    finally:
        tl.run_cloud("stop", "--dir", d)
