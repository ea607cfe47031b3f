"""ivcs's SigV4 signer against botocore's, on generated requests.

Every request (seeded RNG, so a failure replays) is signed twice: by
botocore (S3SigV4Auth for S3, SigV4Auth for other services,
S3SigV4QueryAuth for presigned URLs) with its clock pinned, and by
tests/sigv4/sigv4_driver (ivcs_sigv4_*), fed the same inputs as JSON lines.
The Authorization header, x-amz-date, canonical request and canonical query
must be byte-identical; for presigned URLs the signature and every query
parameter must be.

Deliberate differences, kept out of the generated inputs (see sigv4.h):
botocore skips User-Agent/Expect/X-Amzn-Trace-Id and replaces x-amz-date by
a rewritten Date header when one is given; it also folds tabs and Unicode
spaces (U+00A0 ...) in header values, which ivcs refuses (tabs) or keeps
(Unicode): the spec trims spaces only. Presigned cases have unique query
names: botocore's presigner keeps only one value per name.
"""
import datetime
import json
import os
import random
import subprocess
import types
from urllib.parse import quote, urlsplit

# botocore is the oracle: without it (scripts/setup installs Debian's
# python3-botocore) this must fail, not skip.
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import pytest

DRIVER = os.environ.get("IVCS_SIGV4_DRIVER")
SEED = int(os.environ.get("IVCS_SIGV4_SEED", "20240524"))
N_S3 = 1500
N_GENERIC = 400
N_PRESIGN = 600

RESERVED = "!*'();:@&=+$,?#[]~%"
UNICODE = ["ü", "é", "ß", "Å", "日本", "😀", "ሴ", "\u00a0", "ñ", "€"]
UNICODE_NOT_SPACE = ["ü", "é", "日本", "😀", "€"]
REGIONS = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-gov-west-1", "cn-north-1", "local"]
GENERIC_SERVICES = ["execute-api", "sqs", "iam", "service", "es"]
HEADER_NAMES = ["Content-Type", "Content-MD5", "Range", "If-None-Match", "x-amz-meta-a",
                "X-Amz-Meta-Camera", "x-amz-storage-class", "Cache-Control",
                "Content-Disposition", "x-amz-acl", "X-Custom_Header.1", "x-amz-meta-A",
                "x-amz-meta", "Content-Encoding", "x-amz-checksum-crc32", "If-Match"]
QUERY_NAMES = ["prefix", "max-keys", "uploads", "partNumber", "uploadId", "list-type",
               "continuation-token", "delimiter", "x-id", "versionId", "response-content-type"]
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
PRINTABLE = "".join(chr(c) for c in range(0x21, 0x7F))


# ------------------------------------------------------------- generation

def mixed_case(rng, s):
    pick = rng.random()
    if pick < 0.25:
        return s.lower()
    if pick < 0.4:
        return s.upper()
    if pick < 0.6:
        return "".join(c.upper() if rng.random() < 0.5 else c.lower() for c in s)
    return s


def text(rng, max_len, *, slash=False, controls=False, unicode=True, spaces=True):
    """A string of chunks: plain, reserved characters, spaces, UTF-8, '%XX'."""
    out = []
    for _ in range(rng.randint(0, max_len)):
        k = rng.random()
        if k < 0.35:
            out.append(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))
        elif k < 0.55:
            out.append(rng.choice(RESERVED))
        elif k < 0.62 and spaces:
            out.append(" " * rng.randint(1, 3))
        elif k < 0.72 and unicode:
            out.append(rng.choice(UNICODE))
        elif k < 0.8:
            out.append(rng.choice("-._~"))
        elif k < 0.85:
            out.append("%20" if rng.random() < 0.5 else "%2F")
        elif k < 0.9 and slash:
            out.append(rng.choice(["/", "//", "./", "../", "/."]))
        elif k < 0.93 and controls:
            out.append(rng.choice(["\t", "\x01", "\x7f", "\n"]))
        else:
            out.append(rng.choice("+=&;,"))
    return "".join(out)


