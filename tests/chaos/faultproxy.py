"""A TCP fault proxy (asyncio) between ivcs and radosgw's HTTPS port.

TLS passes through untouched (the client verifies radosgw's certificate,
which names 127.0.0.1), so the proxy sees only byte counts, never content.
It runs its event loop in a thread; set_mode() switches the fault at any
moment. Modes (dict with "mode" and parameters):

  pass                         forward both ways
  latency   ms, jitter_ms      every chunk waits ms +- jitter (both ways)
  bandwidth kbit               a token bucket per direction, shared by all
                               connections (e.g. a 512 kbit/s uplink)
  blackhole                    nothing moves while it lasts, on old and new
                               connections: reads and connects hang; what
                               was sent is delivered afterwards, as TCP's
                               retransmissions would (no byte is lost)
  noanswer                     new connections are accepted, read, never
                               answered (old ones were reset at the switch)
  reset_req  after, p          every `after` bytes the client sends on a
                               connection, it is reset (RST) with probability p
  reset_resp after, p          the answer to a request of at least `after`
                               bytes: reset after its first byte (probability p)
  refuse                       new connections are reset at once (a closed
                               port; old ones reset at the switch)
  tls_cut    after             new connections: `after` bytes of the server's
                               handshake, then RST (old ones reset at switch)

Every loop is bounded by the connections' own lifetimes; stop() closes
everything. Counters: connections, resets.
"""

import asyncio
import random
import socket
import struct
import threading
import time


def _rst(writer):
    try:
        s = writer.get_extra_info("socket")
        if s is not None:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    except OSError:
        pass


class _Bucket:
    def __init__(self):
        self.tokens = 0.0
        self.t = time.monotonic()

    async def take(self, n, rate_bps):
        """Wait until n bytes may pass at rate_bps bytes/s (burst 8 KiB)."""
        while True:
            now = time.monotonic()
            self.tokens = min(8192.0, self.tokens + (now - self.t) * rate_bps)
            self.t = now
            if self.tokens >= n:
                self.tokens -= n
                return
            await asyncio.sleep(min(1.0, (n - self.tokens) / rate_bps))


class LoopServer:
    """An asyncio server on 127.0.0.1 (or `listen`, port 0: a free one) whose
    loop runs in a thread of its own; the subclass gives _handle(reader,
    writer), _shutdown() and, for TLS, _ssl. start() waits until it
    listens."""

    _ssl = None

    def __init__(self, listen=("127.0.0.1", 0)):
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.listen = listen
        self.port = None

    def start(self):
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError(f"{type(self).__name__} did not start")
        return self

    def stop(self):
        if self._loop.is_running():
            fut = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            try:
                fut.result(10)
            except Exception:
                pass
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self):
        asyncio.set_event_loop(self._loop)
        kw = dict(ssl=self._ssl, ssl_handshake_timeout=10) if self._ssl else {}
        self._server = self._loop.run_until_complete(
            asyncio.start_server(self._handle, *self.listen, backlog=128, **kw))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        self._loop.run_forever()


