"""Frame accounting against radosgw (issue 9): tests/accounting/
accounting_probe pushes the test clip through the native API at 4x real
time while a second thread reads ivcs_channel_stats every millisecond and
checks that video + audio pushed == uploaded + dropped + discarded + held.

- normal case (plan.json full time): no sample unbalanced, every frame
  uploaded, nothing held after stop, and the bucket holds as many slice
  objects as the stats say were uploaded;
- every upload refused by radosgw (a wrong secret key: 403 on each PUT,
  retried until the exit budget; fixed full-time plan): no sample
  unbalanced, and at exit every frame is dropped (counted), none held,
  stop says IVCS_ERR_TIMEOUT (-675).
"""

import json
import os
import subprocess
from pathlib import Path

import ivcs_testlib as tl
from ivcs_testlib import cfg, put_plan, s3  # noqa: F401

TIMEOUT = -675


def probe(config, seconds, *extra):
    p = Path(os.environ.get("IVCS_BUILD_DIR", "")) / "tests" / "accounting" / "accounting_probe"
    assert p.is_file(), f"accounting_probe not built at {p}"
    env = dict(os.environ)
    env.pop("IVCS_CONFIG", None)
    r = subprocess.run([str(p), str(config), str(seconds), *extra], capture_output=True,
                       text=True, timeout=300, env=env)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_every_frame_accounted_for_while_uploading(cfg, s3, tmp_path):
    c, path = tl.write_config(tmp_path / "ivcs.json", cfg, device_id=tl.device_id("acct-"))
    put_plan(s3, c, "full_time")
    res = probe(path, 8)
    print(res)
    pushed = res["video_pushed"] + res["audio_pushed"]
    assert res["plan"] == 1 and res["refused"] == 0, res
    assert res["samples"] > 100 and res["violations"] == 0, res
    assert res["max_held"] > 0, res  # frames were in flight while sampled
    assert res["stop_rc"] == 0 and res["balanced_at_exit"] == 1, res
    assert res["uploaded"] == pushed and res["dropped"] == 0 and res["held"] == 0, res
    keys = []
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=c["bucket"], Prefix=f"{c['prefix']}{c['device_id']}/ch0/rec/")
    for page in pages:
        keys += [o["Key"] for o in page.get("Contents", []) if o["Key"].endswith(".ts")]
    assert len(keys) == res["slices_uploaded"] > 0, (len(keys), res)


def test_every_frame_accounted_for_when_every_upload_is_refused(cfg, tmp_path):
    _, path = tl.write_config(tmp_path / "ivcs.json", cfg, device_id=tl.device_id("acctf-"),
                              secret_key="wrong" + cfg["secret_key"])
    res = probe(path, 4, "fixed")
    print(res)
    pushed = res["video_pushed"] + res["audio_pushed"]
    assert pushed > 0 and res["samples"] > 50 and res["violations"] == 0, res
    assert res["stop_rc"] == TIMEOUT and res["balanced_at_exit"] == 1, res
    assert res["uploaded"] == 0 and res["held"] == 0, res
    assert res["dropped"] == pushed, res
