"""The `ivcs` command line without a cloud (issue 9, "what a first-time user
hit"): every command and subcommand answers --help (and `ivcs help CMD`),
help is wrapped at 80 columns and names every option its parser accepts,
usage errors name the bad or missing option, a missing s3/plan operation is
said as such, and the viewer commands share one time-range rule.

"Every option the parser accepts" is read from the command's source
(tools/cmd_<name>.c, and tools/cli_common.c for the options the viewer
commands share): every string literal that is an option name."""

import json
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from ivcs_testlib import ivcs  # noqa: F401

SRC = Path(os.environ.get("IVCS_SOURCE_DIR") or Path(__file__).resolve().parents[2])
COMMANDS = ["mux", "push", "s3", "plan", "ls", "events", "playlist", "export"]
VIEWERS = ["ls", "events", "playlist", "export"]
SHARED = ["--config", "--channel", "--day", "--from", "--to"]  # cli_common.c scope options
S3_OPS = ["put", "get", "ls", "rm", "head", "presign", "mb", "lifecycle"]


def run(*args, env=None):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=60, env=env)


def parser_options(cmd):
    """Option names in the parser's string comparisons of tools/cmd_CMD.c."""
    text = (SRC / "tools" / f"cmd_{cmd}.c").read_text()
    opts = set(re.findall(r'strcmp\((?:a|argv\[i\]|sub), "(-[-a-z0-9]+)"\)', text))
    # the valued-option lists given to ivcs_cli_bad_option
    for lit in re.findall(r'#define \w+_?VALUED\s*\\?\s*((?:"[^"]*"\s*\\?\s*)+)', text):
        opts |= set(re.findall(r"(--?[a-z][-a-z0-9]*)", lit))
    if cmd in VIEWERS:
        opts |= set(SHARED)
    opts.discard("--help")
    opts.discard("-h")
    return opts


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_exits_0_fits_80_columns_and_names_every_option(ivcs, cmd):
    p = run(ivcs, cmd, "--help")
    assert p.returncode == 0 and p.stderr == "", (p.returncode, p.stderr)
    lines = p.stdout.splitlines()
    assert lines and lines[0].startswith(f"usage: ivcs {cmd}"), p.stdout
    wide = [l for l in lines if len(l) > 80]
    assert not wide, wide
    opts = parser_options(cmd)
    assert len(opts) >= 3, opts  # the scan found the parser
    missing = [o for o in sorted(opts) if not re.search(re.escape(o) + r"(?![-a-z])", p.stdout)]
    assert not missing, (cmd, missing)
    assert re.search(r"^exit: 0", p.stdout, re.M), "no exit-code line"
    # ivcs help CMD is the same text; -h too
    assert run(ivcs, "help", cmd).stdout == p.stdout
    assert run(ivcs, cmd, "-h").stdout == p.stdout


def test_ivcs_help_lists_every_command(ivcs):
    for args in (["help"], ["--help"]):
        p = run(ivcs, *args)
        assert p.returncode == 0, p.stderr
        for cmd in COMMANDS + ["version", "help"]:
            assert re.search(rf"^  {cmd}\b", p.stdout, re.M), cmd
        assert max(len(l) for l in p.stdout.splitlines()) <= 80
    p = run(ivcs, "version", "--help")
    assert p.returncode == 0 and p.stdout.startswith("usage: ivcs version"), p.stdout
    assert run(ivcs, "help", "version").stdout == p.stdout
    p = run(ivcs, "help", "nope")
    assert p.returncode == 2 and "no command 'nope'" in p.stderr
    p = run(ivcs, "nope")
    assert p.returncode == 2 and "unknown command 'nope'" in p.stderr


@pytest.mark.parametrize("op", S3_OPS)
def test_s3_operations_answer_help(ivcs, op):
    p = run(ivcs, "s3", op, "--help")
    assert p.returncode == 0 and "usage: ivcs s3" in p.stdout, (p.returncode, p.stderr)
    assert f"\n  {op} " in p.stdout
    # also after other options, and without any config
    p = run(ivcs, "s3", op, "--config", "/nonexistent/c.json", "--help")
    assert p.returncode == 0, p.stderr


@pytest.mark.parametrize("sub", ["get", "set"])
def test_plan_operations_answer_help(ivcs, sub):
    p = run(ivcs, "plan", sub, "--help")
    assert p.returncode == 0 and "usage: ivcs plan" in p.stdout, p.stderr


def test_missing_operation_is_named(ivcs, tmp_path):
    cfg = tmp_path / "c.json"
    cfg.write_text("{}")
    p = run(ivcs, "s3", "--config", cfg)
    assert p.returncode == 2 and "the operation is missing" in p.stderr, p.stderr
    assert "config" not in p.stderr.split("\n")[0].replace("--config", ""), p.stderr
    p = run(ivcs, "s3")
    assert p.returncode == 2 and "the operation is missing" in p.stderr, p.stderr
    p = run(ivcs, "s3", "cp", "--config", cfg)
    assert p.returncode == 2 and "unknown operation 'cp'" in p.stderr, p.stderr
    p = run(ivcs, "plan", "--config", cfg)
    assert p.returncode == 2 and "the operation is missing" in p.stderr, p.stderr


