"""How the suite sees a receiver's store: the probe protocol of DESIGN.md.

A receiver under test exposes a small read-only API (or, in the pytest
plugin, the host passes Python callables). Checks ask two questions: which
clients have this phone number, and which log entries does this message id
have. Answers are lists of plain dicts with the protocol's keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from contract_tests.errors import ContractUsageError

__all__ = ["CallableProbe", "HttpProbe", "Probe", "ProbeError"]

Record = dict[str, Any]


class ProbeError(ContractUsageError):
    """The probe did not answer as the protocol says.

    Cause: a wrong probe URL or token, the probe switched off in the
    receiver, or an answer without the `clients`/`messages` list. Fix: check
    `--probe` and `--probe-token` against the receiver's probe configuration.
    """


class Probe(Protocol):
    def clients(self, phone: str) -> list[Record]: ...

    def messages(self, message_id: str) -> list[Record]: ...


@dataclass(frozen=True)
class CallableProbe:
    """A probe from two Python callables (the pytest plugin's in-process form)."""

    clients_for: Callable[[str], list[Record]]
    messages_for: Callable[[str], list[Record]]

    def clients(self, phone: str) -> list[Record]:
        return list(self.clients_for(phone))

    def messages(self, message_id: str) -> list[Record]:
        return list(self.messages_for(message_id))


class HttpProbe:
    """The HTTP probe: `GET {base}/clients?phone=` and `GET {base}/messages?id=`."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`transport` reaches an in-process app (`httpx.WSGITransport(app=...)`)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        self._client = httpx.Client(
            headers=headers, timeout=timeout, trust_env=False, transport=transport
        )

    def clients(self, phone: str) -> list[Record]:
        return self._get("clients", {"phone": phone})

    def messages(self, message_id: str) -> list[Record]:
        return self._get("messages", {"id": message_id})

    def close(self) -> None:
        self._client.close()

    def _get(self, what: str, params: dict[str, str]) -> list[Record]:
        url = f"{self.base_url}/{what}"
        try:
            response = self._client.get(url, params=params)
        except httpx.HTTPError as exc:
            raise ProbeError(f"probe {url} did not answer ({exc}); check --probe") from None
        if response.status_code in (401, 403):
            raise ProbeError(
                f"probe {url} refused the token (HTTP {response.status_code}); check --probe-token"
            )
        if response.status_code != 200:
            raise ProbeError(f"probe {url} answered HTTP {response.status_code}; check --probe")
        try:
            records = response.json()[what]
        except (ValueError, KeyError, TypeError):
            raise ProbeError(
                f"probe {url} answered without a {what!r} list: {response.text[:120]!r}"
            ) from None
        if not isinstance(records, list):
            raise ProbeError(f"probe {url}: {what!r} is not a list")
        return [r for r in records if isinstance(r, dict)]
