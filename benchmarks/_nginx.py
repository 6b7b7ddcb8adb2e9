"""nginx on a free loopback port, answering every request `200 OK`.

The endpoint of the client benchmarks (`load_vs_wrk.py`, `locust_user.py`):
a server that costs next to nothing a request, so that what they measure is
the client. It runs as the calling user, in the foreground, with its prefix,
configuration, pid file and logs in a directory the caller owns.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

__all__ = ["find_nginx", "free_port", "start_nginx", "stop_nginx"]

_CONF = """
worker_processes {workers};
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_max_body_size 1m;
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "OK"; }}
    }}
}}
"""


def find_nginx() -> str | None:
    """The nginx binary: on PATH, or where Debian and source builds put it
    (sbin is often not on a user's PATH); None when there is none."""
    return shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if Path(p).exists()), None
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_nginx(
    nginx: str, directory: Path, *, workers: str = "auto"
) -> tuple[subprocess.Popen[bytes], str]:
    """Start nginx with `workers` worker processes, wait until it accepts
    connections, and return its master process and a webhook URL on it."""
    port = free_port()
    conf = directory / "nginx.conf"
    conf.write_text(_CONF.format(dir=directory, port=port, workers=workers))
    # `-e`: without it nginx first tries the system's error log, which an
    # ordinary user may not open.
    log = directory / "error.log"
    process = subprocess.Popen(
        [nginx, "-c", str(conf), "-p", str(directory), "-e", str(log), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return process, f"http://127.0.0.1:{port}/webhook"
        except OSError:
            if process.poll() is not None:
                assert process.stderr is not None
                raise SystemExit(f"nginx did not start: {process.stderr.read().decode()}") from None
            time.sleep(0.05)
    process.kill()
    process.wait()
    raise SystemExit("nginx did not start listening within 10 s")


def stop_nginx(process: subprocess.Popen[bytes]) -> None:
    """Stop nginx gracefully (SIGQUIT), or kill it after 10 s."""
    process.send_signal(signal.SIGQUIT)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
