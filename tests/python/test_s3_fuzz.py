"""Fuzz-style rounds of a hostile S3 server (s3_fake.py) against the real
`ivcs` binary (issue 9): each round picks a fault at random (endless or
replayed pagination, repeated or missing tokens, resets mid-body,
oversized headers, a lying Content-Length, garbage, an oversized listing)
and a command (`ivcs s3 ls`, `ivcs s3 get -o -|FILE`, `ivcs ls`, `ivcs
export --out FILE`), over TLS or
plain HTTP, and runs it under a time limit and an address-space limit.
Every round must end with a clean exit (0, or 1 with an `ivcs ...`
message; never a signal, a usage error or the time limit), within bounded
time and memory, and a download is never longer than the object nor
anything but a prefix of it (no byte written twice); an output file is
replaced whole or left as it was, with no temporary file left behind.

IVCS_FUZZ_ROUNDS (default 40) and IVCS_FUZZ_SEED (default: random,
printed) reproduce a run."""

import hashlib
import os
import random
import resource
import shutil
import subprocess
import time

import s3_fake as fk

BIN = os.environ.get("IVCS_BIN", "ivcs")
ROUNDS = int(os.environ.get("IVCS_FUZZ_ROUNDS", "40"))
ROUND_S = 60        # wall-clock bound of one ivcs run


def _asan(path):
    """An ASan build reserves terabytes of shadow address space: no RLIMIT_AS
    then, and its RSS carries the shadow and quarantine."""
    p = shutil.which(path) or path
    with open(p, "rb") as f:
        return b"__asan_init" in f.read()


ASAN = _asan(BIN)
AS_LIMIT = None if ASAN else 1 << 30  # RLIMIT_AS of the ivcs process
RSS_MAX_KB = (1024 if ASAN else 256) * 1024

BODY = bytes(random.Random(7).getrandbits(8) for _ in range(100_000))
ETAG = '"' + hashlib.md5(BODY).hexdigest() + '"'


def limit_as():
    if AS_LIMIT:
        resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))


def good_get(req):
    if req.headers.get("if-match", ETAG) != ETAG:
        return fk.error(412, "PreconditionFailed")
    rg = req.headers.get("range")
    if not rg:
        return fk.reply(200, BODY, {"ETag": ETAG})
    a = int(rg.split("=")[1].split("-")[0])
    if a >= len(BODY):
        return fk.error(416, "InvalidRange")
    return fk.reply(206, BODY[a:], {"ETag": ETAG,
                                    "Content-Range": f"bytes {a}-{len(BODY) - 1}/{len(BODY)}"})


def make_handler(fault, rnd):
    n = {"req": 0}

    def listing(req):
        tok = req.query.get("continuation-token", "")
        i = int(tok) if tok.isdigit() else 0
        if fault == "repeat_token":
            return fk.list_page("fake", [f"k{i:06d}"], True, "7")
        if fault == "cycle_tokens":
            return fk.list_page("fake", ["a", "b"], True, "1" if tok != "1" else "2")
        if fault == "empty_token":
            return fk.list_page("fake", [f"k{i:06d}"], True, "")
        if fault == "endless_fresh":
            return fk.list_page("fake", [f"k{i:08d}"], True, str(i + 1))
        if fault == "giant_listing":
            keys = [f"k{j:07d}-" + "x" * 900 for j in range(10_000)]  # ~10 MB
            return fk.list_page("fake", keys)
        return fk.list_page("fake", [f"k{j:04d}" for j in range(rnd.randint(0, 50))])

    def h(req):
        n["req"] += 1
        ok = listing(req) if "list-type" in req.query else good_get(req)
        if fault == "reset_mid_body":
            if rnd.random() < 0.7:
                return [ok[:rnd.randint(0, len(ok) - 1)], 0.05, fk.RESET]
            return ok
        if fault == "oversized_header":
            if rnd.random() < 0.5:
                big = "X-Big: " + "a" * rnd.randint(9_000, 300_000) + "\r\n"
            else:
                big = "".join(f"X-H{j}: {'v' * 90}\r\n" for j in range(rnd.randint(100, 3000)))
            head, sep, body = ok.partition(b"\r\n\r\n")
            return [head + b"\r\n" + big.encode() + b"\r\n" + body, fk.CLOSE]
        if fault == "lying_length":
            head, _, body = ok.partition(b"\r\n\r\n")
            head = b"\r\n".join(ln for ln in head.split(b"\r\n")
                                if not ln.lower().startswith(b"content-length"))
            return [head + b"\r\nContent-Length: 1000000000000\r\n\r\n" +
                    body[:rnd.randint(0, len(body))], fk.CLOSE]
        if fault == "garbage":
            return [bytes(rnd.getrandbits(8) for _ in range(rnd.randint(1, 3000))), fk.CLOSE]
        if fault == "close_at_once":
            return fk.CLOSE
        return ok
    return h