def header_value(rng):
    k = rng.random()
    if k < 0.1:
        return ""
    if k < 0.2:
        return " " * rng.randint(1, 3)
    parts = []
    for _ in range(rng.randint(1, 6)):
        if rng.random() < 0.1:
            parts.append(rng.choice(UNICODE_NOT_SPACE))
        else:
            parts.append("".join(rng.choice(PRINTABLE) for _ in range(rng.randint(1, 8))))
    seps = [" ", "  ", "   ", "    "]
    v = parts[0]
    for p in parts[1:]:
        v += rng.choice(seps) + p
    if rng.random() < 0.4:
        v = rng.choice(seps) + v
    if rng.random() < 0.4:
        v = v + rng.choice(seps)
    return v


def credentials(rng):
    ak = "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))
    # Mostly 40-byte secrets; sometimes over 60 so "AWS4"+secret exceeds an HMAC block.
    n = 40 if rng.random() < 0.7 else rng.randint(1, 128)
    sk = "".join(rng.choice(PRINTABLE) for _ in range(n))
    tok = None
    if rng.random() < 0.4:
        tok = "".join(rng.choice(B64) for _ in range(rng.randint(8, 600)))
    return ak, sk, tok


def gen_time(rng, prev):
    k = rng.random()
    if prev is not None and k < 0.3:
        return min(prev + rng.randint(0, 3600), 253402300799)  # same day mostly: cache hits
    if k < 0.5:
        # Around a UTC midnight: the date (and signing key) changes.
        day = rng.randint(10957, 47482)  # 2000..2099
        return day * 86400 + rng.choice([-2, -1, 0, 1, 2])
    if k < 0.55:
        return rng.choice([0, 1, 951868799, 951868800, 4107542400, 253402300799])
    return rng.randint(946684800, 4102444799)


def gen_path(rng, generic):
    k = rng.random()
    if k < 0.05:
        return "/"
    bucket = rng.choice(["bucket", "my.bucket", "ivcs-rec", "b"])
    if k < 0.1:
        return "/" + bucket
    key = text(rng, 14, slash=True, controls=not generic)
    path = "/" + bucket + "/" + key
    if generic and rng.random() < 0.3:
        path += rng.choice(["/..", "/.", "/", "//x/../y"])
    return path


def gen_query(rng, unique=False):
    q = []
    for _ in range(rng.choice([0, 0, 1, 2, 3, 4, 6])):
        k = rng.random()
        if q and k < 0.2 and not unique:
            name = rng.choice(q)[0]  # repeated name
        elif k < 0.6:
            name = rng.choice(QUERY_NAMES)
        elif k < 0.65:
            name = ""
        else:
            name = text(rng, 6, controls=True)
        if unique and any(name == n for n, _ in q):
            continue
        v = rng.random()
        value = None if v < 0.15 else "" if v < 0.25 else text(rng, 10, slash=True, controls=True)
        q.append((name, value))
    return q


def gen_headers(rng, host):
    hs = [(mixed_case(rng, "Host"), rng.choice(["", " ", "  "]) + host + rng.choice(["", " "]))]
    for _ in range(rng.choice([0, 1, 2, 3, 4, 6])):
        if len(hs) > 1 and rng.random() < 0.2:
            name = mixed_case(rng, rng.choice(hs[1:])[0])  # repeated, other case
        else:
            name = mixed_case(rng, rng.choice(HEADER_NAMES))
        hs.append((name, header_value(rng)))
    rng.shuffle(hs)
    return hs


def gen_host(rng, lower_only=False):
    h = rng.choice(["examplebucket.s3.amazonaws.com", "s3.us-east-1.amazonaws.com",
                    "127.0.0.1:7480", "localhost:9000", "my.bucket.s3.eu-west-1.amazonaws.com"])
    return h if lower_only else mixed_case(rng, h) if rng.random() < 0.2 else h


