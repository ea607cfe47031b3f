"""The recording engine end to end against radosgw: `ivcs push` (a sample
firmware over iv_cs_*) records to the cloud; boto3 lists and fetches what
landed; ffmpeg/ffprobe judge it.

Every test uses its own device id, so its plan.json and keys are its own.
"""

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

import ivcs_testlib as tl
from ivcs_testlib import cfg, put_plan, s3  # noqa: F401

MEDIA = Path(os.environ.get("IVCS_MEDIA_DIR", ""))
SLICE_RE = re.compile(
    r"^(?P<dev>[A-Za-z0-9_-]+)/ch0/rec/(?P<day>\d{4}-\d{2}-\d{2})/"
    r"(?P<start>\d{13})_(?P<dur>\d+)_(?P<boot>[0-9a-f]{8})_(?P<seq>\d+)(?P<kp>[kp])\.ts$")


def device_config(tmp_path, cfg, **kw):
    return tl.write_config(tmp_path / "ivcs.json", cfg, **{"device_id": tl.device_id("eng-"), **kw})


def push(cfgfile, *args, timeout=300):
    cmd = [os.environ["IVCS_BIN"], "push", "--config", str(cfgfile), *map(str, args)]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    lines = p.stdout.splitlines()
    res = [l for l in lines if l.startswith("result ")]
    assert res, f"no result line: rc={p.returncode}\n{p.stdout}\n{p.stderr}"
    return p, json.loads(res[-1][len("result "):]), lines


def list_keys(s3, bucket, prefix):
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys += [o["Key"] for o in page.get("Contents", [])]
    return keys


def framemd5(path, sel, bsf=None, fmt=None):
    cmd = ["ffmpeg", "-v", "error"]
    if fmt:
        cmd += ["-f", fmt]
    cmd += ["-i", str(path), "-map", f"0:{sel}", "-c", "copy"]
    if bsf:
        cmd += [f"-bsf:{sel}", bsf]
    cmd += ["-f", "framemd5", "-"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    # stream, dts, pts, duration, size, hash[, side data...]
    return [l.split(",")[5].strip() for l in out.splitlines() if l and not l.startswith("#")]


def fetch_slices(s3, c, tmp_path, boot, gaps=False):
    prefix = f"{c['prefix']}{c['device_id']}/ch0/rec/"
    keys = sorted(list_keys(s3, c["bucket"], prefix))
    parsed = []
    for k in keys:
        m = SLICE_RE.match(k[len(c["prefix"]):])
        assert m, f"key does not follow the layout: {k}"
        assert m["dev"] == c["device_id"]
        parsed.append(m)
    mine = [m for m in parsed if m["boot"] == boot]
    assert mine, f"no slice of boot {boot} in {keys}"
    # per-boot sequence numbers, in time order, without gaps (a slice dropped
    # after an upload attempt leaves its number unused)
    mine.sort(key=lambda m: (int(m["start"]), int(m["seq"])))
    seqs = [int(m["seq"]) for m in mine]
    if gaps:
        assert seqs == sorted(set(seqs))
    else:
        assert seqs == list(range(len(mine)))
    cat = tmp_path / "all.ts"
    with open(cat, "wb") as f:
        for m in mine:
            f.write(s3.get_object(Bucket=c["bucket"],
                                  Key=c["prefix"] + m.group(0))["Body"].read())
    return mine, cat


@pytest.mark.parametrize("codec,video,aud", [("h264", "clip_h264.h264", 9),
                                             ("h265", "clip_h265.h265", 35)])
def test_full_time_60s_every_frame_lands_exactly_once(cfg, s3, tmp_path, codec, video, aud):
    c, cfgfile = device_config(tmp_path, cfg)
    put_plan(s3, c, "full_time")
    loops = 5
    p, res, lines = push(cfgfile, "--video", MEDIA / video, "--audio", MEDIA / "clip_aac.aac",
                         "--fps", 25, "--speed", "max", "--loop", loops)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "cb stream_start" in lines
    assert res["refused"] == 0 and res["slices_dropped"] == 0
    assert res["frames_uploaded"] == res["frames_pushed"]
    slices, cat = fetch_slices(s3, c, tmp_path, res["boot"])
    assert len(slices) == res["slices"]
    assert all(m["kp"] == "k" for m in slices)  # 1 s GOPs never need a mid-GOP cut
    # starts follow each other: each slice starts where the previous ended
    for a, b in zip(slices, slices[1:]):
        assert int(a["start"]) + int(a["dur"]) == int(b["start"])
    # the concatenation decodes silently
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", str(cat), "-f", "null", "-"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    # per-packet payload hashes equal the input, repeated `loops` times (AUDs
    # filtered on both sides: the muxer adds one to H.264 frames without)
    bsf = f"filter_units=remove_types={aud}"
    want_v = framemd5(MEDIA / video, "v", bsf)
    got_v = framemd5(cat, "v", bsf)
    assert len(got_v) == len(want_v) * loops == res["video_frames_pushed"]
    assert got_v == want_v * loops
    want_a = framemd5(MEDIA / "clip_aac.aac", "a")
    got_a = framemd5(cat, "a")
    assert len(got_a) == len(want_a) * loops == res["audio_frames_pushed"]
    assert got_a == want_a * loops


def test_gop_larger_than_quarter_ring_is_cut_mid_gop(cfg, s3, tmp_path):
    """A 256 KiB budget: 128 KiB video ring, the clip's ~180 kB GOPs exceed a
    quarter of it, so slices are cut mid-GOP ('p'); still every frame once."""
    c, cfgfile = device_config(tmp_path, cfg)
    put_plan(s3, c, "full_time")
    p, res, lines = push(cfgfile, "--video", MEDIA / "clip_h264.h264", "--audio",
                         MEDIA / "clip_aac.aac", "--fps", 25, "--speed", "max",
                         "--gop-size", 256 << 10)
    assert p.returncode == 0, p.stdout + p.stderr
    assert res["refused"] == 0 and res["slices_dropped"] == 0
    slices, cat = fetch_slices(s3, c, tmp_path, res["boot"])
    kinds = [m["kp"] for m in slices]
    assert kinds[0] == "k" and "p" in kinds
    for a, b in zip(slices, slices[1:]):
        assert int(a["start"]) + int(a["dur"]) == int(b["start"])
    bsf = "filter_units=remove_types=9"
    assert framemd5(cat, "v", bsf) == framemd5(MEDIA / "clip_h264.h264", "v", bsf)
    assert framemd5(cat, "a") == framemd5(MEDIA / "clip_aac.aac", "a")
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", str(cat), "-f", "null", "-"],
                       capture_output=True, text=True)
    assert r.stderr == "", r.stderr


