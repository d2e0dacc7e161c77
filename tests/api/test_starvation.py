"""test_starvation.py - a node that cannot be starved (issue 17): thousands of idle or trickling
connections do not stop a fresh client's GET /healthz answering within a second; header, body and
idle deadlines close the tricklers; a per-address cap refuses the excess of one address; past
SOUK_MAX_CONNECTIONS the answer is 503 problem+json, not silence.

Raw sockets on loopback (asyncio), bounded in time. Attackers come from 127.0.0.1..127.0.0.30
(Linux routes the whole 127/8 to lo), the fresh client from 127.0.0.200, so the per-address cap
does not hide the result."""

import asyncio
import resource
import time

import pytest

N_ATTACKERS = 3000
ADDRS = [f"127.0.0.{i}" for i in range(1, 31)]
FRESH = "127.0.0.200"


@pytest.fixture(autouse=True, scope="module")
def nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, 8192) if hard != resource.RLIM_INFINITY else 8192
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    if resource.getrlimit(resource.RLIMIT_NOFILE)[0] < N_ATTACKERS + 500:
        pytest.fail("RLIMIT_NOFILE cannot be raised enough for the test")
    yield


async def dial(port, src):
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port, local_addr=(src, 0)), 5)


async def fetch(port, src, request, timeout=1.0):
    """Sends request on a new connection; returns (status, headers+body text, seconds)."""
    t0 = time.monotonic()
    r, w = await dial(port, src)
    try:
        w.write(request.encode())
        await w.drain()
        data = await asyncio.wait_for(r.read(65536), timeout)
        while b"\r\n\r\n" not in data:
            more = await asyncio.wait_for(r.read(65536), timeout)
            if not more:
                break
            data += more
    finally:
        w.close()
    text = data.decode("latin-1")
    status = int(text.split(" ", 2)[1]) if text.startswith("HTTP/") else 0
    return status, text, time.monotonic() - t0


def healthz(port, src=FRESH):
    return fetch(port, src, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")


async def closed(reader, limit):
    """Seconds until the server closed the connection (reads return EOF), or None by limit."""
    t0 = time.monotonic()
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), limit - (time.monotonic() - t0))
            if not chunk:
                return time.monotonic() - t0
    except (asyncio.TimeoutError, ValueError):
        return None
    except (ConnectionResetError, BrokenPipeError):
        return time.monotonic() - t0


class Crowd:
    """Idle, header-trickling and body-trickling connections."""

    def __init__(self, port):
        self.port, self.conns, self.tasks, self.alive = port, [], [], 0

    async def open(self, n):
        sem = asyncio.Semaphore(200)

        async def one(i):
            async with sem:
                try:
                    r, w = await dial(self.port, ADDRS[i % len(ADDRS)])
                except (OSError, asyncio.TimeoutError):
                    return
                self.conns.append((r, w))
                kind = i % 3
                if kind == 1:
                    self.tasks.append(asyncio.ensure_future(self.trickle_headers(w)))
                elif kind == 2:
                    self.tasks.append(asyncio.ensure_future(self.trickle_body(w)))
        await asyncio.gather(*(one(i) for i in range(n)))

    async def trickle_headers(self, w):
        try:
            w.write(b"GET /healthz HTTP/1.1\r\n")
            for c in b"X-Slow: yes\r\n":
                await asyncio.sleep(10)
                w.write(bytes([c]))
        except (OSError, asyncio.CancelledError):
            pass

    async def trickle_body(self, w):
        try:
            w.write(b"POST /api/users/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100000\r\n\r\n")
            while True:
                await asyncio.sleep(1)
                w.write(b" ")
        except (OSError, asyncio.CancelledError):
            pass

    def open_count(self):
        return sum(1 for r, w in self.conns if not r.at_eof() and not w.is_closing())

    def close(self):
        for t in self.tasks:
            t.cancel()
        for _, w in self.conns:
            w.close()


def test_fresh_client_served_next_to_3000_slow_connections(souk_factory):
    s = souk_factory(SOUK_MAX_CONNECTIONS="4000", SOUK_MAX_CONNECTIONS_PER_IP="128",
                     SOUK_HEADER_TIMEOUT="60", SOUK_BODY_TIMEOUT="60", SOUK_IDLE_TIMEOUT="60")

    async def run():
        crowd = Crowd(s.port)
        await crowd.open(N_ATTACKERS)
        assert len(crowd.conns) == N_ATTACKERS
        latencies = []
        try:
            for _ in range(20):  # ~12 s: long enough for every trickler to send something
                status, text, secs = await healthz(s.port)
                assert status == 200, text
                latencies.append(secs)
                await asyncio.sleep(0.5)
            # the crowd was held, not refused: every connection is still open
            held = crowd.open_count()
        finally:
            crowd.close()
        return latencies, held

    latencies, held = asyncio.run(run())
    print(f"healthz next to {N_ATTACKERS} slow connections: max {max(latencies) * 1000:.1f} ms")
    assert max(latencies) < 1.0, latencies
    assert held == N_ATTACKERS


