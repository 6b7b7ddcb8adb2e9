"""What `fakemeta load` reads before it sends: the mix, durations, thresholds,
and the HTTP responses it reads while it sends."""

from __future__ import annotations

from pathlib import Path

import pytest

from fakemeta.simulator.errors import BadInput
from fakemeta.simulator.load._http import ProtocolViolation, ResponseReader
from fakemeta.simulator.load.mix import parse_mix
from fakemeta.simulator.load.report import Summary, parse_seconds, parse_threshold

# --- the mix ------------------------------------------------------------------------


def test_a_mix_keeps_its_weights_and_expands_status() -> None:
    mix = parse_mix("text=8,image=1,status=3")
    assert mix.weights == (
        ("text", 8.0),
        ("image", 1.0),
        ("sent", 1.0),
        ("delivered", 1.0),
        ("read", 1.0),
    )
    shares = mix.shares()
    assert shares["text"] == pytest.approx(8 / 12)
    table = mix.table(1024)
    assert len(table) == 1024
    assert table.count("text") == pytest.approx(1024 * 8 / 12, abs=2)


def test_a_mix_file_takes_lines_and_comments(tmp_path: Path) -> None:
    path = tmp_path / "mix.txt"
    path.write_text("# what our users send\ntext = 5\nimage=0.5, read=1\n")
    assert parse_mix(str(path)).describe() == "text=5,image=0.5,read=1"
    assert parse_mix(f"@{path}").describe() == "text=5,image=0.5,read=1"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("text=8,selfie=1", "unknown kind 'selfie'"),
        ("text=8,image", "'image' is not kind=weight"),
        ("text=-1", "'text=-1' is not kind=weight"),
        ("text=0,image=0", "every weight is 0"),
        ("", "no entries"),
        ("no-such-file.txt", "nor a readable file"),
    ],
)
def test_a_bad_mix_says_what_is_wrong_in_one_line(text: str, says: str) -> None:
    with pytest.raises(BadInput, match=says) as raised:
        parse_mix(text)
    assert "\n" not in raised.value.one_line()


# --- durations and thresholds -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("10", 10.0), ("10s", 10.0), ("1.5m", 90.0), ("500ms", 0.5)]
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_seconds(text, "--duration") == pytest.approx(seconds)


def test_a_bad_duration_is_one_line() -> None:
    with pytest.raises(BadInput, match="--duration 'soon'"):
        parse_seconds("soon", "--duration")


def _summary(**changes: object) -> Summary:
    summary = Summary(
        target="http://x",
        reason="completed",
        elapsed=2.0,
        requests=2000,
        rate=1000.0,
        deliveries=2000,
        acknowledged=1998,
        updates=2000,
        duplicates=0,
        retries=0,
        given_up=0,
        unfinished=2,
        latency_ms={"p50": 2.0, "p90": 5.0, "p99": 40.0, "p999": 90.0, "max": 120.0},
        statuses={"200": 1998, "500": 2},
        errors={},
        error_rate=0.001,
        bytes_sent=0,
    )
    for key, value in changes.items():
        setattr(summary, key, value)
    return summary


@pytest.mark.parametrize(
    ("expression", "fails"),
    [
        ("p99>500ms", False),
        ("p99>30ms", True),
        ("p99>0.03s", True),
        ("p50>=2ms", True),
        ("p99.9>100ms", False),
        ("max>100", True),
        ("errors>0.1%", False),
        ("errors>=0.1%", True),
        ("errors>0.0005", True),
        ("rate<1000", False),
        ("rate<1001", True),
    ],
)
def test_thresholds_fail_when_they_hold(expression: str, fails: bool) -> None:
    _, failed = parse_threshold(expression).check(_summary())
    assert failed is fails


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("p99 500ms", "expected METRIC OP VALUE"),
        ("p98>5ms", "unknown metric 'p98'"),
        ("p99>5kg", "unknown unit 'kg'"),
        ("errors>5ms", "errors take a percentage"),
        ("rate<5%", "a rate is requests per second"),
    ],
)
def test_a_bad_threshold_says_what_is_wrong(expression: str, says: str) -> None:
    with pytest.raises(BadInput, match=says):
        parse_threshold(expression)


# --- responses ----------------------------------------------------------------------

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nOK"


def test_a_whole_response_in_one_read() -> None:
    reader = ResponseReader()
    assert reader.feed(OK) == 200
    assert not reader.close
    assert reader.feed(OK.replace(b"200 OK", b"503 Busy")) == 503


def test_a_response_split_anywhere() -> None:
    for cut in range(1, len(OK)):
        reader = ResponseReader()
        assert reader.feed(OK[:cut]) == 0
        assert reader.feed(OK[cut:]) == 200


def test_a_chunked_response_with_trailers_split_byte_by_byte() -> None:
    response = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n10;x=y\r\n0123456789abcdef\r\n0\r\nX-Trailer: 1\r\n\r\n"
    )
    reader = ResponseReader()
    results = [reader.feed(response[i : i + 1]) for i in range(len(response))]
    assert results[-1] == 200
    assert not any(results[:-1])
    assert ResponseReader().feed(response) == 200


def test_interim_answers_and_closing_answers() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 100 Continue\r\n\r\n" + OK) == 200
    closing = ResponseReader()
    assert closing.feed(OK.replace(b"Content-Type", b"connection: Close\r\nX")) == 200
    assert closing.close
    old = ResponseReader()
    assert old.feed(b"HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n") == 200
    assert old.close


def test_a_body_that_ends_with_the_connection() -> None:
    reader = ResponseReader()
    assert reader.feed(b"HTTP/1.1 200 OK\r\n\r\npartial") == 0
    assert reader.feed(b" body") == 0
    assert reader.eof() == 200
    assert reader.close


def test_garbage_is_a_protocol_violation() -> None:
    with pytest.raises(ProtocolViolation, match=r"not an HTTP/1\.x status line"):
        ResponseReader().feed(b"SSH-2.0-OpenSSH\r\n\r\n")
    with pytest.raises(ProtocolViolation, match="bad chunk size"):
        ResponseReader().feed(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n")


def test_the_same_bytes_again_parse_the_same() -> None:
    reader = ResponseReader()
    closing = OK.replace(b"Content-Type", b"Connection: close\r\nX")
    for response, status, close in [
        (OK, 200, False),
        (OK, 200, False),
        (closing, 200, True),
        (OK, 200, False),
        (closing, 200, True),
        (closing, 200, True),
        (OK.replace(b"200 OK", b"500 No"), 500, False),
        (OK, 200, False),
    ]:
        assert reader.feed(response) == status
        assert reader.close is close