class FaultProxy(LoopServer):
    def __init__(self, upstream_host, upstream_port, seed=1, listen=("127.0.0.1", 0)):
        super().__init__(listen)
        self.up = (upstream_host, upstream_port)
        self.mode = {"mode": "pass"}
        self.rng = random.Random(seed)
        self.connections = 0
        self.resets = 0
        self._conns = set()
        self._buckets = {"c2s": _Bucket(), "s2c": _Bucket()}

    def set_mode(self, mode="pass", **params):
        m = dict(params, mode=mode)
        self.mode = m
        if mode in ("noanswer", "tls_cut", "refuse", "reset_all"):
            # old connections would carry on unharmed: cut them
            self._loop.call_soon_threadsafe(self._reset_all)
        if mode == "reset_all":
            self.mode = {"mode": "pass"}

    async def _shutdown(self):
        self._server.close()
        self._reset_all()

    def _reset_all(self):
        for c in list(self._conns):
            for w in c["w"]:
                _rst(w)
            self.resets += 1
        self._conns.clear()

    async def _handle(self, creader, cwriter):
        self.connections += 1
        m = self.mode
        conn = {"w": [cwriter], "c2s": 0, "s2c": 0, "mode": m, "roll": 0}
        self._conns.add(_Key(conn))
        if m["mode"] == "refuse":
            _rst(cwriter)
            self.resets += 1
            self._drop(conn)
            return
        while self.mode["mode"] == "blackhole":  # connect hangs (bounded by the mode)
            await asyncio.sleep(0.05)
        if m["mode"] == "noanswer":
            # accept, read, never answer: bounded by the client's patience
            try:
                while await creader.read(65536):
                    pass
            except (ConnectionError, OSError):
                pass
            self._drop(conn)
            return
        try:
            sreader, swriter = await asyncio.wait_for(asyncio.open_connection(*self.up), 10)
        except (OSError, asyncio.TimeoutError):
            _rst(cwriter)
            self._drop(conn)
            return
        conn["w"].append(swriter)
        await asyncio.gather(self._pipe(creader, swriter, "c2s", conn),
                             self._pipe(sreader, cwriter, "s2c", conn),
                             return_exceptions=True)
        self._drop(conn)

    def _drop(self, conn):
        self._conns.discard(_Key(conn))
        for w in conn["w"]:
            try:
                w.close()
            except Exception:
                pass

    def _cut(self, conn):
        self.resets += 1
        for w in conn["w"]:
            _rst(w)

    async def _pipe(self, reader, writer, d, conn):
        """One direction: a reader that applies the faults and timestamps
        chunks, a writer that delivers them when due (latency adds delay,
        not a throughput limit). At most 64 chunks in flight."""
        q = asyncio.Queue(64)

        async def deliver():
            while True:
                item = await q.get()
                if item is None:
                    return
                due, data, cut = item
                wait = due - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
                m = self.mode
                if m["mode"] == "bandwidth":
                    rate = float(m.get("kbit", 512)) * 1000 / 8
                    for i in range(0, len(data), 4096):
                        piece = data[i:i + 4096]
                        await self._buckets[d].take(len(piece), rate)
                        writer.write(piece)
                        await writer.drain()
                else:
                    writer.write(data)
                    await writer.drain()
                if cut:
                    self._cut(conn)
                    return

        task = asyncio.ensure_future(deliver())
        try:
            while not task.done():
                data = await reader.read(16384)
                if not data:
                    break
                while self.mode["mode"] == "blackhole":
                    await asyncio.sleep(0.05)  # held, as by a dead link
                m = self.mode
                mode = m["mode"]
                cm = conn["mode"]
                cut = False
                if cm["mode"] == "tls_cut" and d == "s2c":
                    left = int(cm.get("after", 500)) - conn["s2c"]
                    if left <= len(data):
                        data, cut = data[:max(0, left)], True
                if mode == "reset_req" and d == "c2s":
                    # every `after` bytes the client sends: reset with probability p
                    left = int(m.get("after", 20000)) - conn["roll"]
                    if left <= len(data):
                        conn["roll"] = 0
                        if self.rng.random() < float(m.get("p", 1.0)):
                            data, cut = data[:max(0, left)], True
                    else:
                        conn["roll"] += len(data)
                if mode == "reset_resp" and d == "c2s":
                    conn["roll"] += len(data)
                if (mode == "reset_resp" and d == "s2c"
                        and conn["roll"] >= int(m.get("after", 20000))):
                    # the answer to a request of at least `after` bytes
                    conn["roll"] = 0
                    if self.rng.random() < float(m.get("p", 1.0)):
                        data, cut = data[:1], True
                due = time.monotonic()
                if mode == "latency":
                    j = float(m.get("jitter_ms", 0))
                    due += max(0.0, float(m.get("ms", 100)) + self.rng.uniform(-j, j)) / 1000
                    # keep the byte order: never before the previous chunk
                    due = max(due, conn.get("last_due_" + d, 0.0))
                    conn["last_due_" + d] = due
                conn[d] += len(data)
                await q.put((due, data, cut))
                if cut:
                    break
            if not task.done():
                await q.put(None)
            await task
        except (ConnectionError, OSError, asyncio.CancelledError):
            task.cancel()
        finally:
            try:
                writer.close()
            except Exception:
                pass


class _Key:
    """Hashable by identity wrapper for a connection dict."""

    __slots__ = ("c", "w")

    def __init__(self, c):
        self.c = c
        self.w = c["w"]

    def __hash__(self):
        return id(self.c)

    def __eq__(self, o):
        return isinstance(o, _Key) and o.c is self.c

    def __getitem__(self, k):
        return self.c[k]


def main():
    """faultproxy.py LISTEN_HOST LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT: a
    pass-through forwarder until stdin closes (the campaign runs one inside a
    network namespace: `ip netns exec NS python3 faultproxy.py ...`)."""
    import sys
    lh, lp, uh, up = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    p = FaultProxy(uh, up, listen=(lh, lp)).start()
    print(f"listening {lh}:{p.port}", flush=True)
    sys.stdin.read()  # until the campaign closes the pipe (or dies)
    p.stop()


if __name__ == "__main__":
    main()
