"""`fakemeta serve --era` and the fake Graph API's eras.

The default (2026) era's customers carry business-scoped user ids: inbound
webhooks have `from_user_id` and `contacts[].user_id`, the statuses of the
bot's replies `recipient_user_id` and a `contacts` array, and no
`conversation`; the bot may send to a business-scoped id (`recipient`).
The 2025 era's have phone numbers only and v23 statuses (with
`conversation`), and `recipient` is refused. Checked over real HTTP (a
server on loopback delivering to a loopback receiver), in-process
(`InProcessGraph`, as the pytest plugin's fixture runs it), and through the
command line.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from fakemeta.simulator.cli import main
from fakemeta.simulator.eras import CURRENT, ERAS, Era
from fakemeta.simulator.errors import UsageError
from fakemeta.simulator.graph.dispatch import Dispatcher
from fakemeta.simulator.graph.inprocess import InProcessGraph
from fakemeta.simulator.graph.server import FakeMeta, Running, start
from fakemeta.simulator.graph.state import (
    DEFAULT_PHONE_NUMBER,
    GraphSettings,
    GraphState,
    user_id_of,
)

if TYPE_CHECKING:
    from conftest import LoopbackReceiver, LoopbackRequest

pytestmark = pytest.mark.timeout(60)

PNID = DEFAULT_PHONE_NUMBER.phone_number_id
TOKEN = "era-test-access-token"
CUSTOMER = "966501234567"


def _echo_challenge(request: LoopbackRequest) -> tuple[int, bytes, dict[str, str]]:
    if request.method == "GET":
        return 200, request.args.get("hub.challenge", "").encode(), {"Content-Type": "text/plain"}
    return 200, b"EVENT_RECEIVED", {"Content-Type": "text/plain"}


def _values(body: bytes) -> list[dict[str, Any]]:
    payload = json.loads(body)
    return [change["value"] for entry in payload["entry"] for change in entry["changes"]]


def _wait_for(predicate: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = predicate()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.02)


class Server:
    """A fake Meta on loopback, subscribed to `receiver`, and a client."""

    def __init__(self, running: Running, receiver: LoopbackReceiver) -> None:
        self.running = running
        self.receiver = receiver
        self.client = httpx.Client(base_url=running.url, timeout=10)

    def say(self, spec: dict[str, Any]) -> httpx.Response:
        return self.client.post("/_fakemeta/inbound", json=spec)

    def reply(self, text: str, to: str = CUSTOMER) -> str:
        answer = self.client.post(
            f"/v23.0/{PNID}/messages",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"messaging_product": "whatsapp", "to": to, "type": "text",
                  "text": {"body": text}},
        )  # fmt: skip
        assert answer.status_code == 200, answer.text
        message_id: str = answer.json()["messages"][0]["id"]
        return message_id

    def send(self, body: dict[str, Any]) -> httpx.Response:
        """POST a send request to the Graph API as the bot."""
        return self.client.post(
            f"/v23.0/{PNID}/messages",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"messaging_product": "whatsapp", **body},
        )

    def posts(self) -> list[LoopbackRequest]:
        return [r for r in self.receiver.requests if r.method == "POST"]

    def statuses(self, message_id: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(status, its change's value) for every status of `message_id` delivered."""
        return [
            (status, value)
            for request in self.posts()
            for value in _values(request.body)
            for status in value.get("statuses", [])
            if status["id"] == message_id
        ]


@pytest.fixture(params=[None, "2025"], ids=["default", "2025"])
def server(
    request: pytest.FixtureRequest, loopback_receiver: LoopbackReceiver, loopback_secret: str
) -> Iterator[Server]:
    extra = {} if request.param is None else {"era": ERAS[request.param]}
    settings = GraphSettings(
        access_tokens=frozenset({TOKEN}),
        sent_after=0.0,
        delivered_after=0.05,
        read_after=0.1,
        **extra,  # type: ignore[arg-type]
    )
    state = GraphState(settings)
    dispatcher = Dispatcher(state, app_secret=loopback_secret, timeout=3.0)
    loopback_receiver.handler = _echo_challenge
    assert dispatcher.subscribe(loopback_receiver.url, "any-token").verified
    running = start(FakeMeta(state, dispatcher))
    found = Server(running, loopback_receiver)
    try:
        yield found
    finally:
        found.client.close()
        running.stop()


def _era(server: Server) -> Era:
    return server.running.app.state.era


def test_the_default_era_is_the_current_one() -> None:
    assert GraphSettings().era == CURRENT
    assert GraphState().era.business_scoped_ids
    assert GraphSettings(era="2025").era == ERAS["2025"]  # type: ignore[arg-type]