def test_bframes_are_refused_and_counted_the_rest_uploaded(cfg, s3, tmp_path):
    """Issue 9 item 13 against radosgw: the I/P frames of a B-frame file are
    uploaded, each B-frame is counted as refused with its reason, exit 3."""
    c, cfgfile = device_config(tmp_path, cfg)
    put_plan(s3, c, "full_time")
    p, res, lines = push(cfgfile, "--video", MEDIA / "clip_bframes.h264", "--fps", 25,
                         "--speed", "max")
    types = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
                            "frame=pict_type", "-of", "csv=p=0",
                            str(MEDIA / "clip_bframes.h264")],
                           capture_output=True, text=True, check=True).stdout.split()
    nb = sum(t.strip(",") == "B" for t in types)
    assert nb > 0
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert res["frames_read"] == len(types) and res["refused"] == nb, res
    assert res["refused_by"] == {"IVCS_ERR_B_FRAME": nb}, res
    assert res["frames_pushed"] == len(types) - nb == res["frames_uploaded"], res
    assert res["slices_dropped"] == 0 and res["frames_dropped"] == 0
    assert list_keys(s3, c["bucket"], f"{c['device_id']}/ch0/rec/")


def test_no_plan_refuses_pushes_and_plan_switch_calls_back(cfg, s3, tmp_path):
    c, cfgfile = device_config(tmp_path, cfg, plan_poll_s=1)
    # no plan.json at all: every push is refused with IV_ERR_CS_APPLY_NO_SERVICE
    p, res, lines = push(cfgfile, "--video", MEDIA / "clip_h264.h264", "--fps", 25,
                         "--speed", "max", "--wait-plan", 2)
    assert res["frames_pushed"] == 0 and res["refused"] == 300
    assert any("IV_ERR_CS_APPLY_NO_SERVICE" in l for l in lines)
    # issue 9: said, with the fix, and a non-zero exit (3: frames refused)
    assert p.returncode == 3, (p.returncode, p.stderr)
    assert "no plan: " in p.stderr and "run `ivcs plan set" in p.stderr, p.stderr
    assert res["refused_by"] == {"IV_ERR_CS_APPLY_NO_SERVICE": 300}, res
    assert not any(l.startswith("cb stream_start") for l in lines)
    assert list_keys(s3, c["bucket"], f"{c['device_id']}/ch0/rec/") == []

    # plan switched on while running, then off: start, then stop callback
    import threading
    import time

    def flip():
        time.sleep(3)
        put_plan(s3, c, "full_time")
        time.sleep(6)
        put_plan(s3, c, "none", switch=0)

    t = threading.Thread(target=flip)
    t.start()
    p, res, lines = push(cfgfile, "--video", MEDIA / "clip_h264.h264", "--fps", 25,
                         "--realtime", "--loop", 2, "--wait-plan", 0)
    t.join()
    cbs = [l for l in lines if l.startswith("cb ")]
    assert cbs == ["cb stream_start", "cb stream_stop"], lines
    # pushed only while the plan was on; refused before and after
    assert res["frames_pushed"] > 0 and res["refused"] > 0
    assert res["slices_dropped"] == 0
    assert res["frames_uploaded"] > 0


