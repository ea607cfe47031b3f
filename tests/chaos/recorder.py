#!/usr/bin/python3
"""The recording process of the fault campaign (tests/chaos): the test clip
pushed through the Python bindings (package ivcs) to N channels of one
engine, paced at --speed times real time, looped for --seconds of media.

It prints, flushed, one line per event the campaign reads:
  started                       every channel streams (plan seen)
  progress {"pushed": N, ...}   after every frame step (what a SIGKILL leaves)
  mem {"allocated": B, ...}     every --mem-every s: the engine's jemalloc
                                arena (Engine.stats() mem_allocated and
                                mem_resident; 0 unless jemalloc is preloaded)
  result {json}                 at the end: the engine's final counters per
                                channel, the notifications counted by kind,
                                frames and slices dropped as notified, the
                                keys notified uploaded, exit code of close()

Bounded: --seconds of media, then close() within --upload-timeout-ms; the
campaign kills the process after its own hard timeout. Never prints the
config (it holds the secret key).
"""

import argparse
import json
import os
import select
import subprocess
import sys
import threading
import time

import ivcs


def sleep(s):
    """time.sleep without clock_nanosleep: under libfaketime with a real
    monotonic clock (the clock scenarios) that call fails with EINVAL."""
    select.select([], [], [], max(0.0, s))


def split_media(ivcs_bin, video, audio, fps):
    """[(is_video, pts_ms, bytes, key)] of one pass of the clip, from
    `ivcs push --dry-run` (the CLI's own splitter)."""
    # Without LD_PRELOAD: libfaketime (the clock scenarios) and the CLI's
    # jemalloc recurse into each other at start-up and hang. No timeout=:
    # subprocess then polls with time.sleep, which fails under libfaketime
    # (see sleep()); the dry run reads two local files and ends.
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    out = subprocess.run([ivcs_bin, "push", "--dry-run", "--video", video, "--audio", audio,
                          "--fps", str(fps)], capture_output=True, text=True,
                         check=True, env=env).stdout
    vdata = open(video, "rb").read()
    adata = open(audio, "rb").read()
    frames = []
    for line in out.splitlines():
        if not line.startswith("frame "):
            continue
        _, kind, _seq, pts, ln, off = line.split()
        pts, ln, off = int(pts), int(ln), int(off)
        if kind == "v":
            b = vdata[off:off + ln]
            frames.append((True, pts, b, is_key(b)))
        else:
            frames.append((False, pts, adata[off:off + ln], False))
    return frames


