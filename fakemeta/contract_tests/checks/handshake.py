"""VERIFY-*: the subscription handshake (seed section 5).

Meta sends `GET ?hub.mode=subscribe&hub.challenge=…&hub.verify_token=…`; the
receiver must echo the challenge, exactly and as text/plain, only for the
right token and mode, and refuse everything else without echoing it.
"""

from __future__ import annotations

from hypothesis import strategies as st

from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.registry import check
from fakemeta.simulator.targets import Exchange

# Challenges Meta could send, and ones a careless receiver mangles: digits
# (Meta's usual), letters, long, and characters that need URL-encoding.
_CHALLENGES = (
    "1158201444",
    "0000000000",
    "challengeABCxyz",
    "9" * 512,
    "a b&c=d/e?f#g+h%20i",
    "مرحبا-ç-👋",
    "-_.~!*'();:@$,",
)

_printable = st.characters(blacklist_categories=("Cs", "Cc"))


def _echoes(exchange: Exchange, challenge: str) -> bool:
    return challenge.encode("utf-8") in exchange.response.body


def _refused_without_echo(ctx: CheckContext, exchange: Exchange, challenge: str, what: str) -> None:
    ctx.expect_refused(exchange, what)
    if _echoes(exchange, challenge):
        ctx.fail(
            f"{what} was refused but the body echoes the challenge",
            expected="no challenge in the body of a refusal",
            exchange=exchange,
        )


@check("VERIFY-1")
def right_token_echoes_any_challenge(ctx: CheckContext) -> None:
    """The right token gets 200 and exactly the challenge, for any challenge."""

    def verify(challenge: str) -> None:
        result = ctx.handshake(challenge)
        if not result.verified:
            ctx.fail(
                f"the handshake with challenge {challenge!r} was not verified: {result.reason}",
                expected=f"HTTP 200 with the body exactly {challenge!r}",
                exchange=result.exchange,
            )

    for challenge in _CHALLENGES:
        verify(challenge)
    ctx.examples(st.text(_printable, min_size=1, max_size=100), verify)


@check("VERIFY-2")
def wrong_token_is_refused(ctx: CheckContext) -> None:
    """A wrong verify token is refused and the challenge not echoed."""
    token = ctx.config.verify_token
    # Near misses first among them: a receiver that compares a prefix, ignores
    # case or strips whitespace lets these in.
    wrong = {
        "another token": "not-" + token,
        "the token with a character added": token + "x",
        "the token without its last character": token[:-1] or "x",
        "the first half of the token": token[: len(token) // 2] or "x",
        "the token in another case": token.swapcase() if token.swapcase() != token else token + "Z",
        "the token with a space after it": token + " ",
        "the token with a space before it": " " + token,
        "the token with a newline after it": token + "\n",
        "the token with a tab before and a space after it": "\t" + token + " ",
    }
    for what, value in wrong.items():
        if value == token:
            continue
        challenge = ctx.rng.choice("123456789") + "".join(ctx.rng.choices("0123456789", k=9))
        exchange = ctx.get(value, challenge)
        _refused_without_echo(ctx, exchange, challenge, f"the handshake with {what}")


@check("VERIFY-3")
def missing_or_empty_token_is_refused(ctx: CheckContext) -> None:
    """A missing or empty verify token is refused (the seed's own code accepted an empty one)."""
    for what, value in (("no hub.verify_token", None), ("an empty hub.verify_token", "")):
        challenge = "3141592653"
        exchange = ctx.get(value, challenge)
        _refused_without_echo(ctx, exchange, challenge, f"the handshake with {what}")


@check("VERIFY-4")
def other_modes_are_refused(ctx: CheckContext) -> None:
    """A hub.mode other than `subscribe` is refused, even with the right token."""
    for mode in ("unsubscribe", "SUBSCRIBE", "subscribe ", ""):
        challenge = "2718281828"
        exchange = ctx.get(ctx.config.verify_token, challenge, mode=mode)
        _refused_without_echo(ctx, exchange, challenge, f"the handshake with hub.mode={mode!r}")


@check("VERIFY-5")
def challenge_is_echoed_as_plain_text(ctx: CheckContext) -> None:
    """The echoed challenge is text/plain, so a script in it never runs (reflected XSS)."""
    challenge = "<script>alert(document.domain)</script>"
    exchange = ctx.get(ctx.config.verify_token, challenge)
    if exchange.status != 200:
        ctx.fail(
            f"the handshake with an HTML challenge was answered HTTP {exchange.status}",
            expected="HTTP 200 with the challenge as text/plain (a challenge is opaque text)",
            exchange=exchange,
        )
    content_type = exchange.response.content_type.split(";")[0].strip().lower()
    if content_type != "text/plain":
        ctx.fail(
            f"the challenge was echoed as {content_type or 'no Content-Type'!r}",
            expected="Content-Type: text/plain, so a browser never renders it as HTML",
            exchange=exchange,
        )