def _outage_run(tmp_path, budget, loops, stop_at=8, outage=20, gaps=False):
    """A private persistent cloud (own --dir and ports): push in real time,
    stop the server at stop_at s for outage s, restart it on the same ports."""
    import tempfile
    import time

    d = Path(tempfile.mkdtemp(prefix="ivcs-eng-outage-"))
    try:
        r = tl.run_cloud("start", "--dir", d, "--persistent", "--auto-ports")
        assert r.returncode == 0, r.stderr
        pcfg = tl.load_config(d / "ivcs.json")
        ps3 = tl.s3_client(pcfg)
        c, cfgfile = device_config(tmp_path, pcfg)
        put_plan(ps3, c, "full_time")
        cmd = [os.environ["IVCS_BIN"], "push", "--config", str(cfgfile), "--video",
               str(MEDIA / "clip_h264.h264"), "--audio", str(MEDIA / "clip_aac.aac"),
               "--fps", "25", "--realtime", "--loop", str(loops), "--gop-size", str(budget)]
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             stdin=subprocess.DEVNULL)
        time.sleep(stop_at)
        r = tl.run_cloud("stop", "--dir", d)
        assert r.returncode == 0, r.stderr
        time.sleep(outage)
        r = tl.run_cloud("start", "--dir", d, "--persistent")
        assert r.returncode == 0, r.stderr
        out, err = p.communicate(timeout=180)
        lines = out.splitlines()
        res = json.loads([l for l in lines if l.startswith("result ")][-1][7:])
        slices, cat = fetch_slices(ps3, c, tmp_path, res["boot"], gaps)
        return p.returncode, res, slices, cat, out + err
    finally:
        import shutil

        tl.run_cloud("stop", "--dir", d)
        shutil.rmtree(d, ignore_errors=True)


def test_zz_server_down_20s_nothing_lost_within_budget(tmp_path):
    rc, res, slices, cat, out = _outage_run(tmp_path, 16 << 20, 4)
    assert rc == 0, out
    assert res["retries"] > 0  # the outage was felt
    assert res["slices_dropped"] == 0 and res["refused"] == 0
    assert res["frames_uploaded"] == res["frames_pushed"]
    bsf = "filter_units=remove_types=9"
    assert framemd5(cat, "v", bsf) == framemd5(MEDIA / "clip_h264.h264", "v", bsf) * 4
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", str(cat), "-f", "null", "-"],
                       capture_output=True, text=True)
    assert r.stderr == ""


def test_zz_server_down_beyond_budget_drops_whole_slices(tmp_path):
    rc, res, slices, cat, out = _outage_run(tmp_path, 2 << 20, 3, gaps=True)
    assert rc == 1, out  # ivcs push fails when something was dropped
    assert res["slices_dropped"] > 0 and res["frames_dropped"] > 0
    # counted: every frame pushed either landed or was dropped with its slice
    assert res["frames_uploaded"] + res["frames_dropped"] == res["frames_pushed"], res
    # what landed is whole: starts at an I-frame (or continues a landed
    # slice), and the concatenation decodes silently
    prev_end = None
    for m in slices:
        start = int(m["start"])
        assert m["kp"] == "k" or start == prev_end, [s.group(0) for s in slices]
        prev_end = start + int(m["dur"])
    r = subprocess.run(["ffmpeg", "-v", "error", "-i", str(cat), "-f", "null", "-"],
                       capture_output=True, text=True)
    assert r.stderr == "", r.stderr
