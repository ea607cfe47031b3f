"""The include rules of docs/ARCHITECTURE.md hold (scripts/check-includes):
no folder includes one beside or above it, no folder cycle, the seed API
only where it belongs. And the checker itself catches what it must: an
upward include, a cycle and the seed header in a low layer, in a copy of
the tree."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

SRC = Path(os.environ.get("IVCS_SOURCE_DIR", Path(__file__).resolve().parents[2]))
CHECK = SRC / "scripts/check-includes"


def run(root):
    return subprocess.run([sys.executable, str(CHECK), str(root)], capture_output=True,
                          text=True, timeout=120)


def test_tree_follows_the_include_rules():
    p = run(SRC)
    assert p.returncode == 0, p.stdout + p.stderr


def copy_tree(tmp):
    for d in ("api", "engine", "tools"):
        shutil.copytree(SRC / d, tmp / d)
    return tmp


def add_include(path, inc):
    text = path.read_text()
    path.write_text(f'#include "{inc}"\n' + text)


def test_checker_catches_an_upward_include_and_a_cycle(tmp_path):
    root = copy_tree(tmp_path)
    add_include(root / "engine/core/config.c", "engine/record/engine.h")
    p = run(root)
    assert p.returncode == 1
    assert "engine/core/config.c: includes engine/record/engine.h" in p.stdout
    assert "folder cycle" in p.stdout


def test_checker_catches_the_seed_api_low_down(tmp_path):
    root = copy_tree(tmp_path)
    add_include(root / "engine/net/s3.c", "iv_cs.h")
    add_include(root / "engine/ring/ring.h", "ivcs.h")
    add_include(root / "engine/mux/ts_mux.c", "engine/layout/layout.h")  # beside, not below
    p = run(root)
    assert p.returncode == 1
    assert "engine/net/s3.c: includes iv_cs.h" in p.stdout
    assert "engine/ring/ring.h: includes ivcs.h" in p.stdout
    assert "engine/mux/ts_mux.c: includes engine/layout/layout.h" in p.stdout
