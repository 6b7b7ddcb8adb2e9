"""Meta's webhook traffic on Locust, for load runs one machine cannot make.

Where this sits: the same bodies as `fakemeta load` (`BodyFactory`: unique,
Meta-encoded, signed), posted by Locust's `FastHttpUser` instead of the
engine, so that Locust's master and workers spread them over machines. Use
it from a locustfile:

    from fakemeta.simulator.load.locust import WhatsAppWebhookUser

    class Webhook(WhatsAppWebhookUser):
        mix = "text=8,image=1,status=3"

and run `locust -f locustfile.py --host http://127.0.0.1:8000/webhook/
--fakemeta-app-secret ...` (the secret defaults to `$META_CLIENT_SECRET`).
`fakemeta/simulator/load/locustfile.py` is a ready one.

Importing this module imports Locust, which monkey-patches the standard
library with gevent: import it from a locustfile, never from a process that
does other work.

Settings (STYLE rule 10): the command line (`--fakemeta-*`, added to
Locust's parser; a worker takes the master's) over the environment
(`$META_CLIENT_SECRET`, `$FAKEMETA_PHONE_NUMBER_ID`) over Locust's config
file (`fakemeta-mix = ...`) over the class attribute, resolved into a
frozen `LocustSettings` as each user starts. The master (or a lone
process) checks them before the run: a bad one is one line and exit 2.

With `--fakemeta-counts-dir DIR`, each process that runs users also counts
its deliveries the way the embedded engine does (`locust_run.ProcessCounts`:
status codes, errors, an HdrHistogram of latencies, the acknowledged message
ids) and keeps `DIR/<pid>.json` up to date: what `fakemeta load --locust`
reads and reports.

One `BodyFactory` per process and settings, shared by that process's users:
building one costs about 8 ms (a template per kind and customer), which
would stall the spawning of hundreds of users, and sharing changes nothing
on the wire. `make()` never yields to gevent, so users cannot interleave
inside it. Its random stream is seeded from `os.urandom` in each process,
so two workers never share one and bodies stay unique across the run.
"""

from __future__ import annotations

import atexit
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from locust import FastHttpUser, constant_throughput, events, task
from locust.argument_parser import LocustArgumentParser
from locust.env import Environment
from locust.runners import MasterRunner, WorkerRunner

from fakemeta.simulator import eras, ids
from fakemeta.simulator.delivery import CONTENT_TYPE, USER_AGENT
from fakemeta.simulator.envelopes import Account
from fakemeta.simulator.errors import BadInput, UsageError
from fakemeta.simulator.graph.state import DEFAULT_PHONE_NUMBER
from fakemeta.simulator.load.bodies import BodyFactory, BodySpec
from fakemeta.simulator.load.locust_run import ProcessCounts
from fakemeta.simulator.load.mix import DEFAULT_MIX, parse_mix
from fakemeta.simulator.signing import LEGACY_SIGNATURE_HEADER, SIGNATURE_HEADER

__all__ = ["LocustSettings", "WhatsAppWebhookUser", "settings_for"]

#: Locust options (`--fakemeta-<name>`) and the class attribute each overrides.
_OPTIONS = {
    "fakemeta_app_secret": "app_secret",
    "fakemeta_mix": "mix",
    "fakemeta_batch": "batch",
    "fakemeta_era": "era",
    "fakemeta_phone_number_id": "phone_number_id",
    "fakemeta_path": "webhook_path",
    "fakemeta_user_rate": "user_rate",
    "fakemeta_timeout": "timeout",
    "fakemeta_insecure": "insecure",
    "fakemeta_record_ids": "record_ids",
}


@dataclass(frozen=True)
class LocustSettings:
    """What a `WhatsAppWebhookUser` class sends, resolved and checked."""

    app_secret: str
    mix: str
    batch: int
    era: str
    phone_number_id: str
    webhook_path: str
    customers: int
    #: Deliveries a second each user sends at most; None: as fast as answered.
    user_rate: float | None = None
    #: Seconds to connect, and to wait for each answer; None: Locust's 60.
    timeout: float | None = None
    insecure: bool = False
    record_ids: bool = False

    def body_spec(self) -> BodySpec:
        return BodySpec(
            mix=parse_mix(self.mix),
            era=eras.era(self.era),
            account=_account(self.phone_number_id),
            app_secret=self.app_secret,
            batch=self.batch,
            customers=self.customers,
        )


