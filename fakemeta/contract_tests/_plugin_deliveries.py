"""`fakemeta_deliveries`: signed deliveries for a host project's own tests.

A factory bound to the app secret and the account of the test's fakemeta
options: `text()`, `build("image")` and `of(payload)` return a `Delivery`
(exact bytes, Meta's headers, signed), whose one-change negatives
(`unsigned()`, `tampered()`, `signed_with()`, ...) are one call away.
`post()` sends one to the `fakemeta_target` app or URL in-process and
returns the app's `Answer`, shaped like an httpx response (`status_code`,
`headers`, `content`, `text`, `json()`).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import httpx

from fakemeta.simulator import catalog, envelopes, eras, messages
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.targets import Exchange, Target, target_for

__all__ = ["Answer", "Deliveries"]


@dataclass(frozen=True)
class Answer(Exchange):
    """The app's answer to a posted delivery, read as an httpx response is
    (`status_code`, `headers`, `content`, `text`, `json()`, `is_success`);
    still the whole `Exchange` (`request`, `response`, `latency`, `status`)."""

    @classmethod
    def of(cls, exchange: Exchange) -> Answer:
        return cls(exchange.request, exchange.response, exchange.latency)

    @property
    def status_code(self) -> int:
        return self.response.status

    @property
    def is_success(self) -> bool:
        return 200 <= self.response.status < 300

    @property
    def headers(self) -> httpx.Headers:
        """Case-insensitive, as httpx's: `answer.headers["content-type"]`."""
        return httpx.Headers(list(self.response.headers))

    @property
    def content(self) -> bytes:
        return self.response.body

    @property
    def text(self) -> str:
        return self.response.text

    def json(self) -> Any:
        return json.loads(self.response.body)


class Deliveries:
    """Deliveries signed with `app_secret`, for `account`, from `customer` by
    default, in the webhook shapes of `era` (default: the current ones)."""

    def __init__(
        self,
        app_secret: str,
        account: Account,
        *,
        target: str | Callable[..., Any] | None = None,
        path: str = "/",
        rng: random.Random | None = None,
        era: Era | str | None = None,
        verify_tls: bool = True,
    ) -> None:
        """`verify_tls=False` accepts any certificate from a receiver at an https URL."""
        self.app_secret = app_secret
        self.account = account
        self.era = eras.era(era)
        self._rng = rng or random.Random()
        self.customer = self.new_customer("Test User")
        self._target_spec = target
        self._path = path
        self._verify_tls = verify_tls
        self._target: Target | None = None

    def __repr__(self) -> str:
        return f"<fakemeta_deliveries for phone number id {self.account.phone_number_id}>"

    def new_customer(self, name: str | None = "Test User") -> Customer:
        """A sender no other delivery of this factory has used: a number, and
        in the 2026 era a business-scoped user id too."""
        customer = Customer.generate(name or "", self._rng, era=self.era)
        return customer if name is not None else replace(customer, name=None)

    # -- building ------------------------------------------------------------

    def of(self, payload: Mapping[str, Any] | list[Any] | bytes) -> Delivery:
        """Any payload encoded the Meta way (or these exact bytes), signed."""
        body = payload if isinstance(payload, bytes) else encode(payload)
        return Delivery.signed(body, self.app_secret)

    def text(
        self,
        body: str = "Hello, I need information",
        *,
        sender: Customer | None = None,
        message_id: str | None = None,
    ) -> Delivery:
        """A text message from `sender` (default: this factory's customer)."""
        sender = sender or self.customer
        message = messages.text(sender, body, id=message_id, rng=self._rng)
        return self.of(envelopes.message_payload(self.account, message, sender))

    def build(self, name: str, *, sender: Customer | None = None) -> Delivery:
        """A named catalog variant (`"image"`, `"statuses/read"`, ...; see
        `fakemeta fixtures list`) with fresh ids, for this account."""
        context = catalog.Context.fresh(self.account, sender or self.customer, era=self.era)
        return self.of(catalog.build(name, context))

    def payload(self, name: str, *, sender: Customer | None = None) -> dict[str, Any]:
        """The payload dict of a catalog variant, to change before `of()`."""
        context = catalog.Context.fresh(self.account, sender or self.customer, era=self.era)
        return dict(catalog.build(name, context))

    # -- sending -------------------------------------------------------------

    def post(self, delivery: Delivery, *, source_ip: str | None = None) -> Answer:
        """POST `delivery` to the `fakemeta_target` app (in-process) or URL;
        `answer.status_code == 200` when the app acknowledged it."""
        if self._target is None:
            if self._target_spec is None:
                raise RuntimeError(
                    "fakemeta_deliveries.post() needs a receiver: override the "
                    "fakemeta_target fixture or pass --fakemeta-url"
                )
            self._target = target_for(self._target_spec, self._path, verify_tls=self._verify_tls)
        exchange = self._target.send(
            "POST", "", delivery.body, delivery.headers, source_ip=source_ip
        )
        return Answer.of(exchange)

    def close(self) -> None:
        if self._target is not None:
            self._target.close()
            self._target = None
