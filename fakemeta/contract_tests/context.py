"""What a check works with: the receiver, fresh parties, and judgement.

A `CheckContext` sends through the run's target (spreading client addresses
so the receiver's rate limit never throttles the suite), builds deliveries
signed with the configured secret, asks the probe, and turns a wrong answer
into a `Failure` that carries the requirement, the exchange and what was
expected. A refused forgery passes on any 4xx in both profiles; the seed's
own codes are judged apart (CODE-1, CODE-2, strict only).
"""

from __future__ import annotations

import random
import secrets
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import NoReturn, TypeVar

from hypothesis import strategies as st

from fakemeta.contract_tests.addresses import AddressPlan
from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.errors import Failure, Skipped
from fakemeta.contract_tests.probes import Probe, Record
from fakemeta.contract_tests.requirements import Requirement
from fakemeta.contract_tests.shrinking import ReplayToken, freshen, run_examples
from fakemeta.simulator import eras, ids
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.encoding import encode
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.handshake import HandshakeResult, handshake, handshake_query
from fakemeta.simulator.targets import Exchange, Target
from fakemeta.simulator.types import Payload

__all__ = ["CheckContext"]

T = TypeVar("T")

#: How often one request, and one run, moves on from an address that was
#: limited before its first request: beyond that, the receiver limits
#: everyone (a global limit) and its 429s are judged as they are.
_MOVES_PER_REQUEST = 5
_MOVES_PER_RUN = 50

#: The era a skipped business-scoped user id check asks for.
_USER_ID_ERA = next(e.name for e in eras.ERAS.values() if e.business_scoped_ids)


