"""ivcs's SigV4 against a real S3 server (the local radosgw of scripts/cloud).

Requests are signed by ivcs_sigv4_* (through tests/sigv4/sigv4_driver) and
sent with Python's http.client exactly as the engine's HTTP client must send
them: the encoded path of ivcs_sigv4_encode_path, the query of
ivcs_sigv4_canonical_query, the signed headers, x-amz-date,
x-amz-content-sha256 and Authorization. The server must accept them, store
the object under the key boto3 (an independent client) sees, and reject
wrong signatures, wrong payload hashes and expired presigned URLs.
"""
import base64
import hashlib
import http.client
import json
import os
import ssl
import subprocess
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import boto3
import botocore.config
import pytest

DRIVER = os.environ.get("IVCS_SIGV4_DRIVER")
CONFIG = os.environ.get("IVCS_CONFIG") or os.path.join(os.environ.get("IVCS_BUILD_DIR", "."),
                                                       "cloud", "ivcs.json")
S3NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"

KEYS = [
    "sigv4/plain.txt",
    "sigv4/with spaces/ü ñ 日本 😀.ts",
    "sigv4/reserved !*'();:@&=+$,?#[]~%.bin",
    "sigv4/literal %20 and %2F and +plus",
    "sigv4/dots/./a/../b",
]


@pytest.fixture(scope="module")
def cloud():
    with open(CONFIG) as f:
        cfg = json.load(f)
    u = urlsplit(cfg["endpoint"])
    ctx = ssl.create_default_context(cafile=cfg["ca_file"]) if u.scheme == "https" else None
    cfg["host"] = u.netloc
    cfg["ctx"] = ctx
    return cfg


def sign(cloud, cases, secret=None):
    """Runs the driver on cases (dicts of the driver's input) for this cloud."""
    assert DRIVER and os.access(DRIVER, os.X_OK), "IVCS_SIGV4_DRIVER must name the built driver"
    lines = []
    for i, c in enumerate(cases):
        c = dict(c)
        c.setdefault("id", i)
        c.setdefault("mode", "header")
        c.setdefault("time", int(time.time()))
        c.update(rules="s3", service="s3", access_key=cloud["access_key"],
                 secret_key=secret or cloud["secret_key"], session_token=cloud["session_token"],
                 region=cloud["region"])
        c["headers"] = [["Host", cloud["host"]]] + c.get("headers", [])
        lines.append(json.dumps(c, ensure_ascii=False))
    p = subprocess.run([DRIVER], input=("\n".join(lines) + "\n").encode(), capture_output=True,
                       timeout=60, check=True)
    out = [json.loads(x) for x in p.stdout.decode().splitlines()]
    assert all(o["rc"] == 0 for o in out), out
    return out


def send(cloud, case, signed, body=b""):
    """Sends one signed request; returns (status, headers, body)."""
    u = urlsplit(cloud["endpoint"])
    if cloud["ctx"]:
        conn = http.client.HTTPSConnection(u.hostname, u.port, context=cloud["ctx"], timeout=30)
    else:
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    target = signed["wire_path"] + ("?" + signed["canonical_query"] if case.get("query") else "")
    conn.putrequest(case["method"], target, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", cloud["host"])
    for name, value in case.get("headers", []):
        conn.putheader(name, value)
    conn.putheader("x-amz-date", signed["amz_date"])
    payload = case.get("payload_hash") or hashlib.sha256(bytes.fromhex(case["body_hex"])).hexdigest()
    conn.putheader("x-amz-content-sha256", payload)
    conn.putheader("Authorization", signed["authorization"])
    conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body if body else None)
    r = conn.getresponse()
    data = r.read()
    conn.close()
    return r.status, r.headers, data


def request(cloud, method, key, *, body=b"", unsigned=False, query=None, headers=None,
            secret=None):
    case = {"method": method, "path": f"/{cloud['bucket']}/{key}" if key is not None
            else f"/{cloud['bucket']}", "query": query or [], "headers": headers or []}
    if unsigned:
        case["payload_hash"] = "UNSIGNED-PAYLOAD"
    else:
        case["body_hex"] = body.hex()
    signed = sign(cloud, [case], secret)[0]
    return send(cloud, case, signed, body)


def s3_code(data):
    try:
        return ET.fromstring(data).findtext("Code")
    except ET.ParseError:
        return None


def boto3_client(cloud):
    return boto3.client("s3", endpoint_url=cloud["endpoint"], region_name=cloud["region"],
                        aws_access_key_id=cloud["access_key"],
                        aws_secret_access_key=cloud["secret_key"], verify=cloud["ca_file"],
                        config=botocore.config.Config(s3={"addressing_style": "path"}))


