"""CODE-*: the seed's own status codes for refusals (strict only).

The security requirements pass a refused forgery on any 4xx, so a receiver
that answers a bad signature 403 is never called insecure. Whether it uses
the codes the seed names (403 for a refused handshake, 401 for a refused
signature) is judged here, once, over one refusal of each kind: a failure
names the requirements whose refusals used another code. An answer that is
no refusal at all (a 200, a 5xx) is the security requirement's failure, not
this one's, and is left to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from fakemeta.contract_tests.checks._deliveries import fresh_text
from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.errors import Skipped
from fakemeta.contract_tests.registry import check
from fakemeta.simulator.delivery import Delivery
from fakemeta.simulator.targets import Exchange

_CHALLENGE = "1029384756"


@dataclass(frozen=True)
class _Refusal:
    requirement: str
    what: str
    exchange: Exchange


def _judge(ctx: CheckContext, refusals: list[_Refusal], status: int, kind: str) -> None:
    judged = [r for r in refusals if 400 <= r.exchange.status < 500]
    if not judged:
        raise Skipped(
            f"no {kind} was refused with a 4xx, so there is no refusal code to judge "
            f"({', '.join(sorted({r.requirement for r in refusals}))} report what was answered)"
        )
    other = [r for r in judged if r.exchange.status != status]
    if not other:
        return
    requirements = sorted({r.requirement for r in other}, key=lambda i: int(i.split("-")[1]))
    listed = "; ".join(f"{r.requirement}: {r.what} got HTTP {r.exchange.status}" for r in other)
    ctx.fail(
        f"{len(other)} of {len(judged)} {kind} refusals used another code than {status} "
        f"(the refusals of {', '.join(requirements)}): {listed}",
        expected=f"HTTP {status} for every refused {kind}, as the seed says (any 4xx is still "
        "a safe refusal: this is about the code only)",
        exchange=other[0].exchange,
    )


@check("CODE-1")
def handshake_refusals_answer_403(ctx: CheckContext) -> None:
    """Refused handshakes (wrong, missing or empty token, another hub.mode) answer 403."""
    token = ctx.config.verify_token
    cases = [
        ("VERIFY-2", "a wrong verify token", "not-" + token, "subscribe"),
        ("VERIFY-2", "the token with a character added", token + "x", "subscribe"),
        ("VERIFY-3", "no hub.verify_token", None, "subscribe"),
        ("VERIFY-3", "an empty hub.verify_token", "", "subscribe"),
        ("VERIFY-4", "hub.mode=unsubscribe", token, "unsubscribe"),
    ]
    refusals = [
        _Refusal(requirement, what, ctx.get(value, _CHALLENGE, mode=mode))
        for requirement, what, value, mode in cases
    ]
    _judge(ctx, refusals, 403, "handshake")


@check("CODE-2")
def signature_refusals_answer_401(ctx: CheckContext) -> None:
    """Refused deliveries (unsigned, wrong secret, tampered, bare or partial digest) answer 401."""
    cases: list[tuple[str, str, Callable[[Delivery], Delivery]]] = [
        ("SIG-2", "a delivery with no signature", Delivery.unsigned),
        ("SIG-3", "a delivery signed with another secret", lambda d: d.signed_with("not-it")),
        ("SIG-4", "a delivery changed after signing", Delivery.tampered),
        ("SIG-5", "the bare digest without `sha256=`", Delivery.without_prefix),
        ("SIG-7", "the first 32 hex digits right, the rest wrong", lambda d: d.partial_digest(32)),
    ]
    refusals = [
        _Refusal(requirement, what, ctx.post(change(fresh_text(ctx).delivery)))
        for requirement, what, change in cases
    ]
    _judge(ctx, refusals, 401, "signature")
