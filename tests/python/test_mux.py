"""`ivcs mux` against tools nobody here wrote: ffmpeg decodes every slice and
their concatenation, ffprobe counts the frames and hashes every packet, and
both are compared with what ffprobe finds in the raw input files.

Media: $IVCS_MEDIA_DIR (made by scripts/make-media). When a file is missing
there, an equivalent is generated with ffmpeg into a temporary folder (the
commands of scripts/make-media), so the test also runs before that script exists.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess

import pytest

from ivcs_testlib import ivcs  # noqa: F401

FPS = 25
AUD = bytes.fromhex("00000001 09f0")  # the AUD the muxer prepends to H.264 frames without one
NAME_RE = re.compile(r"^(\d{13})_(\d+)_([0-9a-f]{8})_(\d+)([kp])\.ts$")

SRC = "testsrc2=size=640x360:rate=25,noise=alls=6:allf=t"
X264 = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p"]
MEDIA = {
    "clip_h264.h264": ["-f", "lavfi", "-i", SRC, "-t", "12", *X264, "-g", "25",
                       "-keyint_min", "25", "-sc_threshold", "0", "-bf", "0", "-f", "h264"],
    "clip_h264_aud.h264": ["-f", "lavfi", "-i", SRC, "-t", "12", *X264, "-g", "25",
                           "-keyint_min", "25", "-sc_threshold", "0", "-bf", "0",
                           "-x264-params", "aud=1", "-f", "h264"],
    "clip_h265.h265": ["-f", "lavfi", "-i", SRC, "-t", "12", "-c:v", "libx265", "-preset",
                       "veryfast", "-pix_fmt", "yuv420p", "-g", "25", "-bf", "0", "-x265-params",
                       "bframes=0:keyint=25:min-keyint=25:scenecut=0:open-gop=0:"
                       "repeat-headers=1:log-level=error", "-f", "hevc"],
    "clip_aac.aac": ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=12",
                     "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=48000:duration=12",
                     "-filter_complex", "[0:a][1:a]amerge=inputs=2[a]", "-map", "[a]",
                     "-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2", "-f", "adts"],
    "clip_aac_mono16k.aac": ["-f", "lavfi", "-i",
                             "sine=frequency=440:sample_rate=16000:duration=12", "-c:a", "aac",
                             "-b:a", "32k", "-ar", "16000", "-ac", "1", "-f", "adts"],
    "clip_bframes.h264": ["-f", "lavfi", "-i", SRC, "-t", "4", *X264, "-g", "25", "-bf", "3",
                          "-f", "h264"],
    "clip_low.h264": ["-f", "lavfi", "-i",
                      "testsrc2=size=1280x720:rate=15,noise=alls=6:allf=t", "-t", "6", *X264,
                      "-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-bf", "0",
                      "-f", "h264"],
}


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    """name -> path of every clip in MEDIA."""
    src = os.environ.get("IVCS_MEDIA_DIR", "")
    out = {}
    gen = None
    for name, args in MEDIA.items():
        p = os.path.join(src, name) if src else ""
        if p and os.path.isfile(p) and os.path.getsize(p) > 0:
            out[name] = p
            continue
        if gen is None:
            gen = tmp_path_factory.mktemp("media")
        p = str(gen / name)
        r = run(["ffmpeg", "-y", "-v", "error", "-nostdin", *args, p])
        assert r.returncode == 0, r.stderr
        out[name] = p
    return out


def probe_packets(path, stream):
    """[(size, pos, md5, flags)] of the packets ffprobe demuxes for one stream type."""
    r = run(["ffprobe", "-v", "error", "-select_streams", stream, "-show_packets",
             "-show_data_hash", "md5", "-show_entries", "packet=size,pos,flags,data_hash",
             "-of", "json", path])
    assert r.returncode == 0, r.stderr
    pk = []
    for p in json.loads(r.stdout).get("packets", []):
        pos = int(p["pos"]) if p.get("pos", "N/A") != "N/A" else -1
        pk.append((int(p["size"]), pos, p["data_hash"].split(":", 1)[1], p.get("flags", "")))
    return pk


def packet_pts(path):
    """PTS (90 kHz) of every packet of every stream."""
    r = run(["ffprobe", "-v", "error", "-show_entries", "packet=pts", "-of", "json", path])
    assert r.returncode == 0, r.stderr
    return [int(p["pts"]) for p in json.loads(r.stdout)["packets"]]


def sample_rate(path):
    r = run(["ffprobe", "-v", "error", "-select_streams", "a:0", "-show_entries",
             "stream=sample_rate", "-of", "csv=p=0", path])
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip())


def count_frames(path, stream):
    r = run(["ffprobe", "-v", "error", "-count_frames", "-select_streams", stream,
             "-show_entries", "stream=nb_read_frames", "-of", "csv=p=0", path])
    assert r.returncode == 0, r.stderr
    return int(r.stdout.strip().splitlines()[0])


def mux(ivcs, out, *args):
    r = run([ivcs, "mux", *args, "--out", str(out)])
    return r


def slices_of(out):
    names = sorted(os.listdir(out))
    parsed = []
    for n in names:
        m = NAME_RE.match(n)
        assert m, f"bad slice name {n}"
        parsed.append((int(m.group(4)), int(m.group(1)), int(m.group(2)), m.group(3),
                       m.group(5), os.path.join(out, n)))
    parsed.sort()
    assert [p[0] for p in parsed] == list(range(len(parsed))), "seq must count from 0"
    return parsed


def expected_video_hashes(raw, need_aud):
    """md5 of each input frame as it must come out of the TS.

    ffprobe on the raw Annex-B file gives each frame's position and size (its
    own parser splits the access units). For H.264 without AUDs the muxer
    prepends one (00 00 00 01 09 F0), which ffprobe then sees as part of the
    frame, so the expected hash is md5(AUD + frame bytes), taken from the file
    at the position ffprobe reports. The raw hash is checked first so the
    positions are known to be right."""
    data = open(raw, "rb").read()
    hashes = []
    for size, pos, h, _ in probe_packets(raw, "v:0"):
        frame = data[pos:pos + size]
        assert hashlib.md5(frame).hexdigest() == h
        hashes.append(hashlib.md5((AUD if need_aud else b"") + frame).hexdigest())
    return hashes


CASES = [
    # no AUDs in the input: the muxer adds them
    ("clip_h264.h264", "h264", True, "clip_aac.aac"),
    # AUDs present: bytes must pass unchanged
    ("clip_h264_aud.h264", "h264", False, "clip_aac.aac"),
    ("clip_h265.h265", "h265", False, "clip_aac.aac"),
    # another audio rate: 64 ms frames, PTS not on the video's 40 ms grid
    ("clip_h264.h264", "h264", True, "clip_aac_mono16k.aac"),
]


@pytest.mark.parametrize("clip,codec,adds_aud,aac", CASES)
def test_mux_with_audio_is_valid_and_lossless(ivcs, media, tmp_path, clip, codec, adds_aud, aac):
    video, audio = media[clip], media[aac]
    out = tmp_path / "out"
    manifest = tmp_path / "manifest.txt"
    r = mux(ivcs, out, "--video", video, "--audio", audio, "--fps", str(FPS), "--boot", "c0ffee42",
            "--manifest", str(manifest))
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    sl = slices_of(out)
    assert len(sl) >= 2

    # Names: boot as given, start of each = start + duration of the one before,
    # the durations add up to where the longer stream ends.
    n_video = count_frames(video, "v:0")
    n_audio = count_frames(audio, "a:0")
    assert all(s[3] == "c0ffee42" for s in sl)
    assert sl[0][1] == 0
    for a, b in zip(sl, sl[1:]):
        assert b[1] == a[1] + a[2]
    end = max(n_video * 1000 // FPS, n_audio * 1024 * 1000 // sample_rate(audio))
    assert sum(s[2] for s in sl) == end
    # Slices are cut at the first I-frame at or after 4 s (GOP 1 s here).
    assert all(s[2] == 4000 for s in sl[:-1])

    # The summary states what was done.
    m = re.search(r"(\d+) video \+ (\d+) audio frames .* into (\d+) slices, (\d+) bytes", r.stdout)
    assert m, r.stdout
    assert (int(m.group(1)), int(m.group(2)), int(m.group(3))) == (n_video, n_audio, len(sl))
    sizes = [os.path.getsize(s[5]) for s in sl]
    assert sum(sizes) == int(m.group(4))
    assert all(x % 188 == 0 for x in sizes)

    # Every slice decodes alone, starts with a key frame and says so (k), and
    # holds exactly the frames of its name's time range (PTS carry the fixed
    # 700 ms muxing delay, ts_mux.h IVCS_TS_PTS_DELAY).
    for s in sl:
        pts_ms = [(p - 63000) / 90 for p in packet_pts(s[5])]
        assert pts_ms and all(s[1] <= t < s[1] + s[2] for t in pts_ms), s[5]
        d = run(["ffmpeg", "-v", "error", "-nostdin", "-i", s[5], "-f", "null", "-"])
        assert d.returncode == 0 and d.stderr == "", f"{s[5]}: {d.stderr}"
        first = probe_packets(s[5], "v:0")[0]
        assert "K" in first[3]
        assert s[4] == "k"

    # The concatenation is one clean stream with every frame that went in.
    concat = "concat:" + "|".join(s[5] for s in sl)
    d = run(["ffmpeg", "-v", "error", "-nostdin", "-i", concat, "-f", "null", "-"])
    assert d.returncode == 0 and d.stderr == "", d.stderr
    assert count_frames(concat, "v:0") == n_video
    assert count_frames(concat, "a:0") == n_audio

    # Payload checksums, packet by packet, equal the input frames.
    got_v = [p[2] for p in probe_packets(concat, "v:0")]
    got_a = [p[2] for p in probe_packets(concat, "a:0")]
    want_v = expected_video_hashes(video, adds_aud)
    want_a = [p[2] for p in probe_packets(audio, "a:0")]
    if not adds_aud:
        assert want_v == [p[2] for p in probe_packets(video, "v:0")]
    assert len(got_v) == len(want_v) == n_video
    assert got_v == want_v
    assert got_a == want_a

    # The manifest lists what went into each PES. ffmpeg's H.265 parser
    # hands the first zero of a 4-byte start code to the frame before (its
    # packets are shifted by one byte against the access units ivcs splits),
    # so per-frame hashes are compared for H.264 and audio only; for H.265
    # the frame lengths must still cover the file exactly.
    lines = [ln.split() for ln in manifest.read_text().splitlines()]
    vlines = [ln for ln in lines if ln[0] == "video"]
    if codec == "h264":
        assert [ln[3] for ln in vlines] == want_v
    added = len(AUD) * n_video if adds_aud else 0
    assert sum(int(ln[2]) for ln in vlines) == os.path.getsize(video) + added
    assert [ln[3] for ln in lines if ln[0] == "audio"] == want_a
    vms = [int(ln[1]) for ln in lines if ln[0] == "video"]
    assert vms == [i * 1000 // FPS for i in range(n_video)]


def test_video_only_low_fps_cuts_at_first_key_frame_after_target(ivcs, media, tmp_path):
    clip = media["clip_low.h264"]  # 720p15, GOP 30 = an I-frame every 2 s, 6 s
    n = count_frames(clip, "v:0")
    out = tmp_path / "out"
    r = mux(ivcs, out, "--video", clip, "--fps", "15", "--slice-ms", "3000", "--start-ms",
            "1700000000000", "--boot", "1")
    assert r.returncode == 0, r.stderr
    sl = slices_of(out)
    # 3 s target: the first I-frame at or after it is at 4 s (frame 60).
    assert [(s[1], s[2], s[4]) for s in sl] == [
        (1700000000000, 4000, "k"), (1700000000000 + 4000, n * 1000 // 15 - 4000, "k")]
    assert all(s[3] == "00000001" for s in sl)
    concat = "concat:" + "|".join(s[5] for s in sl)
    d = run(["ffmpeg", "-v", "error", "-nostdin", "-i", concat, "-f", "null", "-"])
    assert d.returncode == 0 and d.stderr == "", d.stderr
    assert count_frames(concat, "v:0") == n
    assert [p[2] for p in probe_packets(concat, "v:0")] == expected_video_hashes(clip, True)
    # No PMT entry for audio when there is none.
    r = run(["ffprobe", "-v", "error", "-show_streams", "-of", "json", sl[0][5]])
    assert [st["codec_type"] for st in json.loads(r.stdout)["streams"]] == ["video"]


def test_slice_ms_smaller_than_gop_cuts_at_every_key_frame(ivcs, media, tmp_path):
    out = tmp_path / "out"
    r = mux(ivcs, out, "--video", media["clip_h264.h264"], "--audio", media["clip_aac.aac"],
            "--fps", "25", "--slice-ms", "1")
    assert r.returncode == 0, r.stderr
    sl = slices_of(out)
    assert len(sl) == count_frames(media["clip_h264.h264"], "v:0") // 25
    assert len({s[3] for s in sl}) == 1  # one random boot id
    concat = "concat:" + "|".join(s[5] for s in sl)
    d = run(["ffmpeg", "-v", "error", "-nostdin", "-i", concat, "-f", "null", "-"])
    assert d.returncode == 0 and d.stderr == "", d.stderr


@pytest.fixture
def bad_inputs(media, tmp_path):
    text = tmp_path / "notes.h264"
    text.write_text("this is a text file, not an H.264 stream\n" * 50)
    aac = open(media["clip_aac.aac"], "rb").read()
    trunc = tmp_path / "truncated.aac"
    trunc.write_bytes(aac[:len(aac) - 100])
    garbage = tmp_path / "garbage.aac"
    garbage.write_bytes(aac[:5000] + b"\x00" * 64 + aac[5000:])
    h265_as_264 = tmp_path / "really_h265.h264"
    shutil.copy(media["clip_h265.h265"], h265_as_264)
    return {"text": str(text), "trunc": str(trunc), "garbage": str(garbage),
            "h265_as_264": str(h265_as_264)}


def test_bad_inputs_fail_with_a_clear_message(ivcs, media, bad_inputs, tmp_path):
    v, a = media["clip_h264.h264"], media["clip_aac.aac"]
    cases = [
        # (args, words that must be in the message)
        (["--video", str(tmp_path / "missing.h264")], ["missing.h264", "No such file"]),
        (["--video", bad_inputs["text"]], ["notes.h264", "frame 0", "Annex-B"]),
        (["--video", media["clip_bframes.h264"]], ["clip_bframes.h264", "frame ", "B-"]),
        (["--video", v, "--audio", bad_inputs["trunc"]], ["truncated.aac", "ADTS frame", "trunc"]),
        (["--video", v, "--audio", bad_inputs["garbage"]], ["garbage.aac", "ADTS frame", "ADTS"]),
        (["--video", v, "--audio", bad_inputs["text"]], ["notes.h264", "ADTS frame 0"]),
        (["--video", bad_inputs["h265_as_264"]], ["really_h265.h264", "H.265"]),
        (["--video", media["clip_h264.h264"], "--codec", "h265"], ["clip_h264.h264", "H.264"]),
    ]
    for args, words in cases:
        out = tmp_path / "out"
        r = mux(ivcs, out, *args, "--fps", "25")
        assert r.returncode != 0, args
        for w in words:
            assert w in r.stderr, (args, w, r.stderr)
        assert not out.exists() or os.listdir(out) == [], "nothing is written for bad input"
    # Usage errors exit 2.
    assert mux(ivcs, tmp_path / "o", "--video", v).returncode == 2
    assert mux(ivcs, tmp_path / "o", "--video", v, "--fps", "0").returncode == 2
    assert mux(ivcs, tmp_path / "o", "--video", tmp_path / "x.mkv", "--fps", "25").returncode == 2
