#!/usr/bin/python3
"""scripts/bench_json.py - the data side of scripts/bench (stdlib only).

  bench_json.py collect DIR OUT.json [--context K=V ...]
      merges DIR/bench_*.json (Google Benchmark --benchmark_out JSON, one per
      program), DIR/mux-vs-ffmpeg.json (hyperfine) and DIR/upload.json
      (scripts/bench-upload --json) into one document: "context" (machine,
      compiler, commit, ... from --context), "benchmarks" (every entry, with
      "program" added), "baseline_ratios" (each benchmark against its
      in-binary baseline from the same run: memcpy, memchr; and the
      whole-process peers ffmpeg and curl), "errors" (benchmarks that
      reported an error).
  bench_json.py compare BASE.json NEW.json [--threshold PCT]
      for every benchmark and baseline ratio in both: NEW/BASE, flagged when
      beyond +-PCT (default: the noise band in docs/PERF.md section 12).
      Exit 0; the flags are for people, benchmarks are not tests.
  bench_json.py check FILE.json...
      exit 1 if a Google Benchmark JSON holds no benchmark or one that
      reported an error (SkipWithError): what the CI bench smoke checks.
"""
import json
import os
import re
import statistics
import sys

# Noise band: two runs of one commit on the shared 2-core development
# machine (load average 4-10 from other jobs) differed by more than this in
# only 1 figure in 10 (p90 of |new/base - 1|: 47 % for times, 48 % for
# baseline ratios; median 17 % and 16 %). docs/PERF.md section 12.
DEFAULT_THRESHOLD_PCT = 50.0

# (program, benchmark regex, baseline name template, figure): the baseline
# is the benchmark of the same program whose name is the template filled
# with the regex's groups; the figure is real_time or a counter of both.
PAIRS = [
    ("bench_mux", r"^(BM_mux|BM_parse_mux|BM_split_parse_mux)$", "BM_memcpy", "real_time"),
    ("bench_scan", r"^BM_(find_start|bytewise)/(frame20k|buf1m)$", "BM_memchr/{1}", "real_time"),
    ("bench_ring", r"^BM_(ring_push_pop|ring_reserve_commit_pop)/(\d+)$", "BM_memcpy/{1}",
     "real_time"),
    # the copy into the ring (per routine and consumer) against a memcpy
    # into a ring-sized buffer with nothing else running
    ("bench_copy", r"^BM_ring_copy/\d/(\d+)/\d$", "BM_memcpy_baseline/{0}/1", "copy_p50_ns"),
]
# counters that are a measure and its baseline inside one benchmark
COUNTER_PAIRS = [
    ("bench_push", r"^BM_push_vs_memcpy/", "push_p50_ns", "memcpy_p50_ns"),
    ("bench_push", r"^BM_push_vs_memcpy/", "push_p99_ns", "memcpy_p99_ns"),
    ("bench_push", r"^BM_push_vs_memcpy/", "push_p50_ns", "memcpy_ring_p50_ns"),
]


def load(path):
    with open(path) as f:
        return json.load(f)


def base_name(b):
    """name without the aggregate suffix and the run options"""
    n = b.get("run_name") or re.sub(r"_(mean|median|stddev|cv)$", "", b["name"])
    return re.sub(r"/(iterations:\d+|real_time|manual_time|min_time:[\d.]+|repeats:\d+)", "", n)


def pick(benchmarks):
    """one figure per benchmark: the median aggregate if there is one, else
    the median of the iteration runs"""
    by = {}
    for b in benchmarks:
        if b.get("error_occurred"):
            continue
        n = base_name(b)
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") == "median":
                by[n] = dict(b, _median=True)
        else:
            by.setdefault(n + "\0runs", []).append(b)
    out = {}
    for k, v in list(by.items()):
        if k.endswith("\0runs"):
            n = k[:-5]
            if n in by:
                continue
            m = dict(v[0])
            m["real_time"] = statistics.median(x["real_time"] for x in v)
            m["cpu_time"] = statistics.median(x["cpu_time"] for x in v)
            out[n] = m
        else:
            out[k] = v
    return out


def ratios(programs, extra_dir):
    res = []
    for prog, rx, tmpl, fig in PAIRS:
        bs = programs.get(prog, {})
        for n, b in bs.items():
            m = re.match(rx, n)
            if not m:
                continue
            base = tmpl.format(*m.groups())
            if base not in bs or not bs[base].get(fig) or fig not in b:
                continue
            what = "" if fig == "real_time" else f" {fig}"
            res.append({"name": f"{prog}:{n} / {base}{what}", "program": prog,
                        "ratio": b[fig] / bs[base][fig],
                        "meaning": f"{fig} against the in-binary baseline (lower is better)"})
    for prog, rx, num, den in COUNTER_PAIRS:
        for n, b in programs.get(prog, {}).items():
            if re.match(rx, n) and b.get(num) and b.get(den):
                res.append({"name": f"{prog}:{n} {num} / {den}", "program": prog,
                            "ratio": b[num] / b[den],
                            "meaning": "counter against the in-binary baseline (lower is better)"})
    hf = os.path.join(extra_dir, "mux-vs-ffmpeg.json")
    if os.path.exists(hf):
        r = {x["command"]: x for x in load(hf)["results"]}
        if "ivcs mux" in r and "ffmpeg -c copy -f mpegts" in r:
            res.append({"name": "ivcs mux / ffmpeg -c copy -f mpegts (median wall)",
                        "program": "bench-mux",
                        "ratio": r["ivcs mux"]["median"] / r["ffmpeg -c copy -f mpegts"]["median"],
                        "meaning": "whole process against ffmpeg (lower is better)"})
    up = os.path.join(extra_dir, "upload.json")
    if os.path.exists(up):
        for k, v in load(up).get("cpu_vs_curl", {}).items():
            res.append({"name": f"ivcs s3 put ({k}) / curl, CPU", "program": "bench-upload",
                        "ratio": v, "meaning": "client CPU against curl (lower is better)"})
    return res


