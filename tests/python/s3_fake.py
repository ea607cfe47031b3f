"""An in-process S3 look-alike over verified TLS (or plain HTTP), for what
the real radosgw cannot be made to do: answer like another S3
implementation (OpenStack Swift's s3api), or like a hostile server
(endless or replayed listings, resets mid-body, oversized headers).

    with FakeS3(tmp_path, handler) as srv:
        cfgfile = srv.config(tmp_path / "ivcs.json")
        subprocess.run([ivcs, "s3", "ls", "--config", cfgfile])
        srv.requests   # [Request, ...] as received

handler(req) returns the bytes to send, or a list of actions:
bytes (sent), a number (seconds to wait: lets the client read what was
sent before a RESET discards it), RESET (TCP reset: SO_LINGER 0 and
close), CLOSE (orderly close). After a reply without CLOSE/RESET the connection is kept alive.
The TLS certificate is self-signed for 127.0.0.1 and is the config's
ca_file, so ivcs verifies it as it would any server's.
"""

import json
import socket
import ssl
import struct
import subprocess
import threading
import time
import urllib.parse
from email.utils import formatdate
from pathlib import Path

RESET = "reset"
CLOSE = "close"

HEAD_MAX = 64 * 1024
BODY_MAX = 16 << 20


class Request:
    def __init__(self, method, target, headers, body):
        self.method = method
        self.target = target
        u = urllib.parse.urlsplit(target)
        self.path = urllib.parse.unquote(u.path)
        self.query = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        self.headers = headers  # lower-case names
        self.body = body

    def __repr__(self):
        return f"<{self.method} {self.target}>"


def reply(status, body=b"", headers=None, reason=None, content_length=None):
    """An HTTP/1.1 response as bytes (Content-Length from body unless given)."""
    if isinstance(body, str):
        body = body.encode()
    reasons = {200: "OK", 204: "No Content", 206: "Partial Content", 304: "Not Modified",
               400: "Bad Request", 403: "Forbidden", 404: "Not Found", 409: "Conflict",
               412: "Precondition Failed", 416: "Range Not Satisfiable",
               500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable"}
    h = {"Date": formatdate(usegmt=True), "x-amz-request-id": "tx-fake"}
    h.update(headers or {})
    h["Content-Length"] = str(len(body) if content_length is None else content_length)
    head = f"HTTP/1.1 {status} {reason or reasons.get(status, 'Status')}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in h.items()) + "\r\n"
    return head.encode() + body


def error(status, code, message="", resource="/"):
    """An S3 error document reply."""
    x = ('<?xml version="1.0" encoding="UTF-8"?>\n'
         f"<Error><Code>{code}</Code><Message>{message}</Message>"
         f"<Resource>{resource}</Resource><RequestId>tx-fake</RequestId></Error>")
    return reply(status, x, {"Content-Type": "application/xml"})


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def list_page(bucket, keys, truncated=False, token=None, prefix="", prefixes=()):
    """A ListObjectsV2 page (keys: names, or (name, size) pairs)."""
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n'
             '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">',
             f"<Name>{bucket}</Name><Prefix>{xml_escape(prefix)}</Prefix>",
             f"<KeyCount>{len(keys) + len(prefixes)}</KeyCount><MaxKeys>1000</MaxKeys>",
             f"<IsTruncated>{'true' if truncated else 'false'}</IsTruncated>"]
    if token is not None:
        parts.append(f"<NextContinuationToken>{xml_escape(token)}</NextContinuationToken>")
    for k in keys:
        name, size = (k, 1) if isinstance(k, str) else k
        parts.append(f"<Contents><Key>{xml_escape(name)}</Key>"
                     "<LastModified>2026-12-01T00:00:00.000Z</LastModified>"
                     f'<ETag>"0123456789abcdef0123456789abcdef"</ETag><Size>{size}</Size>'
                     "<StorageClass>STANDARD</StorageClass></Contents>")
    for p in prefixes:
        parts.append(f"<CommonPrefixes><Prefix>{xml_escape(p)}</Prefix></CommonPrefixes>")
    parts.append("</ListBucketResult>")
    return reply(200, "".join(parts), {"Content-Type": "application/xml"})


def make_cert(directory):
    """(cert, key) paths: a self-signed certificate for 127.0.0.1."""
    d = Path(directory)
    cert, key = d / "fake-s3.crt", d / "fake-s3.key"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)],
                       check=True, capture_output=True, timeout=60)
    return cert, key


class FakeS3:
    def __init__(self, directory, handler, tls=True, bucket="fake"):
        self.dir = Path(directory)
        self.handler = handler
        self.tls = tls
        self.bucket = bucket
        self.requests = []
        self.lock = threading.Lock()
        self.ctx = None
        if tls:
            self.cert, key = make_cert(self.dir)
            self.ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.ctx.load_cert_chain(self.cert, key)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.stopping = False
        self.conns = set()
        self.thread = threading.Thread(target=self._accept, daemon=True)

    @property
    def endpoint(self):
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def config(self, path, **changes):
        c = {"endpoint": self.endpoint, "region": "us-east-1", "bucket": self.bucket,
             "prefix": "", "device_id": "cam-fake", "access_key": "AKIAFAKEFAKEFAKEFAKE",
             "secret_key": "fake-secret-fake-secret-fake-secret-0000",
             "session_token": None, "ca_file": str(self.cert) if self.tls else "",
             "verify_tls": True, "plan_poll_s": 60, "slice_ms": 4000}
        c.update(changes)
        Path(path).write_text(json.dumps(c))
        return str(path)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)  # wakes accept()
        except OSError:
            pass
        try:
            self.sock.close()
        except OSError:
            pass
        for c in list(self.conns):
            try:
                c.close()
            except OSError:
                pass
        self.thread.join(5)

    def count(self, method=None, query=None):
        with self.lock:
            return sum(1 for r in self.requests
                       if (method is None or r.method == method)
                       and (query is None or query in r.query))

    def _accept(self):
        while not self.stopping:
            try:
                s, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(s,), daemon=True).start()

    def _serve(self, s):
        s.settimeout(20)
        self.conns.add(s)
        try:
            if self.ctx:
                s = self.ctx.wrap_socket(s, server_side=True)
                self.conns.add(s)
            buf = b""
            while not self.stopping:
                while b"\r\n\r\n" not in buf:
                    if len(buf) > HEAD_MAX:
                        return
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                head, _, buf = buf.partition(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {}
                for ln in lines[1:]:
                    k, _, v = ln.partition(":")
                    headers[k.strip().lower()] = v.strip()
                n = int(headers.get("content-length", "0"))
                if n > BODY_MAX:
                    return
                while len(buf) < n:
                    d = s.recv(65536)
                    if not d:
                        return
                    buf += d
                body, buf = buf[:n], buf[n:]
                req = Request(method, target, headers, body)
                with self.lock:
                    self.requests.append(req)
                out = self.handler(req)
                if not isinstance(out, list):
                    out = [out]
                for a in out:
                    if isinstance(a, (int, float)):
                        time.sleep(a)
                        continue
                    if a == RESET:
                        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
                        return
                    if a == CLOSE:
                        return
                    s.sendall(a)
        except (OSError, ValueError, ssl.SSLError):
            return
        finally:
            self.conns.discard(s)
            try:
                s.close()
            except OSError:
                pass
