"""A worker child for tests/test_worker.py (``python -m tests.worker_echo``): answers every
message with ``("echo", message)`` (after printing some noise to stdout), sleeps a minute on
``"sleep"``, and answers ``"bye"`` at the end of its input."""

from __future__ import annotations

import sys
import time

from aggregator.worker import child_streams, receive, send


def main() -> int:
    messages, answers = child_streams()
    while (message := receive(messages)) is not None:
        if message == "sleep":
            time.sleep(60)
        print("noise that must not reach the answers")
        send(answers, ("echo", message))
    send(answers, "bye")
    return 0


if __name__ == "__main__":
    sys.exit(main())
