"""Checks: small functions tied to one requirement ID, registered by decorator.

    @check("SIG-2")
    def unsigned_delivery_is_refused(ctx: CheckContext) -> None: ...

The docstring's first line is the check's description in reports.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fakemeta.contract_tests.requirements import REQUIREMENTS, Requirement

if TYPE_CHECKING:
    from fakemeta.contract_tests.context import CheckContext

__all__ = ["CHECKS", "Check", "check"]

CheckFunction = Callable[["CheckContext"], None]


@dataclass(frozen=True)
class Check:
    requirement: Requirement
    name: str
    description: str
    function: CheckFunction
    #: Runs after every other check: its traffic exhausts a rate limit.
    last: bool = False

    @property
    def id(self) -> str:
        """`SIG-2::unsigned_delivery_is_refused`: what JUnit and pytest show."""
        return f"{self.requirement.id}::{self.name}"


CHECKS: list[Check] = []


def check(requirement_id: str, *, last: bool = False) -> Callable[[CheckFunction], CheckFunction]:
    requirement = REQUIREMENTS[requirement_id]

    def register(function: CheckFunction) -> CheckFunction:
        description = (function.__doc__ or function.__name__).strip().splitlines()[0]
        CHECKS.append(Check(requirement, function.__name__, description, function, last))
        return function

    return register