def _account(phone_number_id: str) -> Account:
    """The business every worker sends as: the default number of `fakemeta
    serve`, or for another phone number id a WABA and display number derived
    from it (so that all workers agree without being told)."""
    if phone_number_id == DEFAULT_PHONE_NUMBER.phone_number_id:
        return DEFAULT_PHONE_NUMBER.account
    rng = random.Random(f"fakemeta-locust/{phone_number_id}")
    return Account(ids.waba_id(rng), phone_number_id, ids.wa_id(rng))


def settings_for(user_class: type[WhatsAppWebhookUser], options: Any) -> LocustSettings:
    """`user_class`'s settings with Locust's parsed `options` (None: none given)
    over its class attributes. Raises `BadInput` with one line when one is wrong."""
    given = {attribute: getattr(options, option, None) for option, attribute in _OPTIONS.items()}
    value = {
        attribute: given[attribute]
        if given[attribute] not in (None, "")
        else getattr(user_class, attribute)
        for attribute in _OPTIONS.values()
    }
    if not value["app_secret"]:
        raise BadInput(
            "no app secret: pass --fakemeta-app-secret, set META_CLIENT_SECRET or set"
            f" app_secret on {user_class.__name__}"
        )
    try:
        batch = int(str(value["batch"]))
    except ValueError:
        batch = 0
    if batch < 1:
        raise BadInput(
            f"batch {value['batch']!r} (--fakemeta-batch): give a whole number of 1 or more"
        )
    if not str(value["phone_number_id"]).isdigit():
        raise BadInput(
            f"phone number id {value['phone_number_id']!r} (--fakemeta-phone-number-id,"
            " $FAKEMETA_PHONE_NUMBER_ID): give the digits of the business's phone number id"
        )
    settings = LocustSettings(
        app_secret=str(value["app_secret"]),
        mix=str(value["mix"]),
        batch=batch,
        era=str(value["era"]),
        phone_number_id=str(value["phone_number_id"]),
        webhook_path=str(value["webhook_path"]),
        customers=int(user_class.customers),
        user_rate=_positive(value["user_rate"], "--fakemeta-user-rate", "deliveries a second"),
        timeout=_positive(value["timeout"], "--fakemeta-timeout", "seconds"),
        insecure=bool(value["insecure"]),
        record_ids=bool(value["record_ids"]),
    )
    parse_mix(settings.mix)  # raises BadInput
    eras.era(settings.era)  # raises UnknownEra
    return settings


def _positive(value: Any, option: str, unit: str) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = 0.0
    if not 0 < number < float("inf"):
        raise BadInput(f"{option} {value!r}: give {unit}, more than 0")
    return number


_factories: dict[LocustSettings, BodyFactory] = {}


def _factory(settings: LocustSettings) -> BodyFactory:
    factory = _factories.get(settings)
    if factory is None:
        factory = _factories[settings] = BodyFactory(settings.body_spec(), random.Random())
    return factory


