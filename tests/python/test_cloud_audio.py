"""G.711A / G.711U / PCM audio end to end against radosgw: `ivcs push` (a
sample firmware over iv_cs_*) pushes H.264 with raw audio in 1024-sample
frames; the engine encodes it to AAC; boto3 fetches the slices and
ffmpeg/ffprobe judge them:

- every video frame lands exactly once (per-packet hashes), every pushed
  audio frame becomes one AAC frame (+2 flushing the encoder at exit), the
  whole recording decodes with `ffmpeg -v error` silent, and ffprobe sees
  AAC at the rate and channel count pushed;
- the decoded audio is the pushed audio (as ffmpeg itself decodes the
  G.711 input): correlation > 0.9 once the encoder's 1600-sample delay is
  accounted for;
- lip sync: 1 kHz tone bursts at 2, 6 and 10 s of the audio start within
  15 ms of the video frames at 2, 6 and 10 s, by the TS timestamps.
"""

import array
import json
import math
import os
import subprocess
from pathlib import Path

import pytest

from ivcs_testlib import cfg, put_plan, s3  # noqa: F401
from test_cloud_record import device_config, fetch_slices, framemd5, push

MEDIA = Path(os.environ.get("IVCS_MEDIA_DIR", ""))
DELAY = 1600  # samples: engine/codec/aac_enc.h IVCS_AAC_ENC_DELAY


def decode_s16(path, fmt=None, rate=None, channels=None, extra=()):
    cmd = ["ffmpeg", "-nostdin", "-v", "error"]
    if fmt:
        cmd += ["-f", fmt, "-ar", str(rate), "-ac", str(channels)]
    cmd += ["-i", str(path), "-map", "0:a", *extra, "-f", "s16le", "-"]
    r = subprocess.run(cmd, capture_output=True, check=True)
    a = array.array("h")
    a.frombytes(r.stdout)
    return a


def first_channel(a, channels):
    return a[::channels] if channels > 1 else a


def correlation(x, y, delay):
    n = min(len(x), len(y) - delay)
    sxy = sxx = syy = 0.0
    for i in range(0, n):
        a, b = x[i], y[i + delay]
        sxy += a * b
        sxx += a * a
        syy += b * b
    return sxy / math.sqrt(sxx * syy) if sxx and syy else 0.0


def probe_streams(path):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-count_packets", "-show_entries",
         "stream=codec_type,codec_name,sample_rate,channels,nb_read_packets", "-of", "json",
         str(path)], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["streams"]


def first_pts(path, sel):
    out = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", sel, "-show_entries", "packet=pts_time",
         "-of", "json", str(path)], capture_output=True, text=True, check=True).stdout
    return float(json.loads(out)["packets"][0]["pts_time"])


@pytest.mark.parametrize("clip,fmt,rate,channels", [
    ("clip_alaw.alaw", "alaw", 8000, 1),
    ("clip_ulaw.ulaw", "mulaw", 8000, 1),
    ("clip_pcm16k.s16le", "s16le", 16000, 1),
    ("clip_pcm48k_stereo.s16le", "s16le", 48000, 2),
])
def test_g711_pcm_encoded_to_aac_every_frame(cfg, s3, tmp_path, clip, fmt, rate, channels):
    c, cfgfile = device_config(tmp_path, cfg)
    put_plan(s3, c, "full_time")
    loops = 2
    p, res, lines = push(cfgfile, "--video", MEDIA / "clip_h264.h264", "--audio", MEDIA / clip,
                         "--audio-rate", rate, "--audio-channels", channels, "--fps", 25,
                         "--speed", "max", "--loop", loops)
    assert p.returncode == 0, p.stdout + p.stderr
    assert res["refused"] == 0 and res["slices_dropped"] == 0, res
    frames_in = (MEDIA / clip).stat().st_size // (1024 * channels * (2 if fmt == "s16le" else 1))
    assert res["audio_frames_pushed"] == frames_in * loops
    assert res["audio_frames_encoded"] == res["audio_frames_pushed"] + 2  # exit flush
    # frames_uploaded counts pushed frames; the 2 frames of silence are in no count
    assert res["frames_uploaded"] == res["video_frames_pushed"] + res["audio_frames_pushed"]
    slices, cat = fetch_slices(s3, c, tmp_path, res["boot"])
    r = subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(cat), "-f", "null", "-"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    streams = probe_streams(cat)
    audio = [s for s in streams if s["codec_type"] == "audio"]
    assert len(audio) == 1, streams
    a = audio[0]
    assert (a["codec_name"], int(a["sample_rate"]), a["channels"], int(a["nb_read_packets"])) == \
        ("aac", rate, channels, res["audio_frames_encoded"]), streams
    bsf = "filter_units=remove_types=9"
    want_v = framemd5(MEDIA / "clip_h264.h264", "v", bsf)
    assert framemd5(cat, "v", bsf) == want_v * loops
    # what was heard is what was pushed (channel 0), 1600 samples later
    # (each loop pushes the clip's whole 1024-sample frames only)
    one = first_channel(decode_s16(MEDIA / clip, fmt, rate, channels), channels)
    want = one[:frames_in * 1024] * loops
    got = first_channel(decode_s16(cat), channels)
    assert len(got) == res["audio_frames_encoded"] * 1024
    corr = correlation(want, got, DELAY)
    print(f"{clip}: {res['audio_frames_encoded']} AAC frames, correlation {corr:.4f}")
    assert corr > 0.9, corr


def onsets(samples, rate, threshold):
    """Start times (s) of loud stretches at least 0.5 s apart."""
    out, last = [], -1.0
    for i, v in enumerate(samples):
        if abs(v) > threshold and i / rate - last > 0.5:
            out.append(i / rate)
            last = i / rate
        elif abs(v) > threshold:
            last = i / rate
    return out


def test_lip_sync_tone_bursts_match_video_clock(cfg, s3, tmp_path):
    c, cfgfile = device_config(tmp_path, cfg)
    put_plan(s3, c, "full_time")
    p, res, lines = push(cfgfile, "--video", MEDIA / "clip_h264.h264", "--audio",
                         MEDIA / "clip_burst_alaw.alaw", "--audio-rate", 8000, "--fps", 25,
                         "--speed", "max")
    assert p.returncode == 0, p.stdout + p.stderr
    assert res["refused"] == 0 and res["slices_dropped"] == 0, res
    slices, cat = fetch_slices(s3, c, tmp_path, res["boot"])

    # video frame 0 has PTS 0 ms at push; audio sample 0 too. Decoded audio
    # starts at the first AAC packet's PTS and runs without gaps.
    v0, a0 = first_pts(cat, "v"), first_pts(cat, "a")
    audio = decode_s16(cat)
    ref = decode_s16(MEDIA / "clip_burst_alaw.alaw", "alaw", 8000, 1)
    peak = max(abs(v) for v in ref)
    heard = [a0 + t - v0 for t in onsets(audio, 8000, peak * 0.3)]
    pushed = onsets(ref, 8000, peak * 0.3)
    assert [round(t, 1) for t in pushed] == [2.0, 6.0, 10.0], pushed
    assert len(heard) == 3, heard
    print("bursts pushed at", pushed, "heard at", [round(t, 4) for t in heard])
    for want, got in zip(pushed, heard):
        assert abs(got - want) < 0.015, (pushed, heard)
