"""How the suite sees a receiver's store: the probe protocol of DESIGN.md.

A receiver under test exposes a small read-only API (or, in the pytest
plugin, the host passes Python callables). Checks ask two questions: which
clients have this phone number, and which log entries does this message id
have, and (2026, business-scoped users) which clients have this user id.
Answers are lists of plain dicts with the protocol's keys.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from fakemeta.contract_tests.errors import ContractUsageError, Skipped
from fakemeta.simulator.deadlines import enforce_deadlines
from fakemeta.simulator.load.probe import PROBE_ANSWER_LIMIT, probe_get, probe_records

__all__ = ["PROBE_ANSWER_LIMIT", "CallableProbe", "HttpProbe", "Probe", "ProbeError"]

Record = dict[str, Any]


class ProbeError(ContractUsageError):
    """The probe did not answer as the protocol says.

    Cause: a wrong probe URL or token, the probe switched off in the
    receiver, or an answer without the `clients`/`messages` list. Fix: check
    `--probe` and `--probe-token` against the receiver's probe configuration.
    """


class Probe(Protocol):
    def clients(self, phone: str) -> list[Record]: ...

    def clients_by_user_id(self, user_id: str) -> list[Record]: ...

    def messages(self, message_id: str) -> list[Record]: ...


@dataclass(frozen=True)
class CallableProbe:
    """A probe from Python callables (the pytest plugin's in-process form).

    `clients_by_user_id_for` answers `GET /clients?user_id=`; a host that
    gives none cannot have its business-scoped users checked (CLIENT-9,
    CLIENT-10), and those checks say so instead of failing.
    """

    clients_for: Callable[[str], list[Record]]
    messages_for: Callable[[str], list[Record]]
    clients_by_user_id_for: Callable[[str], list[Record]] | None = None

    def clients(self, phone: str) -> list[Record]:
        return list(self.clients_for(phone))

    def clients_by_user_id(self, user_id: str) -> list[Record]:
        if self.clients_by_user_id_for is None:
            raise Skipped(
                "the probe callables give no clients by user_id: pass a third callable "
                "(user_id -> clients) to see business-scoped users"
            )
        return list(self.clients_by_user_id_for(user_id))

    def messages(self, message_id: str) -> list[Record]:
        return list(self.messages_for(message_id))


class HttpProbe:
    """The HTTP probe: `GET {base}/clients?phone=`, `GET {base}/clients?user_id=`
    and `GET {base}/messages?id=`."""

    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        timeout: float = 10.0,
        verify_tls: bool = True,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`verify_tls=False` accepts any certificate (`--insecure`); `transport`
        reaches an in-process app (`httpx.WSGITransport(app=...)`)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base_url = base_url.rstrip("/")
        if transport is None and (not verify_tls or self.base_url.lower().startswith("http://")):
            # No verifying TLS context for plain HTTP: loading the CA bundle
            # costs tens of milliseconds.
            transport = httpx.HTTPTransport(verify=False)
        client = httpx.Client(
            headers=headers, timeout=timeout, trust_env=False, transport=transport
        )
        # Each request ends within `timeout` as a whole: a probe that trickles
        # its answer must not hold the suite.
        self._client = enforce_deadlines(client)

    def clients(self, phone: str) -> list[Record]:
        return self._get("clients", {"phone": phone})

    def clients_by_user_id(self, user_id: str) -> list[Record]:
        return self._get("clients", {"user_id": user_id})

    def messages(self, message_id: str) -> list[Record]:
        return self._get("messages", {"id": message_id})

    def close(self) -> None:
        self._client.close()

    def _get(self, what: str, params: dict[str, str]) -> list[Record]:
        url = f"{self.base_url}/{what}"
        response = probe_get(self._client, url, params, error=ProbeError)
        records = probe_records(response, url, what, error=ProbeError)
        return [r for r in records if isinstance(r, dict)]
