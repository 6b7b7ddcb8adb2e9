"""Named variants: one canonical payload per message type, status, error and
field, plus batches. The same catalog feeds the fixture files (fixed ids,
fixed time) and `fakemeta send URL <name>` (fresh ids, now).

Names are `<group>/<variant>`: `messages/text`, `statuses/read`,
`fields/account_update`, `errors/system_error`, `batches/...`. A bare variant
name (`text`) is accepted wherever it is unambiguous.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from fakemeta.simulator import envelopes, eras
from fakemeta.simulator.envelopes import Account, Customer
from fakemeta.simulator.eras import Era
from fakemeta.simulator.errors import UnknownVariant
from fakemeta.simulator.examples import (
    error_examples,
    field_examples,
    identity_examples,
    message_examples,
    status_example_payloads,
    status_examples,
)
from fakemeta.simulator.types import Payload

__all__ = ["GROUPS", "Context", "build", "build_all", "builder", "names", "resolve"]

GROUPS = ("messages", "statuses", "errors", "fields", "batches")


@dataclass(frozen=True)
class Context:
    """Who and when: the business account, the customer, the time, the era
    whose shapes the variants follow, and the seed every id is drawn from
    (None: fresh ids on every build)."""

    account: Account
    customer: Customer
    timestamp: int
    seed: int | None = None
    era: Era = eras.CURRENT

    @classmethod
    def fresh(
        cls,
        account: Account | None = None,
        customer: Customer | None = None,
        *,
        era: Era | str | None = None,
    ) -> Context:
        chosen = eras.era(era)
        return cls(
            account or Account.generate(),
            customer or Customer.generate("Test User", era=chosen),
            int(time.time()),
            era=chosen,
        )

    @classmethod
    def fixed(cls, seed: int = 2026, *, era: Era | str | None = None) -> Context:
        """The context of the fixture files: everything derived from `seed`."""
        chosen = eras.era(era)
        rng = random.Random(seed)
        account = Account.generate(rng)
        customer = Customer.generate("Layla Hassan", rng, era=chosen)
        return cls(account, customer, 1_767_225_600, seed, chosen)

    def rng(self, group: str) -> random.Random:
        """A generator of its own per group, so that adding a variant to one
        group leaves every other fixture's ids as they were."""
        return random.Random(f"{self.seed}/{group}") if self.seed is not None else random.Random()


def _messages(ctx: Context) -> dict[str, Payload]:
    business, rng, at = ctx.account.display_phone_number, ctx.rng("messages"), str(ctx.timestamp)
    result = {
        name: envelopes.message_payload(
            ctx.account, message, None if message["type"] == "system" else ctx.customer
        )
        for name, message in message_examples(ctx.customer, business, rng, at).items()
    }
    if ctx.era.business_scoped_ids:
        for name, (message, sender) in identity_examples(business, rng, at).items():
            senders = None if message["type"] == "system" else sender
            result[name] = envelopes.message_payload(ctx.account, message, senders)
    return result


def _statuses(ctx: Context) -> dict[str, Payload]:
    # Whole deliveries: business-scoped recipients come with a contacts array.
    return status_example_payloads(
        ctx.account, ctx.customer, ctx.rng("statuses"), str(ctx.timestamp), era=ctx.era
    )


def _errors(ctx: Context) -> dict[str, Payload]:
    return {
        name: envelopes.payload([envelopes.entry(ctx.account.waba_id, [envelopes.change(value)])])
        for name, value in error_examples(ctx.account).items()
    }


def _fields(ctx: Context) -> dict[str, Payload]:
    return {
        name: envelopes.field_payload(ctx.account.waba_id, field, value, time=ctx.timestamp)
        for name, (field, value) in field_examples(
            ctx.account, ctx.rng("fields"), ctx.timestamp, era=ctx.era
        ).items()
    }


