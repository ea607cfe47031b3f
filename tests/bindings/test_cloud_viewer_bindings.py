"""ivcs.viewer against radosgw: a recording made through the bindings is
listed, its events and pictures read, played (playlist URLs fetched over
verified TLS) and exported, and the plan set and read, with the same
results as the ivcs CLI; S3 errors raise S3Error with the S3 code."""
import json
import os
import ssl
import subprocess
import threading
import urllib.request

import pytest

import ivcs
from ivcs import viewer
from ivcs.testing import FakeCamera
from conftest import MEDIA


@pytest.fixture(scope="module")
def recorded(ivcs_cloud):
    """A device with one recording (2 x the clip, one event with its JPEG)."""
    cfg = ivcs_cloud.device()
    ivcs_cloud.put_plan(cfg, "full_time")
    started = threading.Event()
    with ivcs.Engine(cfg) as eng:
        ch = eng.channel(0, on_start=lambda c: started.set(),
                         on_picture=lambda eid: (MEDIA / "snapshot.jpg").read_bytes())
        assert started.wait(30)
        cam = FakeCamera(MEDIA / "clip_h264.h264", MEDIA / "clip_aac.aac", fps=25, speed="max",
                         loops=2, events=[(3, 2, 5)]).run(ch)
    return cfg, cam, eng.final_stats["channels"][0]


def cli(cfg, tmp_path, *args):
    p = cfg.write(tmp_path / "cli.json")
    r = subprocess.run([os.environ["IVCS_BIN"], *args, "--config", str(p)],
                       capture_output=True, text=True, timeout=120)
    return r


