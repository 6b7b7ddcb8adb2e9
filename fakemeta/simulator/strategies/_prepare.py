"""Doing the slow, once-only work of a strategy before Hypothesis starts timing draws.

Hypothesis validates the strategies given to a test before it generates
anything, and times every draw after that: its `too_slow` health check fails
a test whose first few inputs take more than a second to draw. A composite
strategy hides the strategies it draws from that validation, so they used to
be validated (and Faker's locales loaded) inside the first timed draws.
"""

from __future__ import annotations

from typing import TypeVar

from hypothesis import strategies as st

__all__ = ["validated_with"]

T = TypeVar("T")


def validated_with(
    strategy: st.SearchStrategy[T], *inner: st.SearchStrategy[object]
) -> st.SearchStrategy[T]:
    """`strategy`, whose validation also validates the strategies it draws
    inside (`inner`): same values, same draws, but the first validation of
    those happens before Hypothesis times a draw, not during one."""

    def define() -> st.SearchStrategy[T]:
        for each in inner:
            each.validate()
        return strategy

    return st.deferred(define)
