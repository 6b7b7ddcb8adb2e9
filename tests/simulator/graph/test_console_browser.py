"""The web console of `fakemeta serve`, end to end in headless Chromium.

A real bot on loopback (a small Flask app: it answers the handshake, checks
every signature over the raw bytes, and answers the customer through the
fake Graph API with httpx) talks to `fakemeta serve` started in-process; the
page is driven by Playwright in Debian's Chromium (no browser download).
Without Chromium or Playwright these tests skip, except under CI, where
they fail: CI installs both.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import os
import queue
import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from flask import Flask, request
from werkzeug.serving import make_server

from fakemeta.simulator.graph.dispatch import Dispatcher
from fakemeta.simulator.graph.server import CONSOLE, FakeMeta, Running, start
from fakemeta.simulator.graph.state import (
    DEFAULT_PHONE_NUMBER,
    GraphSettings,
    GraphState,
    user_id_of,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, Playwright

pytestmark = pytest.mark.timeout(60)

APP_SECRET = "console-test-app-secret"
VERIFY_TOKEN = "console-test-verify-token"
ACCESS_TOKEN = "console-test-access-token"
PNID = DEFAULT_PHONE_NUMBER.phone_number_id
CUSTOMER = "15551234567"  # the console's default customer
WAIT_MS = 10_000  # the longest any one wait may take
CHROMIUM = os.environ.get("FAKEMETA_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
# A 1x1 PNG, for the file input.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


# -- the bot -----------------------------------------------------------------------


@dataclass
class Received:
    """One webhook the bot got, as it arrived."""

    body: bytes
    signature_ok: bool

    def messages(self) -> list[dict[str, Any]]:
        payload = json.loads(self.body)
        return [
            m
            for e in payload["entry"]
            for c in e["changes"]
            for m in c["value"].get("messages", [])
        ]


class Bot:
    """A WhatsApp bot: a webhook receiver and a Graph API client.

    It echoes text ("you said: ..."), answers "menu" with reply buttons and
    "list" with a list, confirms a tap, and marks each message it handled as
    read. Replies are sent after the webhook is acknowledged, from a worker
    thread, as a real bot does. `failing` makes it answer 500 (no reply).
    """

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.failing = False
        self.graph_url = ""  # set once fakemeta serve runs
        self._todo: queue.Queue[dict[str, Any] | None] = queue.Queue()
        app = Flask("console-test-bot")
        app.add_url_rule("/webhook", view_func=self._webhook, methods=["GET", "POST"])
        self._server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}/webhook"
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._work, daemon=True),
        ]

    def _webhook(self) -> tuple[str, int]:
        if request.method == "GET":
            if request.args.get("hub.verify_token") != VERIFY_TOKEN:
                return "Forbidden", 403
            return request.args.get("hub.challenge", ""), 200
        body = request.get_data()
        expected = "sha256=" + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
        ok = hmac.compare_digest(request.headers.get("X-Hub-Signature-256", ""), expected)
        received = Received(body, ok)
        self.received.append(received)
        if not ok:
            return "Invalid signature", 401
        if self.failing:
            return "<h1>Internal Server Error</h1><img src=x onerror=window.__pwned=1>", 500
        for message in received.messages():
            self._todo.put(message)
        return "EVENT_RECEIVED", 200

    def _work(self) -> None:
        with httpx.Client(timeout=5.0) as graph:
            while (message := self._todo.get()) is not None:
                for reply in self.replies_to(message):
                    self._send(
                        graph, {"messaging_product": "whatsapp", "to": message["from"], **reply}
                    )
                self._send(graph, {"messaging_product": "whatsapp", "status": "read",
                                   "message_id": message["id"]})  # fmt: skip

    def _send(self, graph: httpx.Client, body: dict[str, Any]) -> None:
        answer = graph.post(
            f"{self.graph_url}/v23.0/{PNID}/messages",
            headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
            json=body,
        )
        assert answer.status_code == 200, answer.text

    @staticmethod
    def replies_to(message: dict[str, Any]) -> list[dict[str, Any]]:
        kind = message["type"]
        if kind == "text":
            text = message["text"]["body"]
            if text == "menu":
                return [{"type": "interactive", "interactive": MENU}]
            if text == "list":
                return [{"type": "interactive", "interactive": LIST}]
            return [{"type": "text", "text": {"body": f"you said: {text}"}}]
        if kind == "interactive":
            reply = message["interactive"][message["interactive"]["type"]]
            text = f"you chose: {reply['title']} ({reply['id']})"
            quoted = {"message_id": message["id"]}
            return [{"type": "text", "text": {"body": text}, "context": quoted}]
        return []

    def messages(self, kind: str | None = None) -> list[dict[str, Any]]:
        found = [m for r in self.received for m in r.messages()]
        return [m for m in found if kind is None or m["type"] == kind]

    def __enter__(self) -> Bot:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._todo.put(None)
        self._server.shutdown()
        self._server.server_close()


MENU = {
    "type": "button",
    "body": {"text": "Shall we?"},
    "action": {
        "buttons": [
            {"type": "reply", "reply": {"id": "opt-yes", "title": "Yes"}},
            {"type": "reply", "reply": {"id": "opt-no", "title": "No"}},
        ]
    },
}
LIST = {
    "type": "list",
    "body": {"text": "Pick a size"},
    "action": {
        "button": "Sizes",
        "sections": [
            {
                "title": "Shirts",
                "rows": [
                    {"id": "size-s", "title": "Small", "description": "fits 36-38"},
                    {"id": "size-m", "title": "Medium"},
                ],
            }
        ],
    },
}


# -- fixtures ------------------------------------------------------------------------


def _browser_missing() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the Python package playwright is missing: pip install -e '.[test]'"
    if not Path(CHROMIUM).exists():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium, or set FAKEMETA_CHROMIUM"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    missing = _browser_missing()
    if missing is not None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the console's browser tests: {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    playwright: Playwright
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def bot() -> Iterator[Bot]:
    with Bot() as bot:
        yield bot


@pytest.fixture
def server(bot: Bot) -> Iterator[Running]:
    settings = GraphSettings(
        access_tokens=frozenset({ACCESS_TOKEN}),
        sent_after=0.2,
        delivered_after=0.5,
        read_after=1.0,
    )
    state = GraphState(settings)
    dispatcher = Dispatcher(state, app_secret=APP_SECRET, timeout=3.0)
    running = start(FakeMeta(state, dispatcher))
    bot.graph_url = running.url
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def subscribed(server: Running, bot: Bot) -> Running:
    assert server.app.dispatcher.subscribe(bot.url, VERIFY_TOKEN).verified
    return server


@contextlib.contextmanager
def console(browser: Browser, server: Running) -> Iterator[Page]:
    """The console in a fresh browser context; fails on any JavaScript error."""
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server.url + CONSOLE)
    page.wait_for_selector("body[data-ready=true]")
    yield page
    context.close()
    assert errors == [], f"JavaScript errors in the console: {errors}"


@pytest.fixture
def page(browser: Browser, subscribed: Running) -> Iterator[Page]:
    with console(browser, subscribed) as page:
        yield page


# -- helpers ------------------------------------------------------------------------


def expect(locator: Locator) -> Any:
    from playwright.sync_api import expect as playwright_expect

    playwright_expect.set_options(timeout=WAIT_MS)
    return playwright_expect(locator)


def send_text(page: Page, text: str) -> None:
    page.get_by_test_id("composer-text").fill(text)
    page.get_by_test_id("composer-send").click()
    expect(page.get_by_test_id("composer-text")).to_have_value("")


def bubble(page: Page, direction: str, text: str) -> Locator:
    return page.locator(f'[data-testid=message][data-direction="{direction}"]').filter(
        has=page.get_by_test_id("message-text").get_by_text(text, exact=True)
    )


def wait_until(predicate: Callable[[], Any], what: str, timeout: float = WAIT_MS / 1000) -> Any:
    """For conditions on the bot's side (the page's own waits are Playwright's)."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)
    return value