def test_ls_matches_the_engine_and_the_cli(ivcs_cloud, recorded, tmp_path):
    cfg, cam, st = recorded
    lst = viewer.ls(cfg)
    assert len(lst.slices) == st["slices_uploaded"] and lst.foreign == 0
    assert lst.bytes == st["bytes_uploaded"]
    assert len(lst.ranges) == 1 and lst.ranges[0].slices == lst.slices
    assert [s.key for s in lst.slices] == ivcs_cloud.keys(cfg, "ch0/rec/")
    r = cli(cfg, tmp_path, "ls", "--json", "--slices")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["days"] == list(lst.days)
    assert [(x["start_ms"], x["end_ms"], x["slices"]) for x in j["ranges"]] == \
        [(x.start_ms, x.end_ms, len(x.slices)) for x in lst.ranges]
    day = lst.days[0]
    assert viewer.ls(cfg, day=day).slices == lst.slices
    assert viewer.ls(cfg, day="2000-01-01").slices == ()
    # a range inside the recording: the slices overlapping it
    mid = lst.slices[len(lst.slices) // 2]
    part = viewer.ls(cfg, from_=mid.start_ms, to=mid.start_ms + 1)
    assert [s.key for s in part.slices] == [mid.key]
    with pytest.raises(ivcs.ConfigError):
        viewer.ls(cfg, day=day, to="now")


def test_events_and_pictures(recorded, tmp_path):
    cfg, _, _ = recorded
    evs = viewer.events(cfg, pictures=tmp_path / "pics")
    assert len(evs) == 1
    e = evs[0]
    assert e.event_id == 3 and e.status == "closed" and not e.picture_refused
    assert e.picture == e.key[:-len(".json")] + ".jpg"
    assert e.picture_path == str(tmp_path / "pics" / f"{e.event_start_ms}_3.jpg")
    assert open(e.picture_path, "rb").read() == (MEDIA / "snapshot.jpg").read_bytes()
    assert not [p for p in os.listdir(tmp_path / "pics") if p.endswith(".part")]
    r = cli(cfg, tmp_path, "events", "--json")
    assert r.returncode == 0, r.stderr
    assert e.key in r.stdout


def test_playlist_urls_are_the_slices(ivcs_cloud, recorded, tmp_path):
    cfg, _, _ = recorded
    lst = viewer.ls(cfg)
    out = tmp_path / "out.m3u8"
    text = viewer.playlist(cfg, out=out, expires=600)
    assert out.read_text() == text and text.startswith("#EXTM3U")
    urls = [ln for ln in text.splitlines() if ln.startswith("https://")]
    assert len(urls) == len(lst.slices)
    ctx = ssl.create_default_context(cafile=cfg.ca_file)
    for u, s in list(zip(urls, lst.slices))[:3]:
        with urllib.request.urlopen(u, context=ctx, timeout=30) as resp:
            body = resp.read()
        assert body == ivcs_cloud.s3.get_object(Bucket=cfg.bucket, Key=s.key)["Body"].read()
    # an event's stream window: the same slices as `ivcs playlist --event`
    # (at --speed max the window is a few ms of wall clock, so it may hold
    # no slice at all: then both say nothing was recorded)
    ev = viewer.events(cfg)[0]
    r = cli(cfg, tmp_path, "playlist", "--event", ev.key)
    try:
        ptext = viewer.playlist(cfg, event=ev.key)
    except ivcs.S3Error as e:
        assert e.code == ivcs.ivcs_core.IVCS_ERR_NOT_FOUND
        assert r.returncode == 1 and "https://" not in r.stdout, r.stdout + r.stderr
    else:
        assert r.returncode == 0, r.stderr
        paths = [ln.split("?")[0] for ln in ptext.splitlines() if ln.startswith("https://")]
        assert paths and paths == [ln.split("?")[0] for ln in r.stdout.splitlines()
                                   if ln.startswith("https://")]
        assert set(paths) <= {u.split("?")[0] for u in urls}


def test_export_is_the_slices_joined(ivcs_cloud, recorded, tmp_path):
    cfg, cam, _ = recorded
    lst = viewer.ls(cfg)
    res = viewer.export(cfg, tmp_path / "all.ts")
    want = b"".join(ivcs_cloud.s3.get_object(Bucket=cfg.bucket, Key=s.key)["Body"].read()
                    for s in lst.slices)
    assert res.slices == len(lst.slices) and res.bytes == len(want)
    assert (tmp_path / "all.ts").read_bytes() == want
    assert os.listdir(tmp_path) == ["all.ts"]
    # nothing in the range: an error, and the file left as it was
    (tmp_path / "keep.ts").write_bytes(b"old")
    with pytest.raises(ivcs.S3Error) as e:
        viewer.export(cfg, tmp_path / "keep.ts", day="2000-01-01")
    assert e.value.code == ivcs.ivcs_core.IVCS_ERR_NOT_FOUND
    assert (tmp_path / "keep.ts").read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["all.ts", "keep.ts"]


def test_plan_set_and_get(ivcs_cloud, tmp_path):
    cfg = ivcs_cloud.device()
    assert viewer.plan_get(cfg) is None
    r = viewer.plan_set(cfg, "event", days=3)
    assert r.retention == "set" and r.plan_key == f"{cfg.device_id}/plan.json"
    p = viewer.plan_get(cfg)
    assert (p.cs_switch, p.cs_type, p.cs_days, p.service, p.retention_days) == \
        (1, "event", 3, "event", 3)
    body = json.loads(ivcs_cloud.s3.get_object(Bucket=cfg.bucket, Key=r.plan_key)["Body"].read())
    assert body["cs_type"] == "event"
    c = cli(cfg, tmp_path, "plan", "get", "--json")
    assert c.returncode == 0, c.stderr
    j = json.loads(c.stdout)
    assert (j["plan"]["cs_type"], j["service"], j["retention_days"]) == \
        (p.cs_type, p.service, p.retention_days)
    assert viewer.plan_set(cfg, "none", days=0).retention == "removed"
    assert viewer.plan_get(cfg).retention_days == 0


def test_presign_gets_the_object_and_refuses_other_keys(ivcs_cloud, recorded):
    cfg, _, _ = recorded
    ctx = ssl.create_default_context(cafile=cfg.ca_file)
    lst = viewer.ls(cfg)
    ev = viewer.events(cfg)[0]
    for key in (lst.slices[0].key, ev.key):
        url = viewer.presign(cfg, key, expires=60)
        with urllib.request.urlopen(url, context=ctx, timeout=30) as resp:
            body = resp.read()
        full = key if key.startswith(cfg.device_id) else f"{cfg.device_id}/{key}"
        assert body == ivcs_cloud.s3.get_object(Bucket=cfg.bucket, Key=full)["Body"].read()
        assert cfg.secret_key not in url
    with viewer.Viewer(cfg) as v:  # keys that are not the device's media
        for bad in ("plan.json", "../other/plan.json", f"{cfg.device_id}/ch0/rec/x.ts"):
            with pytest.raises(ivcs.ConfigError) as e:
                v.presign(bad)
            assert e.value.name == "IVCS_ERR_INVALID_ARG"
        with pytest.raises(ivcs.ConfigError):
            v.presign(lst.slices[0].key, expires=0)


def test_cors_set_merges_and_removes_the_rule(ivcs_cloud):
    cfg = ivcs_cloud.device()
    s3 = ivcs_cloud.s3
    other = {"ID": "someone-else", "AllowedMethods": ["PUT"], "AllowedOrigins": ["https://x.example"]}
    s3.put_bucket_cors(Bucket=cfg.bucket, CORSConfiguration={"CORSRules": [other]})
    try:
        viewer.cors_set(cfg, ["http://127.0.0.1:8080", "https://nvr.local:8443"])
        rules = s3.get_bucket_cors(Bucket=cfg.bucket)["CORSRules"]
        ours = [r for r in rules if r.get("ID", "").startswith("ivcs-web:")]
        assert len(ours) == 1 and sorted(ours[0]["AllowedMethods"]) == ["GET", "HEAD"]
        assert ours[0]["AllowedOrigins"] == ["http://127.0.0.1:8080", "https://nvr.local:8443"]
        assert [r for r in rules if r.get("ID") == "someone-else"]
        with pytest.raises(ivcs.ConfigError) as e:
            viewer.cors_set(cfg, ["not an origin"])
        assert e.value.name == "IVCS_ERR_INVALID_ARG"
        viewer.cors_set(cfg, [])
        rules = s3.get_bucket_cors(Bucket=cfg.bucket)["CORSRules"]
        assert [r.get("ID") for r in rules] == ["someone-else"]
    finally:
        s3.delete_bucket_cors(Bucket=cfg.bucket)


def test_s3_errors_carry_the_s3_code(ivcs_cloud):
    bad = ivcs_cloud.config.replace(secret_key="not-the-secret")
    with pytest.raises(ivcs.S3Error) as e:
        viewer.ls(bad)
    assert e.value.s3_code in ("SignatureDoesNotMatch", "AccessDenied")
    assert e.value.status == 403
    with pytest.raises(ivcs.S3Error) as e:
        viewer.ls(ivcs_cloud.config.replace(bucket="no-such-bucket-ivcs"))
    assert e.value.s3_code == "NoSuchBucket"