def generate(rng):
    cases = []
    creds = credentials(rng)
    t = None
    for i in range(N_S3 + N_GENERIC + N_PRESIGN):
        if i < N_S3:
            mode, rules, service = "header", "s3", "s3"
        elif i < N_S3 + N_GENERIC:
            mode, rules, service = "header", "generic", rng.choice(GENERIC_SERVICES)
        else:
            mode, rules, service = "presign", "s3", "s3"
        if rng.random() < 0.3:
            creds = credentials(rng)
        t = gen_time(rng, t)
        c = {"id": i, "mode": mode, "rules": rules, "service": service,
             "access_key": creds[0], "secret_key": creds[1], "session_token": creds[2],
             "region": rng.choice(REGIONS), "time": t}
        if mode == "presign":
            host = gen_host(rng, lower_only=True)
            c.update(method=rng.choice(["GET", "GET", "GET", "PUT", "HEAD"]),
                     path=gen_path(rng, False), query=gen_query(rng, unique=True),
                     headers=[("Host", host)], scheme=rng.choice(["https", "http"]),
                     expires=rng.choice([1, 60, 900, 3600, 86400, 604800, rng.randint(1, 604800)]))
            if rng.random() < 0.15:
                c["headers"].append((mixed_case(rng, rng.choice(["x-amz-meta-a", "Range"])),
                                     header_value(rng)))
        else:
            c.update(method=rng.choice(["GET", "PUT", "HEAD", "DELETE", "POST"]),
                     path=gen_path(rng, rules == "generic"), query=gen_query(rng),
                     headers=gen_headers(rng, gen_host(rng)))
            k = rng.random()
            if k < 0.4:
                c["payload_hash"] = "UNSIGNED-PAYLOAD"
            elif k < 0.6:
                c["body_hex"] = ""
            else:
                c["body_hex"] = rng.randbytes(rng.randint(1, 300)).hex()
        cases.append(c)
    return cases


# ---------------------------------------------------------------- botocore

_NOW = [None]


class _PinnedDatetime(datetime.datetime):
    @classmethod
    def utcnow(cls):
        return _NOW[0]


def _capturing(cls):
    class Capture(cls):
        def canonical_request(self, request):
            self.last_canonical_request = super().canonical_request(request)
            return self.last_canonical_request
    return Capture


def botocore_sign(c):
    _NOW[0] = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=c["time"])
    creds = botocore.credentials.Credentials(c["access_key"], c["secret_key"], c["session_token"])
    path = quote(c["path"], safe="/~")  # how botocore's S3 serializer encodes a key
    query = [(n, "" if v is None else v) for n, v in c["query"]]
    if c["mode"] == "presign":
        host = c["headers"][0][1]
        auth = _capturing(botocore.auth.S3SigV4QueryAuth)(creds, "s3", c["region"],
                                                          expires=c["expires"])
        req = botocore.awsrequest.AWSRequest(method=c["method"],
                                             url=f"{c['scheme']}://{host}{path}",
                                             params=dict(query))
        for name, value in c["headers"][1:]:
            req.headers[name] = value
        auth.add_auth(req)
        return {"url": req.url, "canonical_request": auth.last_canonical_request}

    body = bytes.fromhex(c["body_hex"]) if "body_hex" in c else b""
    if c["rules"] == "s3":
        auth = _capturing(botocore.auth.S3SigV4Auth)(creds, "s3", c["region"])
    else:
        auth = _capturing(botocore.auth.SigV4Auth)(creds, c["service"], c["region"])
    req = botocore.awsrequest.AWSRequest(method=c["method"], url="https://endpoint.invalid" + path,
                                         data=body, params=query)
    for name, value in c["headers"]:
        req.headers[name] = value  # HTTPHeaders appends: repeated names stay repeated
    if c.get("payload_hash") == "UNSIGNED-PAYLOAD":
        if c["rules"] == "s3":
            req.context["client_config"] = botocore.config.Config(
                s3={"payload_signing_enabled": False})
        else:
            req.context["payload_signing_enabled"] = False
    auth.add_auth(req)
    return {"authorization": req.headers["Authorization"], "amz_date": req.headers["X-Amz-Date"],
            "canonical_request": auth.last_canonical_request,
            "canonical_query": auth.canonical_query_string(req), "wire_path": path}


# -------------------------------------------------------------------- test

@pytest.fixture(scope="module")
def pinned_clock():
    saved = botocore.auth.datetime
    botocore.auth.datetime = types.SimpleNamespace(datetime=_PinnedDatetime)
    yield
    botocore.auth.datetime = saved