def test_inbound_and_status_webhooks_follow_the_servers_era(server: Server) -> None:
    era = _era(server)
    said = server.say({"from": CUSTOMER, "name": "Layla", "text": "مرحبا"})
    assert said.status_code == 202, said.text
    [inbound] = _wait_for(server.posts, "the inbound webhook")
    assert inbound.signature_ok
    [value] = _values(inbound.body)
    [message], [contact] = value["messages"], value["contacts"]
    assert message["from"] == contact["wa_id"] == CUSTOMER
    if era.business_scoped_ids:
        user_id = user_id_of(CUSTOMER)
        assert user_id.startswith("SA.")
        assert message["from_user_id"] == contact["user_id"] == user_id
        assert contact["profile"] == {"name": "Layla"}
    else:
        assert b"user_id" not in inbound.body

    message_id = server.reply("أهلاً")
    delivered = _wait_for(
        lambda: len(server.statuses(message_id)) == 3 and server.statuses(message_id),
        "sent, delivered and read",
    )
    assert [status["status"] for status, _ in delivered] == ["sent", "delivered", "read"]
    for status, value in delivered:
        assert status["recipient_id"] == CUSTOMER
        if era.business_scoped_ids:
            # The recipient's ids, before the statuses (v24+, business-scoped ids).
            assert list(value) == ["messaging_product", "metadata", "contacts", "statuses"]
            assert value["contacts"] == [{"wa_id": CUSTOMER, "user_id": user_id}]
            assert status["recipient_user_id"] == user_id
            assert "conversation" not in status
        else:
            assert "contacts" not in value
            assert "recipient_user_id" not in status
    if era.business_scoped_ids:
        assert delivered[0][0]["pricing"]["pricing_model"] == "PMP"
    else:
        # v23: the billed statuses carry the conversation, one id for both.
        sent, billed = delivered[0][0], delivered[1][0]
        assert sent["conversation"]["id"] == billed["conversation"]["id"]
        assert "expiration_timestamp" in sent["conversation"]
        assert all(b"user_id" not in r.body for r in server.posts())


def test_a_failed_status_has_no_contacts_in_either_era(server: Server) -> None:
    stranger = "4915112345678"  # never wrote: outside the window, 131047
    message_id = server.reply("hello?", to=stranger)
    [(status, value)] = _wait_for(lambda: server.statuses(message_id), "the failed status")
    assert status["status"] == "failed"
    assert status["errors"][0]["code"] == 131047
    assert status["recipient_id"] == stranger
    assert "contacts" not in value
    assert "recipient_user_id" not in status  # a message sent to a number


def test_a_user_id_the_customer_wrote_with_is_kept_for_their_statuses(server: Server) -> None:
    said = server.say({"from": CUSTOMER, "user_id": "SA.1234567890123456", "text": "hi"})
    if not _era(server).business_scoped_ids:
        assert said.status_code == 400
        error = said.json()["error"]
        assert "'user_id'" in error
        assert "--era 2026" in error
        return
    assert said.status_code == 202, said.text
    message_id = server.reply("hi yourself")
    statuses = _wait_for(lambda: server.statuses(message_id), "a status")
    assert statuses[0][0]["recipient_user_id"] == "SA.1234567890123456"
    # A later message by number alone comes from the same user id.
    again = server.say({"from": CUSTOMER, "text": "again"}).json()
    [message] = again["payload"]["entry"][0]["changes"][0]["value"]["messages"]
    assert message["from_user_id"] == "SA.1234567890123456"


def test_a_message_to_a_business_scoped_user_id(server: Server) -> None:
    user_id = "BR.98765432109876543210"  # a customer who shares no number
    hello = {"recipient": user_id, "type": "text", "text": {"body": "olá"}}
    if not _era(server).business_scoped_ids:
        refused = server.send(hello)
        assert refused.status_code == 400
        error = refused.json()["error"]
        assert (error["code"], error["message"]) == (100, "(#100) Invalid parameter")
        assert "fakemeta serve --era 2026" in error["error_data"]["details"]
        return
    said = server.say({"user_id": user_id, "name": "Ana", "text": "oi"})
    assert said.status_code == 202, said.text
    answer = server.send(hello)
    assert answer.status_code == 200, answer.text
    # Meta's business-scoped user id guide, "Send message response".
    assert answer.json()["contacts"] == [{"input": user_id, "user_id": user_id}]
    message_id = answer.json()["messages"][0]["id"]
    delivered = _wait_for(
        lambda: len(server.statuses(message_id)) == 3 and server.statuses(message_id),
        "sent, delivered and read",
    )
    for status, value in delivered:
        assert status["recipient_user_id"] == user_id
        assert "recipient_id" not in status  # the server knows no number for them
        assert value["contacts"] == [{"user_id": user_id}]
    # The user's conversation holds both messages, under their user id.
    conversation = server.client.get(f"/_fakemeta/conversations/{PNID}/{user_id}").json()
    assert (conversation["wa_id"], conversation["user_id"]) == (None, user_id)
    assert [m["direction"] for m in conversation["messages"]] == ["inbound", "outbound"]
    assert conversation["window_open"] is True
    summaries = server.client.get("/_fakemeta/conversations").json()["conversations"]
    assert [(c["wa_id"], c["user_id"]) for c in summaries] == [(None, user_id)]

    # An id this server never met: accepted, then failed 131026 by webhook.
    stranger = "DE.4915112345678000"
    answer = server.send({**hello, "recipient": stranger})
    assert answer.status_code == 200, answer.text
    failed_id = answer.json()["messages"][0]["id"]
    [(status, value)] = _wait_for(lambda: server.statuses(failed_id), "the failed status")
    assert status["status"] == "failed"
    assert status["errors"][0]["code"] == 131026
    assert status["recipient_user_id"] == stranger
    assert "recipient_id" not in status
    assert "contacts" not in value


