"""aggregator.worker: a child process of this program fed messages and answering them, as the
writer process and the clustering worker use it."""

from __future__ import annotations

import io
import signal
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from aggregator.worker import Worker, encode, receive
from tests.conftest import ROOT


@pytest.fixture
def echo(monkeypatch: pytest.MonkeyPatch) -> Iterator[Worker]:
    monkeypatch.chdir(ROOT)  # python -m tests.worker_echo finds the tests folder from here
    worker = Worker("tests.worker_echo")
    yield worker
    worker.kill()
    worker.end_input()
    worker.wait()


def test_messages_go_and_answers_come_back_in_order(echo: Worker) -> None:
    sent = [[1, 2, 3], {"a": "储能"}, datetime(2026, 2, 24, 15, 20, tzinfo=UTC)]
    for message in sent:
        assert echo.send(message)
    # answers as they come, then the rest at the end (stdout noise went to stderr)
    assert echo.receive() == ("echo", sent[0])
    answers, status = echo.finish(timeout=30)
    assert answers == [("echo", sent[1]), ("echo", sent[2]), "bye"]
    assert status == 0


def test_a_dead_child_is_seen_by_send_receive_and_finish(echo: Worker) -> None:
    echo.kill()
    assert not echo.alive()
    assert echo.send([1]) is False
    assert echo.receive() is None
    assert echo.finish(timeout=30) == ([], -signal.SIGKILL)


def test_finish_kills_a_child_that_takes_longer_than_the_timeout(echo: Worker) -> None:
    assert echo.send("sleep")
    assert echo.finish(timeout=0.5) == ([], None)
    assert not echo.alive()


def test_a_partial_message_is_the_end_of_the_stream() -> None:
    whole = encode(["a"]) + encode(["b"])
    stream = io.BytesIO(whole[:-1])
    assert receive(stream) == ["a"]
    assert receive(stream) is None
