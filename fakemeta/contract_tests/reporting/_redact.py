"""Secrets out of reports: CI logs and HTML artifacts are often public.

A handshake sends the verify token in its URL (VERIFY-2 sends variants of
it), and a careless receiver may echo a secret back. Before anything is
shown or written, every occurrence of a configured secret, raw or
percent-encoded, is replaced by a placeholder such as `<verify-token>`.
The reproduce command never contains secrets: it reads them from the
environment again.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, quote_plus

from fakemeta.contract_tests.report import CheckResult, Report

__all__ = ["redact"]

# Shorter values would blank out ordinary text ("abc" in every body); they
# are not secrets worth the name anyway.
_MIN_LENGTH = 4


def _forms(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote_plus(secret, safe=""), quote(secret)}


class _Redactor:
    def __init__(self, secrets: Mapping[str, str | None]) -> None:
        pairs = [
            (form, f"<{label}>")
            for label, secret in secrets.items()
            if secret and len(secret) >= _MIN_LENGTH
            for form in _forms(secret)
        ]
        # Longest first, so an encoded form is not half-replaced by a shorter one.
        self.pairs = sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)

    def text(self, value: str) -> str:
        for secret, placeholder in self.pairs:
            value = value.replace(secret, placeholder)
        return value

    def any(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.any(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.any(item) for item in value]
        return value

    def result(self, result: CheckResult) -> CheckResult:
        return dataclasses.replace(
            result,
            detail=self.text(result.detail),
            expected=self.text(result.expected),
            exchange=self.any(result.exchange),
            reproduce=self.text(result.reproduce),
        )


def redact(report: Report, secrets: Mapping[str, str | None]) -> None:
    """Replace each secret (label -> value) in `report`'s results and notes, in place."""
    redactor = _Redactor(secrets)
    if not redactor.pairs:
        return
    report.results[:] = [redactor.result(result) for result in report.results]
    report.notes[:] = [redactor.text(note) for note in report.notes]
