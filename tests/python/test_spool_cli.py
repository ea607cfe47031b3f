"""`ivcs spool ls|verify DIR` (issue 12): support staff read a spool without
changing it. Entries are written here by an independent Python encoder of
the format (engine/spool/spool.h), so the test also pins the on-disk format:
header, CRC32C, Content-MD5, exact size."""

import hashlib
import os
import struct
import subprocess

import pytest

from ivcs_testlib import ivcs  # noqa: F401


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def entry(kind, seq, key, body, frames=3, meta=b"", created=1764806400000):
    data = key + meta + body
    h = b"IVCSSPL1" + struct.pack("<IBBBBQqIIQ", 80, 1, 0, kind, 0, seq, created,
                                  len(key), len(meta), len(body))
    h += hashlib.md5(body).digest() + struct.pack("<III", crc32c(data), frames, 0)
    h += struct.pack("<I", crc32c(h))
    assert len(h) == 80
    return h + data


def name(seq, tmp=False):
    return "e%016x.%s" % (seq, "tmp" if tmp else "ivs")


def run(*args):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60)


def snapshot(d):
    return {p: (d / p).read_bytes() for p in sorted(os.listdir(d))}


@pytest.fixture
def spool(tmp_path):
    ts = bytes([0x47, 0x40, 0x00, 0x10]) + bytes(184)
    good1 = entry(1, 1, b"cam/ch0/2026-12-04/a.ts", ts * 50, frames=25)
    good2 = entry(2, 2, b"cam/ch0/events/e.json", b'{"event_id":1}', frames=0)
    good3 = entry(1, 5, b"cam/ch0/2026-12-04/b.ts", ts * 10, frames=12)
    (tmp_path / name(1)).write_bytes(good1)
    (tmp_path / name(2)).write_bytes(good2)
    (tmp_path / name(5)).write_bytes(good3)
    # a flipped byte in the body: only verify sees it
    flipped = bytearray(entry(1, 3, b"cam/ch0/2026-12-04/c.ts", ts * 5))
    flipped[-1] ^= 0x01
    (tmp_path / name(3)).write_bytes(bytes(flipped))
    # torn: ls sees it too
    (tmp_path / name(4)).write_bytes(entry(1, 4, b"k", ts)[:-10])
    (tmp_path / name(6, tmp=True)).write_bytes(b"partial")
    (tmp_path / "plan.cache").write_bytes(entry(4, 0, b'"etag-9"', b'{"cs_switch":1}', frames=0))
    (tmp_path / "unrelated.txt").write_text("not ours")
    return tmp_path


def test_ls_lists_oldest_first_and_changes_nothing(ivcs, spool):
    before = snapshot(spool)
    r = run(ivcs, "spool", "ls", spool)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith("1 slice 2025-12-04T00:00:00.000Z ")
    assert lines[0].endswith(" 25 cam/ch0/2026-12-04/a.ts")
    assert lines[1].startswith("2 event ")
    assert lines[2].startswith("3 slice ")  # the flipped body passes the shallow check
    assert lines[3].startswith("4 bad ")
    assert lines[4].startswith("5 slice ")
    assert lines[5].startswith("6 tmp ")
    assert 'plan.cache: 15 bytes, fetched 2025-12-04T00:00:00.000Z, etag "etag-9"' in r.stdout
    assert lines[-1].startswith("total: 4 entries ok (")
    assert lines[-1].endswith("1 bad, 1 unfinished")
    assert snapshot(spool) == before


def test_verify_finds_flipped_bytes_and_fails(ivcs, spool):
    before = snapshot(spool)
    r = run(ivcs, "spool", "verify", spool)
    assert r.returncode == 1
    assert "3 bad e0000000000000003.ivs (header, size, CRC or MD5)" in r.stdout
    assert "4 bad e0000000000000004.ivs" in r.stdout
    assert r.stdout.splitlines()[-1] == (
        "verify: 3 entries ok (%d bytes, 37 frames, oldest 2025-12-04T00:00:00.000Z), "
        "2 bad, 1 unfinished" % sum(len(before[name(s)]) for s in (1, 2, 5)))
    assert snapshot(spool) == before
    for s in (3, 4):
        os.unlink(spool / name(s))
    os.unlink(spool / name(6, tmp=True))
    r = run(ivcs, "spool", "verify", spool)
    assert r.returncode == 0, r.stdout


def test_usage_errors(ivcs, tmp_path):
    r = run(ivcs, "spool")
    assert r.returncode == 2 and "ls or verify is required" in r.stderr
    r = run(ivcs, "spool", "rm", tmp_path)
    assert r.returncode == 2 and "unknown operation 'rm'" in r.stderr
    r = run(ivcs, "spool", "ls")
    assert r.returncode == 2 and "DIR is required" in r.stderr
    r = run(ivcs, "spool", "ls", tmp_path, "x")
    assert r.returncode == 2 and "unexpected argument 'x'" in r.stderr
    r = run(ivcs, "spool", "ls", "--force", tmp_path)
    assert r.returncode == 2 and "--force" in r.stderr
    r = run(ivcs, "spool", "ls", tmp_path / "missing")
    assert r.returncode == 1 and "No such file or directory" in r.stderr
    r = run(ivcs, "spool", "ls", tmp_path)
    assert r.returncode == 0 and r.stdout.startswith("total: 0 entries ok")


def test_help(ivcs):
    for args in (("spool", "--help"), ("help", "spool"), ("spool", "ls", "-h")):
        r = run(ivcs, *args)
        assert r.returncode == 0 and r.stderr == ""
        assert r.stdout.startswith("usage: ivcs spool ls DIR\n")
        assert all(len(l) < 80 for l in r.stdout.splitlines())
    r = run(ivcs, "--help")
    assert "  spool " in r.stdout
