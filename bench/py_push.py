#!/usr/bin/python3
"""bench/py_push.py - the cost of a push from Python over the C push.

Pushes the test clip's H.264 frames (5.2 kB on average) and the same
frames padded to 20 kB with a filler NAL unit (as bench_push.cc does) into
one channel of an offline engine with an event plan and no event (the ring
is a rolling pre-record buffer that the engine trims when it fills: every
push validates, copies and commits; nothing goes to the network).
Alternating batches of N pushes: one through Channel.push_video from a
Python loop, one through ivcs_channel_push_video from a C loop in the
extension (same channel, same frames, GIL held in both). Before each batch
the bench waits, untimed, until the video ring is under 80 % full (the
engine trims the pre-record above 75 %), so no push of either kind is
refused; the ring is cycled twice before the timed rounds. Prints the mean ns per push of each kind
(median and minimum over the rounds) and the difference, and the cost of
the Python loop alone (iteration + unpacking, no push).

    PYTHONPATH=build/bindings/python IVCS_MEDIA_DIR=build/media bench/py_push.py [--rounds 100] [--n 100]
"""
import argparse
import gc
import os
import statistics
import sys
import time
from pathlib import Path

import ivcs
from ivcs import ivcs_core as core
from ivcs.testing import split_annexb


FILL = int(os.environ.get("IVCS_BENCH_FILL", "80"))


def pad(frame, size):
    """frame + a filler NAL (type 12) so that it is size bytes long."""
    extra = size - len(frame)
    if extra < 6:
        return frame
    return frame + b"\x00\x00\x01\x0c" + b"\xff" * (extra - 5) + b"\x80"


def bench(frames, rounds, n):
    cfg = ivcs.Config(endpoint="https://127.0.0.1:9", bucket="ivcs", device_id="bench",
                      access_key="AK", secret_key="SK")
    with ivcs.Engine(cfg, plan="event", check_exit=False) as eng:
        ch = eng.channel(0, budget=32 << 20)
        push = ch.push_video
        pts = 1000
        py, c = [], []
        nf = len(frames)

        def drained():
            t = time.monotonic()
            while ch.stats()["video_ring_fill_pct"] >= FILL and time.monotonic() - t < 0.5:
                eng.wake()
                time.sleep(0.001)

        # warm-up: the whole ring touched twice
        for _ in range(2 * (32 << 20) // (n * sum(len(f) for f, _ in frames) // nf) + 1):
            drained()
            _, _, pts = core.py_bench_c_push(ch._cap, frames, n, pts, 40)
        for _ in range(rounds):
            drained()
            gc.disable()
            t0 = time.perf_counter_ns()
            for i in range(n):
                f, k = frames[i % nf]
                push(f, pts, key=k)
                pts += 40
            t1 = time.perf_counter_ns()
            gc.enable()
            py.append((t1 - t0) / n)
            drained()
            ns, refused, pts = core.py_bench_c_push(ch._cap, frames, n, pts, 40)
            assert refused == 0, refused
            c.append(ns / n)
        # the loop alone (same Python loop, no push): what a caller's own loop costs
        t0 = time.perf_counter_ns()
        for i in range(n):
            f, k = frames[i % nf]
            pts += 40
        loop = (time.perf_counter_ns() - t0) / n
        st = ch.stats()
        assert st["frames_refused"] == 0
    return py, c, loop


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=100)
    ap.add_argument("--n", type=int, default=100)
    a = ap.parse_args()
    media = Path(os.environ.get("IVCS_MEDIA_DIR", "build/media"))
    clip = split_annexb((media / "clip_h264.h264").read_bytes())
    print(f"# {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, python {sys.version.split()[0]}, "
          f"ivcs {ivcs.version()}, {a.rounds} rounds x {a.n} pushes, {os.cpu_count()} CPUs")
    print(f"{'frames':>22} {'C push ns':>16} {'Python push ns':>16} {'Python - C':>14} {'loop ns':>8}")
    for label, frames in (("clip (5.2 kB avg)", clip),
                          ("padded to 20 kB", [(pad(f, 20000), k) for f, k in clip])):
        py, c, loop = bench(frames, a.rounds, a.n)
        avg = sum(len(f) for f, _ in frames) / len(frames)
        mc, mp = statistics.median(c), statistics.median(py)
        print(f"{label:>17} {avg/1000:4.1f}k {mc:8.0f} (min {min(c):4.0f}) {mp:8.0f} (min {min(py):4.0f})"
              f" {mp - mc:8.0f} (min {min(py) - min(c):4.0f}) {loop:6.0f}")


if __name__ == "__main__":
    main()