def page_messages(page: Page) -> list[dict[str, Any]]:
    """The customer's transcript as the control API gives it to the page."""
    base = page.url.split("/_fakemeta")[0]
    found = httpx.get(f"{base}/_fakemeta/conversations/{PNID}/{CUSTOMER}").json()
    messages: list[dict[str, Any]] = found["messages"]
    return messages


# -- tests ------------------------------------------------------------------------


def test_a_customer_text_gets_the_bots_reply_and_its_ticks_go_to_read(page: Page, bot: Bot) -> None:
    expect(page.get_by_test_id("subscription")).to_have_attribute("data-verified", "true")
    expect(page.get_by_test_id("customer-wa-id")).to_have_value(CUSTOMER)

    send_text(page, "hello 👋 / مرحبا")

    mine = bubble(page, "inbound", "hello 👋 / مرحبا")
    expect(mine).to_have_count(1)
    reply = bubble(page, "outbound", "you said: hello 👋 / مرحبا")
    expect(reply).to_have_count(1)
    ticks = reply.get_by_test_id("ticks")
    expect(ticks).to_have_attribute("data-status", "read")
    expect(ticks).to_have_text("✓✓")
    expect(ticks).to_have_css("color", "rgb(83, 189, 235)")  # WhatsApp's blue
    # The bot acknowledged the customer's message and marked it read.
    expect(mine.get_by_test_id("ticks")).to_have_attribute("data-status", "read")
    [received] = bot.messages("text")
    assert received["from"] == CUSTOMER
    assert all(r.signature_ok for r in bot.received)

    log = page.get_by_test_id("delivery")
    expect(log.and_(page.locator("[data-kind=inbound][data-state=delivered]"))).to_have_count(1)
    statuses = log.and_(page.locator("[data-kind=status][data-state=delivered]"))
    expect(statuses).to_have_count(3)  # sent, delivered, read
    expect(statuses.first.get_by_test_id("delivery-result")).to_have_text("HTTP 200")
    expect(statuses.first.get_by_test_id("delivery-next")).to_have_text("acknowledged")


