"""`ivcs push` without a cloud: its command line (usage errors exit 2 before
any file, config or network is touched; file problems exit 1 before the
engine starts) and its audio splitter, seen through `--dry-run`, which
prints the init format and every frame the push loop would push.

The splitter is judged against tools nobody here wrote: ffmpeg decodes each
raw G.711/PCM file and the sample count it finds gives the expected frames
(whole 1024-sample frames, the tail left out with a note); ffprobe's ADTS
packets (position, size) must match the AAC frames exactly.

Media: $IVCS_MEDIA_DIR (scripts/make-media); when a clip is missing there,
scripts/make-media makes the set in a temporary folder.
"""

import json
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from ivcs_testlib import ivcs  # noqa: F401

FPS = 25
FRAME = 1024  # samples per channel in a G.711/PCM frame (the firmware rule)
RATES = (8000, 11025, 12000, 16000, 22050, 24000, 32000, 44100, 48000)
# iv_cm.h enum values, as the dry run's init line prints them
AENC = {"pcm": 0, "alaw": 1, "ulaw": 2, "aac": 4}
FFMPEG_FMT = {"alaw": "alaw", "ulaw": "mulaw", "pcm": "s16le"}
# file -> (format, rate, channels) of the raw clips scripts/make-media makes
RAW_CLIPS = {
    "clip_alaw.alaw": ("alaw", 8000, 1),
    "clip_ulaw.ulaw": ("ulaw", 8000, 1),
    "clip_pcm.s16le": ("pcm", 8000, 1),
    "clip_pcm16k.s16le": ("pcm", 16000, 1),
    "clip_pcm48k_stereo.s16le": ("pcm", 48000, 2),
    "clip_burst_alaw.alaw": ("alaw", 8000, 1),
}
NEEDED = ["clip_h264.h264", "clip_aac.aac", "clip_aac_mono16k.aac", *RAW_CLIPS]
NOWHERE = "/nonexistent/ivcs-push-test"


def run(cmd, **kw):
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120, **kw)


@pytest.fixture(scope="session")
def media(tmp_path_factory):
    d = Path(os.environ.get("IVCS_MEDIA_DIR", "") or NOWHERE)
    if all((d / n).is_file() and (d / n).stat().st_size for n in NEEDED):
        return d
    d = tmp_path_factory.mktemp("media")
    src = Path(os.environ.get("IVCS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
    r = run(["bash", src / "scripts" / "make-media", d])
    assert r.returncode == 0, r.stderr
    return d


def push(ivcs, *args):
    return run([ivcs, "push", *args])


def dry(ivcs, media, audio, *extra, video="clip_h264.h264"):
    """A successful dry run: (init dict, [(kind, seq, pts, len, off)], result, stderr)."""
    p = push(ivcs, "--dry-run", "--video", media / video, "--audio", audio, "--fps", FPS, *extra)
    assert p.returncode == 0, p.stderr
    init, frames, res = None, [], None
    for line in p.stdout.splitlines():
        w = line.split()
        if w[0] == "init":
            init = dict(kv.split("=", 1) for kv in w[1:])
        elif w[0] == "frame":
            frames.append((w[1], int(w[2]), int(w[3]), int(w[4]), int(w[5])))
        elif w[0] == "result":
            res = json.loads(line[len("result "):])
    assert init and res, p.stdout[-2000:]
    return init, frames, res, p.stderr


def decoded_samples(path, fmt, rate, ch):
    """Samples per channel ffmpeg decodes from a raw file."""
    r = subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-f", FFMPEG_FMT[fmt],
                        "-sample_rate", str(rate), "-channels", str(ch), "-i", str(path),
                        "-f", "s16le", "-c:a", "pcm_s16le", "-"], capture_output=True)
    assert r.returncode == 0, r.stderr
    return len(r.stdout) // (2 * ch)