def test_objects_with_hard_keys_round_trip(cloud):
    s3 = boto3_client(cloud)
    for i, key in enumerate(KEYS):
        body = os.urandom(1000 + i)
        md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
        # A slice PUT: UNSIGNED-PAYLOAD plus Content-MD5, as the uploader does.
        st, _, data = request(cloud, "PUT", key, body=body, unsigned=True,
                              headers=[["Content-MD5", md5], ["Content-Type", "video/mp2t"]])
        assert st == 200, (key, st, data)
        # The key landed where an independent client looks for it.
        assert s3.get_object(Bucket=cloud["bucket"], Key=key)["Body"].read() == body, key

        # A PUT with the body's SHA-256 signed, and metadata with messy spacing.
        body2 = os.urandom(700 + i)
        st, _, data = request(cloud, "PUT", key, body=body2,
                              headers=[["X-Amz-Meta-Camera", "  front   door  cam "],
                                       ["x-amz-meta-note", "one,two"]])
        assert st == 200, (key, st, data)
        st, hdrs, data = request(cloud, "GET", key)
        assert st == 200 and data == body2, (key, st)
        assert hdrs["x-amz-meta-camera"].split() == ["front", "door", "cam"]
        st, hdrs, _ = request(cloud, "HEAD", key)
        assert st == 200 and int(hdrs["Content-Length"]) == len(body2)

        # ListObjectsV2 with the key as prefix: query values need encoding.
        st, _, data = request(cloud, "GET", None,
                              query=[["list-type", "2"], ["prefix", key], ["max-keys", "5"]])
        assert st == 200, (key, st, data)
        listed = [k.text for k in ET.fromstring(data).iter(S3NS + "Key")]
        assert listed == [key], (key, listed)

        # A presigned GET URL, fetched as a browser or player would.
        pre = sign(cloud, [{"mode": "presign", "method": "GET",
                            "path": f"/{cloud['bucket']}/{key}", "scheme": urlsplit(cloud["endpoint"]).scheme,
                            "expires": 300}])[0]
        url = pre["url"]
        with urllib.request.urlopen(url, context=cloud["ctx"], timeout=30) as r:
            assert r.read() == body2, key

    for key in KEYS:
        st, _, _ = request(cloud, "DELETE", key)
        assert st == 204
        st, _, data = request(cloud, "GET", key)
        assert st == 404 and s3_code(data) == "NoSuchKey"


def test_server_rejects_what_is_not_signed_right(cloud):
    key = "sigv4/reject.bin"
    body = b"payload"
    st, _, data = request(cloud, "PUT", key, body=body, secret="not-the-secret")
    assert st == 403 and s3_code(data) == "SignatureDoesNotMatch", (st, data)

    # Signed for one body, sent with another.
    case = {"method": "PUT", "path": f"/{cloud['bucket']}/{key}", "body_hex": body.hex()}
    signed = sign(cloud, [case])[0]
    st, _, data = send(cloud, case, signed, b"other!!")
    assert st == 400 and s3_code(data) == "XAmzContentSHA256Mismatch", (st, data)

    # A header changed after signing.
    case = {"method": "PUT", "path": f"/{cloud['bucket']}/{key}", "body_hex": body.hex(),
            "headers": [["x-amz-meta-a", "1"]]}
    signed = sign(cloud, [case])[0]
    case["headers"] = [["x-amz-meta-a", "2"]]
    st, _, data = send(cloud, case, signed, body)
    assert st == 403 and s3_code(data) == "SignatureDoesNotMatch", (st, data)

    st, _, _ = request(cloud, "PUT", key, body=body)
    assert st == 200
    # A presigned URL with one signature digit changed, and an expired one.
    pre = sign(cloud, [{"mode": "presign", "method": "GET", "path": f"/{cloud['bucket']}/{key}",
                        "scheme": urlsplit(cloud["endpoint"]).scheme, "expires": 300}])[0]["url"]
    bad = pre[:-1] + ("0" if pre[-1] != "0" else "1")
    old = sign(cloud, [{"mode": "presign", "method": "GET", "path": f"/{cloud['bucket']}/{key}",
                        "scheme": urlsplit(cloud["endpoint"]).scheme, "expires": 1, "time": int(time.time()) - 3600}])[0]
    for url in (bad, old["url"]):
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(url, context=cloud["ctx"], timeout=30)
        assert e.value.code == 403, url
    with urllib.request.urlopen(pre, context=cloud["ctx"], timeout=30) as r:
        assert r.read() == body
    st, _, _ = request(cloud, "DELETE", key)
    assert st == 204
