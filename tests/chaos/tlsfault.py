"""A TLS-terminating fault proxy (asyncio) for the faults a pass-through
proxy cannot make: the server's answers themselves.

It presents radosgw's own certificate (the chaos cloud's tls/server.pem and
server.key, which name 127.0.0.1), so ivcs still verifies TLS against the
cloud's CA. Each new connection takes the mode in force when it is accepted:

  pass      plaintext piped both ways to radosgw over TLS (verified)
  status    the request head is read, then "HTTP/1.1 <status>" with an S3
            error document and Connection: close (a 503 SlowDown storm)
  hostile   the request head is read, then one malformed answer from
            HOSTILE in turn, and the connection is closed or left to time out

Every loop is bounded: heads are read up to 64 KiB with a 10 s limit, the
trickle answer stops after 30 s; stop() closes everything. Counters:
connections, answered (fault answers sent).
"""

import asyncio
import ssl

from faultproxy import LoopServer


def _abort(writer):
    try:
        writer.transport.abort()
    except Exception:  # an SSL transport already torn down
        pass

S3_ERROR = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            "<Message>chaos tlsfault</Message><RequestId>tx-chaos</RequestId></Error>")

# Malformed answers of a hostile or broken server (the hardening cases of
# test_cloud_server.py, as scenarios): each must be a failed request to ivcs,
# never a success, a crash or a hang past its timeouts.
HOSTILE = [
    ("garbage status line", b"HTTP/9.9 two hundred\r\n\r\n"),
    ("trickle", None),  # 1 byte of a status line a second: the reply deadline must end it
    ("error document that is not XML",
     b"HTTP/1.1 503 Slow\r\nContent-Type: application/xml\r\nContent-Length: 9\r\n\r\n<Error><C"),
    ("body shorter than Content-Length",
     b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nETag: \"x\"\r\n\r\nshort"),
    ("endless header", b"HTTP/1.1 200 OK\r\nX-Pad: " + b"a" * 70000 + b"\r\n\r\n"),
    ("two Content-Lengths", b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\n"),
    ("10,000 headers", b"HTTP/1.1 200 OK\r\n" + b"X-H: v\r\n" * 10000 + b"\r\n"),
    ("bad chunk size", b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nxx\r\n"),
    ("binary noise", bytes(range(256)) * 8),
]


class TlsFaultProxy(LoopServer):
    def __init__(self, upstream_host, upstream_port, cert, key, ca):
        super().__init__()
        self.up = (upstream_host, upstream_port)
        self.mode = {"mode": "pass"}
        self.connections = 0
        self.answered = 0
        self.kinds = {}
        self._hostile_i = 0
        self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ssl.load_cert_chain(cert, key)
        self._cli_ctx = ssl.create_default_context(cafile=ca)
        self._writers = set()

    def set_mode(self, mode="pass", **params):
        """New connections take the mode; a switch to a fault also cuts the
        connections open now (ivcs keeps connections alive, and a server
        that starts answering 503s has usually just restarted)."""
        self.mode = dict(params, mode=mode)
        if mode != "pass":
            self._loop.call_soon_threadsafe(self._abort_all)

    def _abort_all(self):
        for w in list(self._writers):
            _abort(w)
        self._writers.clear()

    async def _shutdown(self):
        self._server.close()
        self._abort_all()

    async def _read_head(self, reader):
        try:
            return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                ConnectionError, OSError, ssl.SSLError):
            return None

    async def _handle(self, reader, writer):
        self.connections += 1
        self._writers.add(writer)
        m = self.mode
        try:
            if m["mode"] == "pass":
                await self._pipe(reader, writer)
                return
            if await self._read_head(reader) is None:
                return
            self.answered += 1
            if m["mode"] == "status":
                st = m.get("status", 503)
                body = S3_ERROR.format(code=m.get("code", "SlowDown")).encode()
                writer.write(b"HTTP/1.1 %d Fault\r\nContent-Type: application/xml\r\n"
                             b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (st, len(body))
                             + body)
                self.kinds[st] = self.kinds.get(st, 0) + 1
            else:
                name, raw = HOSTILE[self._hostile_i % len(HOSTILE)]
                self._hostile_i += 1
                self.kinds[name] = self.kinds.get(name, 0) + 1
                if raw is None:
                    for b in b"HTTP/1.1 200 OK\r\n"[:30]:
                        writer.write(bytes([b]))
                        await writer.drain()
                        await asyncio.sleep(1)
                else:
                    writer.write(raw)
            await asyncio.wait_for(writer.drain(), 10)
        except (ConnectionError, OSError, ssl.SSLError, asyncio.TimeoutError):
            pass
        finally:
            self._writers.discard(writer)
            _abort(writer)

    async def _pipe(self, creader, cwriter):
        try:
            sreader, swriter = await asyncio.wait_for(
                asyncio.open_connection(*self.up, ssl=self._cli_ctx,
                                        server_hostname=self.up[0]), 10)
        except (OSError, ssl.SSLError, asyncio.TimeoutError):
            return
        self._writers.add(swriter)

        async def one_way(r, w):
            try:
                while True:
                    b = await r.read(65536)
                    if not b:
                        break
                    w.write(b)
                    await w.drain()
            except (ConnectionError, OSError, ssl.SSLError):
                pass
            finally:
                try:
                    w.close()
                except Exception:
                    pass

        try:
            await asyncio.gather(one_way(creader, swriter), one_way(sreader, cwriter))
        finally:
            self._writers.discard(swriter)
            _abort(swriter)
