"""Shared helpers for ivcs's Python tests: find the local cloud that
scripts/cloud started, read its client config and talk to it with an
independent S3 client (Debian's boto3), always verifying TLS against the
cloud's own test CA.

Where the cloud is (first match wins):
  IVCS_CONFIG            the JSON client config (docs/ARCHITECTURE.md section 7)
  IVCS_CLOUD_DIR         a scripts/cloud --dir; its ivcs.json
  IVCS_BUILD_DIR         <build>/cloud/ivcs.json (the ctest fixture "cloud")
  otherwise              <repo>/.cloud/ivcs.json (scripts/cloud's default)

    import ivcs_testlib as tl
    cfg = tl.load_config()
    s3 = tl.s3_client(cfg)
    s3.put_object(Bucket=cfg["bucket"], Key=tl.unique_key("t"), Body=b"x")

In a test module, `from ivcs_testlib import cfg, s3  # noqa: F401` gives the
module-scoped pytest fixtures of the same names.
"""

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

# The keys of the JSON config, in the documented order; the engine rejects
# unknown keys, so the config must hold exactly these.
CONFIG_KEYS = (
    "endpoint", "region", "bucket", "prefix", "device_id", "access_key",
    "secret_key", "session_token", "ca_file", "verify_tls", "plan_poll_s",
    "slice_ms",
)