# (command and args, what stderr must name) - all before any config is read
USAGE = [
    (["ls", "--gap-ms", "x"], "bad --gap-ms 'x'"),
    (["ls", "--channel"], "--channel needs a value"),
    (["ls", "--bogus"], "unknown option '--bogus'"),
    (["ls", "stray"], "unexpected argument 'stray'"),
    (["events", "--from", "yesterday"], "bad --from 'yesterday'"),
    (["events", "--pictures"], "--pictures needs a value"),
    (["playlist", "--expires", "0"], "bad --expires '0'"),
    (["playlist", "--event", "k", "--day", "2026-11-25"], "give --event or a range"),
    (["export", "--day", "2026-11-25"], "--out FILE.ts is required"),
    (["export", "--out", "x.ts", "--day", "2026-13-01"], "bad --day '2026-13-01'"),
    (["plan", "set"], "--type full_time|event|free_trial|none is required"),
    (["plan", "set", "--days", "x"], "bad --days 'x'"),
    (["plan", "get", "--type", "event"], "unknown option '--type'"),
    (["s3", "ls", "--max", "-1"], "bad --max '-1'"),
    (["s3", "get", "--meta"], "--meta needs a value"),
    (["s3", "ls", "--bogus"], "unknown option '--bogus'"),
    (["mux", "--fps", "abc"], "bad --fps 'abc'"),
    (["mux", "--video", "v.h264", "--out", "d"], "--fps N is required"),
    (["mux", "--video", "v.h264", "--fps", "25"], "--out DIR is required"),
    (["mux", "--video", "v.xyz", "--fps", "25", "--out", "d"], "use --codec"),
    (["mux", "--slice-ms"], "--slice-ms needs a value"),
    (["push", "--fps", "abc"], "bad --fps 'abc'"),
    (["push", "--video", "v.h264"], "--fps N is required"),
]


@pytest.mark.parametrize("args,msg", USAGE, ids=[" ".join(a) for a, _ in USAGE])
def test_usage_errors_name_the_option(ivcs, args, msg):
    p = run(ivcs, *args)
    assert p.returncode == 2, (p.returncode, p.stderr)
    assert msg in p.stderr, p.stderr
    cmd = args[0]
    assert f"see 'ivcs {cmd} --help'" in p.stderr, p.stderr
    assert p.stdout == ""


# ---------------------------------------------------------------- one range rule

@pytest.fixture
def dead_config(tmp_path):
    """A valid config whose endpoint is a closed loopback port: a command
    that got past its range checks fails to connect (exit 1)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    cfg = {"endpoint": f"http://127.0.0.1:{port}", "region": "us-east-1", "bucket": "ivcs",
           "prefix": "", "device_id": "cli-help-test", "access_key": "ak", "secret_key": "sk",
           "ca_file": "", "verify_tls": False}
    p = tmp_path / "ivcs.json"
    p.write_text(json.dumps(cfg))
    return p


T1, T2 = "2026-11-25T10:00:00Z", "2026-11-25T11:00:00Z"
ACCEPTED = [[], ["--from", T1], ["--to", T2], ["--from", T1, "--to", T2],
            ["--day", "2026-11-25"]]
REFUSED = [(["--from", T2, "--to", T1], "empty range"),
           (["--day", "2026-11-25", "--from", T1], "give --day or --from/--to, not both"),
           (["--day", "2026-11-25", "--to", T2], "give --day or --from/--to, not both")]


def viewer_args(cmd, tmp_path):
    return ["--out", tmp_path / "x.ts"] if cmd == "export" else []


@pytest.mark.parametrize("cmd", VIEWERS)
def test_one_range_rule_for_every_viewer_command(ivcs, cmd, dead_config, tmp_path):
    for rng in ACCEPTED:
        p = run(ivcs, cmd, "--config", dead_config, *viewer_args(cmd, tmp_path), *rng)
        # accepted: it went on to the (unreachable) endpoint
        assert p.returncode == 1, (cmd, rng, p.returncode, p.stderr)
        assert "cannot reach" in p.stderr, (cmd, rng, p.stderr)
    for rng, msg in REFUSED:
        p = run(ivcs, cmd, "--config", dead_config, *viewer_args(cmd, tmp_path), *rng)
        assert p.returncode == 2 and msg in p.stderr, (cmd, rng, p.returncode, p.stderr)
    assert not (tmp_path / "x.ts").exists()


@pytest.mark.parametrize("cmd", VIEWERS)
def test_help_states_the_range_rule(ivcs, cmd):
    p = run(ivcs, cmd, "--help")
    assert "Range: --day D, or --from T and/or --to T" in p.stdout, p.stdout