def test_tapping_a_reply_button_answers_that_bot_message(page: Page, bot: Bot) -> None:
    send_text(page, "menu")
    menu = page.locator("[data-testid=message][data-direction=outbound][data-type=interactive]")
    expect(menu.get_by_test_id("message-text")).to_have_text("Shall we?")
    expect(menu.get_by_test_id("reply-button")).to_have_text(["Yes", "No"])
    menu_id = menu.get_attribute("data-id")

    menu.locator('[data-testid=reply-button][data-id="opt-yes"]').click()

    answer = bubble(page, "outbound", "you chose: Yes (opt-yes)")
    expect(answer).to_have_count(1)
    expect(answer.get_by_test_id("quote")).to_have_text("Yes")  # it quotes the tap
    [tap] = bot.messages("interactive")
    assert tap["interactive"] == {
        "type": "button_reply",
        "button_reply": {"id": "opt-yes", "title": "Yes"},
    }
    assert tap["context"] == {"from": DEFAULT_PHONE_NUMBER.display_phone_number, "id": menu_id}
    # The customer's tap shows on the phone too, quoting the menu.
    tapped = page.locator("[data-testid=message][data-direction=inbound][data-type=interactive]")
    expect(tapped.get_by_test_id("quote")).to_have_text("Shall we?")


def test_a_list_row_and_a_reaction_reach_the_bot(page: Page, bot: Bot) -> None:
    send_text(page, "list")
    listing = page.locator("[data-testid=message][data-direction=outbound][data-type=interactive]")
    listing.get_by_test_id("list-open").click()
    expect(listing.get_by_test_id("list-row")).to_have_count(2)
    listing.locator('[data-testid=list-row][data-id="size-s"]').click()
    expect(bubble(page, "outbound", "you chose: Small (size-s)")).to_have_count(1)
    [choice] = bot.messages("interactive")
    assert choice["interactive"]["list_reply"] == {
        "id": "size-s",
        "title": "Small",
        "description": "fits 36-38",
    }

    listing.get_by_test_id("react-open").click()
    listing.locator('[data-testid=reaction-choice][data-emoji="❤️"]').click()
    expect(listing.get_by_test_id("reaction")).to_have_text("❤️")
    [reaction] = wait_until(lambda: bot.messages("reaction"), "the reaction webhook")
    assert reaction["reaction"] == {"message_id": listing.get_attribute("data-id"), "emoji": "❤️"}


