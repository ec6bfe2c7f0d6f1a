"""python -m bench.crisis [--no-heldout] [--no-cv]

Figures for the crisis detector (server/moderation/crisis):
(a) the training data (server/moderation/crisis/training/*.jsonl), 5-fold cross-validated: each
    fold's model is fitted on the other four (needs scikit-learn, a dev dependency);
(b) each held-out set, tests/crisis_heldout/ (written 2026-11) and tests/crisis_heldout_2/
    (written 2026-12-06), {en,es}.jsonl, each written apart from the training data by someone
    who never saw it, the word lists or the code, scored by the shipped model;
each next to the old regex detector (matching.CrisisDetector with the shipped word lists), and
the cost of one `detect` call (p50/p99, chat-length messages and a long tail up to 4,000
characters).

An alarm is a detection with severity urgent or emergency. Recall "any": the share of
urgent/emergency lines that alarm in any crisis category; "exact" also needs the labelled
category (a category mismatch still counts as found under "any", and as a miss under
"exact"). The old detector names no category or severity: its match counts as an alarm and
only the "any" figures mean something for it.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from server.moderation.crisis.detector import CrisisClassifier
from server.moderation.crisis.evaluate import report
from server.moderation.crisis.train import Row, cross_validate, load_rows
from server.moderation.matching import CrisisDetector, shipped_word_lists

TESTS = Path(__file__).resolve().parent.parent / "tests"
HELDOUT_SETS = (TESTS / "crisis_heldout", TESTS / "crisis_heldout_2")


@dataclass(frozen=True)
class OldDetection:
    category: str
    severity: str


def old_detector_predictions(rows: list[Row]) -> list[OldDetection | None]:
    lists = shipped_word_lists()
    old = CrisisDetector(lists.crisis_patterns, lists.crisis_exclusions)
    return [
        OldDetection("suicide", "urgent") if old.find(r.text) is not None else None for r in rows
    ]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def cost(detector: CrisisClassifier, texts: list[str]) -> str:
    lines = []
    for text in texts[:200]:
        detector.detect(text)  # warm the word cache a little, like a running server
    timings: list[float] = []
    for _ in range(3):
        for text in texts:
            started = time.perf_counter_ns()
            detector.detect(text)
            timings.append((time.perf_counter_ns() - started) / 1000)
    lengths = [len(t) for t in texts]
    lines.append(
        f"  chat messages ({len(texts)} texts, median {statistics.median(lengths):.0f} chars,"
        f" max {max(lengths)}): p50 {_percentile(timings, 0.5):.1f} us,"
        f" p99 {_percentile(timings, 0.99):.1f} us, max {max(timings):.0f} us"
    )
    for size in (500, 1000, 2000, 4000):
        long_texts = []
        start = 0
        for _ in range(30):
            pieces: list[str] = []
            while sum(len(p) + 1 for p in pieces) < size:
                pieces.append(texts[start % len(texts)])
                start += 1
            long_texts.append(" ".join(pieces)[:size])
        timings = []
        for text in long_texts * 3:
            started = time.perf_counter_ns()
            detector.detect(text)
            timings.append((time.perf_counter_ns() - started) / 1000)
        lines.append(
            f"  {size:>4}-char messages: p50 {_percentile(timings, 0.5):.0f} us,"
            f" p99 {_percentile(timings, 0.99):.0f} us"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.crisis", description=__doc__)
    parser.add_argument("--no-heldout", action="store_true", help="skip the held-out sets")
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    rows = load_rows()
    detector = CrisisClassifier()
    print(f"training lines: {len(rows)}; model features: {len(detector.model):,}")
    if not args.no_cv:
        print("\n== (a) training data, 5-fold cross-validation: rules + model ==")
        print(report(rows, cross_validate(rows)))
        print("\n== (a) training data: old regex detector (shipped word lists) ==")
        print(report(rows, old_detector_predictions(rows)))
    texts = [r.text for r in rows]
    if not args.no_heldout:
        for folder in HELDOUT_SETS:
            heldout = load_rows(sorted(folder.glob("*.jsonl")))
            name = f"{folder.name}/ ({len(heldout)} lines)"
            print(f"\n== (b) held-out set {name}: shipped rules + model ==")
            print(report(heldout, [detector.detect(r.text) for r in heldout]))
            print(f"\n== (b) held-out set {folder.name}/: old regex detector (word lists) ==")
            print(report(heldout, old_detector_predictions(heldout)))
            texts += [r.text for r in heldout]
    print("\n== cost of one detect() call (steady state, this machine) ==")
    print(cost(detector, texts))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