def test_inbound_fixtures_are_the_eras(server: Server) -> None:
    era = _era(server)
    name = "messages/text" if era.business_scoped_ids else "statuses/sent_cbp_pricing"
    said = server.say({"fixture": name, "from": CUSTOMER})
    assert said.status_code == 202, said.text
    if era.business_scoped_ids:
        [value] = _values(json.dumps(said.json()["payload"]).encode())
        assert value["messages"][0]["from_user_id"] == user_id_of(CUSTOMER)
        assert value["contacts"][0]["user_id"] == user_id_of(CUSTOMER)
    # A fixture of the other era only is refused with a pointer to --era.
    other = "messages/text_phoneless" if not era.business_scoped_ids else "sent_cbp_pricing"
    refused = server.say({"fixture": other})
    assert refused.status_code == 400
    assert "--era" in refused.json()["error"]


# --- in-process, as the pytest plugin's fakemeta_graph runs it ------------------


class _App:
    """A WSGI webhook receiver: answers the handshake, records POSTed values."""

    def __init__(self) -> None:
        self.values: list[dict[str, Any]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        if environ["REQUEST_METHOD"] == "GET":
            query = dict(p.split("=", 1) for p in environ["QUERY_STRING"].split("&") if "=" in p)
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [query.get("hub.challenge", "").encode()]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        self.values += _values(environ["wsgi.input"].read(length))
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"EVENT_RECEIVED"]


@pytest.mark.parametrize("era", [None, "2025"])
def test_in_process_graph_takes_the_era(era: str | None) -> None:
    app = _App()
    graph = InProcessGraph(
        app, path="/webhook/", app_secret="s", verify_token="t", access_token=TOKEN, era=era
    )
    with graph:
        graph.customer_says("hi", from_=CUSTOMER)
        answer = httpx.post(
            f"https://graph.facebook.com/v23.0/{PNID}/messages",
            headers={"Authorization": f"Bearer {TOKEN}"},
            json={"messaging_product": "whatsapp", "to": CUSTOMER, "type": "text",
                  "text": {"body": "hello"}},
        )  # fmt: skip
        assert answer.status_code == 200
        graph.deliver()
    inbound = [v for v in app.values if "messages" in v]
    statuses = [v for v in app.values if "statuses" in v]
    assert [s["status"] for v in statuses for s in v["statuses"]] == ["sent", "delivered", "read"]
    if era is None:
        assert inbound[0]["messages"][0]["from_user_id"] == user_id_of(CUSTOMER)
        assert all(v["contacts"][0]["user_id"] == user_id_of(CUSTOMER) for v in statuses)
    else:
        assert "user_id" not in json.dumps(app.values)
        assert all("contacts" not in v for v in statuses)


def test_in_process_graph_refuses_an_era_its_settings_contradict() -> None:
    with pytest.raises(UsageError, match="era"):
        InProcessGraph(
            _App(), app_secret="s", verify_token="t", settings=GraphSettings(), era="2025"
        )


# --- the command line ----------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_serve_era_2025_prints_the_era_and_builds_phone_number_webhooks() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    for name in ("META_WEBHOOK_VERIFY_TOKEN", "META_CLIENT_SECRET", "WHATSAPP_ACCESS_TOKEN"):
        env.pop(name, None)
    process = subprocess.Popen(
        [sys.executable, "-c", "from fakemeta.simulator.cli import main; main()", "serve",
         "--port", str(port), "--era", "2025"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        banner: list[str] = []
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and banner[-1:] != ["Ctrl-C to stop"]:
            line = process.stdout.readline()
            if not line:
                break
            banner.append(line.rstrip("\n"))
        assert "  era                 2025 (phone numbers only, v23 statuses)" in banner, banner
        base = f"http://127.0.0.1:{port}/_fakemeta"
        assert httpx.get(base + "/").json()["era"] == "2025"
        said = httpx.post(base + "/inbound", json={"from": CUSTOMER, "text": "hi"})
        assert said.status_code == 202
        assert "user_id" not in json.dumps(said.json()["payload"])
    finally:
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=15)
    assert process.returncode == 0


def test_serve_unknown_era_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["serve", "--era", "1999"])
    _, err = capsys.readouterr()
    assert exited.value.code == 2
    assert err.startswith("fakemeta: UnknownEra: --era 1999")
    assert "2025, 2026" in err
    assert len(err.strip().splitlines()) == 1, err
