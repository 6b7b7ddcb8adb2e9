"""The attacks a web page can make on `fakemeta serve` on a developer's
machine, one test each, over real HTTP on loopback (`_guard.py`, and the
body limit and path handling in `server.py`)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator

import httpx
import pytest
from serve_helpers import ACCESS_TOKEN, serving

from fakemeta.simulator.graph.server import CONSOLE, Running
from fakemeta.simulator.graph.state import DEFAULT_PHONE_NUMBER

pytestmark = pytest.mark.timeout(30)

PNID = DEFAULT_PHONE_NUMBER.phone_number_id
INBOUND = {"from": "15551234567", "type": "text", "text": "hi"}
BEARER = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
BODY_LIMIT = 64 * 1024


@pytest.fixture
def running() -> Iterator[Running]:
    with serving(allowed_hosts=("fakemeta.test",), max_body_bytes=BODY_LIMIT) as server:
        yield server


def _nothing_sent(running: Running) -> bool:
    return running.app.state.webhooks.pending() == [] and running.app.state.conversations() == []


def _raw(running: Running, request: bytes) -> bytes:
    """Send bytes as they are (what httpx would not send) and read one answer:
    its head and `Content-Length` bytes of body (empty when nothing came back)."""
    host, port = running.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
            data += chunk
        head = data.partition(b"\r\n\r\n")[0].decode("latin-1").lower()
        length = next(
            (int(line.split(":", 1)[1]) for line in head.split("\r\n")
             if line.startswith("content-length:")),
            0,
        )  # fmt: skip
        while len(data.partition(b"\r\n\r\n")[2]) < length and (chunk := sock.recv(65536)):
            data += chunk
    return data


# -- Host: a foreign name, DNS rebinding -----------------------------------------------


def test_a_foreign_host_is_refused_on_the_console_and_the_control_api(
    client: httpx.Client, running: Running
) -> None:
    for method, path in (("GET", CONSOLE), ("GET", "/_fakemeta/deliveries"), ("GET", "/")):
        response = client.request(method, path, headers={"Host": "evil.example"})
        assert response.status_code == 403, (path, response.text)
        assert "Host 'evil.example' is not this server's" in response.json()["error"]
    response = client.post("/_fakemeta/inbound", json=INBOUND, headers={"Host": "evil.example"})
    assert response.status_code == 403
    assert _nothing_sent(running)


def test_a_dns_rebinding_page_cannot_read_deliveries(client: httpx.Client) -> None:
    # The page's own name, now resolving to 127.0.0.1, with this server's port.
    port = client.base_url.port
    response = client.get("/_fakemeta/deliveries", headers={"Host": f"attacker.example:{port}"})
    assert response.status_code == 403
    assert "deliveries" not in response.json()


def test_loopback_names_the_host_option_and_allowed_names_are_served(
    client: httpx.Client,
) -> None:
    port = client.base_url.port
    for host in ("localhost", f"localhost:{port}", f"127.0.0.1:{port}", f"[::1]:{port}",
                 "LOCALHOST.", "fakemeta.test:1234"):  # fmt: skip
        response = client.get("/_fakemeta/deliveries", headers={"Host": host})
        assert response.status_code == 200, (host, response.text)


def test_the_graph_api_answers_a_bot_under_any_host_name(client: httpx.Client) -> None:
    # Decided: Graph routes need the access token, as Meta's do; a bot in a
    # container reaches this server as host.docker.internal.
    response = client.get(f"/v23.0/{PNID}", headers={**BEARER, "Host": "host.docker.internal"})
    assert response.status_code == 200, response.text
    assert response.json()["id"] == PNID


# -- Origin, Sec-Fetch-Site and content types --------------------------------------------


def test_a_cross_site_origin_cannot_post(client: httpx.Client, running: Running) -> None:
    for path, body in (
        ("/_fakemeta/inbound", INBOUND),
        ("/_fakemeta/faults", {"drop": 5}),
        ("/_fakemeta/subscription", {"callback_url": "http://evil.example/hook"}),
        ("/_fakemeta/reset", None),
    ):
        response = client.post(path, json=body, headers={"Origin": "https://evil.example"})
        assert response.status_code == 403, (path, response.text)
        assert "Origin 'https://evil.example'" in response.json()["error"]
    assert _nothing_sent(running)
    assert running.app.dispatcher.faults.to_json()["drop"] == 0
    assert running.app.dispatcher.subscription.callback_url is None


def test_an_origin_null_or_another_local_port_cannot_post(client: httpx.Client) -> None:
    for origin in ("null", "http://localhost:3000", f"https://127.0.0.1:{client.base_url.port}"):
        response = client.post("/_fakemeta/faults", json={"drop": 1}, headers={"Origin": origin})
        assert response.status_code == 403, origin


def test_sec_fetch_site_cross_site_cannot_post(client: httpx.Client, running: Running) -> None:
    response = client.post("/_fakemeta/inbound", json=INBOUND,
                           headers={"Sec-Fetch-Site": "cross-site"})  # fmt: skip
    assert response.status_code == 403
    assert _nothing_sent(running)


def test_the_consoles_own_origin_may_post(client: httpx.Client, running: Running) -> None:
    origin = running.url.replace("127.0.0.1", "localhost")
    host = origin.removeprefix("http://")
    response = client.post(
        "/_fakemeta/inbound",
        json=INBOUND,
        headers={"Origin": origin, "Host": host, "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 202, response.text


def test_a_text_plain_simple_request_is_refused(client: httpx.Client, running: Running) -> None:
    # What a cross-site <form enctype=text/plain> or no-cors fetch can send
    # without a preflight, even where a browser leaves Origin out.
    body = json.dumps(INBOUND).encode()
    for content_type in ("text/plain", "application/x-www-form-urlencoded", None):
        headers = {"Content-Type": content_type} if content_type else {}
        response = client.post("/_fakemeta/inbound", content=body, headers=headers)
        assert response.status_code == 415, (content_type, response.text)
        assert "application/json" in response.json()["error"]
    assert _nothing_sent(running)


def test_a_post_without_a_body_needs_no_content_type(client: httpx.Client) -> None:
    assert client.post("/_fakemeta/reset").status_code == 200


# -- the console's headers ------------------------------------------------------------


def test_console_responses_carry_csp_and_frame_options(client: httpx.Client) -> None:
    for path in (CONSOLE, CONSOLE + "/console.js", CONSOLE + "/console.css"):
        response = client.get(path)
        assert response.status_code == 200, path
        csp = response.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert "'unsafe-inline'" not in csp
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    control = client.get("/_fakemeta/deliveries")
    assert control.headers["X-Content-Type-Options"] == "nosniff"
    assert control.headers["X-Frame-Options"] == "DENY"


# -- request bodies ---------------------------------------------------------------------


def test_an_oversized_body_is_refused_413_unread(client: httpx.Client) -> None:
    big = b"x" * (BODY_LIMIT + 1)
    control = client.post(
        "/_fakemeta/inbound", content=big, headers={"Content-Type": "application/json"}
    )
    assert control.status_code == 413
    assert f"at most {BODY_LIMIT}" in control.json()["error"]
    graph = client.post(f"/v23.0/{PNID}/messages", content=big,
                        headers={**BEARER, "Content-Type": "application/json"})  # fmt: skip
    assert graph.status_code == 413
    error = graph.json()["error"]  # Meta's error shape
    assert error["code"] == 100
    assert "fbtrace_id" in error
    assert f"at most {BODY_LIMIT}" in error["error_data"]["details"]


def test_an_oversized_chunked_body_is_refused_413(running: Running) -> None:
    chunk = b"x" * 8192
    chunks = b"".join(b"2000\r\n" + chunk + b"\r\n" for _ in range(BODY_LIMIT // 8192 + 2))
    answer = _raw(
        running,
        f"POST /v23.0/{PNID}/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {ACCESS_TOKEN}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n".encode()
        + chunks
        + b"0\r\n\r\n",
    )
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"code":100' in answer


# -- Graph paths the HTTP layer could not answer --------------------------------------------


def test_a_non_latin_1_graph_path_gets_metas_error(running: Running) -> None:
    answer = _raw(
        running,
        b"POST /v23.0/%D9%A1%D9%A0/messages HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + f"Authorization: Bearer {ACCESS_TOKEN}\r\n".encode()
        + b"Content-Length: 0\r\nConnection: close\r\n\r\n",
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400"), answer[:300]
    error = json.loads(body)["error"]
    assert error["code"] == 100
    assert error["error_subcode"] == 33
    assert "١٠" in error["message"]


def test_a_crlf_in_a_graph_path_gets_metas_error_not_a_500(client: httpx.Client) -> None:
    response = client.post(f"/v23.0/%0D%0AX-Injected:%201/{PNID}/messages", headers=BEARER)
    assert response.status_code in (400, 404), response.text
    assert "X-Injected" not in response.headers
    error = response.json()["error"]
    assert error["type"] in ("GraphMethodException", "OAuthException")
    assert isinstance(error["code"], int)
    assert "fbtrace_id" in error