def run_driver(cases):
    assert DRIVER and os.access(DRIVER, os.X_OK), "IVCS_SIGV4_DRIVER must name the built driver"
    inp = "".join(json.dumps(c, ensure_ascii=False) + "\n" for c in cases).encode()
    p = subprocess.run([DRIVER], input=inp, capture_output=True, timeout=300, check=True)
    out = [json.loads(line) for line in p.stdout.decode().splitlines()]
    assert len(out) == len(cases), p.stderr.decode()
    return out


def split_url(url):
    base, _, query = url.partition("?")
    return base, query.split("&")


def compare(c, ours, theirs):
    """The list of differences between ivcs's and botocore's results."""
    if ours.get("rc") != 0:
        return [f"ivcs failed with rc={ours.get('rc')}"]
    diffs = []
    if c["mode"] == "presign":
        ob, oq = split_url(ours["url"])
        tb, tq = split_url(theirs["url"])
        if ob != tb:
            diffs.append(f"url base {ob!r} != {tb!r}")
        if sorted(oq) != sorted(tq):
            diffs.append(f"query params {sorted(oq)} != {sorted(tq)}")
        # ivcs emits the canonical (sorted) order, signature last.
        if oq[:-1] != sorted(oq[:-1], key=lambda p: tuple(p.split("=", 1))) \
                or not oq[-1].startswith("X-Amz-Signature="):
            diffs.append(f"ivcs query not in canonical order: {oq}")
        return diffs
    for key in ("authorization", "amz_date", "canonical_request", "canonical_query", "wire_path"):
        if ours.get(key) != theirs[key]:
            diffs.append(f"{key}:\n  ivcs     {ours.get(key)!r}\n  botocore {theirs[key]!r}")
    return diffs


def test_signatures_match_botocore(pinned_clock):
    cases = generate(random.Random(SEED))
    assert len(cases) >= 1000
    ours = run_driver(cases)
    failures = []
    for c, o in zip(cases, ours):
        d = compare(c, o, botocore_sign(c))
        if d:
            failures.append((c, d))
    for c, d in failures[:10]:
        print(json.dumps(c, ensure_ascii=False))
        print("\n".join(d))
    counts = {m: sum(1 for c in cases if (c["mode"], c["rules"]) == m)
              for m in {(c["mode"], c["rules"]) for c in cases}}
    print(f"sigv4 oracle: {len(cases)} requests {counts}, {len(failures)} mismatches, seed {SEED}")
    assert not failures, f"{len(failures)} of {len(cases)} requests differ from botocore"
    # The driver keeps one signer: the key cache must have been used, not
    # re-derived for every request.
    assert ours[-1]["key_derivations"] < len(cases)


def test_generator_covers_the_hard_cases():
    """Keeps the generator honest: the inputs really contain what the brief asks."""
    cases = generate(random.Random(SEED))
    paths = "".join(c["path"] for c in cases)
    for ch in RESERVED + " ":
        assert ch in paths, f"no path contains {ch!r}"
    assert any(ord(ch) > 0xFFFF for ch in paths)  # 4-byte UTF-8
    header_cases = [c for c in cases if c["mode"] == "header"]
    assert sum(1 for c in header_cases if c["session_token"]) > 100
    assert sum(1 for c in header_cases if not c["session_token"]) > 100
    assert sum(1 for c in header_cases if c.get("payload_hash") == "UNSIGNED-PAYLOAD") > 100
    assert sum(1 for c in header_cases if c.get("body_hex")) > 100
    assert {c["method"] for c in header_cases} == {"GET", "PUT", "HEAD", "DELETE", "POST"}

    def repeated(pairs, fold):
        names = [fold(n) for n, _ in pairs]
        return len(names) != len(set(names))
    assert sum(1 for c in header_cases if repeated(c["query"], lambda n: n)) > 50
    assert sum(1 for c in header_cases if repeated(c["headers"], str.lower)) > 50
    assert any(v == "" for c in header_cases for _, v in c["query"])
    assert any(v is None for c in header_cases for _, v in c["query"])
    assert any("  " in v or v != v.strip() for c in header_cases for _, v in c["headers"])
    assert any(len(c["secret_key"]) > 60 for c in cases)