def test_an_image_and_a_location_reach_the_bot(page: Page, bot: Bot, tmp_path: Path) -> None:
    picture = tmp_path / "dot.png"
    picture.write_bytes(PNG)
    page.get_by_test_id("attach").click()
    page.get_by_test_id("composer-text").fill("a dot")
    page.get_by_test_id("attach-image").set_input_files(str(picture))
    image = page.locator("[data-testid=message][data-direction=inbound][data-type=image]")
    expect(image.get_by_test_id("message-text")).to_have_text("a dot")
    expect(image.locator("img.preview")).to_have_count(1)  # the picked file, from a blob: URL
    [sent] = wait_until(lambda: bot.messages("image"), "the image webhook")
    assert sent["image"]["mime_type"] == "image/png"
    assert sent["image"]["caption"] == "a dot"
    assert sent["image"]["sha256"] == base64.b64encode(hashlib.sha256(PNG).digest()).decode()

    page.get_by_test_id("attach").click()
    page.get_by_test_id("location-lat").fill("24.7136")
    page.get_by_test_id("location-long").fill("46.6753")
    page.get_by_test_id("location-name").fill("الرياض")
    page.get_by_test_id("send-location").click()
    expect(page.locator("[data-testid=message][data-type=location]")).to_contain_text("الرياض")
    [where] = wait_until(lambda: bot.messages("location"), "the location webhook")
    assert (where["location"]["latitude"], where["location"]["longitude"]) == (24.7136, 46.6753)
    assert where["location"]["name"] == "الرياض"
    [contact] = json.loads(bot.received[-1].body)["entry"][0]["changes"][0]["value"]["contacts"]
    assert contact["profile"]["name"] == "Test Customer"  # the venue's name is not the customer's


def test_a_failing_receiver_is_retried_and_the_clock_brings_the_next_attempt(
    page: Page, bot: Bot, tmp_path: Path
) -> None:
    bot.failing = True
    send_text(page, "anyone there?")
    attempts = page.locator("[data-testid=delivery][data-kind=inbound]")
    # Meta retries at once, then after 15 s.
    expect(attempts).to_have_count(2)
    first = attempts.and_(page.locator("[data-attempt='1']"))
    expect(first.get_by_test_id("delivery-result")).to_have_text("HTTP 500")
    second = attempts.and_(page.locator("[data-attempt='2']"))
    expect(second).to_have_attribute("data-state", "retrying")
    expect(second.get_by_test_id("delivery-next")).to_have_text(
        re.compile(r"^retry at \d\d:\d\d:\d\d$")
    )
    expect(page.get_by_test_id("pending-job")).to_contain_text("retrying")
    mine = bubble(page, "inbound", "anyone there?")
    expect(mine.get_by_test_id("ticks")).to_have_attribute("data-status", "not acknowledged")

    page.get_by_test_id("clock-advance-15").click()
    expect(attempts).to_have_count(3)
    expect(attempts.first).to_have_attribute("data-attempt", "3")  # newest first
    expect(page.get_by_test_id("clock")).to_have_text("clock +15 s")

    bot.failing = False
    page.get_by_test_id("clock-advance-60").click()
    expect(attempts.first).to_have_attribute("data-attempt", "4")
    expect(attempts.first).to_have_attribute("data-state", "delivered")
    expect(bubble(page, "outbound", "you said: anyone there?")).to_have_count(1)
    expect(mine.get_by_test_id("ticks")).to_have_attribute("data-status", "read")
    expect(page.get_by_test_id("pending-job")).to_have_count(0)
    assert len(bot.messages("text")) == 4  # the same message, four times

    # One picture of a busy page for a human to look at (set the variable to keep it).
    shot = Path(os.environ.get("FAKEMETA_CONSOLE_SCREENSHOT") or tmp_path / "console.png")
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 10_000


def test_replay_sends_the_same_bytes_again(page: Page, bot: Bot) -> None:
    send_text(page, "once")
    inbound = page.locator("[data-testid=delivery][data-kind=inbound]")
    expect(inbound).to_have_count(1)
    expect(bubble(page, "outbound", "you said: once")).to_have_count(1)
    inbound.get_by_test_id("delivery-replay").click()
    expect(inbound).to_have_count(2)
    expect(inbound.first).to_contain_text("replay of")
    wait_until(lambda: len(bot.messages("text")) == 2, "the replayed webhook")
    first, again = [r.body for r in bot.received if r.messages()]
    assert first == again


def test_receiver_text_is_shown_as_text_never_as_markup(page: Page, bot: Bot) -> None:
    evil = "<img src=x onerror=window.__pwned=1><b>bold</b>"
    send_text(page, evil)
    reply = bubble(page, "outbound", f"you said: {evil}")
    expect(reply).to_have_count(1)
    assert reply.locator("img, b").count() == 0

    bot.failing = True  # its 500 answers with HTML
    send_text(page, "again")
    failed = page.locator("[data-testid=delivery][data-state=retrying]").first
    failed.locator("summary").click()
    expect(failed.get_by_test_id("response-body")).to_contain_text("<img src=x onerror")
    assert page.locator("[data-testid=delivery-log] img").count() == 0
    assert page.evaluate("window.__pwned") is None


