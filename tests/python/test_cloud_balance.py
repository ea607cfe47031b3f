"""iv_cs_get_balance_info against radosgw: plan.json is written with boto3,
tests/balance/balance_probe calls the seed API step by step.

- blocking (timeout > 0) before iv_cs_init returns the plan in the bucket;
  timeout 0 returns the cached one without I/O (a plan rewritten meanwhile
  is not seen until the next blocking call);
- the same after iv_cs_init (the engine's cache);
- server unreachable (a closed port, or a server that never answers):
  IV_ERR_CS_QUERY_SERVICE_TIMEOUT (-608) within the timeout, and the cache.
"""

import json
import os
import socket
import subprocess
import threading
from pathlib import Path

import ivcs_testlib as tl
from ivcs_testlib import cfg, put_plan, s3  # noqa: F401

QUERY_TIMEOUT = -608
CS_TYPE = {"none": 0, "full_time": 1, "event": 2, "free_trial": 3}


def probe_path() -> Path:
    p = Path(os.environ.get("IVCS_BUILD_DIR", "")) / "tests" / "balance" / "balance_probe"
    assert p.is_file(), f"balance_probe not built at {p}"
    return p


def device_config(tmp_path, cfg, name="ivcs.json", **kw):
    kw["device_id"] = kw.get("device_id") or tl.device_id("bal-")
    return tl.write_config(tmp_path / name, cfg, **kw)


class Probe:
    """balance_probe with its steps; `wait` steps block until resume()."""

    def __init__(self, *steps):
        env = dict(os.environ)
        env.pop("IVCS_CONFIG", None)
        self.p = subprocess.Popen([str(probe_path()), *map(str, steps)], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  env=env)
        self.results = []

    def until_wait(self):
        """Reads results up to the next `wait` step (or the end)."""
        for line in self.p.stdout:
            r = json.loads(line)
            if r["op"] == "wait":
                return self.results
            self.results.append(r)
        return self.results

    def resume(self):
        self.p.stdin.write("go\n")
        self.p.stdin.flush()

    def finish(self, timeout=120):
        out, err = self.p.communicate(timeout=timeout)
        for line in out.splitlines():
            r = json.loads(line)
            if r["op"] != "wait":
                self.results.append(r)
        assert self.p.returncode == 0, err
        return self.results


def gets(results):
    return [r for r in results if r["op"] == "get"]


def same_plan(r, cs_type, switch=1, days=7):
    return (r["cs_switch"], r["cs_type"], r["cs_days"]) == (switch, CS_TYPE[cs_type], days)


def test_before_init_blocking_then_cached(cfg, s3, tmp_path):
    c, p = device_config(tmp_path, cfg)
    put_plan(s3, c, "event", days=30)
    pr = Probe(f"config:{p}", "get:0", "get:10", "get:0", "wait", "get:0", "get:10", "get:0")
    res = gets(pr.until_wait())
    # nothing asked yet: the cache is "no plan"
    assert res[0]["rc"] == 0 and same_plan(res[0], "none", switch=0, days=0), res[0]
    assert res[1]["rc"] == 0 and same_plan(res[1], "event", days=30), res[1]
    assert res[2]["rc"] == 0 and same_plan(res[2], "event", days=30), res[2]
    # the operator changes the plan: the cache does not see it, a blocking call does
    put_plan(s3, c, "full_time", days=90)
    pr.resume()
    res = gets(pr.finish())
    assert same_plan(res[3], "event", days=30), res[3]
    assert res[4]["rc"] == 0 and same_plan(res[4], "full_time", days=90), res[4]
    assert same_plan(res[5], "full_time", days=90), res[5]
    # timeout 0 makes no I/O: it answers at once
    assert all(r["ms"] < 50 for r in (res[0], res[2], res[3], res[5])), res


def test_after_init_blocking_then_cached(cfg, s3, tmp_path):
    c, p = device_config(tmp_path, cfg)
    put_plan(s3, c, "full_time", days=14)
    pr = Probe(f"config:{p}", "init", "get:10", "get:0", "wait", "get:0", "get:10", "get:0",
               "exit")
    res = pr.until_wait()
    assert res[1] == {"op": "init", "rc": 0}, res
    g = gets(res)
    assert g[0]["rc"] == 0 and same_plan(g[0], "full_time", days=14), g[0]
    assert same_plan(g[1], "full_time", days=14), g[1]
    put_plan(s3, c, "event", days=3)
    pr.resume()
    res = pr.finish()
    g = gets(res)
    assert same_plan(g[2], "full_time", days=14), g[2]  # cache: not re-read
    assert g[3]["rc"] == 0 and same_plan(g[3], "event", days=3), g[3]
    assert same_plan(g[4], "event", days=3), g[4]
    assert res[-1] == {"op": "exit", "rc": 0}, res


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_unreachable_closed_port_returns_timeout_and_cache(cfg, s3, tmp_path):
    c, good = device_config(tmp_path, cfg)
    put_plan(s3, c, "full_time", days=21)
    _, bad = device_config(tmp_path, cfg, name="bad.json", device_id=c["device_id"],
                           endpoint=f"https://127.0.0.1:{closed_port()}")
    res = gets(Probe(f"config:{good}", "get:10", f"config:{bad}", "get:3", "get:0").finish())
    assert res[0]["rc"] == 0 and same_plan(res[0], "full_time", days=21), res[0]
    assert res[1]["rc"] == QUERY_TIMEOUT, res[1]
    assert same_plan(res[1], "full_time", days=21), res[1]  # the cache
    assert res[1]["ms"] < 3000 + 1000, res[1]
    assert res[2]["rc"] == 0 and same_plan(res[2], "full_time", days=21), res[2]


def test_unreachable_after_init_returns_timeout_and_cache(cfg, tmp_path):
    _, bad = device_config(tmp_path, cfg, endpoint=f"https://127.0.0.1:{closed_port()}")
    res = Probe(f"config:{bad}", "init", "get:2", "get:0", "exit").finish()
    assert res[1] == {"op": "init", "rc": 0}, res
    g = gets(res)
    assert g[0]["rc"] == QUERY_TIMEOUT, g[0]
    # the engine's cache: no plan was ever read
    assert same_plan(g[0], "none", switch=0, days=0), g[0]
    assert g[1]["rc"] == 0 and same_plan(g[1], "none", switch=0, days=0), g[1]


def test_silent_server_blocks_at_most_the_timeout(cfg, tmp_path):
    """A server that accepts and never answers: -608 after about timeout_s."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    conns = []
    stop = threading.Event()

    def accept():
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                conns.append(srv.accept()[0])
            except OSError:
                pass

    t = threading.Thread(target=accept, daemon=True)
    t.start()
    try:
        _, bad = device_config(tmp_path, cfg,
                               endpoint=f"https://127.0.0.1:{srv.getsockname()[1]}")
        res = gets(Probe(f"config:{bad}", "get:2").finish())
    finally:
        stop.set()
        t.join()
        for s in conns:
            s.close()
        srv.close()
    assert conns, "the probe never connected"
    assert res[0]["rc"] == QUERY_TIMEOUT, res[0]
    assert 1500 <= res[0]["ms"] <= 2000 + 1500, res[0]
