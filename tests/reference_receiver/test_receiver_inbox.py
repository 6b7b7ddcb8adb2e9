"""The inbox: a delivery is stored before its 200, applied after it, once, even across crashes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from flask import Flask
from receiver_helpers import (
    WEBHOOK,
    base_config,
    build_app,
    envelope,
    meta_encode,
    probe,
    sign,
    text_message,
)
from sqlalchemy import func, select, update

from fakemeta.reference_receiver.drainer import Drainer
from fakemeta.reference_receiver.inbox import MAX_ATTEMPTS, Inbox
from fakemeta.reference_receiver.models import (
    ACTION_MESSAGE_RECEIVED,
    Client,
    InboxDelivery,
    IntegrationLog,
    Notification,
)
from fakemeta.reference_receiver.state import ReceiverState, receiver_state


def count(state: ReceiverState, model: Any, *where: Any) -> int:
    with state.sessions() as session:
        return int(session.execute(select(func.count()).select_from(model).where(*where)).scalar())


def post(app: Flask, payload: dict[str, Any] | bytes, ip: str = "127.0.0.1") -> int:
    body = payload if isinstance(payload, bytes) else meta_encode(payload)
    response = app.test_client().post(
        WEBHOOK,
        data=body,
        headers={"X-Hub-Signature-256": sign(body), "Content-Type": "application/json"},
        environ_base={"REMOTE_ADDR": ip},
    )
    return response.status_code


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'receiver.sqlite3'}"


@pytest.fixture
def waiting_app(tmp_path: Path, database_url: str) -> Iterator[Flask]:
    """An app whose deliveries wait in the inbox: nothing drains unless a test says so."""
    app = build_app(
        base_config(tmp_path, DATABASE_URL=database_url, INBOX_DRAIN="external"), settle=False
    )
    yield app
    receiver_state(app).close()


def logs(state: ReceiverState) -> int:
    return count(state, IntegrationLog, IntegrationLog.action == ACTION_MESSAGE_RECEIVED)


def test_a_delivery_is_acknowledged_stored_as_sent_then_applied(waiting_app: Flask) -> None:
    state = receiver_state(waiting_app)
    message = text_message("stored before the 200", sender="2091")
    body = meta_encode(envelope([message], name="Nadia"))
    assert post(waiting_app, body) == 200
    with state.sessions() as session:
        row = session.execute(select(InboxDelivery)).scalar_one()
    assert row.body == body  # the bytes as signed, not a re-encoding
    assert row.digest == bytes.fromhex(sign(body).removeprefix("sha256="))
    assert row.size == len(body)
    assert (logs(state), count(state, Client)) == (0, 0)

    assert Drainer(state).drain() == 1
    assert count(state, InboxDelivery) == 0
    assert logs(state) == 1
    assert count(state, Notification) == 1
    assert probe(waiting_app.test_client(), "clients", phone="2091")[0]["name"] == "Nadia"


def test_an_identical_redelivery_while_the_first_waits_adds_no_row(waiting_app: Flask) -> None:
    state = receiver_state(waiting_app)
    body = meta_encode(envelope([text_message(sender="2092")]))
    assert [post(waiting_app, body) for _ in range(3)] == [200, 200, 200]
    assert count(state, InboxDelivery) == 1
    Drainer(state).drain()
    assert post(waiting_app, body) == 200  # after it was applied: a row, deduplicated by id
    Drainer(state).drain()
    assert (logs(state), count(state, Notification), count(state, InboxDelivery)) == (1, 1, 0)


def test_deliveries_for_other_objects_are_acknowledged_and_not_kept(waiting_app: Flask) -> None:
    state = receiver_state(waiting_app)
    assert post(waiting_app, {"object": "page", "entry": []}) == 200
    assert count(state, InboxDelivery) == 0


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b'{"object":"whatsapp_business_account","entry":[],"x":"\xff"}', 400),  # not UTF-8
        (b'{"object":"whatsapp_business_account","entry":[1,]}', 400),
        (b'[{"object":"whatsapp_business_account"}]', 400),
        (b'{"object":"whatsapp_business_account","entry":[],"x":"\\ud800"}', 200),
        (b'{"object":"whatsapp_business_account","entry":[],"x":NaN}', 200),
        ('{"object":"whatsapp_business_account","entry":[]}'.encode("utf-16"), 200),
    ],
)
def test_the_json_check_before_the_200_agrees_with_the_standard_library(
    waiting_app: Flask, body: bytes, status: int
) -> None:
    """What the fast check refuses is read again with `json`, which decides (ROBUST-1)."""
    assert post(waiting_app, body) == status
    assert count(receiver_state(waiting_app), InboxDelivery) == (1 if status == 200 else 0)


class Crash(BaseException):
    """A process dying in the middle of a pass: nothing after it runs, no except catches it."""


def test_a_pass_that_dies_before_its_commit_leaves_the_delivery_for_the_next(
    waiting_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = receiver_state(waiting_app)
    assert post(waiting_app, envelope([text_message(sender="2093")])) == 200

    def die(self: Inbox, session: Any, ids: Any) -> None:
        raise Crash  # after the clients, logs and notifications were written

    with monkeypatch.context() as patch:
        patch.setattr(Inbox, "remove", die)
        with pytest.raises(Crash):
            Drainer(state).drain()
    assert (count(state, InboxDelivery), logs(state), count(state, Client)) == (1, 0, 0)
    assert Drainer(state).drain() == 1
    assert (count(state, InboxDelivery), logs(state), count(state, Notification)) == (0, 1, 1)


_SERVE = """
import sys
from werkzeug.serving import make_server
from fakemeta.reference_receiver import create_app
server = make_server("127.0.0.1", 0, create_app())
print(server.server_port, flush=True)
server.serve_forever()
"""


def test_a_killed_receiver_loses_no_acknowledged_delivery(tmp_path: Path) -> None:
    """SIGKILL right after the 200s, before anything was applied; a restarted app applies all."""
    config = base_config(tmp_path, INBOX_DRAIN="external")  # the killed one never drains
    build_app(config, settle=False)  # migrated, with the account
    env = {**os.environ, **{k: str(v) for k, v in config.items()}}
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE],
        stdout=subprocess.PIPE,
        env=env,
        cwd=tmp_path,
    )
    try:
        assert process.stdout is not None
        port = int(process.stdout.readline())
        messages = [text_message(f"m{i}", sender=f"2094{i}") for i in range(5)]
        for message in messages:
            body = meta_encode(envelope([message]))
            response = httpx.post(
                f"http://127.0.0.1:{port}{WEBHOOK}",
                content=body,
                headers={"X-Hub-Signature-256": sign(body)},
            )
            assert response.status_code == 200
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    restarted = build_app(dict(config, INBOX_DRAIN="thread"), account=False, settle=False)
    state = receiver_state(restarted)
    try:
        assert state.drainer is not None
        deadline = time.monotonic() + 10
        while count(state, InboxDelivery) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert logs(state) == 5
        for message in messages:
            assert len(probe(restarted.test_client(), "messages", id=message["id"])) == 1
    finally:
        state.close()


def test_the_drainer_thread_applies_a_delivery_before_the_probe_answers(tmp_path: Path) -> None:
    """The probe waits for this process's drainer: no polling needed to see a delivery."""
    app = build_app(base_config(tmp_path), settle=False)
    try:
        message = text_message(sender="2095")
        assert post(app, envelope([message])) == 200
        assert len(probe(app.test_client(), "messages", id=message["id"])) == 1
        assert count(receiver_state(app), InboxDelivery) == 0
    finally:
        receiver_state(app).close()