def probe(path, fmt, rate, ch):
    """(codec, sample_rate, channels) as ffprobe reads a raw file."""
    r = run(["ffprobe", "-v", "error", "-f", FFMPEG_FMT[fmt], "-sample_rate", rate,
             "-channels", ch, "-i", path, "-show_entries",
             "stream=codec_name,sample_rate,channels", "-of", "json"])
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)["streams"][0]
    return s["codec_name"], int(s["sample_rate"]), int(s["channels"])


def check_raw_split(ivcs, media, path, fmt, rate, ch, *extra, loops=1):
    """Runs a dry run of a raw file and checks every audio frame against
    ffmpeg's sample count; returns the stderr."""
    args = [*extra, "--loop", loops]
    init, frames, res, err = dry(ivcs, media, path, *args)
    samples = decoded_samples(path, fmt, rate, ch)
    n, tail = samples // FRAME, samples % FRAME
    fbytes = FRAME * ch * (2 if fmt == "pcm" else 1)
    assert init["audio"] == str(AENC[fmt]) and init["rate"] == str(rate)
    assert init["mode"] == str(ch - 1) and init["samples"] == str(FRAME)
    assert init["bitwidth"] == "1"  # IV_CM_AENC_BIT_WIDTH_16
    aud = [f for f in frames if f[0] == "a"]
    assert len(aud) == n * loops and res["audio_frames"] == n * loops
    per_loop = len(frames) // loops
    clip_ms = res["clip_ms"]
    for k in range(loops):
        a = [f for f in frames[k * per_loop:(k + 1) * per_loop] if f[0] == "a"]
        assert [f[4] for f in a] == [i * fbytes for i in range(n)]  # contiguous, in order
        assert all(f[3] == fbytes for f in a)
        assert [f[2] for f in a] == [k * clip_ms + i * FRAME * 1000 // rate for i in range(n)]
    pts = [f[2] for f in frames]
    assert pts == sorted(pts), "frames must be pushed in time order"
    notes = [l for l in err.splitlines() if "note:" in l]
    if tail or os.path.getsize(path) % fbytes:
        assert len(notes) == 1, err
        assert f"the last {tail} samples per channel" in notes[0], notes
        assert f"({os.path.getsize(path) - n * fbytes} bytes" in notes[0], notes
    else:
        assert not notes, err
    return err


# ---------------------------------------------------------------- media


@pytest.mark.parametrize("name", sorted(RAW_CLIPS))
def test_media_raw_clips_are_what_they_claim(media, name):
    fmt, rate, ch = RAW_CLIPS[name]
    codec = {"alaw": "pcm_alaw", "ulaw": "pcm_mulaw", "pcm": "pcm_s16le"}[fmt]
    assert probe(media / name, fmt, rate, ch) == (codec, rate, ch)
    assert decoded_samples(media / name, fmt, rate, ch) == 12 * rate


# ---------------------------------------------------------------- usage errors


# Each fails with exit 2 before any file is opened: the config, video and
# (mostly) audio paths do not exist, so an exit 1 would mean it read them.
USAGE = [
    (["--audio", "a.alaw", "--audio-rate", "9000"], "--audio-rate 9000"),
    (["--audio", "a.alaw", "--audio-rate", "96000"], "--audio-rate 96000"),
    (["--audio", "a.alaw", "--audio-rate", "8000x"], "--audio-rate 8000x"),
    (["--audio", "a.alaw", "--audio-rate", "-8000"], "--audio-rate -8000"),
    (["--audio", "a.alaw", "--audio-rate", ""], "--audio-rate"),
    (["--audio", "a.s16le", "--audio-channels", "3"], "--audio-channels 3"),
    (["--audio", "a.s16le", "--audio-channels", "0"], "--audio-channels 0"),
    (["--audio", "a.s16le", "--audio-channels", "two"], "--audio-channels two"),
    (["--audio", "a.wav"], "--audio-format"),
    (["--audio", "audio"], "--audio-format"),
    (["--audio", "dir.alaw/audio"], "--audio-format"),
    (["--audio", "a.alaw", "--audio-format", "flac"], "--audio-format flac"),
    (["--audio", "a.alaw", "--audio-format", "ALAW"], "--audio-format ALAW"),
    (["--audio", "a.aac", "--audio-rate", "48000"], "ADTS AAC"),
    (["--audio", "a.adts", "--audio-channels", "2"], "ADTS AAC"),
    (["--audio", "a.alaw", "--audio-format", "aac", "--audio-channels", "1"], "ADTS AAC"),
    (["--audio-rate", "8000"], "--audio-rate needs --audio"),
    (["--audio-channels", "1"], "--audio-channels needs --audio"),
    (["--audio-format", "alaw"], "--audio-format needs --audio"),
    (["--audio", "a.alaw", "--audio-rate"], "--audio-rate needs a value"),
    # issue 9: every usage error names the bad or missing option
    (["--fps", "abc"], "bad --fps 'abc'"),
    (["--fps", "0"], "bad --fps '0'"),
    (["--loop", "x"], "bad --loop 'x'"),
    (["--loop", "0"], "bad --loop '0'"),
    (["--speed", "fast"], "bad --speed 'fast'"),
    (["--channels", "0"], "bad --channels '0'"),
    (["--channels", "257"], "bad --channels '257'"),
    (["--gop-size", "big"], "bad --gop-size 'big'"),
    (["--wait-plan", "soon"], "bad --wait-plan 'soon'"),
    (["--prerecord", "-1"], "bad --prerecord '-1'"),
    (["--event", "1:2"], "bad --event '1:2'"),
    (["--event", "17:0:1"], "bad --event '17:0:1'"),
    (["--event", "1:5:2"], "bad --event '1:5:2'"),
    (["--codec", "vp9"], "bad --codec 'vp9'"),
    (["--bogus"], "unknown option '--bogus'"),
    (["stray"], "unexpected argument 'stray'"),
    (["--loop"], "--loop needs a value"),
]


@pytest.mark.parametrize("args,msg", USAGE, ids=[" ".join(a) for a, _ in USAGE])
@pytest.mark.parametrize("mode", ["push", "dry-run"])
def test_usage_errors_exit_2(ivcs, args, msg, mode):
    head = ["--config", f"{NOWHERE}/ivcs.json"] if mode == "push" else ["--dry-run"]
    args = [a if not a.startswith(("a.", "audio", "dir.")) else f"{NOWHERE}/{a}" for a in args]
    p = push(ivcs, *head, "--video", f"{NOWHERE}/v.h264", "--fps", FPS, *args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert msg in p.stderr, p.stderr
    assert p.stdout == "", p.stdout


def test_dry_run_without_video_or_fps_is_usage(ivcs):
    p = push(ivcs, "--dry-run", "--audio", f"{NOWHERE}/a.alaw")
    assert p.returncode == 2 and "--video FILE is required" in p.stderr, p.stderr
    p = push(ivcs, "--dry-run", "--video", f"{NOWHERE}/v.h264")
    assert p.returncode == 2 and "--fps N is required" in p.stderr, p.stderr
    p = push(ivcs, "--video", f"{NOWHERE}/v.h264", "--fps", FPS)
    assert p.returncode == 2 and "--config FILE is required" in p.stderr, p.stderr


def test_help_lists_audio_options(ivcs):
    p = push(ivcs, "--help")
    assert p.returncode == 0
    for opt in ("--audio-format aac|alaw|ulaw|pcm", "--audio-rate", "--audio-channels 1|2",
                "--dry-run", "1024 samples per channel"):
        assert opt in p.stdout, opt


# ---------------------------------------------------------------- file problems


@pytest.fixture
def dead_config(tmp_path):
    """A valid config whose endpoint is a closed loopback port: iv_cs_init
    works, nothing is ever recorded."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cfg = {"endpoint": f"http://127.0.0.1:{port}", "region": "us-east-1", "bucket": "ivcs",
           "prefix": "", "device_id": "push-cli-test", "access_key": "ak", "secret_key": "sk",
           "session_token": None, "ca_file": "", "verify_tls": False, "plan_poll_s": 60,
           "slice_ms": 4000}
    p = tmp_path / "ivcs.json"
    p.write_text(json.dumps(cfg))
    return p


# name, content (None: no such file), what stderr must say, extra options
FILE_PROBLEMS = [
    ("empty.alaw", b"", "file is empty", []),
    ("short.alaw", b"\xd5" * (FRAME - 1), "1023 bytes is shorter than one alaw frame", []),
    ("short.ulaw", b"\xff" * 10, "10 bytes is shorter than one ulaw frame", []),
    ("short.s16le", b"\0" * (2 * FRAME - 1), "2047 bytes is shorter than one pcm frame", []),
    # stereo PCM: one frame is 4096 bytes
    ("short_st.pcm", b"\0" * 4095, "4095 bytes is shorter than one pcm frame",
     ["--audio-channels", "2"]),
    ("missing.alaw", None, "cannot open", []),
]


@pytest.mark.parametrize("mode", ["push", "dry-run"])
def test_file_problems_exit_1_before_the_engine(ivcs, media, tmp_path, dead_config, mode):
    head = ["--config", dead_config] if mode == "push" else ["--dry-run"]
    for name, data, msg, extra in FILE_PROBLEMS:
        f = tmp_path / name
        if data is not None:
            f.write_bytes(data)
        p = push(ivcs, *head, "--video", media / "clip_h264.h264", "--fps", FPS, "--audio", f,
                 *extra)
        assert p.returncode == 1, (name, p.returncode, p.stderr)
        assert f"ivcs push: {f}: " in p.stderr and msg in p.stderr, (name, p.stderr)
        # nothing started: no callbacks, no plan wait, no result
        assert p.stdout == "", (name, p.stdout)


# ---------------------------------------------------------------- the splitter


@pytest.mark.parametrize("name", sorted(RAW_CLIPS))
def test_raw_clip_split(ivcs, media, name):
    fmt, rate, ch = RAW_CLIPS[name]
    extra = [] if (rate, ch) == (8000, 1) else ["--audio-rate", rate, "--audio-channels", ch]
    check_raw_split(ivcs, media, media / name, fmt, rate, ch, *extra)


def test_raw_split_continues_across_loops(ivcs, media):
    check_raw_split(ivcs, media, media / "clip_pcm48k_stereo.s16le", "pcm", 48000, 2,
                    "--audio-rate", "48000", "--audio-channels", "2", loops=3)


@pytest.mark.parametrize("rate", RATES)
def test_every_rate_sets_pts_and_init(ivcs, media, tmp_path, rate):
    # 3.5 frames of mono PCM: 3 frames pushed, 512 samples left out
    f = tmp_path / "tone.pcm"
    f.write_bytes(os.urandom(2 * (3 * FRAME + FRAME // 2)))
    err = check_raw_split(ivcs, media, f, "pcm", rate, 1, "--audio-rate", rate)
    assert "the last 512 samples per channel (1024 bytes)" in err


def test_partial_sample_at_the_end(ivcs, media, tmp_path):
    f = tmp_path / "odd.s16le"
    f.write_bytes(b"\1\0" * (2 * 2 * FRAME) + b"\1\0\1\0\1")  # 2 stereo frames + 5 bytes
    init, frames, res, err = dry(ivcs, media, f, "--audio-channels", "2")
    assert [fr[3:] for fr in frames if fr[0] == "a"] == [(4096, 0), (4096, 4096)]
    assert "the last 1 samples per channel (5 bytes, ending in a partial sample)" in err


@pytest.mark.parametrize("ext,fmt", [("alaw", "alaw"), ("ALAW", "alaw"), ("ulaw", "ulaw"),
                                     ("mulaw", "ulaw"), ("MuLaw", "ulaw"), ("s16le", "pcm"),
                                     ("pcm", "pcm")])
def test_format_from_extension(ivcs, media, tmp_path, ext, fmt):
    f = tmp_path / f"a.b.{ext}"
    shutil.copyfile(media / "clip_alaw.alaw", f)
    init, _, res, _ = dry(ivcs, media, f)
    assert init["audio"] == str(AENC[fmt]) and res["audio_format"] == fmt


def test_audio_format_overrides_extension(ivcs, media, tmp_path):
    f = tmp_path / "capture.wav"  # raw mu-law despite the name
    shutil.copyfile(media / "clip_ulaw.ulaw", f)
    check_raw_split(ivcs, media, f, "ulaw", 8000, 1, "--audio-format", "ulaw")
    init, _, _, _ = dry(ivcs, media, media / "clip_alaw.alaw", "--audio-format", "pcm")
    assert init["audio"] == str(AENC["pcm"])


def adts_packets(path):
    r = run(["ffprobe", "-v", "error", "-f", "aac", "-show_entries", "packet=pos,size",
             "-show_entries", "stream=sample_rate,channels", "-of", "json", path])
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    s = j["streams"][0]
    return int(s["sample_rate"]), int(s["channels"]), [(int(p["size"]), int(p["pos"]))
                                                        for p in j["packets"]]


@pytest.mark.parametrize("name,ext", [("clip_aac.aac", "aac"), ("clip_aac_mono16k.aac", "adts"),
                                      ("clip_aac.aac", "format")])
def test_aac_split_unchanged(ivcs, media, tmp_path, name, ext):
    """ADTS: every frame at ffprobe's position and size, PTS k*1024*1000/rate."""
    rate, ch, pk = adts_packets(media / name)
    f = tmp_path / (f"a.{ext}" if ext != "format" else "a.bin")
    shutil.copyfile(media / name, f)
    extra = ["--audio-format", "aac"] if ext == "format" else []
    init, frames, res, err = dry(ivcs, media, f, *extra)
    assert init["audio"] == str(AENC["aac"]) and init["rate"] == str(rate)
    assert init["mode"] == str(ch - 1)
    a = [fr for fr in frames if fr[0] == "a"]
    assert [(fr[3], fr[4]) for fr in a] == pk
    assert [fr[2] for fr in a] == [k * FRAME * 1000 // rate for k in range(len(pk))]
    assert "note:" not in err


def test_video_only_dry_run(ivcs, media):
    p = push(ivcs, "--dry-run", "--video", media / "clip_h264.h264", "--fps", FPS)
    assert p.returncode == 0, p.stderr
    res = json.loads(p.stdout.splitlines()[-1][len("result "):])
    assert res["audio_frames"] == 0 and res["audio_format"] == "none"
    assert res["video_frames"] == 12 * FPS and res["clip_ms"] == 12000


# ---------------------------------------------------------------- the summary


# audio file -> (extra options, audio frames per clip); None: video only
INIT_CASES = {
    None: ([], 0),
    "clip_aac.aac": ([], None),  # ffprobe counts the ADTS frames
    "clip_alaw.alaw": ([], 96000 // FRAME),
    "clip_ulaw.ulaw": ([], 96000 // FRAME),
    "clip_pcm16k.s16le": (["--audio-rate", "16000"], 192000 // FRAME),
    "clip_pcm48k_stereo.s16le": (["--audio-rate", "48000", "--audio-channels", "2"],
                                 576000 // FRAME),
}


@pytest.mark.parametrize("channels", [1, 2])
@pytest.mark.parametrize("audio", list(INIT_CASES), ids=[str(a) for a in INIT_CASES])
def test_engine_takes_the_init_format(ivcs, media, dead_config, audio, channels):
    """A real run against a closed port: iv_cs_init (or ivcs_channel_open)
    accepts the format push declares for each kind of audio, video only
    included; with no plan every push is refused (nothing is recorded; the
    cloud tests check the counts). The summary carries audio_frames_encoded,
    summed over channels like the rest."""
    extra, na = INIT_CASES[audio]
    if audio:
        extra = ["--audio", media / audio, *extra]
        if audio.endswith(".aac"):
            na = len(adts_packets(media / audio)[2])
    p = push(ivcs, "--config", dead_config, "--video", media / "clip_h264.h264", "--fps", FPS,
             "--speed", "max", "--wait-plan", "0", "--channels", channels, *extra)
    assert "out of range" not in p.stderr, p.stderr
    res = [l for l in p.stdout.splitlines() if l.startswith("result ")]
    # the endpoint is unreachable: said, nothing pushed, exit 1
    assert p.returncode == 1 and res, (p.returncode, p.stdout, p.stderr)
    assert "cannot reach" in p.stderr and "Connection refused" in p.stderr, p.stderr
    j = json.loads(res[-1][len("result "):])
    assert isinstance(j["audio_frames_encoded"], int) and j["audio_frames_encoded"] >= 0
    assert j["channels"] == channels
    assert j["frames_pushed"] + j["refused"] == (12 * FPS + na) * channels


@pytest.mark.parametrize("channels", [1, 2])
def test_summary_has_audio_frames_encoded(ivcs, media, dead_config, channels):
    """A real run against a closed port: no plan, so every push is refused
    (nothing is recorded; the cloud tests check the counts). The summary
    still carries audio_frames_encoded, summed over channels like the rest."""
    p = push(ivcs, "--config", dead_config, "--video", media / "clip_h264.h264", "--fps", FPS,
             "--audio", media / "clip_alaw.alaw", "--speed", "max", "--wait-plan", "0",
             "--channels", channels)
    res = [l for l in p.stdout.splitlines() if l.startswith("result ")]
    assert res, (p.returncode, p.stdout, p.stderr)
    j = json.loads(res[-1][len("result "):])
    assert isinstance(j["audio_frames_encoded"], int) and j["audio_frames_encoded"] >= 0
    assert j["channels"] == channels
    # 300 video + 93 audio frames per channel, each pushed or refused
    assert j["frames_pushed"] + j["refused"] == (12 * FPS + 96000 // FRAME) * channels
    assert re.search(r"note: the last 768 samples per channel", p.stderr), p.stderr


# ---------------------------------------------------------------- issue 9: nothing silent


def ffprobe_pict_types(path):
    r = run(["ffprobe", "-v", "error", "-select_streams", "v", "-show_entries",
             "frame=pict_type", "-of", "csv=p=0", path])
    assert r.returncode == 0, r.stderr
    return [t.strip(",") for t in r.stdout.split()]


def result_of(p):
    res = [l for l in p.stdout.splitlines() if l.startswith("result ")]
    assert res, (p.returncode, p.stdout, p.stderr)
    return json.loads(res[-1][len("result "):])


def test_bframes_are_counted_as_refused_not_skipped(ivcs, media, dead_config):
    """Issue 9 item 13: a B-frame file pushed 36 of 100 frames with
    'refused: 0' and exit 0. Every frame read is pushed or refused with
    its reason (ffprobe counts the frames independently), exit non-zero."""
    f = media / "clip_bframes.h264"
    types = ffprobe_pict_types(f)
    nb = types.count("B")
    assert nb > 0 and len(types) > nb
    p = push(ivcs, "--dry-run", "--video", f, "--fps", FPS, "--loop", 2)
    assert p.returncode == 3, (p.returncode, p.stderr)
    j = result_of(p)
    assert j["video_frames"] == 2 * (len(types) - nb) and j["refused"] == 2 * nb, j
    assert f"{nb} of {len(types)} video frames cannot be pushed" in p.stderr, p.stderr
    # a real run (unreachable endpoint): the reasons add up to every frame
    p = push(ivcs, "--config", dead_config, "--video", f, "--fps", FPS, "--speed", "max",
             "--wait-plan", 0, "--channels", 2)
    j = result_of(p)
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert j["frames_read"] == 2 * len(types), j
    assert j["frames_pushed"] + j["refused"] == j["frames_read"], j
    assert j["refused_by"]["IVCS_ERR_B_FRAME"] == 2 * nb, j
    assert sum(j["refused_by"].values()) == j["refused"], j
    assert "IVCS_ERR_B_FRAME" in p.stderr and "frames not pushed" in p.stderr, p.stderr


def test_unreachable_endpoint_says_why_within_the_wait(ivcs, media, dead_config):
    """Issue 9: against an unreachable endpoint push waited 20 s, said
    nothing and exited 0. Now: the documented wait, the reason, exit 1."""
    import time
    t0 = time.monotonic()
    p = push(ivcs, "--config", dead_config, "--video", media / "clip_h264.h264", "--fps", FPS,
             "--wait-plan", 1)
    dt = time.monotonic() - t0
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert "cannot reach http://127.0.0.1:" in p.stderr and "Connection refused" in p.stderr, \
        p.stderr
    j = result_of(p)
    assert j["frames_pushed"] == 0 and j["refused"] == j["frames_read"] == 12 * FPS, j
    assert j["refused_by"] == {"IVCS_ERR_CONNECT": 12 * FPS}, j
    # --wait-plan 1, then one bounded plan read (help: at most 15 s)
    assert dt < 1 + 15, dt


def test_help_explains_every_push_option_and_exit_codes(ivcs):
    p = push(ivcs, "--help")
    assert p.returncode == 0
    for opt in ("--event ID:START_S:STOP_S", "--prerecord S", "--channels N",
                "--gop-size BYTES", "--wait-plan S", "--loop K", "--picture F.jpg",
                "--realtime", "--speed max", "--codec"):
        # named in the synopsis and explained in a sentence of its own
        assert p.stdout.count(opt.split()[0]) >= 2, opt
    assert "exit: 0" in p.stdout and "3 frames refused" in p.stdout
    assert max(len(l) for l in p.stdout.splitlines()) <= 80


@pytest.fixture
def silent_server():
    """A TCP server that accepts and never answers: (host, port)."""
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(16)
    held, stop = [], threading.Event()

    def loop():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(srv.accept()[0])
            except OSError:
                pass
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield srv.getsockname()
    stop.set()
    t.join()
    for c in held:
        c.close()
    srv.close()


def test_silent_endpoint_is_reported_within_the_documented_bound(ivcs, media, tmp_path,
                                                                 silent_server):
    """An endpoint that accepts and never answers: after --wait-plan the
    plan read gives up within the documented bound (help: at most 15 s) and
    says why; nothing is pushed, exit 1."""
    import time
    host, port = silent_server
    cfg = {"endpoint": f"http://{host}:{port}", "region": "us-east-1", "bucket": "ivcs",
           "prefix": "", "device_id": "push-cli-silent", "access_key": "ak", "secret_key": "sk",
           "ca_file": "", "verify_tls": False}
    f = tmp_path / "silent.json"
    f.write_text(json.dumps(cfg))
    t0 = time.monotonic()
    p = push(ivcs, "--config", f, "--video", media / "clip_h264.h264", "--fps", FPS,
             "--wait-plan", 0, "--speed", "max")
    dt = time.monotonic() - t0
    assert p.returncode == 1, (p.returncode, p.stderr)
    assert f"cannot reach http://{host}:{port}" in p.stderr, p.stderr
    j = result_of(p)
    assert j["frames_pushed"] == 0 and j["refused"] == j["frames_read"] == 12 * FPS, j
    assert dt < 15 + 5, dt  # the bound, plus engine start/stop