def is_key(au):
    """An H.264 access unit with an IDR slice or an SPS (NAL types 5, 7)."""
    i, n = 0, len(au)
    while i + 3 < n:
        if au[i] == 0 and au[i + 1] == 0 and au[i + 2] == 1:
            t = au[i + 3] & 0x1F
            if t in (5, 7):
                return True
            i += 3
        else:
            i += 1
    return False


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--ivcs", default=os.environ.get("IVCS_BIN", "ivcs"))
    ap.add_argument("--video", required=True)
    ap.add_argument("--audio", required=True)
    ap.add_argument("--fps", type=int, default=25)
    ap.add_argument("--width", type=int, default=640)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--seconds", type=float, default=12)
    ap.add_argument("--speed", type=float, default=1.0)
    ap.add_argument("--budget", type=int, default=4 << 20)
    ap.add_argument("--upload-timeout-ms", type=int, default=15000)
    ap.add_argument("--reply-timeout-ms", type=int, default=0)
    ap.add_argument("--wait-start", type=float, default=20)
    ap.add_argument("--mem-every", type=float, default=0)
    a = ap.parse_args()

    clip = split_media(a.ivcs, a.video, a.audio, a.fps)
    clip_ms = max(p for _, p, _, _ in clip) + 1000 // a.fps
    lock = threading.Lock()
    notes = {}          # kind -> count
    dropped = {"slices": 0, "frames": 0}
    uploaded = []       # [key, frames] per slice_uploaded
    spooled = {}        # key -> frames (slice_spooled)
    spool_faults = []   # [value (1 full, 2 read-only, ...), err] per spool_fault
    started = set()

    t_start = time.monotonic()

    def on_notify(n):
        with lock:
            notes[n.kind] = notes.get(n.kind, 0) + 1
            if n.kind == "slice_dropped":
                dropped["slices"] += 1
                dropped["frames"] += n.frames
                dropped.setdefault("why", []).append(
                    [n.key, n.err_name, n.frames, round(time.monotonic() - t_start, 1)])
            elif n.kind == "slice_uploaded" and n.key:
                uploaded.append([n.key, n.frames])
            elif n.kind == "slice_spooled" and n.key:
                spooled[n.key] = n.frames
            elif n.kind == "spool_fault":
                spool_faults.append([n.value, n.err_name])

    def on_start(ch):
        started.add(ch)
        return 0

    eng = ivcs.Engine(ivcs.Config.load(a.config), max_channels=a.channels,
                      upload_timeout_ms=a.upload_timeout_ms, reply_timeout_ms=a.reply_timeout_ms,
                      check_exit=False)
    chans = [eng.channel(i, budget=a.budget, width=a.width, height=a.height, fps=a.fps,
                         on_start=on_start, on_notify=on_notify)
             for i in range(a.channels)]
    deadline = time.monotonic() + a.wait_start
    while len(started) < a.channels and time.monotonic() < deadline:
        sleep(0.05)
    print("started" if len(started) == a.channels else "not-started", flush=True)

    pushed = [0] * a.channels
    refused = [0] * a.channels
    refused_by = {}
    total_ms = a.seconds * 1000
    push_max = 0.0      # the longest push call (s): the push path never blocks
    t0 = time.monotonic()
    mem_at = t0
    loop = 0
    done = False
    while not done:
        base = loop * clip_ms
        for video, pts, data, key in clip:
            p = base + pts
            if p >= total_ms:
                done = True
                break
            due = t0 + p / 1000.0 / a.speed
            now = time.monotonic()
            if due > now:
                sleep(due - now)
            for i, ch in enumerate(chans):
                tp = time.monotonic()
                try:
                    if video:
                        ch.push_video(data, p, key=key)
                    else:
                        ch.push_audio(data, p)
                    pushed[i] += 1
                except ivcs.Error as e:
                    refused[i] += 1
                    refused_by[e.name] = refused_by.get(e.name, 0) + 1
                push_max = max(push_max, time.monotonic() - tp)
            # after every step, so that a SIGKILL leaves the exact count
            print("progress " + json.dumps({"pushed": sum(pushed), "media_ms": p}), flush=True)
            if a.mem_every and time.monotonic() >= mem_at:
                mem_at += a.mem_every
                st = eng.stats()
                print("mem " + json.dumps({"allocated": st["mem_allocated"],
                                           "resident": st["mem_resident"]}), flush=True)
        loop += 1
    push_s = time.monotonic() - t0
    eng.close()
    st = eng.final_stats
    with lock:
        res = {
            "channels": a.channels, "pushed": sum(pushed), "refused": sum(refused),
            "refused_by": refused_by, "push_s": round(push_s, 3), "exit_code": eng.exit_code,
            "boot": "%08x" % st["boot"], "notes": notes,
            "dropped_notified_slices": dropped["slices"],
            "dropped_notified_frames": dropped["frames"],
            "dropped_why": dropped.get("why", []),
            "uploaded_keys": uploaded, "spooled_keys": spooled, "spool_faults": spool_faults,
            "push_max_ms": round(push_max * 1000, 1),
            "engine": {k: v for k, v in st.items() if k.startswith(("spool", "backfill"))},
            "stats": st["channels"],
            "callback_errors": len(eng.callback_errors),
        }
    print("result " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
