"""The requirement catalogue: stable IDs, levels and titles (DESIGN.md).

IDs are a public contract (reports, `-k`, CI scripts): add new ones, never
renumber. `needs` says what a requirement's checks cannot run without, so a
run without it reports the requirement skipped with the reason.
`strict_only` requirements (the seed's exact status codes) are judged under
`--profile strict` only: under `meta` any 4xx is a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["REQUIREMENTS", "Level", "Requirement"]

Level = Literal["MUST", "SHOULD"]
Need = Literal["probe", "phone_number_id", "rate_limit"]


@dataclass(frozen=True)
class Requirement:
    id: str
    level: Level
    title: str
    needs: frozenset[Need] = frozenset()
    strict_only: bool = False


def _r(id: str, level: Level, title: str, *needs: Need) -> Requirement:
    return Requirement(id, level, title, frozenset(needs))


def _strict(id: str, title: str) -> Requirement:
    return Requirement(id, "SHOULD", title, strict_only=True)


REQUIREMENTS: dict[str, Requirement] = {
    r.id: r
    for r in (
        _r("VERIFY-1", "MUST", "handshake with the right token answers 200 and exactly the "
           "challenge as the body, for any challenge"),
        _r("VERIFY-2", "MUST", "a wrong verify token is refused (any 4xx) and the challenge "
           "is not echoed; near misses too (other case, a prefix or extension of the token, "
           "surrounding whitespace)"),
        _r("VERIFY-3", "MUST", "a missing or empty verify token is refused"),
        _r("VERIFY-4", "SHOULD", "a hub.mode other than `subscribe` is refused"),
        _r("VERIFY-5", "SHOULD", "the echoed challenge is text/plain, never HTML (reflected "
           "script)"),
        _r("SIG-1", "MUST", "a correctly signed Meta-encoded delivery is answered 200"),
        _r("SIG-2", "MUST", "no X-Hub-Signature-256 header: refused (any 4xx) and nothing "
           "stored"),
        _r("SIG-3", "MUST", "a signature from another secret or of other bytes: refused, nothing "
           "stored; the secrets a receiver confuses included (the verify token, the access "
           "token, an empty key)"),
        _r("SIG-4", "MUST", "one byte of the body changed after signing: refused"),
        _r("SIG-5", "SHOULD", "a header without the `sha256=` prefix, or with another algorithm: "
           "refused"),
        _r("SIG-6", "MUST", "the signature is checked over the raw bytes: non-ASCII, `\\/`, "
           "`\\u0040`-style escapes, unusual whitespace and key order all pass when correctly "
           "signed"),
        _r("SIG-7", "SHOULD", "a digest that matches only in part (right prefix, wrong tail; "
           "truncated) is refused"),
        _r("RATE-1", "SHOULD", "request N+1 inside the window from one client IP is answered 429; "
           "the first N are served", "rate_limit"),
        _r("RATE-2", "SHOULD", "the limit is per client IP: another IP is still served meanwhile",
           "rate_limit"),
        _r("RATE-3", "SHOULD", "a 429 carries Retry-After", "rate_limit"),
        _r("RATE-4", "SHOULD", "a client cannot leave its bucket by sending its own "
           "X-Forwarded-For (the limit keys on the socket address, or on what trusted proxies "
           "report)", "rate_limit"),
        _r("CLIENT-1", "MUST", "a message from a new sender creates one client (source whatsapp, "
           "the sender's number, the contact's profile name) in the account that owns the phone "
           "number id", "probe", "phone_number_id"),
        _r("CLIENT-2", "MUST", "further messages from that sender create no second client",
           "probe", "phone_number_id"),
        _r("CLIENT-3", "MUST", "a redelivered message (same id) is acknowledged 200 and logged "
           "once", "probe", "phone_number_id"),
        _r("CLIENT-4", "MUST", "a phone number id no account owns is acknowledged 200 and creates "
           "nothing anywhere", "probe"),
        _r("CLIENT-5", "MUST", "a batch (several entries, changes and messages, several senders) "
           "is processed whole", "probe", "phone_number_id"),
        _r("CLIENT-6", "MUST", "every inbound message type, including unknown and unsupported "
           "ones, is acknowledged and logged", "probe", "phone_number_id"),
        _r("CLIENT-7", "MUST", "status, error and other-field deliveries are acknowledged and "
           "create no client", "probe", "phone_number_id"),
        _r("CLIENT-8", "SHOULD", "text is stored intact: Arabic, emoji, combining marks, RTL marks",
           "probe", "phone_number_id"),
        _r("CLIENT-9", "MUST", "a business-scoped user without a phone number (contact with "
           "`user_id` and no `wa_id`, message with `from_user_id` and no `from`) is acknowledged, "
           "logged, and gets exactly one client keyed by its user_id; further messages create no "
           "second one", "probe", "phone_number_id"),
        _r("CLIENT-10", "SHOULD", "a `user_changed_number` system message moves the existing "
           "client to the new number (one client, not two); `user_changed_user_id` updates its "
           "user_id", "probe", "phone_number_id"),
        _r("ROBUST-1", "MUST", "a signed body that is not JSON is refused with 400, never 5xx"),
        _r("ROBUST-2", "SHOULD", "signed JSON that is not a Meta envelope (wrong types, missing "
           "keys, arrays) is never answered 5xx"),
        _r("ROBUST-3", "SHOULD", "methods other than GET and POST are answered 405"),
        _r("TIME-1", "SHOULD", "every valid delivery is acknowledged within 3 s"),
        _strict("CODE-1", "handshake refusals answer 403, as the seed says"),
        _strict("CODE-2", "signature refusals answer 401, as the seed says"),
    )
}  # fmt: skip