FAULTS = ["repeat_token", "cycle_tokens", "empty_token", "endless_fresh", "giant_listing",
          "reset_mid_body", "oversized_header", "lying_length", "garbage", "close_at_once"]
LIST_ONLY = {"repeat_token", "cycle_tokens", "empty_token", "endless_fresh", "giant_listing"}
COMMANDS = [["s3", "ls"], ["s3", "get", "obj", "-o", "-"], ["ls"],
            ["s3", "get", "obj", "-o", "OUT"], ["export", "--day", "2026-12-01", "--out", "OUT"]]


def test_hostile_server_rounds(tmp_path):
    seed = int(os.environ.get("IVCS_FUZZ_SEED", random.randrange(1 << 30)))
    print(f"IVCS_FUZZ_SEED={seed} IVCS_FUZZ_ROUNDS={ROUNDS}")
    rnd = random.Random(seed)
    worst = 0.0
    for r in range(ROUNDS):
        fault = rnd.choice(FAULTS)
        cmd = rnd.choice([c for c in COMMANDS if fault not in LIST_ONLY or c[1:2] != ["get"]])
        out = tmp_path / "out" / "file.bin"
        out.parent.mkdir(exist_ok=True)
        out.write_bytes(b"old")
        cmd = [str(out) if a == "OUT" else a for a in cmd]
        tls = rnd.random() < 0.7
        what = f"round {r} (seed {seed}): {fault} {' '.join(cmd)} {'tls' if tls else 'http'}"
        with fk.FakeS3(tmp_path, make_handler(fault, random.Random(rnd.random())),
                       tls=tls) as srv:
            cfg = srv.config(tmp_path / "c.json")
            t0 = time.monotonic()
            try:
                p = subprocess.run(["timeout", "-s", "KILL", str(ROUND_S), BIN, *cmd,
                                    "--config", cfg], capture_output=True,
                                   stdin=subprocess.DEVNULL, preexec_fn=limit_as,
                                   timeout=ROUND_S + 30)
            except subprocess.TimeoutExpired:
                raise AssertionError(f"{what}: did not end")
            secs = time.monotonic() - t0
            nreq = srv.count()
        worst = max(worst, secs)
        err = p.stderr.decode(errors="replace")
        assert p.returncode in (0, 1), f"{what}: exit {p.returncode}: {err}"
        assert secs < ROUND_S, f"{what}: {secs:.1f} s"
        assert nreq <= 10_000 * 3, f"{what}: {nreq} requests"
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        assert rss < RSS_MAX_KB, f"{what}: max RSS {rss} kB"
        if p.returncode == 1:
            assert err.startswith("ivcs ") and err.endswith("\n"), f"{what}: {err!r}"
        assert "Sanitizer" not in err and "runtime error" not in err, f"{what}: {err}"
        if fault in LIST_ONLY and fault != "giant_listing":
            assert p.returncode == 1, f"{what}: a hostile listing was accepted"
        if cmd[1:3] == ["get", "obj"] and cmd[-1] == "-":
            # never a byte twice: what reached stdout is the object or a prefix of it
            assert BODY.startswith(p.stdout), f"{what}: output is not a prefix of the object"
            if p.returncode == 0:
                assert p.stdout == BODY, f"{what}: exit 0 with {len(p.stdout)} bytes"
        # an output file is replaced whole or left as it was, and no
        # temporary file is left behind
        assert [x.name for x in out.parent.iterdir()] == ["file.bin"], f"{what}"
        got = out.read_bytes()
        if p.returncode == 1 or cmd[0] == "export":
            assert got == b"old", f"{what}: a failed run changed the output"
        elif cmd[0] == "s3" and str(out) in cmd:
            assert got == BODY, f"{what}: exit 0 with {len(got)} bytes in the file"
    print(f"{ROUNDS} rounds, slowest {worst:.1f} s, children max RSS "
          f"{resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss} kB")