def test_deadlines_close_slow_connections(souk_factory):
    s = souk_factory(SOUK_HEADER_TIMEOUT="2", SOUK_BODY_TIMEOUT="3", SOUK_IDLE_TIMEOUT="2")

    async def run():
        idle = await dial(s.port, "127.0.0.1")
        head = await dial(s.port, "127.0.0.2")
        head[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never end
        body = await dial(s.port, "127.0.0.3")
        body[1].write(b"POST /api/users/login/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json"
                      b"\r\nContent-Length: 1000\r\n\r\n{")

        async def drip():
            for _ in range(10):
                await asyncio.sleep(1)
                body[1].write(b" ")
        dripping = asyncio.ensure_future(drip())
        keep = await dial(s.port, "127.0.0.4")  # served once, then idle keep-alive
        keep[1].write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        first = await asyncio.wait_for(keep[0].read(4096), 2)
        assert first.startswith(b"HTTP/1.1 200"), first
        got = await asyncio.gather(closed(idle[0], 6), closed(head[0], 6), closed(body[0], 8),
                                   closed(keep[0], 6))
        dripping.cancel()
        for c in (idle, head, body, keep):
            c[1].close()
        return got

    t_idle, t_head, t_body, t_keep = asyncio.run(run())
    assert t_idle is not None and 1.5 <= t_idle <= 3.5, t_idle
    assert t_head is not None and 1.5 <= t_head <= 3.5, t_head
    assert t_body is not None and 2.5 <= t_body <= 4.5, t_body  # still dripping a byte a second
    assert t_keep is not None and 1.5 <= t_keep <= 3.5, t_keep
    m = s.get("/metrics").text
    assert 'souk_http_deadline_closes_total{phase="body"} 1' in m, m
    assert 'souk_http_deadline_closes_total{phase="headers"} 1' in m
    assert 'souk_http_deadline_closes_total{phase="fresh"} 1' in m


def test_per_address_cap(souk_factory):
    s = souk_factory(SOUK_MAX_CONNECTIONS_PER_IP="10")

    async def run():
        held = [await dial(s.port, "127.0.0.9") for _ in range(10)]
        extra = await dial(s.port, "127.0.0.9")  # the kernel accepts; souk closes it at once
        t = await closed(extra[0], 3)
        other = await healthz(s.port, "127.0.0.10")
        held[0][1].close()
        await asyncio.sleep(0.3)
        again = await healthz(s.port, "127.0.0.9")  # a slot came free
        for c in held[1:] + [extra]:
            c[1].close()
        return t, other[0], again[0]

    t, other, again = asyncio.run(run())
    assert t is not None and t < 1.0
    assert other == 200 and again == 200
    assert 'souk_http_connections_refused_total{reason="per_address"} 1' in s.get("/metrics").text


def test_trusted_proxy_exempt_from_cap(souk_factory):
    s = souk_factory(SOUK_MAX_CONNECTIONS_PER_IP="5", SOUK_TRUSTED_PROXIES="127.0.0.7")

    async def run():
        held = [await dial(s.port, "127.0.0.7") for _ in range(12)]
        status = (await healthz(s.port, "127.0.0.7"))[0]
        for c in held:
            c[1].close()
        return status

    assert asyncio.run(run()) == 200


def test_max_connections_answers_503(souk_factory):
    s = souk_factory(SOUK_MAX_CONNECTIONS="16", SOUK_MAX_CONNECTIONS_PER_IP="0")

    async def run():
        held = [await dial(s.port, ADDRS[i % 5]) for i in range(16)]
        await asyncio.sleep(0.2)
        over = await healthz(s.port)
        for c in held:
            c[1].close()
        await asyncio.sleep(0.5)
        after = await healthz(s.port)
        return over, after

    (status, text, secs), after = asyncio.run(run())
    assert status == 503, text
    assert "application/problem+json" in text and "Connection: close" in text, text
    assert '"code":"service_unavailable"' in text.replace(" ", "") or "unavailable" in text, text
    assert secs < 1.0
    assert after[0] == 200