# The system CA bundle on Debian: a client trusting only it must refuse the
# local cloud's certificate.
SYSTEM_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def source_dir() -> Path:
    """The repository root (IVCS_SOURCE_DIR, else two levels above this file)."""
    env = os.environ.get("IVCS_SOURCE_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2]


def cloud_script() -> Path:
    """Path of scripts/cloud."""
    return source_dir() / "scripts" / "cloud"


def config_path() -> Path:
    """Where the client config of the cloud under test is (see module doc)."""
    if os.environ.get("IVCS_CONFIG"):
        return Path(os.environ["IVCS_CONFIG"])
    if os.environ.get("IVCS_CLOUD_DIR"):
        return Path(os.environ["IVCS_CLOUD_DIR"]) / "ivcs.json"
    if os.environ.get("IVCS_BUILD_DIR"):
        return Path(os.environ["IVCS_BUILD_DIR"]) / "cloud" / "ivcs.json"
    return source_dir() / ".cloud" / "ivcs.json"


def cloud_dir() -> Path:
    """The scripts/cloud --dir of the cloud under test."""
    if os.environ.get("IVCS_CLOUD_DIR"):
        return Path(os.environ["IVCS_CLOUD_DIR"])
    return config_path().parent


class CloudNotRunning(AssertionError):
    """No usable config: the cloud was not started (a failure, not a skip)."""


def load_config(path=None) -> dict:
    """Read and sanity-check the JSON client config; raise CloudNotRunning
    with a hint if it is missing."""
    p = Path(path) if path else config_path()
    if not p.is_file():
        raise CloudNotRunning(
            f"no cloud config at {p}: start one with "
            f"'{cloud_script()} start --dir {p.parent}' (or run the ctest fixture cloud.start)")
    with open(p, encoding="utf-8") as f:
        cfg = json.load(f)
    missing = [k for k in CONFIG_KEYS if k not in cfg]
    if missing:
        raise AssertionError(f"{p}: missing keys {missing}")
    return cfg


def s3_client(cfg=None, *, access_key=None, secret_key=None, verify=None,
              endpoint=None, region=None, **config_kw):
    """A boto3 S3 client for the cloud (path-style, SigV4, no retries).

    verify: None -> cfg["ca_file"]; or a CA bundle path. Turning verification
    off is refused: tests must prove TLS works, not bypass it. Extra keyword
    arguments go to botocore.config.Config.
    """
    import boto3
    from botocore.config import Config

    cfg = cfg or load_config()
    if verify is False or (verify is None and not cfg["verify_tls"]):
        raise ValueError("ivcs tests never turn TLS verification off")
    if verify is None:
        verify = cfg["ca_file"]
    kw = dict(signature_version="s3v4", s3={"addressing_style": "path"},
              retries={"max_attempts": 1, "mode": "standard"},
              connect_timeout=5, read_timeout=60)
    kw.update(config_kw)
    # A private session: no profile, config file or AWS_* variable of the
    # caller's environment may change what is tested.
    session = boto3.session.Session(
        aws_access_key_id=access_key or cfg["access_key"],
        aws_secret_access_key=secret_key or cfg["secret_key"],
        aws_session_token=cfg.get("session_token"),
        region_name=region or cfg["region"])
    return session.client("s3", endpoint_url=endpoint or cfg["endpoint"],
                          verify=verify, config=Config(**kw))


def unique_key(prefix="test") -> str:
    """A fresh object key: PREFIX/<random hex>, so runs never collide."""
    return f"{prefix.rstrip('/')}/{uuid.uuid4().hex}"


def endpoint_host_port(cfg=None):
    """(host, port) of the config's endpoint."""
    from urllib.parse import urlsplit

    u = urlsplit((cfg or load_config())["endpoint"])
    return u.hostname, u.port or 443


def run_cloud(*args, env=None, timeout=300) -> subprocess.CompletedProcess:
    """Run scripts/cloud ARGS..., capturing text output (never raises on
    a non-zero exit)."""
    return subprocess.run([str(cloud_script()), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def device_id(prefix="dev-") -> str:
    """A fresh device id: PREFIX + 12 random hex digits."""
    return prefix + uuid.uuid4().hex[:12]


def write_config(path, cfg, **changes):
    """Write a copy of cfg with changes (e.g. device_id=device_id("x-")) as
    JSON to path; returns (the new config dict, path)."""
    c = dict(cfg)
    c.update(changes)
    path = Path(path)
    path.write_text(json.dumps(c))
    return c, path


def put_plan(s3, c, cs_type, switch=1, days=7, **extra):
    """Put the device's plan.json (config c) with boto3."""
    body = {"cs_switch": switch, "cs_type": cs_type, "cs_days": days, **extra}
    s3.put_object(Bucket=c["bucket"], Key=f"{c['prefix']}{c['device_id']}/plan.json",
                  Body=json.dumps(body).encode())


@pytest.fixture(scope="module")
def cfg():
    """The cloud's client config (load_config)."""
    return load_config()


@pytest.fixture(scope="module")
def s3(cfg):
    """A boto3 client for the cloud (s3_client)."""
    return s3_client(cfg)


@pytest.fixture(scope="session")
def ivcs():
    """Path of the ivcs CLI: $IVCS_BIN, else $IVCS_BUILD_DIR/ivcs (default build/)."""
    b = os.environ.get("IVCS_BIN")
    if not b:
        b = os.path.join(os.environ.get("IVCS_BUILD_DIR", "build"), "ivcs")
    assert os.access(b, os.X_OK), f"ivcs binary not found: {b}"
    return b


class Gate:
    """A TCP relay on 127.0.0.1 in front of a real server, to make an outage
    the server itself cannot: while `up` is False every connection is
    accepted and reset at once (the client sees a refused/reset request), or
    with `blackhole` True accepted and never answered (a reply timeout);
    while True each connection is relayed byte for byte to (host, port). The
    TLS session is the client's with the server (the relay sees only
    ciphertext), so the certificate for 127.0.0.1 still verifies.

        with tl.Gate(*tl.endpoint_host_port(cfg)) as g:
            c = dict(cfg, endpoint=g.endpoint)   # down
            ...
            g.up = True                          # the server is back
    """

    def __init__(self, host, port):
        import socket
        import threading

        self.host, self.port = host, port
        self.up = False
        self.blackhole = False  # while down: hold connections silently instead of resetting
        self.accepted = self.refused = 0
        self._ls = socket.socket()
        self._ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._ls.bind(("127.0.0.1", 0))
        self._ls.listen(64)
        self._ls.settimeout(0.1)
        self.endpoint = f"https://127.0.0.1:{self._ls.getsockname()[1]}"
        self._stop = threading.Event()
        self._threads = []
        self._socks = set()
        self._lock = threading.Lock()
        self._t = threading.Thread(target=self._accept, daemon=True)
        self._t.start()

    def _accept(self):
        import socket
        import struct
        import threading

        while not self._stop.is_set():
            try:
                c, _ = self._ls.accept()
            except OSError:
                continue
            self.accepted += 1
            if not self.up and self.blackhole:
                with self._lock:
                    self._socks.add(c)  # held open, never answered
                continue
            if not self.up:
                self.refused += 1
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                c.close()  # RST
                continue
            try:
                s = socket.create_connection((self.host, self.port), timeout=5)
            except OSError:
                c.close()
                continue
            with self._lock:
                self._socks |= {c, s}
            for a, b in ((c, s), (s, c)):
                t = threading.Thread(target=self._pipe, args=(a, b), daemon=True)
                t.start()
                self._threads.append(t)

    def _pipe(self, a, b):
        import socket

        a.settimeout(None)
        try:
            while True:
                d = a.recv(1 << 16)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for s, how in ((b, socket.SHUT_WR), (a, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass

    def close(self):
        self._stop.set()
        self._t.join(timeout=5)
        self._ls.close()
        with self._lock:
            for s in self._socks:
                try:
                    s.close()
                except OSError:
                    pass
        for t in self._threads:
            t.join(timeout=5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
