"""The bindings against the real local radosgw (ctest fixture "cloud", found
by the ivcs.testing plugin's ivcs_cloud fixture): real media pushed from
Python lands in the bucket frame for frame (boto3 + ffmpeg/ffprobe), with
callbacks in order, through the native API, the seed API and 4 threads."""
import json
import subprocess
import threading
import time

import pytest

import ivcs
from ivcs import seed
from ivcs.testing import FakeCamera, assert_recorded
from conftest import MEDIA


def ffprobe_frames(cloud, cfg, keys, tmp_path):
    cat = tmp_path / "all.ts"
    with open(cat, "wb") as f:
        for k in keys:
            f.write(cloud.s3.get_object(Bucket=cfg.bucket, Key=k)["Body"].read())
    r = subprocess.run(["ffprobe", "-v", "error", "-count_packets", "-show_entries",
                        "stream=codec_type,nb_read_packets", "-of", "json", str(cat)],
                       capture_output=True, text=True, timeout=120, check=True)
    return {s["codec_type"]: int(s["nb_read_packets"]) for s in json.loads(r.stdout)["streams"]}


def test_engine_records_real_media_with_callbacks_in_order(ivcs_cloud, ivcs_device, tmp_path):
    cfg = ivcs_device
    jpeg = (MEDIA / "snapshot.jpg").read_bytes()
    seen, started = [], threading.Event()

    def on_start(ch):
        seen.append(("start", ch))
        started.set()

    with ivcs.Engine(cfg) as eng:
        ch = eng.channel(0, budget=4 << 20, on_start=on_start,
                         on_stop=lambda c: seen.append(("stop", c)),
                         on_picture=lambda eid: seen.append(("picture", eid)) or jpeg,
                         on_picture_result=lambda err: seen.append(("picture_result", err)),
                         on_notify=lambda n: seen.append(("notify", n)))
        assert started.wait(30), "no stream_start: plan not read"
        cam = FakeCamera(MEDIA / "clip_h264.h264", MEDIA / "clip_aac.aac", fps=25, speed="max",
                         loops=2, events=[(1, 3, 6)]).run(ch)
        assert not cam.refused
    st = eng.final_stats["channels"][0]
    assert st["video_frames_pushed"] == len(cam.pushed_video) == 600
    assert st["audio_frames_pushed"] == len(cam.pushed_audio)
    assert st["frames_uploaded"] == st["video_frames_pushed"] + st["audio_frames_pushed"]
    assert st["frames_dropped"] == st["frames_held"] == 0 and eng.callback_errors == []
    # callbacks: start first; slices notified in time order, each once; the
    # picture asked for before its result; the event record written
    kinds = [s[0] for s in seen]
    assert kinds[0] == "start"
    assert kinds.index("picture") < kinds.index("picture_result")
    assert [s[1] for s in seen if s[0] == "picture_result"] == [0]
    ups = [s[1] for s in seen if s[0] == "notify" and s[1].kind == "slice_uploaded"]
    assert [n.start_ms for n in ups] == sorted(n.start_ms for n in ups)
    assert len({n.key for n in ups}) == len(ups) == st["slices_uploaded"]
    assert sum(n.frames for n in ups) == st["frames_uploaded"]
    written = [s[1].key for s in seen if s[0] == "notify" and s[1].kind == "event_written"]
    assert written and all("/evt/" in k for k in written)
    # the bucket: every frame, in order, byte for byte; ffprobe agrees
    keys = assert_recorded(cfg, cam, s3=ivcs_cloud.s3)
    assert sorted(n.key.rsplit("/", 1)[1] for n in ups) == [k.rsplit("/", 1)[1] for k in keys]
    got = ffprobe_frames(ivcs_cloud, cfg, keys, tmp_path)
    assert got == {"video": 600, "audio": len(cam.pushed_audio)}
    # the event record and its picture
    recs = [k for k in ivcs_cloud.keys(cfg, "ch0/evt/") if k.endswith(".json")]
    assert len(recs) == 1
    rec = json.loads(ivcs_cloud.s3.get_object(Bucket=cfg.bucket, Key=recs[0])["Body"].read())
    assert rec["event_id"] == 1 and rec["status"] == "closed"
    pic = ivcs_cloud.s3.get_object(Bucket=cfg.bucket, Key=rec["picture"])["Body"].read()
    assert pic == jpeg


def test_seed_api_records_real_media(ivcs_cloud, ivcs_device):
    cfg = ivcs_device
    started = threading.Event()
    seed.init(cfg, budget=4 << 20, on_start=started.set)
    try:
        assert started.wait(30)
        assert seed.get_balance_info(timeout_s=5).cs_type == "full_time"
        cam = FakeCamera(MEDIA / "clip_h264.h264", MEDIA / "clip_aac.aac", fps=25,
                         speed="max").run(seed)
        assert not cam.refused
        with pytest.raises(ivcs.StateError):
            seed.init(cfg)  # IV_ERR_CS_INIT_REPEAT
    finally:
        seed.exit()
    ch, eng = seed.stats()
    assert ch["frames_uploaded"] == len(cam.pushed_video) + len(cam.pushed_audio)
    assert ch["frames_held"] == 0 and eng["boot"] != 0
    assert_recorded(cfg, cam, s3=ivcs_cloud.s3)


def test_four_threads_push_four_channels_to_the_bucket(ivcs_cloud, ivcs_device):
    cfg = ivcs_device
    with ivcs.Engine(cfg) as eng:
        chans = [eng.channel(i, budget=4 << 20) for i in range(4)]
        deadline = time.monotonic() + 30
        while not all(c.stats()["streaming"] for c in chans):
            assert time.monotonic() < deadline, "channels not streaming"
            time.sleep(0.05)
        cams = [FakeCamera(MEDIA / "clip_h264.h264", MEDIA / "clip_aac.aac", fps=25,
                           speed="max").start(c) for c in chans]
        for cam in cams:
            cam.join(120)
            assert not cam.refused
    for i, cam in enumerate(cams):
        st = eng.final_stats["channels"][i]
        assert st["frames_uploaded"] == len(cam.pushed_video) + len(cam.pushed_audio)
        assert_recorded(cfg, cam, s3=ivcs_cloud.s3, channel=i)


def test_plan_read_inside_stream_start_is_the_plan_that_started_it(ivcs_cloud, ivcs_device):
    """The cached plan (ivcs_engine_get_balance_info / iv_cs_get_balance_info
    with timeout 0) read inside the stream_start callback is the plan.json
    that started the stream; it said "none" (the cache was updated after the
    callbacks ran)."""
    seen, started = [], threading.Event()

    def on_start(*_):
        seen.append(("native", eng.plan()))
        started.set()

    with ivcs.Engine(ivcs_device) as eng:
        eng.channel(0, on_start=on_start)
        assert started.wait(30)
    started.clear()

    def on_seed_start():
        seen.append(("seed", seed.get_balance_info()))
        started.set()

    seed.init(ivcs_device, on_start=on_seed_start)
    try:
        assert started.wait(30)
    finally:
        seed.exit()
    assert [(k, p.cs_type, p.cs_switch) for k, p in seen] == [("native", "full_time", 1),
                                                              ("seed", "full_time", 1)]
