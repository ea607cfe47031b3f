"""The viewer side against the real radosgw: `ivcs ls`, `events`, `playlist`,
`export` and `plan` read what was put in the bucket under the layout of
docs/ARCHITECTURE.md section 5, and the results are judged by independent tools
(boto3 for the bucket, ffprobe/ffmpeg for the media).

The recording is made here, not by the engine: `ivcs mux` cuts the test
clip into real slices (named like the layout) for three boots, uploaded with
boto3 under one device id per module:

    boot A  T0 .. T0+12032        3 slices  (T0 = 2026-11-25T23:59:50Z: the
    boot B  T0+12032 .. T0+24064  3 slices   recording crosses midnight UTC)
    (gap)
    boot C  T0+60000 .. T0+72032  3 slices

plus two event records (one closed with a picture, one open without).
"""

import json
import os
import re
import ssl
import subprocess
import urllib.request
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg, s3  # noqa: F401

BIN = os.environ.get("IVCS_BIN", "ivcs")
MEDIA = Path(os.environ.get("IVCS_MEDIA_DIR", ""))
T0 = int(datetime(2026, 11, 25, 23, 59, 50, tzinfo=timezone.utc).timestamp() * 1000)
BOOTS = [("aaaa0001", T0), ("bbbb0002", T0 + 12032), ("cccc0003", T0 + 60000)]
SLICE_RE = re.compile(r"^(?P<start>\d{13})_(?P<dur>\d+)_(?P<boot>[0-9a-f]{8})_(?P<seq>\d+)"
                      r"(?P<kp>[kp])\.ts$")


