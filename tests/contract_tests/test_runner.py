"""The runner's selection and the context's example loop."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import strategies as st

from fakemeta.contract_tests.addresses import AddressPlan
from fakemeta.contract_tests.config import SuiteConfig
from fakemeta.contract_tests.context import CheckContext
from fakemeta.contract_tests.errors import ContractUsageError, Failure
from fakemeta.contract_tests.requirements import REQUIREMENTS
from fakemeta.contract_tests.runner import reproduce_command, selected_checks

CONFIG = SuiteConfig("http://127.0.0.1:9/hook", "token", "secret", "106540352242922", seed=5)


def _selected(*terms: str) -> set[str]:
    return {c.id for c in selected_checks(SuiteConfig(**{**CONFIG.__dict__, "select": terms}))}


def test_families_and_ids_match_exactly_names_by_substring() -> None:
    rate = _selected("RATE")
    assert rate
    assert {i.split("::")[0] for i in rate} == {"RATE-1", "RATE-2", "RATE-3", "RATE-4"}
    assert {i.split("::")[0] for i in _selected("SIG-2")} == {"SIG-2"}
    assert _selected("unsigned") == {"SIG-2::unsigned_delivery_is_refused"}
    assert {i.split("::")[0] for i in _selected("client-8")} == {"CLIENT-8"}


def test_rate_checks_run_last_and_every_requirement_is_selectable() -> None:
    checks = selected_checks(CONFIG)
    lasts = [c.last for c in checks]
    assert lasts == sorted(lasts)
    assert all(c.requirement.id.startswith("RATE") for c in checks if c.last)
    for requirement in REQUIREMENTS:
        assert _selected(requirement)


def test_unknown_selection_is_a_usage_error() -> None:
    with pytest.raises(ContractUsageError, match="-k 'NOPE' matches no requirement"):
        _selected("NOPE")


def test_reproduce_command_holds_everything_but_secrets() -> None:
    command = reproduce_command(CONFIG, "SIG-2")
    assert command == (
        "fakemeta check http://127.0.0.1:9/hook --phone-number-id 106540352242922 --seed 5 -k SIG-2"
    )
    assert "secret" not in command
    assert "token" not in command


class _NoTarget:
    url = "http://127.0.0.1:9/hook"

    def send(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("nothing is sent in this test")

    def close(self) -> None:
        pass


@pytest.mark.parametrize("budget", [0, 100])
def test_examples_never_replay_a_value_and_without_budget_stop_at_the_first_failure(
    budget: int,
) -> None:
    config = SuiteConfig(**{**CONFIG.__dict__, "shrink_budget": budget})
    ctx = CheckContext(
        config, REQUIREMENTS["SIG-6"], _NoTarget(), AddressPlan(config),
        run_nonce="n", check_name="c",
    )  # fmt: skip
    seen: list[int] = []

    def body(value: int) -> None:
        seen.append(value)
        if len(seen) == 2:  # fails once: a replay would pass and look flaky
            ctx.fail("the second example failed")

    with pytest.raises(Failure, match="SIG-6: the second example failed") as raised:
        ctx.examples(st.integers(), body, count=20)
    assert len(seen) == len(set(seen))  # Hypothesis's replays sent nothing
    if budget == 0:
        assert len(seen) == 2
        assert raised.value.shrink is None
    else:
        assert raised.value.shrink is not None
        assert raised.value.shrink.attempts == len(seen) - 2
    assert raised.value.replay is not None
    assert raised.value.replay.startswith("0:")


def test_examples_are_reproducible_from_the_seed() -> None:
    def drawn(seed: int) -> list[int]:
        config = SuiteConfig(**{**CONFIG.__dict__, "seed": seed})
        ctx = CheckContext(
            config, REQUIREMENTS["SIG-6"], _NoTarget(), AddressPlan(config),
            run_nonce="n", check_name="c",
        )  # fmt: skip
        values: list[int] = []
        ctx.examples(st.integers(0, 10**9), values.append, count=10)
        return values

    assert drawn(1) == drawn(1)
    assert drawn(1) != drawn(2)
