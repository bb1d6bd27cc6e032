"""A worker process beside the crawl: a child of this program (``python -m MODULE ARGS``, the
same interpreter) fed messages on its stdin, answering on its stdout. Used by
:mod:`aggregator.storewriter` (batches to write) and :mod:`aggregator.clusterer` (ids to cluster).

A message is any picklable value, framed as an 8-byte big-endian length and its pickle; the end
of a stream (or a partial message: the other side died mid-write) ends the messages. Both sides
are this program, so pickling is safe and names the same classes.

The parent (:class:`Worker`) starts the child, sends messages (:meth:`Worker.send` says when
the child is gone), reads answers as they come (:meth:`Worker.receive`) or all of them at the end
(:meth:`Worker.finish`, with a timeout after which the child is killed). The child reads with
:func:`receive` and answers with :func:`send` on the streams :func:`child_streams` gives, and can
report its peak memory (:func:`peak_mb`).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import resource
import subprocess
import sys
import threading
from typing import IO, Any

_HEADER = 8


def encode(message: Any) -> bytes:
    """One message as it goes over the pipe (taken now: later changes to it are not sent)."""
    body = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
    return len(body).to_bytes(_HEADER, "big") + body


def send(stream: IO[bytes], message: Any) -> None:
    """Write one message and flush it (raises ``OSError`` when the other side is gone)."""
    stream.write(encode(message))
    stream.flush()


def receive(stream: IO[bytes]) -> Any | None:
    """One message, or None at the end of the stream (a partial message is the end too)."""
    header = stream.read(_HEADER)
    if len(header) < _HEADER:
        return None
    size = int.from_bytes(header, "big")
    body = stream.read(size)
    if len(body) < size:
        return None
    return pickle.loads(body)


def child_streams() -> tuple[IO[bytes], IO[bytes]]:
    """In the child: the stream its messages come on and the one its answers go to (the real
    stdout; anything else printed goes to stderr from now on)."""
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    sys.stdout = sys.stderr
    return sys.stdin.buffer, answers


def peak_mb() -> float:
    """This process's peak resident memory so far, in MB (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


class Worker:
    """``python -m module *args`` with pipes to its stdin and stdout (raises ``OSError`` when
    it cannot start)."""

    def __init__(self, module: str, *args: str) -> None:
        self.name = module
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, *args],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, message: Any) -> bool:
        """Send a message; False when the child is gone (it read no more)."""
        return self.write(encode(message))

    def write(self, frame: bytes) -> bool:
        """Send a message :func:`encode` made; False when the child is gone."""
        stdin = self.process.stdin
        if stdin is None or stdin.closed:
            return False
        try:
            stdin.write(frame)
            stdin.flush()
        except (OSError, ValueError):  # a broken pipe; ValueError: closed meanwhile
            return False
        return True

    def receive(self) -> Any | None:
        """The child's next answer, or None at the end of its output (or an unreadable one: the
        child is not one of ours any more)."""
        assert self.process.stdout is not None
        try:
            return receive(self.process.stdout)
        except Exception:  # unpickling a damaged message can raise anything
            return None

    def end_input(self) -> None:
        """No more messages: the child sees the end of its input."""
        if self.process.stdin is not None:
            with contextlib.suppress(OSError):
                self.process.stdin.close()

    def wait(self) -> int:
        """Wait for the child to exit, after its output has been read; its exit status."""
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.wait()

    def finish(self, timeout: float) -> tuple[list[Any], int | None]:
        """End the input, read every answer left and wait for the child: the answers and the
        exit status; None as status when it took longer than ``timeout`` seconds (it is killed,
        and what it had answered is dropped)."""
        self.end_input()
        answers: list[Any] = []

        def read() -> None:
            while (answer := self.receive()) is not None:
                answers.append(answer)

        reader = threading.Thread(target=read, name=f"{self.name}-finish", daemon=True)
        reader.start()
        reader.join(timeout)
        if reader.is_alive():
            self.kill()  # its output ends: the reader stops
            reader.join()
            self.wait()
            return [], None
        return answers, self.wait()

    def kill(self) -> None:
        """Stop the child at once and wait for it."""
        with contextlib.suppress(OSError):
            self.process.kill()
        self.process.wait()
