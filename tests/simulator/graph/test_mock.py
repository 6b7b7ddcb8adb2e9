"""GraphMock: httpx clients (sync and async) against the fake, through respx."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import httpx
import pytest
import respx
from graph_helpers import PNID, TOKEN, USER, FrozenClock

from fakemeta.simulator.graph.mock import GraphMock
from fakemeta.simulator.graph.state import GraphSettings, GraphState

AUTH = {"Authorization": f"Bearer {TOKEN}"}
HELLO = {"messaging_product": "whatsapp", "to": USER, "type": "text", "text": {"body": "hi"}}


def test_a_bot_sends_through_httpx():
    with GraphMock() as graph:
        graph.state.record_inbound(PNID, USER)
        client = httpx.Client(base_url="https://graph.facebook.com/v23.0", headers=AUTH)
        response = client.post(f"/{PNID}/messages", json=HELLO)
    assert response.status_code == 200
    assert response.json()["contacts"] == [{"input": USER, "wa_id": USER}]
    last = graph.last_message()
    assert last["id"] == response.json()["messages"][0]["id"]
    assert last["content"] == {"body": "hi"}
    assert graph.sent_messages(to="+" + USER) == [last]
    assert graph.calls.call_count == 1


def test_http_and_other_ports_are_routed_too():
    with GraphMock() as graph:
        graph.state.record_inbound(PNID, USER)
        for base in ("http://graph.facebook.com", "https://graph.facebook.com:443"):
            response = httpx.post(f"{base}/v19.0/{PNID}/messages", json=HELLO, headers=AUTH)
            assert response.status_code == 200


def test_errors_come_back_as_httpx_responses_with_metas_status():
    with GraphMock():
        response = httpx.post(f"https://graph.facebook.com/v23.0/{PNID}/messages", json=HELLO,
                              headers={"Authorization": "Bearer nope"})  # fmt: skip
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 190
    assert "invalid_token" in response.headers["www-authenticate"]


def test_an_async_client_works():
    async def main() -> httpx.Response:
        async with httpx.AsyncClient(
            base_url="https://graph.facebook.com/v23.0", headers=AUTH
        ) as c:
            return await c.post(
                f"/{PNID}/messages",
                json=HELLO
                | {
                    "type": "template",
                    "template": {"name": "hello_world", "language": {"code": "en_US"}},
                },
            )

    with GraphMock():
        response = asyncio.run(main())
    assert response.json()["messages"][0]["message_status"] == "accepted"


def test_media_round_trip_through_the_cdn_host():
    data = b"%PDF-1.7 \x00\xff"
    with GraphMock() as graph:
        client = httpx.Client(base_url="https://graph.facebook.com/v23.0", headers=AUTH)
        uploaded = client.post(
            f"/{PNID}/media",
            data={"messaging_product": "whatsapp", "type": "application/pdf"},
            files={"file": ("report.pdf", data, "application/pdf")},
        )
        media_id = uploaded.json()["id"]
        url = client.get(f"/{media_id}").json()["url"]
        assert url.startswith("https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid=")
        assert httpx.get(url).status_code == 401
        download = httpx.get(url, headers=AUTH)
        assert download.content == data
        assert 'filename="report.pdf"' in download.headers["content-disposition"]
        assert client.delete(f"/{media_id}").json() == {"success": True}
        assert httpx.get(url, headers=AUTH).status_code == 404
        assert graph.state.media(media_id) is None


def test_start_and_stop_and_a_shared_state():
    state = GraphState(GraphSettings(pair_rate_burst=1), clock=FrozenClock())
    graph = GraphMock(state).start()
    try:
        state.record_inbound(PNID, USER)
        url = f"https://graph.facebook.com/v23.0/{PNID}/messages"
        assert httpx.post(url, json=HELLO, headers=AUTH).status_code == 200
        assert httpx.post(url, json=HELLO, headers=AUTH).json()["error"]["code"] == 131056
        assert len(state.webhooks.pending()) == 3
    finally:
        graph.stop()
    with graph:  # routes survive a stop
        assert (
            httpx.get(f"https://graph.facebook.com/v23.0/{PNID}", headers=AUTH).status_code == 200
        )
    assert graph.calls.call_count == 3


def test_other_hosts_are_not_silently_answered():
    with GraphMock(), pytest.raises(respx.models.AllMockedAssertionError):
        httpx.get("https://example.com/")


def test_last_message_without_any_is_an_assertion():
    graph = GraphMock(settings=GraphSettings())
    with pytest.raises(AssertionError, match="to '123'"):
        graph.last_message("123")
    with pytest.raises(ValueError, match="not both"):
        GraphMock(GraphState(), settings=GraphSettings())


def test_pass_through_adds_a_catch_all_route():
    assert len(GraphMock(pass_through=True).router.routes) == 3


def test_without_respx_the_import_error_names_the_extra() -> None:
    # A base install has no respx: the fixture's error must say what to install.
    script = (
        "import sys; sys.modules['respx'] = None\n"
        "try:\n"
        "    import fakemeta.simulator.graph.mock\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pip install 'fakemeta[pytest]'" in done.stdout
