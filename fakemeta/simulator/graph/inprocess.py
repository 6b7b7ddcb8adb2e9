"""The fake Graph API inside a host project's own tests.

A host's bot code calls `https://graph.facebook.com/...` with httpx; here
those calls are answered from a `GraphState` (through `GraphMock`, respx),
validated and refused exactly as `fakemeta serve` does, and the webhooks
they cause (sent, delivered, read, failed) are delivered to the host's app
in-process by the same `Dispatcher`, signed, after the same verification
handshake. Time is the state's clock: `deliver()` moves it forward to the
last queued status, so a test never sleeps. The webhooks follow `era`
(`fakemeta.simulator.eras`; default the current shapes, "2025" for an app still on
the older ones).

    with InProcessGraph(app, path="/webhook/", app_secret=..., verify_token=...,
                        access_token="EAAG...") as graph:
        graph.customer_says("hi")           # the bot answers through the Graph API
        graph.deliver()                     # its statuses reach the app
        assert graph.last_message()["request"]["text"]["body"] == "you said: hi"
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import TracebackType
from typing import Any

from fakemeta.simulator import eras
from fakemeta.simulator.envelopes import Account
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import SimulatorError, UsageError
from fakemeta.simulator.graph import inbound
from fakemeta.simulator.graph.deliveries import DeliveryRecord
from fakemeta.simulator.graph.dispatch import Dispatcher
from fakemeta.simulator.graph.mock import GraphMock
from fakemeta.simulator.graph.state import DEFAULT_PHONE_NUMBER, GraphSettings, GraphState
from fakemeta.simulator.targets import target_for

__all__ = ["InProcessGraph", "SubscriptionFailed", "WebhookRefused"]

_APP_URL = "http://testserver"


class SubscriptionFailed(UsageError):
    """The host's app did not pass Meta's verification handshake.

    Cause: the app refused the GET or answered something other than the
    challenge (see the reason). Fix: make the webhook echo `hub.challenge` for
    the configured verify token; nothing is delivered until it does.
    """


class WebhookRefused(SimulatorError, AssertionError):
    """The app did not acknowledge a customer message with 200.

    Cause: the webhook answered another status (the message shows it and the
    start of the body: a 401 is usually a signature checked with another app
    secret, or over re-encoded bytes), or raised. Meta would retry it, and
    the reply the test waits for never comes. Fix: make the webhook answer
    200; to test a refusal on purpose, call `customer_says(..., check=False)`.
    """


class InProcessGraph:
    """A fake Graph API for httpx calls, delivering its webhooks to `app` (or `url`)."""

    def __init__(
        self,
        app: Callable[..., Any] | None = None,
        *,
        path: str = "/",
        url: str | None = None,
        app_secret: str,
        verify_token: str,
        access_token: str | None = None,
        phone_number_id: str | None = None,
        settings: GraphSettings | None = None,
        era: Era | str | None = None,
        verify_tls: bool = True,
    ) -> None:
        """`verify_tls=False`: any TLS certificate of the receiver at `url` is accepted."""
        if (app is None) == (url is None):
            raise UsageError("InProcessGraph takes an app (with its path) or a url, not both")
        if settings is None:
            settings = GraphSettings(era=eras.era(era))
            if access_token:
                settings = replace(settings, access_tokens=frozenset({access_token}))
            if phone_number_id:
                number = replace(DEFAULT_PHONE_NUMBER, phone_number_id=phone_number_id)
                settings = replace(settings, phone_numbers={phone_number_id: number})
        elif access_token and access_token not in settings.access_tokens:
            raise UsageError("access_token is not one of settings.access_tokens")
        elif era is not None and eras.era(era) != settings.era:
            raise UsageError(f"era={eras.era(era)} differs from settings.era={settings.era}")
        self.state = GraphState(settings)
        # Over HTTP the webhooks themselves go through httpx: let them out.
        self.mock = GraphMock(self.state, pass_through=url is not None)
        self._callback = url if url is not None else _APP_URL + "/" + path.lstrip("/")
        factory = (
            (lambda _url: target_for(app, path))
            if app is not None
            else (lambda callback: target_for(callback, verify_tls=verify_tls))
        )
        self.dispatcher = Dispatcher(self.state, app_secret=app_secret, target_factory=factory)
        self._verify_token = verify_token

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> InProcessGraph:
        """Patch httpx and subscribe the app (raises `SubscriptionFailed`)."""
        subscription = self.dispatcher.subscribe(self._callback, self._verify_token)
        if not subscription.verified:
            raise SubscriptionFailed(
                f"the app at {self._callback} did not pass the verification handshake: "
                f"{subscription.reason}"
            )
        self.mock.start()
        return self

    def stop(self) -> None:
        self.mock.stop()
        self.dispatcher.unsubscribe()

    def __enter__(self) -> InProcessGraph:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # -- the customer and the clock ------------------------------------------------

    @property
    def account(self) -> Account:
        number = next(iter(self.state.settings.phone_numbers.values()))
        return Account(number.waba_id, number.phone_number_id, number.display_phone_number)

    def customer_says(
        self,
        text: str | None = None,
        *,
        from_: str = "15551234567",
        name: str = "Test Customer",
        check: bool = True,
        **spec: Any,
    ) -> list[DeliveryRecord]:
        """A customer message to the app, delivered now; returns the attempts.
        Raises `WebhookRefused`, with the app's status and body, when the app
        did not answer it 200 (`check=False`: return the attempts anyway).

        `text` sends a text; otherwise `spec` is a control-API builder spec
        (`type="location", latitude=..., longitude=...`,
        `type="button_reply", reply_to=<bot message id>, button_id=..., title=...`).
        """
        if text is not None:
            spec = {"type": "text", "text": text, **spec}
        payload = inbound.build(
            {"from": from_, "name": name, **spec},
            self.account,
            era=self.state.era,
            user_id_for=self.state.user_id,
        )
        for phone_number_id, message in inbound.messages_in(payload):
            if "from" in message or "from_user_id" in message:
                self.state.record_inbound(phone_number_id, message.get("from"), message)
        kind = inbound.kind_of(payload)
        job = self.state.webhooks.schedule(kind, payload, label="customer message")  # type: ignore[arg-type]
        attempts = self._drain()
        if check:
            _check_acknowledged(job.id, attempts)
        return attempts

    def deliver(self, *, advance: float | None = None) -> list[DeliveryRecord]:
        """Deliver what is queued: by default moves the clock to the last queued
        webhook (so every status of the messages sent so far arrives), or by
        `advance` seconds. Returns the attempts made."""
        if advance is None:
            pending = self.state.webhooks.pending()
            advance = max((job.due_at for job in pending), default=0.0) - self.state.clock.now()
        if advance > 0:
            self.state.clock.advance(advance)
        return self._drain()

    def _drain(self) -> list[DeliveryRecord]:
        last = max((r.id for r in self.dispatcher.log.records()), default=0)
        self.dispatcher.drain()
        return self.dispatcher.log.records(after=last)

    # -- assertions --------------------------------------------------------------

    @property
    def deliveries(self) -> list[DeliveryRecord]:
        """Every delivery attempt so far, oldest first."""
        return self.dispatcher.log.records()

    def sent_messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """What the app sent through the Graph API and the fake accepted."""
        return self.mock.sent_messages(to)

    def last_message(self, to: str | None = None) -> dict[str, Any]:
        return self.mock.last_message(to)


def _check_acknowledged(job: int, attempts: list[DeliveryRecord]) -> None:
    """Raise `WebhookRefused` unless the first attempt at `job` got a 200."""
    first = next((a for a in attempts if a.job == job), None)
    if first is None or first.response_status == 200:
        return
    where = first.url or "the app"
    if first.response_status is None:
        raise WebhookRefused(f"the customer message did not reach {where}: {first.error}")
    body = first.response_body[:500].decode("utf-8", "replace")
    raise WebhookRefused(
        f"{where} answered the customer message with {first.response_status}, not 200: {body!r}"
    )
