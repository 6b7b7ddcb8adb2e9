"""Client addresses: drawn afresh for every run, leased across runs on one
machine, and a receiver that was already limiting an address is not failed
for it. The user's first experience: run `fakemeta check` twice in a row."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from memory_receiver import PATH, MemoryReceiver
from reference_helpers import reference_config

from fakemeta.contract_tests.addresses import AddressPlan, Leases, block_range
from fakemeta.contract_tests.config import RateLimit, SuiteConfig
from fakemeta.contract_tests.runner import run
from fakemeta.reference_receiver.serve import Running, start_background

pytest_plugins = ["pytester"]

CONFIG = SuiteConfig("http://127.0.0.1:9/hook", "token", "secret", seed=5)
# The requirements a second run used to fail on: a rate-limit burst from an
# address the first run had filled, and plain deliveries answered 429.
AFTER_A_RUN = ("RATE", "CLIENT-6", "CLIENT-7", "SIG-1", "VERIFY-1")


def test_leases_hand_out_distinct_blocks_until_released(tmp_path: Path) -> None:
    leases = Leases(tmp_path / "leases.json")
    taken = [leases.take() for _ in range(300)]
    assert len(set(taken)) == 300
    other = Leases(tmp_path / "leases.json")  # another process, the same file
    assert not {other.take() for _ in range(300)} & set(taken)


def test_a_released_block_is_taken_again_only_after_its_window(tmp_path: Path) -> None:
    path = tmp_path / "leases.json"
    leases = Leases(path)
    block = leases.take()
    leases.release([block], window=60)
    assert block in leases._read()
    leases.release([block], window=-1)  # the window has passed
    assert block not in leases._read()


def test_a_corrupt_lease_file_leaves_the_random_draw(tmp_path: Path) -> None:
    path = tmp_path / "leases.json"
    path.write_text("{not json")
    assert 0 <= Leases(path).take() < 254 * 256


def test_two_plans_with_one_seed_share_no_address(tmp_path: Path) -> None:
    leases = Leases(tmp_path / "leases.json")
    first, second = AddressPlan(CONFIG, leases=leases), AddressPlan(CONFIG, leases=leases)
    ours = {first.fresh() for _ in range(600)}
    theirs = {second.fresh() for _ in range(600)}
    assert len(ours) == len(theirs) == 600
    assert not ours & theirs
    assert all(a is not None and a.startswith("127.") and not a.startswith("127.0.") for a in ours)
    assert len(first.blocks) == 3  # 254 addresses a block
    described = first.describe()
    assert described is not None
    assert block_range(first.blocks[0]) in described


def test_a_remote_receiver_gets_no_address_and_no_lease(tmp_path: Path) -> None:
    plan = AddressPlan(
        SuiteConfig("https://staging.example.com/hook", "t", "s"),
        leases=Leases(tmp_path / "leases.json"),
    )
    assert plan.fresh() is None
    assert plan.describe() is None


def test_a_second_run_right_after_the_first_passes(reference: Running) -> None:
    # The reference receiver limits 100 requests per 60 s per client IP, in memory.
    reports = [run(reference_config(reference, seed=1, select=AFTER_A_RUN)) for _ in range(2)]
    for report in reports:
        assert report.ok, [(r.check, r.detail) for r in report.results if r.outcome == "failed"]
        assert {r.outcome for r in report.requirements(["RATE-1", "CLIENT-6"])} == {"passed"}
    blocks = [next(n for n in r.notes if n.startswith("client addresses:")) for r in reports]
    assert blocks[0] != blocks[1], "the same seed must not mean the same addresses"


def test_an_address_already_limited_is_left_and_the_report_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = MemoryReceiver(rate_limit=(10, 60))
    # Another tool filled the windows of the first addresses this run will draw.
    monkeypatch.setattr(Leases, "take", lambda self: 77)
    client = receiver.app.test_client()
    for host in range(1, 6):
        for _ in range(10):
            client.post(PATH, data=b"{}", environ_base={"REMOTE_ADDR": f"127.1.77.{host}"})
    report = run(receiver.config(rate_limit=None, select=("SIG-1", "CLIENT-1", "CLIENT-3")))
    assert report.ok, [(r.check, r.detail) for r in report.results if r.outcome == "failed"]
    limited = [n for n in report.notes if "already rate-limited" in n]
    assert limited, report.notes
    assert "did not count it against the receiver" in limited[0]


def test_an_address_limited_on_its_first_request_does_not_fail_rate_1(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    receiver = MemoryReceiver(rate_limit=(10, 60))
    drawn = iter(range(900, 1000))
    monkeypatch.setattr(Leases, "take", lambda self: next(drawn))
    client = receiver.app.test_client()
    # The run's first addresses (after the reachability handshake's) are full.
    for host in (2, 3, 4):
        for _ in range(10):
            client.post(PATH, data=b"{}", environ_base={"REMOTE_ADDR": f"127.4.132.{host}"})
    report = run(receiver.config(rate_limit=RateLimit(10, 60), select=("RATE-1",)))
    assert report.ok, [(r.check, r.detail) for r in report.results]
    assert any("was already rate-limited on its first request" in n for n in report.notes), (
        report.notes
    )


def test_a_second_plugin_run_against_one_url_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_host="def test_own(): pass\n")
    with start_background({}) as running:
        options = [
            f"--fakemeta-url={running.url}",
            f"--fakemeta-verify-token={running.verify_token}",
            f"--fakemeta-app-secret={running.app_secret}",
            f"--fakemeta-phone-number-id={running.phone_number_id}",
            f"--fakemeta-probe={running.probe_url}",
            f"--fakemeta-probe-token={running.probe_token}",
            "--fakemeta-seed=1",
        ]
        for _ in range(2):
            started = time.monotonic()
            result = pytester.runpytest_subprocess(
                "-p", "fakemeta", "-p", "no:cacheprovider", "--fakemeta-contract",
                "-k", "RATE or CLIENT-6 or CLIENT-7 or SIG-1", *options,
            )  # fmt: skip
            outcomes = result.parseoutcomes()
            assert outcomes.get("failed", 0) == 0, result.stdout.str()
            assert outcomes.get("passed", 0) >= 6, result.stdout.str()
            result.stdout.fnmatch_lines(["note: client addresses: 127.*"])
            assert time.monotonic() - started < 60