def _batches(ctx: Context) -> dict[str, Payload]:
    """Meta's batching: several senders in one change, several changes, several entries."""
    rng = ctx.rng("batches")
    second = Customer.generate("محمد العتيبي", rng, era=ctx.era)
    third = Customer.generate("Zoë Ångström", rng, era=ctx.era)
    business, at = ctx.account.display_phone_number, str(ctx.timestamp)
    m = message_examples(ctx.customer, business, rng, at)
    m2 = message_examples(second, business, rng, at)
    m3 = message_examples(third, business, rng, at)
    one_change = envelopes.message_payload(
        ctx.account,
        [m["text"], m2["image"], m3["text"], m["reaction"]],
        [ctx.customer, second, third],
    )
    two_changes = envelopes.payload(
        [
            envelopes.entry(
                ctx.account.waba_id,
                [
                    envelopes.change(
                        envelopes.messages_value(ctx.account, [m["text"]], [ctx.customer.contact])
                    ),
                    envelopes.change(
                        envelopes.messages_value(ctx.account, [m2["location"]], [second.contact])
                    ),
                ],
            )
        ]
    )
    statuses = status_examples(ctx.account, ctx.customer, rng, at, era=ctx.era)
    mixed = envelopes.batch(
        [
            envelopes.message_payload(ctx.account, m3["interactive_button_reply"], third),
            envelopes.status_payload(
                ctx.account, [statuses["delivered"], statuses["read"]], ctx.customer
            ),
            envelopes.message_payload(ctx.account, m2["text"], second),
        ]
    )
    return {
        "three_senders_one_change": one_change,
        "two_changes_one_entry": two_changes,
        "messages_and_statuses_three_entries": mixed,
    }


_BUILDERS: dict[str, Callable[[Context], dict[str, Payload]]] = {
    "messages": _messages,
    "statuses": _statuses,
    "errors": _errors,
    "fields": _fields,
    "batches": _batches,
}


def build_all(ctx: Context) -> dict[str, Payload]:
    """Every variant, named `<group>/<variant>`, built in one context."""
    result: dict[str, Payload] = {}
    for group, builder in _BUILDERS.items():
        for name, payload in builder(ctx).items():
            result[f"{group}/{name}"] = payload
    return result


def names(era: Era | str | None = None) -> list[str]:
    """Every variant name of the era (current when None), in catalog order."""
    return list(build_all(Context.fixed(era=era)))


def resolve(name: str, era: Era | str | None = None) -> str:
    """The full `<group>/<variant>` name for `name`, which may omit the group."""
    chosen = eras.era(era)
    known = names(chosen)
    if name in known:
        return name
    matches = [n for n in known if n.split("/", 1)[1] == name]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UnknownVariant(f"{name!r} is ambiguous: say one of {', '.join(matches)}")
    elsewhere = [
        other.name
        for other in eras.ERAS.values()
        if other != chosen and any(name in (n, n.split("/", 1)[1]) for n in names(other))
    ]
    if elsewhere:
        raise UnknownVariant(
            f"{name!r} is a variant of the {' and '.join(elsewhere)} shapes, not of "
            f"{chosen.name}: add --era {elsewhere[0]}"
        )
    raise UnknownVariant(
        f"no variant named {name!r}: `fakemeta fixtures list` shows the {len(known)} names"
    )


def build(name: str, ctx: Context | None = None) -> Payload:
    """The payload of variant `name` in `ctx` (fresh ids, the current time and
    the current era by default)."""
    ctx = ctx or Context.fresh()
    return builder(resolve(name, ctx.era))(ctx)


def builder(full_name: str) -> Callable[[Context], Payload]:
    """The builder of variant `<group>/<variant>` (a name `resolve` returned),
    for callers that build one variant many times: `build` resolves the name
    on every call, which builds the whole catalogue."""
    group, variant = full_name.split("/", 1)
    build_group = _BUILDERS[group]
    return lambda ctx: build_group(ctx)[variant]