def test_an_unverified_subscription_holds_the_messages_until_verified(
    browser: Browser, server: Running, bot: Bot
) -> None:
    assert not server.app.dispatcher.subscribe(bot.url, "not-the-token").verified
    with console(browser, server) as page:
        badge = page.get_by_test_id("subscription")
        expect(badge).to_have_attribute("data-verified", "false")
        expect(badge).to_contain_text("status 403")
        send_text(page, "hello?")
        waiting = page.locator("[data-testid=pending-job][data-state=waiting]")
        expect(waiting).to_contain_text("waiting for a verified subscription")
        assert bot.messages() == []

        server.app.dispatcher.subscription.verify_token = VERIFY_TOKEN  # the app is fixed
        page.get_by_test_id("subscription-verify").click()
        expect(badge).to_have_attribute("data-verified", "true")
        expect(bubble(page, "outbound", "you said: hello?")).to_have_count(1)
        expect(waiting).to_have_count(0)


def test_reset_empties_the_chat_and_the_log(page: Page) -> None:
    send_text(page, "to be forgotten")
    expect(bubble(page, "outbound", "you said: to be forgotten")).to_have_count(1)
    page.get_by_test_id("reset").click()
    expect(page.get_by_test_id("message")).to_have_count(0)
    expect(page.get_by_test_id("delivery")).to_have_count(0)
    send_text(page, "fresh start")
    expect(bubble(page, "outbound", "you said: fresh start")).to_have_count(1)


def test_another_customer_and_a_failed_bot_message_with_its_code(page: Page) -> None:
    page.get_by_test_id("customer-wa-id").fill("15557654321")
    page.get_by_test_id("customer-wa-id").press("Tab")
    page.get_by_test_id("customer-name").fill("Nadia")
    page.get_by_test_id("customer-name").press("Tab")
    expect(page.locator("#chat-sub")).to_contain_text("Nadia (+15557654321)")

    # The bot writes first: outside the 24 h window, so Meta fails it by webhook.
    answer = httpx.post(
        f"{page.url.split('/_fakemeta')[0]}/v23.0/{PNID}/messages",
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
        json={"messaging_product": "whatsapp", "to": "15557654321", "text": {"body": "hi?"}},
    )
    assert answer.status_code == 200, answer.text
    late = bubble(page, "outbound", "hi?")
    expect(late.get_by_test_id("ticks")).to_have_attribute("data-status", "failed")
    expect(late.get_by_test_id("error-code")).to_contain_text("131047")

    send_text(page, "hello from Nadia")  # opens the window: the bot's echo goes through
    expect(bubble(page, "outbound", "you said: hello from Nadia")).to_have_count(1)
    expect(page.get_by_test_id("message")).to_have_count(3)


def test_a_message_to_the_customers_user_id_lands_in_their_chat(page: Page) -> None:
    send_text(page, "reach me by id")  # the customer writes from their number
    expect(bubble(page, "outbound", "you said: reach me by id")).to_have_count(1)
    # The bot answers by the business-scoped id the customer's webhooks carried.
    [inbound] = [m for m in page_messages(page) if m["direction"] == "inbound"]
    user_id = inbound["user_id"]
    assert user_id == user_id_of(CUSTOMER)
    answer = httpx.post(
        f"{page.url.split('/_fakemeta')[0]}/v23.0/{PNID}/messages",
        headers={"Authorization": f"Bearer {ACCESS_TOKEN}"},
        json={"messaging_product": "whatsapp", "recipient": user_id, "type": "text",
              "text": {"body": "found you by id"}},
    )  # fmt: skip
    assert answer.status_code == 200, answer.text
    assert answer.json()["contacts"] == [{"input": user_id, "user_id": user_id}]
    by_id = bubble(page, "outbound", "found you by id")
    expect(by_id).to_have_count(1)
    expect(by_id.get_by_test_id("ticks")).to_have_attribute("data-status", "read")
    expect(page.get_by_test_id("message")).to_have_count(3)
