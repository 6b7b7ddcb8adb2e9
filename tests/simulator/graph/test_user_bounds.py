"""`fakemeta serve` keeps per-customer state for at most `max_users` users,
least recently used forgotten first: windows, pair rate buckets, billing
conversations and the contact book (numbers, user ids, parent ids) stay
bounded however many distinct customers write, a forgotten user is as if
never seen, and the contact book never keeps half a user."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from cli_helpers import run
from click.testing import CliRunner
from graph_helpers import PNID, USER, make_state, send, template, text
from serve_helpers import ACCESS_TOKEN, APP_SECRET
from test_cli_serve import launch

from fakemeta.simulator.cli import cli
from fakemeta.simulator.eras import ERAS
from fakemeta.simulator.graph.dispatch import Dispatcher
from fakemeta.simulator.graph.server import FakeMeta, Running, start
from fakemeta.simulator.graph.state import GraphSettings, GraphState, user_id_of

pytestmark = pytest.mark.timeout(120)

HOUR = 60 * 60


def number(n: int) -> str:
    return f"1555{n:07d}"


def bsuid(n: int) -> str:
    return f"US.{n:019d}"


def parent_of(n: int) -> str:
    return f"US.ENT.{n:020d}"


def wrote(state: GraphState, wa_id: str | None, **ids: str) -> None:
    """A customer message reached the business (opens the window)."""
    message: dict[str, Any] = {"id": f"wamid.IN{wa_id}{ids}", "timestamp": "1750000000",
                               "type": "text", "text": {"body": "hi"}, **ids}  # fmt: skip
    if wa_id is not None:
        message["from"] = wa_id
    state.record_inbound(PNID, wa_id, message)


def reply(state: GraphState, to: str, **extra: Any) -> dict[str, Any]:
    """The business answers: the message as the state keeps it."""
    response = send(state, text(to=to, **extra))
    assert response.status == 200, response.body
    found = state.message(response.json()["messages"][0]["id"])
    assert found is not None
    return found


def to_user(recipient: str) -> dict[str, Any]:
    body = text()
    del body["to"]
    return {**body, "recipient": recipient}


MAPS = ("_users", "_last_inbound", "_pair_buckets", "_billing", "_user_ids", "_numbers",
        "_parents", "_parent_ids")  # fmt: skip


def sizes(state: GraphState) -> dict[str, int]:
    return {name: len(getattr(state, name)) for name in MAPS}


def assert_consistent(state: GraphState) -> None:
    """No half users: every contact-book entry, window, bucket and billing
    conversation belongs to a user the LRU keeps, and the two directions of
    each pair of maps agree."""
    users = state._users
    for parent, user_id in state._parents.items():
        assert state._parent_ids.get(user_id) == parent
        assert user_id in state._numbers
    for user_id, parent in state._parent_ids.items():
        assert state._parents.get(parent) == user_id
    for wa_id, user_id in state._user_ids.items():
        assert state._numbers.get(user_id) == wa_id
        assert wa_id in users
    for user_id, known in state._numbers.items():
        key = known or user_id
        assert key in users
        assert user_id in users[key].ids
    listed_pairs = {pair for user in users.values() for pair in user.pairs}
    assert set(state._last_inbound) <= listed_pairs
    assert set(state._pair_buckets) <= listed_pairs
    assert set(state._billing) <= {key for user in users.values() for key in user.billing}


# -- memory stays bounded ----------------------------------------------------------------


@pytest.mark.parametrize("era", ["2025", "2026"])
def test_thousands_of_customers_stay_within_max_users(era: str) -> None:
    bound = 100
    state = make_state(max_users=bound, era=ERAS[era], throughput_per_second=10**9)
    for n in range(5000):
        ids = {}
        if era == "2026":
            ids = {"from_user_id": bsuid(n), "from_parent_user_id": parent_of(n)}
        wrote(state, number(n), **ids)
        message = reply(state, number(n))
        assert "error_code" not in message  # inside the window
        if n % 97 == 0 or n == 4999:
            assert all(size <= bound for size in sizes(state).values()), sizes(state)
    assert sizes(state)["_users"] == bound
    assert sizes(state)["_last_inbound"] == bound
    assert sizes(state)["_billing"] == bound
    assert state.limits()["users"] == bound
    assert state.limits()["max_users"] == bound
    assert state.evicted()["users"] == 5000 - bound
    assert_consistent(state)


def test_max_users_is_validated_like_the_other_bounds() -> None:
    assert GraphSettings().max_users == 100_000
    for bad in (0, -1, True, "x", 1.5):
        with pytest.raises(ValueError, match="max_users"):
            GraphSettings(max_users=bad)  # type: ignore[arg-type]


# -- least recently used first -----------------------------------------------------------


def test_the_most_recently_used_keeps_their_window_and_the_least_is_forgotten() -> None:
    state = make_state(max_users=3, pair_rate_burst=2)
    a, b, c, d = (number(n) for n in range(4))
    for wa_id in (a, b, c):
        wrote(state, wa_id)
    reply(state, b)
    reply(state, b)
    assert send(state, text(to=b)).status == 400  # 131056: b's pair bucket is empty
    state.clock.advance(HOUR)
    assert state.window_open(PNID, a)  # a window lookup uses a: b is now the least recent
    wrote(state, c)
    wrote(state, d)  # a fourth user: b goes
    assert state.evicted()["users"] == 1
    # a, used since, still has the window opened an hour ago.
    assert state.window_expires_at(PNID, a) == pytest.approx(state.clock.now() + 23 * HOUR)
    assert "error_code" not in reply(state, a)
    # b is as if never seen: no window (a free-form message fails 131047),
    # a full pair bucket again, no billing conversation, no contact-book entry.
    assert not state.window_open(PNID, b)
    assert state.window_expires_at(PNID, b) is None
    assert (PNID, b) not in state._pair_buckets
    assert not any(key[1] == b for key in state._billing)
    assert state.addressee(state.user_id(b)) is None
    assert reply(state, b)["error_code"] == 131047
    assert send(state, template(to=b)).status == 200  # the bucket refilled: not 131056
    assert state.limits()["users"] == 3
    assert_consistent(state)


def test_a_window_lookup_of_an_unknown_user_makes_no_user() -> None:
    state = make_state(max_users=2)
    wrote(state, number(1))
    for n in range(100, 200):
        assert not state.window_open(PNID, number(n))
        assert state.addressee(bsuid(n)) is None
    assert state.limits()["users"] == 1
    assert state.evicted()["users"] == 0


def test_what_no_longer_matters_is_dropped_when_the_user_is_used() -> None:
    state = make_state(pair_rate_burst=3, pair_rate_interval=6.0)
    wrote(state, USER)
    reply(state, USER)
    assert state._billing
    assert state._pair_buckets
    state.clock.advance(25 * HOUR)  # the billing conversation expired, the bucket refilled
    assert not state.window_open(PNID, USER)  # a lookup uses the user: both dropped
    assert state._billing == {}
    assert state._pair_buckets == {}
    assert state._last_inbound  # the (closed) window is still listed by conversations()
    [summary] = state.conversations()
    assert summary["window_open"] is False
    assert_consistent(state)


# -- the contact book (2026: business-scoped user ids) -----------------------------------


def test_the_contact_book_forgets_whole_users_in_the_2026_era() -> None:
    state = make_state(max_users=4, era=ERAS["2026"])
    # Users by number with a user id and a parent id; one by user id alone;
    # one the business only sent to (remember); one who wrote by id first and
    # gave the number later (one user, not two); one whose id moved number.
    wrote(state, number(1), from_user_id=bsuid(1), from_parent_user_id=parent_of(1))
    wrote(state, None, from_user_id=bsuid(2), from_parent_user_id=parent_of(2))
    assert send(state, template(to=number(3))).status == 200
    wrote(state, None, from_user_id=bsuid(4))
    wrote(state, number(4), from_user_id=bsuid(4))
    assert state._numbers[bsuid(4)] == number(4)
    assert state.limits()["users"] == 4  # bsuid(4) and number(4) are one user
    assert_consistent(state)
    assert state.addressee(parent_of(1)).wa_id == number(1)  # type: ignore[union-attr]
    # The sends to user ids use users 1 and 2: 3 is now the least recently used.
    assert "error_code" not in reply_to_user(state, parent_of(1))
    assert "error_code" not in reply_to_user(state, bsuid(2))
    wrote(state, number(5), from_user_id=bsuid(5), from_parent_user_id=parent_of(5))
    assert state.evicted()["users"] == 1
    assert user_id_of(number(3)) not in state._numbers  # number 3 forgotten
    assert_consistent(state)
    # 4 goes next: both its keys, its windows under either, its contact-book entries.
    wrote(state, number(6), from_user_id=bsuid(6))
    assert state.evicted()["users"] == 2
    assert bsuid(4) not in state._numbers
    assert number(4) not in state._user_ids
    assert all(number(4) not in pair and bsuid(4) not in pair for pair in state._last_inbound)
    assert state.customer(number(4)).user_id == user_id_of(number(4))  # as if never seen
    assert_consistent(state)
    # User 5's id moves to another number (the user changed numbers): number 5
    # no longer has it, and forgetting either user leaves nothing dangling.
    wrote(state, number(7), from_user_id=bsuid(5))
    assert state._numbers[bsuid(5)] == number(7)
    assert number(5) not in state._user_ids
    assert_consistent(state)
    for n in range(100, 110):  # everyone before is forgotten
        wrote(state, number(n), from_user_id=bsuid(n), from_parent_user_id=parent_of(n))
        assert_consistent(state)
    for old in (1, 2, 5):
        assert state.addressee(bsuid(old)) is None
        assert state.addressee(parent_of(old)) is None
    assert set(state._parents) == {parent_of(n) for n in range(106, 110)}
    failed = reply_to_user(state, parent_of(1))  # nobody this server knows any more
    assert failed["error_code"] == 131026
    # A send to an unknown id is a user too (its pair bucket): 106 goes.
    assert set(state._parents) == {parent_of(n) for n in range(107, 110)}
    assert sizes(state)["_users"] == 4
    assert_consistent(state)
    # The most recent ones still resolve, both ways.
    found = state.addressee(parent_of(109))
    assert found is not None
    assert (found.wa_id, found.user_id) == (number(109), bsuid(109))
    assert state.customer(number(109)).parent_user_id == parent_of(109)


def reply_to_user(state: GraphState, recipient: str) -> dict[str, Any]:
    response = send(state, to_user(recipient))
    assert response.status == 200, response.body
    found = state.message(response.json()["messages"][0]["id"])
    assert found is not None
    return found


def test_a_parent_id_names_one_user_and_a_user_has_one_parent() -> None:
    state = make_state(era=ERAS["2026"])
    wrote(state, number(1), from_user_id=bsuid(1), from_parent_user_id=parent_of(1))
    wrote(state, number(1), from_user_id=bsuid(1), from_parent_user_id=parent_of(2))
    assert state._parents == {parent_of(2): bsuid(1)}
    wrote(state, number(3), from_user_id=bsuid(3), from_parent_user_id=parent_of(2))
    assert state._parents == {parent_of(2): bsuid(3)}
    assert bsuid(1) not in state._parent_ids
    assert_consistent(state)


# -- over HTTP: the control API counts it ------------------------------------------------


@pytest.fixture
def running() -> Iterator[Running]:
    settings = GraphSettings(access_tokens=frozenset({ACCESS_TOKEN}), max_users=5,
                             sent_after=0.0, delivered_after=None, read_after=None)  # fmt: skip
    state = GraphState(settings)
    server = start(FakeMeta(state, Dispatcher(state, app_secret=APP_SECRET)))
    try:
        yield server
    finally:
        server.stop()


def test_evicted_users_are_counted_by_the_control_api_and_logged_once(
    running: Running, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="fakemeta.serve")
    bearer = {"Authorization": f"Bearer {ACCESS_TOKEN}"}
    with httpx.Client(base_url=running.url, timeout=10) as client:
        for n in range(8):
            sent = client.post("/_fakemeta/inbound", json={"from": number(n), "text": f"hi {n}"})
            assert sent.status_code == 202, sent.text
            answer = client.post(f"/v23.0/{PNID}/messages", headers=bearer,
                                 json=text(to=number(n), body=f"re {n}"))  # fmt: skip
            assert answer.status_code == 200, answer.text
        limits = client.get("/_fakemeta/").json()["limits"]
        assert (limits["max_users"], limits["users"]) == (5, 5)
        assert limits["evicted"]["users"] == 3
        # The forgotten customer's window is closed; the latest one's is open.
        first = client.get(f"/_fakemeta/conversations/{PNID}/{number(0)}").json()
        last = client.get(f"/_fakemeta/conversations/{PNID}/{number(7)}").json()
        assert (first["window_open"], last["window_open"]) == (False, True)
    lines = [r.getMessage() for r in caplog.records if "users store is full" in r.getMessage()]
    assert len(lines) == 1
    assert "--max-users 5" in lines[0]


# -- the command line --------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5", ""])
def test_a_bad_max_users_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], value: str
) -> None:
    code, out, err = run(capsys, "serve", "--max-users", value)
    assert out == ""
    assert code == 2, err
    [line] = err.strip().splitlines()
    assert line.startswith("fakemeta: Invalid value for '--max-users': "), line
    assert line.endswith("(see 'fakemeta serve --help')"), line


def test_a_bad_max_users_from_the_shell_has_no_traceback() -> None:
    process = launch("--port", "0", "--max-users", "0")
    out, err = process.communicate(timeout=20)
    assert process.returncode == 2
    assert out == ""
    assert err.strip().splitlines() == [
        "fakemeta: Invalid value for '--max-users': 0 is not in the range x>=1."
        " (see 'fakemeta serve --help')"
    ]


def test_help_documents_max_users() -> None:
    result = CliRunner().invoke(cli, ["serve", "--help"])
    assert result.exit_code == 0
    assert "--max-users" in result.output
    assert "least recently used go first" in " ".join(result.output.split())
    assert "[default: 100000" in result.output
