"""Rate limiting per client IP: RATE-1..3, proxies, storage outage, Redis across workers."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from flask import Flask
from receiver_helpers import WEBHOOK, base_config, build_app

from fakemeta.reference_receiver.state import receiver_state


def limited_app(tmp_path: Path, limit: str = "5/60", **overrides: object) -> Flask:
    return build_app(base_config(tmp_path, RATE_LIMIT=limit, **overrides))


def get(app: Flask, ip: str, headers: dict[str, str] | None = None) -> int:
    response = app.test_client().get(WEBHOOK, environ_base={"REMOTE_ADDR": ip}, headers=headers)
    return response.status_code


def test_rate_1_request_n_plus_1_is_429(tmp_path: Path) -> None:
    """RATE-1: the first N requests from one IP are served, request N+1 is 429."""
    app = limited_app(tmp_path)
    assert [get(app, "127.0.0.2") for _ in range(5)] == [403] * 5
    assert get(app, "127.0.0.2") == 429
    receiver_state(app).close()


def test_rate_1_default_is_100_per_60_seconds(tmp_path: Path) -> None:
    """RATE-1 with the seed's default: 100 served, the 101st is 429."""
    app = build_app(base_config(tmp_path, RATE_LIMIT=""))
    assert all(get(app, "127.0.0.3") == 403 for _ in range(100))
    assert get(app, "127.0.0.3") == 429
    receiver_state(app).close()


def test_rate_2_limit_is_per_client_ip(tmp_path: Path) -> None:
    """RATE-2: another IP is still served while the first is limited."""
    app = limited_app(tmp_path)
    for _ in range(6):
        get(app, "127.0.0.4")
    assert get(app, "127.0.0.4") == 429
    assert get(app, "127.0.0.5") == 403
    receiver_state(app).close()


def test_rate_3_429_carries_retry_after(tmp_path: Path) -> None:
    """RATE-3: the 429 carries Retry-After in seconds, within the window."""
    app = limited_app(tmp_path)
    client = app.test_client()
    for _ in range(5):
        client.get(WEBHOOK, environ_base={"REMOTE_ADDR": "127.0.0.6"})
    response = client.get(WEBHOOK, environ_base={"REMOTE_ADDR": "127.0.0.6"})
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.mimetype == "text/plain"
    receiver_state(app).close()


def test_rate_limit_counts_posts_too(tmp_path: Path) -> None:
    """The limit covers POST deliveries as well as the handshake."""
    app = limited_app(tmp_path, "2/60")
    client = app.test_client()
    codes = [
        client.post(WEBHOOK, data=b"x", environ_base={"REMOTE_ADDR": "127.0.0.7"}).status_code
        for _ in range(3)
    ]
    assert codes == [401, 401, 429]
    receiver_state(app).close()


def test_rate_limit_off_never_limits(tmp_path: Path) -> None:
    app = limited_app(tmp_path, "off")
    assert all(get(app, "127.0.0.8") == 403 for _ in range(150))
    receiver_state(app).close()


def test_x_forwarded_for_is_ignored_without_trusted_hops(tmp_path: Path) -> None:
    """A client cannot dodge the limit by inventing X-Forwarded-For."""
    app = limited_app(tmp_path, "2/60")
    codes = [get(app, "127.0.0.9", {"X-Forwarded-For": f"10.0.0.{i}"}) for i in range(3)]
    assert codes == [403, 403, 429]
    receiver_state(app).close()


def test_x_forwarded_for_is_used_with_one_trusted_hop(tmp_path: Path) -> None:
    """With TRUSTED_PROXY_HOPS=1 the client is the last X-Forwarded-For address."""
    app = limited_app(tmp_path, "2/60", TRUSTED_PROXY_HOPS="1")
    proxy = "127.0.0.10"
    for _ in range(2):
        assert get(app, proxy, {"X-Forwarded-For": "spoofed, 198.51.100.1"}) == 403
    assert get(app, proxy, {"X-Forwarded-For": "198.51.100.1"}) == 429
    assert get(app, proxy, {"X-Forwarded-For": "198.51.100.2"}) == 403
    receiver_state(app).close()


def test_unreachable_storage_falls_back_to_memory_without_5xx(tmp_path: Path) -> None:
    """Redis down: requests are still answered (and limited per process), never 5xx."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead_port = probe.getsockname()[1]
    app = limited_app(tmp_path, "3/60", RATE_LIMIT_STORAGE_URI=f"redis://127.0.0.1:{dead_port}")
    codes = [get(app, "127.0.0.11") for _ in range(5)]
    assert all(code < 500 for code in codes)
    assert codes[:3] == [403, 403, 403]
    receiver_state(app).close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.redis
def test_two_gunicorn_workers_share_one_limit_through_redis(tmp_path: Path, redis_url: str) -> None:
    """RATE-1 across processes: two gunicorn workers with Redis storage enforce one limit."""
    port = _free_port()
    config = base_config(tmp_path, RATE_LIMIT="6/60", RATE_LIMIT_STORAGE_URI=redis_url)
    build_app(config)  # migrates the database file the workers will open
    env = {**os.environ, **{k: str(v) for k, v in config.items()}}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "fakemeta.reference_receiver:create_app()",
        ],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        url = f"http://127.0.0.1:{port}{WEBHOOK}"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(url, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or server.poll() is not None:
                    pytest.fail(
                        f"gunicorn did not start: {server.stdout.read() if server.stdout else ''}"
                    )
                time.sleep(0.2)
        # A fresh source address per run keeps reruns inside one window independent.
        source = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
        codes = []
        for _ in range(14):
            # New connection each time, so the two workers both take requests.
            transport = httpx.HTTPTransport(local_address=source)
            with httpx.Client(transport=transport, timeout=5) as http:
                codes.append(http.get(url).status_code)
        assert codes.count(403) == 6, codes
        assert codes[6:] == [429] * 8, codes
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)


@pytest.mark.redis
def test_a_burst_never_passes_the_limit_when_the_redis_pool_runs_dry(
    tmp_path: Path, redis_url: str
) -> None:
    """300 concurrent requests from one address, limit 100/60, a Redis pool of two
    connections held up by a short pause of the server: the requests that find no
    free connection wait for one, they are never let through unlimited (before,
    the pool raised "Too many connections" and the limiter fell back to a fresh
    in-memory count or swallowed the error)."""
    import threading

    import redis
    from werkzeug.serving import make_server

    separator = "&" if "?" in redis_url else "?"
    app = limited_app(
        tmp_path,
        "100/60",
        RATE_LIMIT_STORAGE_URI=f"{redis_url}{separator}max_connections=2",
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    server.daemon_threads = True  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}{WEBHOOK}"
    source = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.{random.randint(2, 254)}"
    codes: list[int] = []
    start = threading.Barrier(301)

    def one() -> None:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=source), timeout=60) as http:
            start.wait()
            codes.append(http.get(url).status_code)

    threads = [threading.Thread(target=one) for _ in range(300)]
    try:
        for thread in threads:
            thread.start()
        admin = redis.Redis.from_url(redis_url)
        admin.execute_command("CLIENT", "PAUSE", "300", "ALL")  # every request finds it busy
        admin.close()
        start.wait()
        for thread in threads:
            thread.join(90)
    finally:
        server.shutdown()
        receiver_state(app).close()
    assert len(codes) == 300
    assert codes.count(403) == 100, sorted(set(codes))
    assert codes.count(429) == 200