def iso(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def day(ms):
    return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d")


def run(*args, timeout=120):
    p = subprocess.run([BIN, *map(str, args)], capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    return p


def write_config(tmp, cfg, **kw):
    return tl.write_config(Path(tmp) / f"cfg-{uuid.uuid4().hex[:8]}.json", cfg, **kw)


def video_frames(path, *extra):
    """Video frames ffprobe decodes from path (a file or a playlist)."""
    p = subprocess.run(["ffprobe", "-v", "error", *extra, "-count_frames", "-select_streams", "v:0",
                        "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", str(path)],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return int(p.stdout.strip().splitlines()[0].strip(","))


@pytest.fixture(scope="module")
def rec(cfg, s3, tmp_path_factory):
    """Uploads the recording and events of a fresh device; returns what was put."""
    tmp = tmp_path_factory.mktemp("viewer")
    dev = "viewer-" + uuid.uuid4().hex[:12]
    c, cfgfile = write_config(tmp, cfg, device_id=dev)
    root = f"{c['prefix']}{dev}/"
    slices = []  # dicts: key, start, dur, boot, seq, file, frames
    for boot, start in BOOTS:
        out = tmp / boot
        out.mkdir()
        p = run("mux", "--video", MEDIA / "clip_h264.h264", "--audio", MEDIA / "clip_aac.aac",
                "--fps", 25, "--out", out, "--start-ms", start, "--boot", boot, "--quiet")
        assert p.returncode == 0, p.stderr
        for f in sorted(out.iterdir()):
            m = SLICE_RE.match(f.name)
            assert m, f.name
            st = int(m["start"])
            key = f"{root}ch0/rec/{day(st)}/{f.name}"
            s3.put_object(Bucket=c["bucket"], Key=key, Body=f.read_bytes())
            slices.append(dict(key=key, start=st, dur=int(m["dur"]), boot=boot, seq=int(m["seq"]),
                               file=f, frames=video_frames(f)))
    slices.sort(key=lambda s: s["start"])
    assert len(slices) == 9 and sum(s["frames"] for s in slices) == 900
    # boot A's last slice ends where boot B starts (the layout's contract)
    assert slices[2]["start"] + slices[2]["dur"] == slices[3]["start"]

    snap = (MEDIA / "snapshot.jpg").read_bytes()
    events = []
    for eid, est, estop, sst, sstop, pic, info in [
            (1, T0 + 2000, T0 + 9000, T0, T0 + 9000, True, "motion \"door\""),
            (2, T0 + 61000, None, T0 + 60000, None, False, "sound")]:
        base = f"{root}ch0/evt/{day(est)}/{est:013d}_{eid}"
        r = {"event_id": eid, "info": info, "channel": 0, "event_start_ms": est,
             "event_stop_ms": estop, "stream_start_ms": sst, "stream_stop_ms": sstop,
             "picture": base + ".jpg" if pic else None,
             "status": "closed" if estop is not None else "open"}
        s3.put_object(Bucket=c["bucket"], Key=base + ".json",
                      Body=json.dumps(r, separators=(",", ":")).encode())
        if pic:
            s3.put_object(Bucket=c["bucket"], Key=base + ".jpg", Body=snap)
        events.append(dict(r, key=base + ".json"))
    # an object under rec/ that is not a slice: ignored, not fatal
    s3.put_object(Bucket=c["bucket"], Key=f"{root}ch0/rec/{day(T0)}/README.txt", Body=b"x")
    return dict(c=c, cfgfile=cfgfile, root=root, slices=slices, events=events, tmp=tmp, snap=snap)


def ls_json(rec, *args):
    p = run("ls", "--config", rec["cfgfile"], "--json", *args)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)


# ---------------------------------------------------------------- ls

def test_ls_days_ranges_and_slices_match_the_bucket(rec):
    sl = rec["slices"]
    j = ls_json(rec, "--slices")
    assert j["device"] == rec["c"]["device_id"] and j["channel"] == 0
    assert j["days"] == ["2026-11-25", "2026-11-26"]
    assert [s["key"] for s in j["slice_list"]] == [s["key"] for s in sl]
    assert [(s["start_ms"], s["dur_ms"], s["boot"], s["seq"]) for s in j["slice_list"]] == \
        [(s["start"], s["dur"], s["boot"], s["seq"]) for s in sl]
    assert [s["size"] for s in j["slice_list"]] == [s["file"].stat().st_size for s in sl]
    # two ranges: A+B back to back (two boots), then C after a 36 s gap
    r = j["ranges"]
    assert [(x["start_ms"], x["end_ms"], x["slices"], x["boots"]) for x in r] == [
        (T0, sl[5]["start"] + sl[5]["dur"], 6, 2),
        (T0 + 60000, sl[8]["start"] + sl[8]["dur"], 3, 1)]
    assert r[0]["start"] == iso(T0)
    assert j["slices"] == 9 and j["bytes"] == sum(s["file"].stat().st_size for s in sl)

    # a larger tolerance merges across the gap
    j = ls_json(rec, "--gap-ms", 40000)
    assert len(j["ranges"]) == 1 and j["ranges"][0]["boots"] == 3

    # one day: the slice that began before midnight and runs into it counts
    j = ls_json(rec, "--day", "2026-11-26", "--slices")
    first = [s for s in sl if s["start"] + s["dur"] > T0 + 10000][0]
    assert first["start"] < T0 + 10000  # began on the 25th
    assert j["slice_list"][0]["key"] == first["key"]
    assert j["ranges"][0]["start_ms"] == first["start"]

    # --from/--to inside slices, in several time notations
    j = ls_json(rec, "--from", iso(T0 + 5000).replace("Z", "+00:00"),
                "--to", str((T0 + 13000) // 1000) + ".000")
    assert [s["start_ms"] for s in ls_json(rec, "--from", str(T0 + 5000), "--to", iso(T0 + 13000),
                                           "--slices")["slice_list"]] == \
        [s["start"] for s in sl[1:4]]
    assert j["slices"] == 3

    # the text form
    p = run("ls", "--config", rec["cfgfile"])
    assert p.returncode == 0, p.stderr
    assert "2026-11-25 2026-11-26" in p.stdout and iso(T0) in p.stdout
    assert "total: 2 ranges, 9 slices" in p.stdout


# ---------------------------------------------------------------- events

def test_events_match_the_records_and_pictures_download(rec, tmp_path):
    p = run("events", "--config", rec["cfgfile"], "--json", "--pictures", tmp_path / "pics")
    assert p.returncode == 0, p.stderr
    got = json.loads(p.stdout)
    want = rec["events"]
    assert [e["key"] for e in got] == [e["key"] for e in want]
    for g, w in zip(got, want):
        for k in ("event_id", "info", "channel", "event_start_ms", "event_stop_ms",
                  "stream_start_ms", "stream_stop_ms", "picture", "status"):
            assert g[k] == w[k], (k, g, w)
        assert g["event_start"] == iso(w["event_start_ms"])
    assert got[0]["picture_listed"] is True and got[1]["picture_listed"] is False
    f = Path(got[0]["picture_file"])
    assert f.parent == tmp_path / "pics" and f.read_bytes() == rec["snap"]
    assert "picture_file" not in got[1]

    # a range after event 1 stopped: only the open event 2
    p = run("events", "--config", rec["cfgfile"], "--json", "--from", iso(T0 + 30000),
            "--to", iso(T0 + 70000))
    assert p.returncode == 0, p.stderr
    assert [e["event_id"] for e in json.loads(p.stdout)] == [2]
    # an open event started before the range still overlaps it
    p = run("events", "--config", rec["cfgfile"], "--json", "--from", iso(T0 + 65000))
    assert [e["event_id"] for e in json.loads(p.stdout)] == [2]

    p = run("events", "--config", rec["cfgfile"])
    assert p.returncode == 0 and "event  1" in p.stdout and "(open)" in p.stdout, p.stdout


def test_events_hostile_picture_key_is_refused_not_fetched(cfg, s3, tmp_path):
    """Issue 9 item 2: a record whose "picture" names a key outside the
    device (or a path) is refused: nothing is fetched, no file it names."""
    dev = "hostile-" + uuid.uuid4().hex[:12]
    c, cfgfile = write_config(tmp_path, cfg, device_id=dev)
    root = f"{c['prefix']}{dev}/"
    secret = b"SECRET of another tenant " + uuid.uuid4().hex.encode()
    other = f"other-tenant-{uuid.uuid4().hex[:8]}/secret/.bashrc"
    s3.put_object(Bucket=c["bucket"], Key=other, Body=secret)
    snap = (MEDIA / "snapshot.jpg").read_bytes()
    pics = {1: other, 2: "../../../../" + str(tmp_path / "escaped.jpg").lstrip("/"),
            3: f"{root}ch0/evt/{day(T0)}/{T0 + 3000:013d}_3.jpg"}  # another event's
    for eid, pic in pics.items():
        est = T0 + eid * 1000
        base = f"{root}ch0/evt/{day(est)}/{est:013d}_{eid}"
        r = {"event_id": eid, "info": "x", "channel": 0, "event_start_ms": est,
             "event_stop_ms": est + 500, "stream_start_ms": est, "stream_stop_ms": est + 500,
             "picture": pic, "status": "closed"}
        s3.put_object(Bucket=c["bucket"], Key=base + ".json",
                      Body=json.dumps(r, separators=(",", ":")).encode())
        s3.put_object(Bucket=c["bucket"], Key=base + ".jpg", Body=snap)
    out = tmp_path / "pics"
    p = run("events", "--config", cfgfile, "--json", "--pictures", out)
    # only the legitimate picture, under the name the viewer made
    assert sorted(f.name for f in out.iterdir()) == [f"{T0 + 3000:013d}_3.jpg"]
    assert (out / f"{T0 + 3000:013d}_3.jpg").read_bytes() == snap
    assert not (tmp_path / "escaped.jpg").exists()
    for f in tmp_path.rglob("*"):
        assert not f.is_file() or secret not in f.read_bytes(), f
    # refused pictures are reported and make the run fail
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    got = json.loads(p.stdout)
    assert [g["event_id"] for g in got] == [1, 2, 3]
    # 1 and 2 name keys outside the layout, 3 names event 3's own picture
    assert [g["picture_refused"] for g in got] == [True, True, False], got
    assert got[0]["picture"] is None and got[1]["picture"] is None
    assert "picture_file" not in got[0] and "picture_file" not in got[1]
    assert p.stderr.count("is not this event's picture key") == 2, p.stderr
    assert other not in p.stderr and other not in p.stdout
    # the text form says the same
    p = run("events", "--config", cfgfile, "--pictures", out)
    assert p.returncode == 1 and other not in p.stdout + p.stderr, p.stdout + p.stderr


# ---------------------------------------------------------------- playlist

def parse_m3u8(text):
    lines = text.splitlines()
    assert lines[:5] == ["#EXTM3U", "#EXT-X-VERSION:3", lines[2], "#EXT-X-MEDIA-SEQUENCE:0",
                         "#EXT-X-PLAYLIST-TYPE:VOD"], lines[:5]
    assert lines[-1] == "#EXT-X-ENDLIST"
    target = int(lines[2].split(":")[1])
    segs, disc = [], []
    pending_disc = False
    for i, l in enumerate(lines):
        if l == "#EXT-X-DISCONTINUITY":
            pending_disc = True
        elif l.startswith("#EXTINF:"):
            url = lines[i + 1]
            assert url.startswith("https://") and "X-Amz-Signature=" in url
            segs.append((float(l[8:].rstrip(",")), url))
            disc.append(pending_disc)
            pending_disc = False
    return target, segs, disc


def ffprobe_hls_frames(m3u8, ca):
    # ffmpeg 5.1's HLS demuxer does not pass -tls_verify/-ca_file on to the
    # segment requests (only to the playlist's own): segment TLS is checked
    # separately (fetch_segments, and the playlist read over HTTPS below).
    return video_frames(m3u8, "-protocol_whitelist", "file,http,https,tcp,tls",
                        "-tls_verify", "1", "-ca_file", ca)


def fetch_segments(segs, ca):
    """Every segment URL fetched with certificate and host name verified
    against the test CA only."""
    ctx = ssl.create_default_context(cafile=ca)
    out = []
    for _, url in segs:
        with urllib.request.urlopen(url, context=ctx, timeout=30) as r:
            out.append(r.read())
    return out


def test_playlist_plays_over_https_with_exact_frames(rec, s3, tmp_path):
    sl = rec["slices"]
    ca = rec["c"]["ca_file"]
    # whole recording: 9 segments, discontinuities at boot B and at the gap
    out = tmp_path / "all.m3u8"
    p = run("playlist", "--config", rec["cfgfile"], "--from", iso(T0), "--to", iso(T0 + 80000),
            "--expires", 600)
    assert p.returncode == 0, p.stderr
    out.write_text(p.stdout)
    target, segs, disc = parse_m3u8(p.stdout)
    assert target == max((s["dur"] + 999) // 1000 for s in sl) == 5
    assert [round(d * 1000) for d, _ in segs] == [s["dur"] for s in sl]
    assert all(f"/{s['key']}?" in u for (_, u), s in zip(segs, sl))
    assert disc == [False, False, False, True, False, False, True, False, False]
    assert "#EXT-X-PROGRAM-DATE-TIME:" + iso(T0) in p.stdout
    assert ffprobe_hls_frames(out, ca) == 900
    assert fetch_segments(segs, ca) == [s["file"].read_bytes() for s in sl]

    # the playlist itself served over HTTPS from radosgw, as an App would get
    # it: ffprobe verifies that connection with the test CA (and refuses it
    # with the system CAs), then plays every segment
    pkey = f"viewer-tests/{uuid.uuid4().hex}.m3u8"
    s3.put_object(Bucket=rec["c"]["bucket"], Key=pkey, Body=p.stdout.encode(),
                  ContentType="application/vnd.apple.mpegurl")
    purl = s3.generate_presigned_url("get_object", ExpiresIn=600,
                                     Params={"Bucket": rec["c"]["bucket"], "Key": pkey})
    assert purl.startswith("https://")
    assert ffprobe_hls_frames(purl, ca) == 900
    bad = subprocess.run(["ffprobe", "-v", "error", "-tls_verify", "1", "-ca_file",
                          tl.SYSTEM_CA_BUNDLE, purl], capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "verif" in bad.stderr, bad.stderr
    s3.delete_object(Bucket=rec["c"]["bucket"], Key=pkey)

    # a range inside slices: the overlapping slices A1, A2, B0, exactly their frames
    out = tmp_path / "part.m3u8"
    p = run("playlist", "--config", rec["cfgfile"], "--from", iso(T0 + 5000), "--to",
            iso(T0 + 13000), "-o", out)
    assert p.returncode == 0, p.stderr
    _, segs, disc = parse_m3u8(out.read_text())
    assert len(segs) == 3 and disc == [False, False, True]
    assert ffprobe_hls_frames(out, ca) == sum(s["frames"] for s in sl[1:4]) == 300

    # an event's stream range: event 1 streamed T0 .. T0+9000 -> A0, A1, A2
    out = tmp_path / "evt.m3u8"
    ek = rec["events"][0]["key"]
    p = run("playlist", "--config", rec["cfgfile"], "--event", ek[len(rec["root"]):], "-o", out)
    assert p.returncode == 0, p.stderr
    _, segs, _ = parse_m3u8(out.read_text())
    assert [u.split("?")[0].endswith(s["key"]) for (_, u), s in zip(segs, sl[:3])] == [True] * 3
    assert len(segs) == 3
    assert ffprobe_hls_frames(out, ca) == 300


# ---------------------------------------------------------------- export

def test_export_inside_slices_decodes_and_holds_the_slices(rec, tmp_path):
    sl = rec["slices"]
    out = tmp_path / "out.ts"
    # starts inside A1, ends inside C0: A1 A2 B0 B1 B2 C0
    p = run("export", "--config", rec["cfgfile"], "--from", iso(T0 + 5000), "--to",
            iso(T0 + 62000), "--out", out)
    assert p.returncode == 0, p.stderr
    want = sl[1:7]
    assert out.read_bytes() == b"".join(s["file"].read_bytes() for s in want)
    d = subprocess.run(["ffmpeg", "-v", "error", "-i", str(out), "-f", "null", "-"],
                       capture_output=True, text=True, timeout=300)
    assert d.returncode == 0 and d.stderr == "", d.stderr
    assert video_frames(out) == sum(s["frames"] for s in want) == 600
    assert not (tmp_path / "out.ts.part").exists()


# ---------------------------------------------------------------- plan

def lifecycle_rules(s3, bucket):
    try:
        return s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    except s3.exceptions.ClientError as e:
        if e.response["Error"]["Code"] == "NoSuchLifecycleConfiguration":
            return []
        raise


def rule_prefix(r):
    return r.get("Filter", {}).get("Prefix", r.get("Prefix"))


def test_plan_set_get_round_trip_and_lifecycle_rules(cfg, s3, tmp_path):
    d1, d2 = ("plan-" + uuid.uuid4().hex[:10] for _ in range(2))
    c1, f1 = write_config(tmp_path, cfg, device_id=d1)
    _, f2 = write_config(tmp_path, cfg, device_id=d2)
    bucket = cfg["bucket"]
    try:
        p = run("plan", "set", "--config", f1, "--type", "full_time", "--days", 7, "--expire",
                "2099-01-01T00:00:00Z")
        assert p.returncode == 0, p.stderr
        body = s3.get_object(Bucket=bucket, Key=f"{cfg['prefix']}{d1}/plan.json")["Body"].read()
        assert json.loads(body) == {"cs_switch": 1, "cs_type": "full_time", "cs_days": 7,
                                    "expire_utc": 4070908800, "free_trial_remaining_sec": 0}
        p = run("plan", "set", "--config", f2, "--type", "free_trial", "--days", 3,
                "--trial-sec", 3600)
        assert p.returncode == 0, p.stderr
        rules = {r["ID"]: r for r in lifecycle_rules(s3, bucket)}
        r1, r2 = rules[f"ivcs:{cfg['prefix']}{d1}/"], rules[f"ivcs:{cfg['prefix']}{d2}/"]
        assert r1["Expiration"]["Days"] == 7 and r1["Status"] == "Enabled"
        assert rule_prefix(r1) == f"{cfg['prefix']}{d1}/ch"
        assert r2["Expiration"]["Days"] == 3  # the first device's rule was kept

        p = run("plan", "get", "--config", f1, "--json")
        assert p.returncode == 0, p.stderr
        j = json.loads(p.stdout)
        assert j["plan"]["cs_type"] == "full_time" and j["service"] == "full_time"
        assert j["retention_days"] == 7
        p = run("plan", "get", "--config", f2, "--json")
        j = json.loads(p.stdout)
        assert j["service"] == "full_time" and 3590 <= j["trial_remaining_sec"] <= 3600
        assert j["retention_days"] == 3

        # changing one device's days touches only its rule; --days 0 removes it
        assert run("plan", "set", "--config", f1, "--type", "event", "--days", 30).returncode == 0
        rules = {r["ID"]: r for r in lifecycle_rules(s3, bucket)}
        assert rules[f"ivcs:{cfg['prefix']}{d1}/"]["Expiration"]["Days"] == 30
        assert rules[f"ivcs:{cfg['prefix']}{d2}/"]["Expiration"]["Days"] == 3
        assert run("plan", "set", "--config", f1, "--type", "none").returncode == 0
        ids = [r["ID"] for r in lifecycle_rules(s3, bucket)]
        assert f"ivcs:{cfg['prefix']}{d1}/" not in ids and f"ivcs:{cfg['prefix']}{d2}/" in ids
        p = run("plan", "get", "--config", f1)
        assert p.returncode == 0 and "service now: none" in p.stdout and "retention: none" in p.stdout
    finally:
        run("plan", "set", "--config", f1, "--type", "none")
        run("plan", "set", "--config", f2, "--type", "none")
    assert not [r for r in lifecycle_rules(s3, bucket) if r["ID"].startswith("ivcs:plan-")]


# ---------------------------------------------------------------- errors

def test_errors_are_clear_and_exit_non_zero(rec, cfg, tmp_path):
    f = rec["cfgfile"]
    # usage: exit 2
    for args, msg in [(("ls", "--config", f, "--from", "yesterday"), "bad --from"),
                      (("ls", "--config", f, "--from", "2026-11-25T10:00:00"), "bad --from"),
                      (("ls", "--config", f, "--day", "2026-02-30"), "bad --day"),
                      (("ls", "--config", f, "--from", iso(T0 + 1000), "--to", iso(T0)),
                       "empty range"),
                      (("playlist", "--config", f, "--day", day(T0), "--from", iso(T0)),
                       "not both"),
                      (("export", "--config", f, "--from", iso(T0), "--to", iso(T0 + 1)),
                       "--out"),
                      (("plan", "set", "--config", f, "--type", "gold"), "bad --type"),
                      (("playlist", "--config", f, "--event", "nonsense"),
                       "not an event record key"),
                      (("ls", "--bogus"), "unknown option")]:
        p = run(*args)
        assert p.returncode == 2 and msg in p.stderr, (args, p.returncode, p.stderr)

    # one range rule for every viewer command: an open bound is the same
    # everywhere (playlist used to require both, ls took one)
    p = run("playlist", "--config", f, "--from", iso(T0 + 60000))
    assert p.returncode == 0 and "3 segments" in p.stderr, p.stderr
    j = ls_json(rec, "--from", iso(T0 + 60000))
    assert j["slices"] == 3, j

    # nothing recorded in a range: exit 1
    p = run("ls", "--config", f, "--day", "2020-01-01")
    assert p.returncode == 1 and "no recordings" in p.stderr, p.stderr
    p = run("export", "--config", f, "--from", "2020-01-01", "--to", "2020-01-02", "--out",
            tmp_path / "x.ts")
    assert p.returncode == 1 and "no recordings" in p.stderr and not (tmp_path / "x.ts").exists()
    p = run("events", "--config", f, "--day", "2020-01-01")
    assert p.returncode == 1 and "no events" in p.stderr, p.stderr
    p = run("playlist", "--config", f, "--event",
            f"ch0/evt/{day(T0)}/{T0:013d}_9.json")
    assert p.returncode == 1 and "no event record" in p.stderr, p.stderr

    # an unknown device
    _, g = write_config(tmp_path, cfg, device_id="nobody-" + uuid.uuid4().hex[:8])
    for cmd in (("ls",), ("events",), ("playlist", "--day", "2026-11-25"),
                ("export", "--day", "2026-11-25", "--out", tmp_path / "y.ts")):
        p = run(cmd[0], "--config", g, *cmd[1:])
        assert p.returncode == 1 and "unknown device" in p.stderr, (cmd, p.stderr)
    p = run("plan", "get", "--config", g)
    assert p.returncode == 1 and "no plan" in p.stderr, p.stderr

    # a missing bucket
    _, g = write_config(tmp_path, cfg, bucket="no-such-bucket-" + uuid.uuid4().hex[:8])
    for cmd in (("ls",), ("events",), ("plan", "get"), ("export", "--day", "2026-11-25",
                                                         "--out", tmp_path / "z.ts")):
        p = run(*cmd, "--config", g)
        assert p.returncode == 1 and "does not exist" in p.stderr and "NoSuchBucket" in p.stderr, \
            (cmd, p.stderr)

    # rejected credentials (a wrong secret, as an expired one would be)
    _, g = write_config(tmp_path, cfg, secret_key="x" * 40)
    p = run("ls", "--config", g)
    assert p.returncode == 1 and "access denied" in p.stderr and "SignatureDoesNotMatch" in \
        p.stderr, p.stderr
    assert cfg["secret_key"] not in p.stderr and "x" * 40 not in p.stderr
    _, g = write_config(tmp_path, cfg, access_key="NOSUCHKEY0000000000")
    p = run("events", "--config", g)
    assert p.returncode == 1 and "access denied" in p.stderr and "InvalidAccessKeyId" in p.stderr

    # an endpoint whose certificate is not trusted
    _, g = write_config(tmp_path, cfg, ca_file=tl.SYSTEM_CA_BUNDLE)
    p = run("ls", "--config", g)
    assert p.returncode == 1 and "not trusted" in p.stderr, p.stderr

    # no config at all
    env = dict(os.environ)
    env.pop("IVCS_CONFIG", None)
    p = subprocess.run([BIN, "ls"], capture_output=True, text=True, env=env, timeout=30)
    assert p.returncode == 2 and "no configuration" in p.stderr