def collect(d, out, ctx):
    doc = {"context": ctx, "benchmarks": [], "baseline_ratios": [], "errors": []}
    programs = {}
    for f in sorted(os.listdir(d)):
        if not re.match(r"^bench_\w+\.json$", f):
            continue
        prog = f[:-5]
        j = load(os.path.join(d, f))
        doc.setdefault("program_context", {})[prog] = j.get("context", {})
        for b in j.get("benchmarks", []):
            b = dict(b, program=prog)
            doc["benchmarks"].append(b)
            if b.get("error_occurred"):
                doc["errors"].append(f"{prog}:{b['name']}: {b.get('error_message', '')}")
        programs[prog] = pick(j.get("benchmarks", []))
    doc["baseline_ratios"] = ratios(programs, d)
    with open(out, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"{out}: {len(doc['benchmarks'])} entries from {len(programs)} programs, "
          f"{len(doc['baseline_ratios'])} baseline ratios, {len(doc['errors'])} errors")


def figures(doc):
    out = {}
    programs = {}
    for b in doc["benchmarks"]:
        programs.setdefault(b["program"], []).append(b)
    for prog, bs in programs.items():
        for n, b in pick(bs).items():
            out[f"{prog}:{n}"] = (b["real_time"], b.get("time_unit", "ns"))
    return out


def compare(base_path, new_path, thr):
    a, b = load(base_path), load(new_path)
    fa, fb = figures(a), figures(b)
    rows, flagged = [], 0
    for k in sorted(set(fa) & set(fb)):
        if not fa[k][0]:
            continue
        r = fb[k][0] / fa[k][0]
        flag = abs(r - 1) * 100 > thr
        flagged += flag
        rows.append((k, f"{fa[k][0]:.4g} {fa[k][1]}", f"{fb[k][0]:.4g} {fb[k][1]}", r, flag))
    ra = {x["name"]: x["ratio"] for x in a.get("baseline_ratios", [])}
    rb = {x["name"]: x["ratio"] for x in b.get("baseline_ratios", [])}
    for k in sorted(set(ra) & set(rb)):
        if not ra[k]:
            continue
        r = rb[k] / ra[k]
        flag = abs(r - 1) * 100 > thr
        flagged += flag
        rows.append(("ratio " + k, f"{ra[k]:.3f}", f"{rb[k]:.3f}", r, flag))
    ca, cb = a.get("context", {}), b.get("context", {})
    print(f"base: {base_path} ({ca.get('commit', '?')}, {ca.get('date', '?')}, {ca.get('machine', '?')})")
    print(f"new:  {new_path} ({cb.get('commit', '?')}, {cb.get('date', '?')}, {cb.get('machine', '?')})")
    if ca.get("machine") != cb.get("machine"):
        print("note: different machines: compare the baseline ratios, not the times")
    w = max([len(r[0]) for r in rows] + [9])
    print(f"{'benchmark':{w}}  {'base':>12}  {'new':>12}  new/base")
    for k, x, y, r, flag in rows:
        print(f"{k:{w}}  {x:>12}  {y:>12}  {r:7.3f}{'  <-- beyond +-%g %%' % thr if flag else ''}")
    only = sorted((set(fa) ^ set(fb)))
    if only:
        print(f"in one file only: {', '.join(only)}")
    print(f"{len(rows)} compared, {flagged} beyond the noise band of +-{thr:g} %")
    return 0


def check(paths):
    bad = 0
    for p in paths:
        try:
            j = load(p)
        except (OSError, ValueError) as e:
            print(f"{p}: unreadable: {e}")
            bad += 1
            continue
        bs = j.get("benchmarks", [])
        errs = [b for b in bs if b.get("error_occurred")]
        if not bs:
            print(f"{p}: no benchmark ran")
            bad += 1
        for b in errs:
            print(f"{p}: {b['name']}: error: {b.get('error_message', '')}")
            bad += 1
    return 1 if bad else 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "collect":
        ctx = {}
        for kv in argv[3:]:
            if kv.startswith("--context="):
                kv = kv[len("--context="):]
            k, _, v = kv.partition("=")
            ctx[k] = v
        collect(argv[1], argv[2], ctx)
        return 0
    if len(argv) >= 3 and argv[0] == "compare":
        thr = DEFAULT_THRESHOLD_PCT
        if len(argv) == 5 and argv[3] == "--threshold":
            thr = float(argv[4])
        return compare(argv[1], argv[2], thr)
    if len(argv) >= 2 and argv[0] == "check":
        return check(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
