"""Checkpoints off the clustering path: ``bench/dedupe.py``'s lookup + insert, A/B.

    python bench/checkpoint.py [--size 100000] [--repeat 2] [--every N] [--json FILE]

Runs :func:`dedupe.run_size` (no exact comparison) alternately with the checkpoint thread
(:mod:`aggregator.checkpointer`, the default) and without it (``CHECKPOINT_THREAD = False``:
the clustering connection checkpoints in its own ``COMMIT`` every ``CLUSTER_WAL_PAGES``), each
run in its own process, and prints per variant: wall and CPU µs an article for
``Store.assign_stories`` (CPU is the whole process's, the thread's included; main thread CPU
is the clustering thread's alone), the checkpoint thread's own CPU µs an article, its
checkpoints, and the largest the WAL file grew. ``--every`` overrides
``CHECKPOINT_EVERY_ARTICLES``. The variants must find the same stories (precision, recall,
candidates): it checks that. Compare the ratios of one run; the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

VARIANTS = ("thread", "commit")


def one(size: int, variant: str, every: int | None) -> dict[str, Any]:
    """One run in this process: ``variant`` is "thread" or "commit"."""
    import dedupe as bench

    import aggregator.store as store_module

    store_module.CHECKPOINT_THREAD = variant == "thread"
    if every:
        store_module.CHECKPOINT_EVERY_ARTICLES = every
    assign = store_module.Store.assign_stories
    seen: dict[str, Any] = {"cpu": 0.0, "main": 0.0, "wal_max": 0, "stats": None}

    def timed(self: Any, ids: Any, options: Any = None) -> Any:
        started, main = time.process_time(), time.thread_time()
        try:
            return assign(self, ids, options)
        finally:
            seen["cpu"] += time.process_time() - started
            seen["main"] += time.thread_time() - main
            wal = self.path + "-wal"
            if os.path.exists(wal):
                seen["wal_max"] = max(seen["wal_max"], os.path.getsize(wal))
            if self.checkpointer is not None:
                seen["stats"] = self.checkpointer.stats

    store_module.Store.assign_stories = timed  # type: ignore[method-assign]
    result = bench.run_size(size, 0, None)
    stats = seen["stats"]
    return {
        "variant": variant,
        "wall_us": result["us_per_item"],
        "cpu_us": round(seen["cpu"] / size * 1e6, 1),
        "main_cpu_us": round(seen["main"] / size * 1e6, 1),
        "thread_cpu_us": round(stats.cpu_s / size * 1e6, 1) if stats else 0.0,
        "checkpoints": stats.checkpoints if stats else 0,
        "wal_max_mb": round(seen["wal_max"] / 2**20, 1),
        "same": [result["precision"], result["recall"], result["candidates_per_item"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--every", type=int, help="articles between the thread's checkpoints")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--one", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.size, args.one, args.every)))
        return 0
    runs: list[dict[str, Any]] = []
    for _ in range(args.repeat):
        for variant in VARIANTS:
            command = [sys.executable, __file__, "--size", str(args.size), "--one", variant]
            if args.every:
                command += ["--every", str(args.every)]
            out = subprocess.run(command, check=True, capture_output=True, text=True).stdout
            runs.append(json.loads(out.strip().splitlines()[-1]))
            print(json.dumps(runs[-1]), flush=True)
    by = {v: [r for r in runs if r["variant"] == v] for v in VARIANTS}
    for variant, rows in by.items():
        wall = statistics.median(r["wall_us"] for r in rows)
        cpu = statistics.median(r["cpu_us"] for r in rows)
        main = statistics.median(r["main_cpu_us"] for r in rows)
        print(
            f"{variant:7s} wall {wall:6.1f} µs/article  CPU {cpu:6.1f}  main thread CPU "
            f"{main:6.1f}  (medians of {len(rows)})"
        )
    ratio = [t["wall_us"] / c["wall_us"] for t, c in zip(by["thread"], by["commit"], strict=True)]
    print("thread/commit wall, per pair:", " ".join(f"{r:.3f}" for r in ratio))
    same = {json.dumps(r["same"]) for r in runs}
    print("same stories in every run:", "yes" if len(same) == 1 else f"NO: {same}")
    if args.json:
        args.json.write_text(json.dumps(runs, indent=1), "utf-8")
    return 0 if len(same) == 1 else 1


if __name__ == "__main__":
    sys.exit(main())