def test_a_delivery_that_keeps_failing_is_put_off_then_left_for_a_person(
    waiting_app: Flask, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from fakemeta.reference_receiver import drainer as drainer_module
    from fakemeta.reference_receiver import process

    state = receiver_state(waiting_app)
    bodies = [meta_encode(envelope([text_message(f"m{i}", sender=f"2096{i}")])) for i in range(3)]
    poisoned = bodies[1]
    real = process.apply_deliveries

    def apply(session: Any, store: Any, given: list[bytes]) -> Any:
        if poisoned in given:
            raise ValueError("a bug this delivery sets off")
        return real(session, store, given)

    monkeypatch.setattr(drainer_module, "apply_deliveries", apply)
    for body in bodies:
        assert post(waiting_app, body) == 200
    drainer = Drainer(state)
    assert drainer.drain() == 2  # the pass of three failed; one by one, two went through
    assert logs(state) == 2
    assert "trying them one by one" in caplog.text
    with state.sessions() as session:
        row = session.execute(select(InboxDelivery)).scalar_one()
    assert (row.body, row.attempts) == (poisoned, 1)
    assert row.retry_at is not None
    assert "a bug this delivery sets off" in (row.last_error or "")
    assert drainer.drain() == 0  # put off: not before retry_at
    for _ in range(MAX_ATTEMPTS - 1):
        with state.sessions() as session, session.begin():
            session.execute(update(InboxDelivery).values(retry_at=None))
        drainer.drain()
    assert (state.inbox.counts().waiting, state.inbox.counts().failed) == (0, 1)
    with state.sessions() as session, session.begin():
        session.execute(update(InboxDelivery).values(retry_at=None))
    assert drainer.drain() == 0  # given up on: never claimed again
    monkeypatch.setattr(drainer_module, "apply_deliveries", real)
    assert state.inbox.retry_failed() == 1
    assert drainer.drain() == 1
    assert logs(state) == 3


def test_an_unreachable_database_during_a_pass_loses_nothing(
    waiting_app: Flask, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import create_engine
    from sqlalchemy.exc import OperationalError

    from fakemeta.reference_receiver.db import make_session_factory

    state = receiver_state(waiting_app)
    assert post(waiting_app, envelope([text_message(sender="2097")])) == 200
    working = state.sessions
    state.sessions = make_session_factory(create_engine("sqlite:////nonexistent-dir/x.sqlite3"))
    with pytest.raises(OperationalError):
        Drainer(state).drain()
    state.sessions = working
    assert Drainer(state).drain() == 1
    assert logs(state) == 1


def many_deliveries(app: Flask, count_: int) -> list[dict[str, Any]]:
    """`count_` deliveries of two messages each; senders overlap, so drainers meet on clients."""
    sent = []
    for i in range(count_):
        messages = [text_message(f"m{i}.{j}", sender=f"20980{(i + j) % 37:03d}") for j in range(2)]
        sent.extend(messages)
        assert post(app, envelope(messages)) == 200
    return sent


def test_two_drainers_never_apply_one_delivery_twice(
    tmp_path: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two drainers with their own connections (as two processes would have) over one inbox:
    on PostgreSQL they claim side by side (SKIP LOCKED), on SQLite they take turns."""
    config = base_config(tmp_path, DATABASE_URL=database_url, INBOX_DRAIN="external")
    first = build_app(config, settle=False)
    second = build_app(config, account=False, settle=False)
    states = [receiver_state(first), receiver_state(second)]
    sent = many_deliveries(first, 120)
    applied: dict[int, list[int]] = {0: [], 1: []}
    real_remove = Inbox.remove
    owner = threading.local()

    def remove(session: Any, ids: Any) -> None:
        applied[owner.number].extend(ids)
        real_remove(session, ids)

    monkeypatch.setattr(Inbox, "remove", staticmethod(remove))
    start = threading.Barrier(2)

    def drain(number: int) -> None:
        owner.number = number
        drainer = Drainer(states[number], budget=2048)  # small passes: many turns each
        start.wait()
        drainer.drain()

    threads = [threading.Thread(target=drain, args=(n,)) for n in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    try:
        assert not set(applied[0]) & set(applied[1])
        assert sorted(applied[0] + applied[1]) == sorted(set(applied[0] + applied[1]))
        assert len(applied[0]) + len(applied[1]) == 120
        if database_url.startswith("postgresql"):
            assert applied[0]  # both worked
            assert applied[1]
        state = states[0]
        assert count(state, InboxDelivery) == 0
        assert logs(state) == len(sent) == 240
        assert count(state, Notification) == 240
        assert count(state, Client) == 37
        for message in sent[::20]:
            assert len(probe(first.test_client(), "messages", id=message["id"])) == 1
    finally:
        for state in states:
            state.close()


def test_a_forked_process_starts_its_own_drainer(tmp_path: Path) -> None:
    """gunicorn --preload: the app is created before the fork, its thread stays behind."""
    app = build_app(base_config(tmp_path), settle=False)
    state = receiver_state(app)
    try:
        assert state.drainer is not None
        state.pid = -1  # as a child sees its parent's state
        state.drainer._pid = -1
        state.in_this_process()
        assert state.pid == os.getpid()
        assert state.drainer.running
        message = text_message(sender="2099")
        assert post(app, envelope([message])) == 200
        assert len(probe(app.test_client(), "messages", id=message["id"])) == 1
    finally:
        state.close()


def test_kill_9_mid_passes_then_full_redelivery_notifies_every_message_once(
    tmp_path: Path, database_url: str
) -> None:
    """The issue's crash test: a receiver that drains as it acknowledges is killed with
    SIGKILL while its drainer is applying passes; Meta then delivers everything again
    (the redelivery is deduplicated by message id). Every message ends with one log row
    and one notification row: they are written in one transaction (`drainer.py`), so a
    kill between them cannot leave a logged message that is never notified."""
    from concurrent.futures import ThreadPoolExecutor

    config = base_config(tmp_path, DATABASE_URL=database_url, INBOX_DRAIN="thread")
    receiver_state(build_app(config, settle=False)).close()  # migrated, with the account
    env = {**os.environ, **{k: str(v) for k, v in config.items()}}
    deliveries = [
        meta_encode(
            envelope([text_message(f"d{d} m{m}", sender=f"2096{d:03d}{m:02d}") for m in range(20)])
        )
        for d in range(200)
    ]
    process = subprocess.Popen(
        [sys.executable, "-c", _SERVE], stdout=subprocess.PIPE, env=env, cwd=tmp_path
    )
    watcher = build_app(dict(config, INBOX_DRAIN="external"), account=False, settle=False)
    watching = receiver_state(watcher)
    try:
        assert process.stdout is not None
        url = f"http://127.0.0.1:{int(process.stdout.readline())}{WEBHOOK}"

        def send(body: bytes) -> int:
            try:
                return httpx.post(
                    url, content=body, headers={"X-Hub-Signature-256": sign(body)}, timeout=10
                ).status_code
            except httpx.TransportError:
                return 0  # killed meanwhile

        with ThreadPoolExecutor(8) as pool:
            sent = [pool.submit(send, body) for body in deliveries]
            deadline = time.monotonic() + 30
            # Kill once passes have been committed and more wait: mid-way through.
            while logs(watching) < 400 and time.monotonic() < deadline:
                time.sleep(0.005)
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=10)
            acknowledged = sum(future.result() == 200 for future in sent)
        applied = logs(watching)
        assert 0 < applied < 4000, applied  # the kill came mid-way
        assert acknowledged < 200 or count(watching, InboxDelivery) > 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
        watching.close()
    restarted = build_app(config, account=False, settle=False)
    state = receiver_state(restarted)
    try:
        for body in deliveries:  # Meta's full redelivery
            assert post(restarted, body) == 200
        assert state.drainer is not None
        deadline = time.monotonic() + 60
        while count(state, InboxDelivery) and time.monotonic() < deadline:
            state.drainer.wake()
            time.sleep(0.05)
        assert state.drainer.wait_idle(30)
        assert count(state, InboxDelivery) == 0
        assert logs(state) == 4000
        assert count(state, Notification) == 4000
        with state.sessions() as session:
            notified = session.execute(
                select(func.count(func.distinct(Notification.log_id)))
            ).scalar_one()
        assert notified == 4000
    finally:
        state.close()