class CheckContext:
    def __init__(
        self,
        config: SuiteConfig,
        requirement: Requirement,
        target: Target,
        addresses: AddressPlan,
        *,
        run_nonce: str,
        check_name: str,
    ) -> None:
        self.config = config
        self.requirement = requirement
        self.target = target
        self.addresses = addresses
        self.rng = random.Random(f"{config.seed}/{check_name}")
        self.run_nonce = run_nonce
        self.exchanges: list[Exchange] = []
        self.account = Account(
            ids.waba_id(self.rng),
            config.phone_number_id or ids.phone_number_id(self.rng),
            config.display_phone_number,
        )
        self._address = addresses.fresh()
        self._sent_from_address = 0
        self._examples_calls = 0  # which examples() call is which, for --replay

    # --- parties and payloads ------------------------------------------------

    @property
    def era(self) -> Era:
        """Whose webhook shapes this run sends (`--era`)."""
        return self.config.era

    def require_user_ids(self) -> None:
        """Skip the check in an era without business-scoped user ids."""
        if not self.era.business_scoped_ids:
            raise Skipped(
                f"era {self.era.name} has no business-scoped user ids: "
                f"run with --era {_USER_ID_ERA}"
            )

    def customer(self, name: str | None = None) -> Customer:
        """A sender no run has used before (fresh even with the same --seed),
        so the suite can run against a shared receiver that is never reset:
        a number, and in an era with them (2026) a business-scoped user id of
        the number's country, as every contact then carries."""
        fresh = random.Random(f"{self.run_nonce}/{self.rng.random()}")
        number = ids.wa_id(fresh)
        shown = name if name is not None else "Contract Test"
        if not self.era.business_scoped_ids:
            return Customer(number, shown)
        return Customer(number, shown, user_id=ids.bsuid(ids.country_of(number), fresh))

    def user(self, name: str | None = None, *, phone: bool = False) -> Customer:
        """A 2026 business-scoped user no run has used: a user id and a username,
        and a number only with `phone` (most users with a username hide it).
        Skips the check in an era without business-scoped user ids."""
        self.require_user_ids()
        fresh = random.Random(f"{self.run_nonce}/user/{self.rng.random()}")
        country = fresh.choice(("US", "BR", "IN", "SA", "EG", "DE", "MX", "ID"))
        return Customer(
            ids.wa_id(fresh) if phone else None,
            name if name is not None else "Contract Test",
            user_id=ids.bsuid(country, fresh),
            username=f"user.{ids.digits(8, fresh)}",
        )

    def unknown_account(self) -> Account:
        """An account whose phone number id no receiver knows."""
        fresh = random.Random(f"{self.run_nonce}/unknown/{self.rng.random()}")
        return Account(ids.waba_id(fresh), "9" + ids.digits(15, fresh), "15550000000")

    def signed(self, payload: Payload | bytes) -> Delivery:
        """A valid delivery of `payload` (or of these exact bytes), signed with the app secret."""
        body = payload if isinstance(payload, bytes) else encode(payload)
        return Delivery.signed(body, self.config.app_secret)

    # --- sending -------------------------------------------------------------

    def fresh_address(self) -> str | None:
        """A client address of its own (None where the suite cannot choose)."""
        return self.addresses.fresh()

    @contextmanager
    def own_address(self) -> Iterator[str | None]:
        """Requests in the block come from a fresh client address (moving on, as
        ever, when it reaches the rate limit); after it, the check's own again."""
        saved = self._address, self._sent_from_address
        self._address, self._sent_from_address = self.addresses.fresh(), 0
        try:
            yield self._address
        finally:
            self._address, self._sent_from_address = saved

    def send(
        self,
        method: str,
        query: str = "",
        body: bytes = b"",
        headers: Iterable[tuple[str, str]] = (),
        *,
        source_ip: str | None = None,
        paced: bool = True,
    ) -> Exchange:
        """One request to the webhook; `source_ip` pins the client address.

        `paced=False` skips the pacing a remote receiver gets: the rate-limit
        checks must go over the limit they are there to test.
        """
        pinned = source_ip is not None
        if source_ip is None:
            source_ip = self._next_address()
        for moves in range(_MOVES_PER_REQUEST + 1):
            if paced:
                self.addresses.before_request()
            exchange = self.target.send(method, query, body, tuple(headers), source_ip=source_ip)
            first = self.addresses.first_use(source_ip)
            moved_on = paced and not pinned and exchange.status == 429
            if not (moved_on and moves < _MOVES_PER_REQUEST and self._limited_before(first)):
                break
            # Not the receiver's fault: an earlier run filled this address's
            # window. Move on (or wait it out, remotely) and say so in the report.
            self.addresses.already_limited(source_ip, exchange.response.header("Retry-After"))
            if self.addresses.spread:
                source_ip = self._address = self.addresses.fresh()
                self._sent_from_address = 1
        self.exchanges.append(exchange)
        return exchange

    def _limited_before(self, first_use: bool) -> bool:
        """Whether a 429 says the address was limited before this run used it:
        the first request of a fresh address (at most a few times a run), or
        remotely, where the suite paces under the limit, once a run."""
        if self.addresses.spread:
            return first_use and len(self.addresses.events) < _MOVES_PER_RUN
        return not self.addresses.events

    def post(
        self, delivery: Delivery, *, source_ip: str | None = None, paced: bool = True
    ) -> Exchange:
        return self.send(
            "POST", "", delivery.body, delivery.headers, source_ip=source_ip, paced=paced
        )

    def get(self, verify_token: str | None, challenge: str, mode: str = "subscribe") -> Exchange:
        """The handshake GET with these parameters (None leaves the token out)."""
        return self.send("GET", handshake_query(mode, challenge, verify_token))

    def handshake(self, challenge: str | None = None) -> HandshakeResult:
        """The handshake with the configured token, judged as Meta judges it."""
        source_ip = self._next_address()
        for moves in range(_MOVES_PER_REQUEST + 1):
            result = handshake(
                self.target,
                self.config.verify_token,
                challenge=challenge,
                rng=self.rng,
                source_ip=source_ip,
            )
            first = self.addresses.first_use(source_ip)
            limited = result.exchange.status == 429 and moves < _MOVES_PER_REQUEST
            if not (limited and self._limited_before(first)):
                break
            response = result.exchange.response
            self.addresses.already_limited(source_ip, response.header("Retry-After"))
            if self.addresses.spread:
                source_ip = self._address = self.addresses.fresh()
                self._sent_from_address = 1
        self.exchanges.append(result.exchange)
        return result

    def _next_address(self) -> str | None:
        budget = self.addresses.budget
        if budget is not None and self._sent_from_address >= budget:
            self._address = self.addresses.fresh()
            self._sent_from_address = 0
        self._sent_from_address += 1
        return self._address

    # --- the store -----------------------------------------------------------

    @property
    def probe(self) -> Probe:
        if self.config.probe is None:
            raise Skipped("needs a probe to see the receiver's store (--probe)")
        return self.config.probe

    def clients(self, phone: str) -> list[Record]:
        return self.probe.clients(phone)

    def clients_by_user_id(self, user_id: str) -> list[Record]:
        lookup = getattr(self.probe, "clients_by_user_id", None)
        if lookup is None:
            raise Skipped(
                "the probe cannot look clients up by user_id (GET {probe}/clients?user_id=): "
                "business-scoped users cannot be checked"
            )
        records: list[Record] = lookup(user_id)
        return records

    def logged(self, message_id: str) -> list[Record]:
        return self.probe.messages(message_id)

    # --- judgement -----------------------------------------------------------

    @property
    def strict(self) -> bool:
        return self.config.profile == "strict"

    def fail(
        self, message: str, *, expected: str = "", exchange: Exchange | None = None
    ) -> NoReturn:
        raise Failure(
            self.requirement.id,
            message,
            expected=expected,
            exchange=exchange if exchange is not None else self.last_exchange,
        )

    @property
    def last_exchange(self) -> Exchange | None:
        return self.exchanges[-1] if self.exchanges else None

    def expect_acknowledged(self, exchange: Exchange, what: str) -> None:
        """Only 200 acknowledges a delivery: Meta retries anything else."""
        if exchange.status != 200:
            self.fail(
                f"{what} was answered HTTP {exchange.status}",
                expected="HTTP 200 (Meta treats any other status as a failure and retries)",
                exchange=exchange,
            )

    def expect_refused(
        self, exchange: Exchange, what: str, *, strict_status: int | None = None
    ) -> None:
        """A refusal: any 4xx; under strict exactly `strict_status` when one is given.

        The security requirements (a wrong token, a bad signature) pass no
        `strict_status`: a receiver that refuses a forgery is safe whatever
        4xx it says, and whether that 4xx is the seed's is CODE-1's and
        CODE-2's business, so no report calls it insecure for a 403.
        """
        status = exchange.status
        if strict_status is not None and self.strict and status != strict_status:
            self.fail(
                f"{what} was answered HTTP {status}",
                expected=f"HTTP {strict_status} (any 4xx under --profile meta)",
                exchange=exchange,
            )
        if not 400 <= status < 500:
            self.fail(
                f"{what} was answered HTTP {status}", expected="a 4xx refusal", exchange=exchange
            )

    def expect_no_5xx(self, exchange: Exchange, what: str) -> None:
        if exchange.status >= 500:
            self.fail(
                f"{what} made the receiver answer HTTP {exchange.status}",
                expected="a 2xx or 4xx answer, never a server error",
                exchange=exchange,
            )

    def examples(
        self,
        strategy: st.SearchStrategy[T],
        body: Callable[[T], None],
        *,
        count: int | None = None,
    ) -> None:
        """Run `body` on examples drawn from `strategy`, reproducibly from --seed.

        Every example is a fresh attempt: its own client address, and fresh
        message ids, sender numbers and user ids in any delivery inside the
        drawn value (`shrinking.freshen`), so a check's strategy may draw them
        with Hypothesis and still never repeat a party or a message. A failure
        is shrunk within --shrink-budget attempts and raised with its replay
        token; Hypothesis's replays of a value it has tried send nothing (see
        `fakemeta.contract_tests.shrinking`). With --replay, the call the token names
        runs exactly its example and the check's other calls send nothing.
        """
        call = self._examples_calls
        self._examples_calls += 1
        replay = ReplayToken.parse(self.config.replay) if self.config.replay else None
        if replay is not None and replay.call != call:
            return

        def attempt(value: T) -> None:
            with self.own_address():
                body(freshen(value))

        run_examples(
            strategy,
            attempt,
            examples=count or self.config.examples,
            seed_value=self.config.seed,
            call=call,
            budget=self.config.shrink_budget,
            exchanges=self.exchanges,
            replay=replay,
        )


def new_run_nonce() -> str:
    """Different in every run, even with the same --seed."""
    return secrets.token_hex(8)
