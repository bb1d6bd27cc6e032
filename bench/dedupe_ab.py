"""Compare the clustering CPU of two code trees in the same minutes: the benchmark's batches
(bench/dedupe.py's corpus, batches of 2,000) go to one worker process per tree, in lockstep,
the order alternating batch by batch, so the host's drift (up to 1.75x within half an hour on
a shared machine) falls on both alike. Each worker stores and clusters every batch in its own
database; the figures are the CPU time of ``Store.assign_stories`` an article (every thread of
the worker, the checkpoint thread's too), its system time, and the ratio of the second tree's
to the first's. The two trees' stories must come out the same (checked at the end).

    python bench/dedupe_ab.py /path/to/main-checkout .      # main against this checkout
    python bench/dedupe_ab.py . . --size 50000              # a null run: the noise, ~2%

Each tree needs its own ``aggregator`` (and ``bench/dedupe.py``); both run with this
interpreter."""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
from pathlib import Path

BATCH = 2000  # articles a batch, as bench/dedupe.py

# The worker, run with a tree's directory first on sys.path: one line in (a batch's start, or
# "end"), one JSON line out.
WORKER = r"""
import hashlib, json, resource, sys, tempfile, time
from datetime import UTC, datetime
from pathlib import Path
tree, n, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sys.path[:0] = [tree, tree + "/bench"]
import dedupe as bench
from aggregator.store import Store
tmp = tempfile.TemporaryDirectory()
store = Store(Path(tmp.name) / "ab.db")
now = datetime(2026, 12, 1, tzinfo=UTC)
stream = bench.corpus(n)
for line in sys.stdin:
    if line.strip() == "end":
        break
    start = int(line)
    rows = []
    for i in range(start, min(n, start + size)):
        title, _ = next(stream)
        url = f"https://bench{i % 7}.example/a/{i}.html"
        rows.append({"url": url, "canonical_url": url, "source": f"bench{i % 7}", "guid": None,
                     "title": title, "snippet": "", "published_at": bench.when(i),
                     "published_precision": "minute", "published_from": "list", "flags": [],
                     "language": "zh", "topics": []})
    ids = store.upsert_articles(rows, now).new_ids
    before = resource.getrusage(resource.RUSAGE_SELF)
    cpu = time.process_time()
    store.assign_stories(ids)
    cpu = time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"cpu": cpu, "sys": after.ru_stime - before.ru_stime,
                      "faults": after.ru_minflt - before.ru_minflt}), flush=True)
stories = store.conn.execute("SELECT id, story_id FROM articles ORDER BY id").fetchall()
print(json.dumps({"stories": hashlib.sha256(repr(stories).encode()).hexdigest()}), flush=True)
store.close()
tmp.cleanup()
"""


def _ask(worker: subprocess.Popen[str], tree: Path, line: str) -> str:
    """Send a worker a line and read its answer; a worker that stopped (its traceback is
    above) ends the run with an error naming its tree."""
    assert worker.stdin is not None and worker.stdout is not None
    try:
        worker.stdin.write(line + "\n")
        worker.stdin.flush()
        answer = worker.stdout.readline()
    except BrokenPipeError:
        answer = ""
    if not answer:
        raise SystemExit(f"{tree}: its clustering worker stopped (exit {worker.wait()}), see above")
    return answer


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("first", type=Path, help="a code tree (a checkout's root)")
    parser.add_argument("second", type=Path, help="another code tree")
    parser.add_argument("--size", type=int, default=100_000, help="articles (default 100,000)")
    args = parser.parse_args()
    if args.size < 1:
        parser.error(f"argument --size: must be 1 or more, not {args.size}")
    trees = [args.first.resolve(), args.second.resolve()]
    for tree in trees:
        if not (tree / "aggregator" / "store.py").is_file():
            parser.error(f"{tree}: no aggregator/store.py there")
        if not (tree / "bench" / "dedupe.py").is_file():
            parser.error(f"{tree}: no bench/dedupe.py there")
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, str(tree), str(args.size), str(BATCH)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for tree in trees
    ]
    totals = [{"cpu": 0.0, "sys": 0.0, "faults": 0} for _ in trees]
    try:
        for number, start in enumerate(range(0, args.size, BATCH)):
            for side in (0, 1) if number % 2 == 0 else (1, 0):
                batch = json.loads(_ask(workers[side], trees[side], str(start)))
                for key in totals[side]:
                    totals[side][key] += batch[key]
        ends = []
        for worker, tree in zip(workers, trees, strict=True):
            ends.append(json.loads(_ask(worker, tree, "end"))["stories"])
    finally:
        for worker in workers:
            if worker.stdin is not None:
                with contextlib.suppress(BrokenPipeError):  # (a worker that stopped)
                    worker.stdin.close()  # (a worker still reading ends)
            worker.wait(timeout=600)
    n = args.size
    for tree, total in zip(trees, totals, strict=True):
        print(
            f"{tree}: {total['cpu'] / n * 1e6:.2f} CPU µs an article "
            f"(system {total['sys'] / n * 1e6:.2f}), {total['faults']} page faults"
        )
    print(f"second / first: {totals[1]['cpu'] / totals[0]['cpu']:.3f} (CPU)")
    same = ends[0] == ends[1]
    print("stories: the same" if same else "stories: DIFFERENT")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