class WhatsAppWebhookUser(FastHttpUser):
    """Posts unique signed webhook bodies, as Meta does, as fast as it is answered.

    Subclass it in a locustfile; set the class attributes below (or pass the
    `--fakemeta-*` options) and, like any Locust user, `wait_time` for pacing
    (none: the next body as soon as the last is answered; `user_rate`
    replaces it). Every POST carries Meta's headers (`Content-Type`,
    `User-Agent: facebookexternalua`, `X-Hub-Signature-256`,
    `X-Hub-Signature`); an answer other than 200 is a failure in Locust's
    statistics, redirects are not followed, as Meta follows none, and the
    receiver's TLS certificate is verified, as Meta verifies it (unlike
    `FastHttpUser`'s default). Requests go to `--host` plus `webhook_path`.
    """

    abstract = True

    #: The app secret bodies are signed with [--fakemeta-app-secret, $META_CLIENT_SECRET].
    app_secret: ClassVar[str | None] = None
    #: Kinds of update and their weights, as `fakemeta load --mix` [--fakemeta-mix].
    mix: ClassVar[str] = DEFAULT_MIX
    #: Updates per body [--fakemeta-batch].
    batch: ClassVar[int] = 1
    #: Whose shapes: "2025" or "2026" [--fakemeta-era].
    era: ClassVar[str] = eras.CURRENT.name
    #: The business number the updates are for
    #: [--fakemeta-phone-number-id, $FAKEMETA_PHONE_NUMBER_ID].
    phone_number_id: ClassVar[str] = DEFAULT_PHONE_NUMBER.phone_number_id
    #: Appended to `--host`; empty: post to `--host` as given [--fakemeta-path].
    webhook_path: ClassVar[str] = ""
    #: Distinct senders the bodies cycle through.
    customers: ClassVar[int] = 32
    #: Keep the inbound message ids of every body answered 200 in
    #: `acknowledged_ids`, to look them up in the receiver's store afterwards
    #: [--fakemeta-record-ids].
    record_ids: ClassVar[bool] = False
    #: Deliveries a second each user sends at most (Locust's
    #: `constant_throughput`, in place of `wait_time`); None: as fast as
    #: answered [--fakemeta-user-rate].
    user_rate: ClassVar[float | None] = None
    #: Seconds to connect and to wait for each answer; None: `FastHttpUser`'s
    #: `connection_timeout` and `network_timeout` [--fakemeta-timeout].
    timeout: ClassVar[float | None] = None
    #: Do not verify the receiver's TLS certificate [--fakemeta-insecure].
    insecure = False

    max_redirects = 0

    def __init__(self, environment: Environment) -> None:
        settings = settings_for(type(self), environment.parsed_options)
        # `FastHttpUser.__init__` builds the client from these.
        self.insecure = settings.insecure
        if settings.timeout is not None:
            self.connection_timeout = self.network_timeout = settings.timeout
        super().__init__(environment)
        self.settings = settings
        if settings.user_rate is not None:
            pacing = constant_throughput(settings.user_rate)
            self.wait_time = lambda: pacing(self)  # type: ignore[method-assign]
        self.factory = _factory(settings)
        self._path = settings.webhook_path
        self._counts = _counting.get("process")
        self.acknowledged_ids: list[str] = []
        # One dict per user, refilled in place: `request()` copies it before
        # any I/O, so a user's next body cannot overwrite what is on the wire.
        self._headers = {
            "Content-Type": CONTENT_TYPE,
            "User-Agent": USER_AGENT,
            SIGNATURE_HEADER: "",
            LEGACY_SIGNATURE_HEADER: "",
        }

    @task
    def deliver(self) -> None:
        """POST the next body; anything but 200 counts as a failure."""
        recorded: list[bytes] | None = [] if self.settings.record_ids else None
        body, sha256, sha1 = self.factory.make(recorded)
        headers = self._headers
        headers[SIGNATURE_HEADER] = sha256.decode("ascii")
        headers[LEGACY_SIGNATURE_HEADER] = sha1.decode("ascii")
        counts = self._counts
        if counts is not None:
            counts.sent(self.settings.batch, len(body))
        began = time.perf_counter_ns()
        with self.client.request(
            "POST",
            self._path,
            data=body,  # type: ignore[arg-type]  # bytes are sent as they are
            headers=headers,
            catch_response=True,
        ) as response:
            status = response.status_code
            if counts is not None:
                if status:
                    counts.answered(status, (time.perf_counter_ns() - began) // 1000)
                else:
                    counts.failed(getattr(response, "error", None))
            if status == 200:
                if recorded:
                    acknowledged = [_decoded(i) for i in recorded]
                    self.acknowledged_ids.extend(acknowledged)
                    if counts is not None:
                        counts.ids.extend(acknowledged)
            elif status:  # 0: no answer; Locust reports the connection's error itself
                response.failure(f"answered {status}; Meta counts only 200 as delivered")


def _decoded(wire_id: bytes) -> str:
    return wire_id.replace(b"\\/", b"/").decode("ascii")


def _add_options(parser: LocustArgumentParser, **_: Any) -> None:
    parser.add_argument(
        "--fakemeta-app-secret",
        env_var="META_CLIENT_SECRET",
        is_secret=True,
        help="App secret the bodies are signed with [env: META_CLIENT_SECRET].",
    )
    parser.add_argument(
        "--fakemeta-mix", help=f"Kinds of update and their weights, e.g. {DEFAULT_MIX}."
    )
    parser.add_argument("--fakemeta-batch", type=int, help="Updates per body (default 1).")
    parser.add_argument(
        "--fakemeta-era", help=f"Payload shapes: 2025 or 2026 (default {eras.CURRENT})."
    )
    parser.add_argument(
        "--fakemeta-phone-number-id",
        env_var="FAKEMETA_PHONE_NUMBER_ID",
        help="The business phone number id [env: FAKEMETA_PHONE_NUMBER_ID].",
    )
    parser.add_argument(
        "--fakemeta-path", help="Path appended to --host (default: post to --host as given)."
    )
    parser.add_argument(
        "--fakemeta-user-rate",
        type=float,
        help="Deliveries a second each user sends at most (default: as fast as answered).",
    )
    parser.add_argument(
        "--fakemeta-timeout",
        type=float,
        help="Seconds to connect and to wait for each answer (default 60).",
    )
    parser.add_argument(
        "--fakemeta-insecure",
        action="store_true",
        default=None,
        help="Do not verify the receiver's TLS certificate.",
    )
    parser.add_argument(
        "--fakemeta-record-ids",
        action="store_true",
        default=None,
        help="Keep the message ids of acknowledged bodies (written with --fakemeta-counts-dir).",
    )
    parser.add_argument(
        "--fakemeta-counts-dir",
        help="Each process running users keeps its counts in DIR/<pid>.json"
        " (what fakemeta load --locust reads).",
    )


def _check_settings(environment: Environment, **_: Any) -> None:
    """On the master (or a lone process), refuse bad settings before any user
    starts: one line and exit 2. Workers take the master's settings later."""
    if isinstance(environment.runner, WorkerRunner):
        return
    for user_class in environment.user_classes:
        if issubclass(user_class, WhatsAppWebhookUser):
            try:
                settings_for(user_class, environment.parsed_options)
            except UsageError as exc:
                print(f"fakemeta: {exc.one_line()}", file=sys.stderr)
                raise SystemExit(2) from None


#: This process's `ProcessCounts`, under "process", from the start of a test.
_counting: dict[str, ProcessCounts] = {}
_WRITE_EVERY = 0.5


def _start_counting(environment: Environment, **_: Any) -> None:
    """As a test starts in a process that runs users (a worker takes the
    master's options just before), count into `--fakemeta-counts-dir`."""
    directory = getattr(environment.parsed_options, "fakemeta_counts_dir", None)
    runner = environment.runner
    if not directory or runner is None or isinstance(runner, MasterRunner):
        return
    counts = _counting["process"] = ProcessCounts(Path(directory))

    def keep_writing() -> None:
        while _counting.get("process") is counts:
            counts.write(runner.user_count)
            time.sleep(_WRITE_EVERY)  # gevent's: Locust has patched `time`

    runner.greenlet.spawn(keep_writing)


def _write_counts(environment: Environment | None = None, **_: Any) -> None:
    """The counts with the acknowledged ids: when the users have stopped, when
    Locust starts shutting down, and as the process exits. A worker told to
    stop twice (the master's quit and a SIGTERM) fires `test_stop` before its
    users are done, so only the write at exit is sure to be the last."""
    counts = _counting.get("process")
    if counts is not None:
        runner = environment.runner if environment is not None else None
        counts.write(runner.user_count if runner is not None else 0, final=True)


# Registered at import: Locust imports the locustfile (and with it this
# module) before it parses the command line and fires `init`.
events.init_command_line_parser.add_listener(_add_options)  # type: ignore[no-untyped-call]
events.init.add_listener(_check_settings)  # type: ignore[no-untyped-call]
events.test_start.add_listener(_start_counting)  # type: ignore[no-untyped-call]
events.test_stop.add_listener(_write_counts)  # type: ignore[no-untyped-call]
events.quitting.add_listener(_write_counts)  # type: ignore[no-untyped-call]
atexit.register(_write_counts)
