"""Train the crisis model: `python -m server.moderation.crisis.train [--out PATH] [--no-cv]`.

Reads only the labelled lines in `training/*.jsonl` beside this module (one file per
language), fits the two heads of `model.py` with scikit-learn (a development dependency, never
needed at runtime), prunes the features to the most useful ones, fits again on those, and
writes the model file (default: `model.json.gz` beside this module). Everything is
deterministic: the folds are drawn with a fixed seed, the solver (L-BFGS) has no randomness,
and the file is written with sorted keys and a fixed gzip header, so two runs give the same
bytes. Then it prints 5-fold cross-validated figures of the whole detector (rules + model)
on the training data.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from server.moderation.crisis.model import (
    CATEGORIES,
    HEADS,
    MODEL_FILE,
    SEVERITIES,
    LinearModel,
    message_features,
    write_model,
)
from server.moderation.matching import crisis_normal_form

if TYPE_CHECKING:
    from scipy.sparse import csr_matrix  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

__all__ = ["Fitted", "Row", "cross_validate", "fit", "folds", "load_rows", "main"]

SEED = 20240516
FOLDS = 5
MIN_DF = 2  # a feature must occur in two training lines
KEEP_FEATURES = 30_000  # after the first fit, the features with the largest weights
C_HEAD = 16.0  # inverse L2 regularisation of every head (chosen by 5-fold cross-validation)


@dataclass(frozen=True)
class Row:
    text: str
    category: str
    severity: str
    kind: str
    language: str

    @property
    def alarm(self) -> bool:
        return self.severity in ("urgent", "emergency")


def training_dir() -> Path:
    return Path(str(resources.files(__package__).joinpath("training")))


def load_rows(paths: Sequence[Path] | None = None) -> list[Row]:
    """The labelled lines of `paths` (default: every training/*.jsonl); the language is the
    file's stem."""
    if paths is None:
        paths = sorted(training_dir().glob("*.jsonl"))
    rows: list[Row] = []
    for path in paths:
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                row = Row(item["text"], item["category"], item["severity"], item["kind"], path.stem)
            except (ValueError, KeyError, TypeError) as error:
                raise ValueError(f"{path}:{number}: {error}") from error
            if row.category not in CATEGORIES or row.severity not in SEVERITIES:
                raise ValueError(f"{path}:{number}: unknown category or severity")
            if (row.category == "none") != (row.severity == "none"):
                raise ValueError(f"{path}:{number}: category and severity disagree on 'none'")
            rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------
# Fitting


@dataclass
class Fitted:
    """A fitted model: what goes into the file, and scikit-learn's own estimators, one per
    head (for the test that the pure-Python scorer agrees with them)."""

    features: dict[str, list[float]]
    intercepts: list[float]
    estimators: dict[str, LogisticRegression]
    matrix: csr_matrix
    vocabulary: dict[str, int]

    def model(self) -> LinearModel:
        return LinearModel(
            {"version": 2, "heads": list(HEADS), "intercepts": self.intercepts,
             "features": self.features}
        )  # fmt: skip


def _counts(rows: Sequence[Row]) -> list[Counter[str]]:
    return [Counter(message_features(crisis_normal_form(r.text), r.text)) for r in rows]


def _matrix(
    counts: Sequence[Counter[str]], vocabulary: dict[str, int], idf: Sequence[float]
) -> csr_matrix:
    from scipy.sparse import csr_matrix

    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for counter in counts:
        row = sorted((vocabulary[name], tf) for name, tf in counter.items() if name in vocabulary)
        square = sum(tf * idf[i] * idf[i] for i, tf in row)
        scale = 1.0 / math.sqrt(square) if square > 0 else 0.0
        for i, tf in row:
            indices.append(i)
            data.append(tf * idf[i] * scale)
        indptr.append(len(indices))
    return csr_matrix((data, indices, indptr), shape=(len(counts), len(vocabulary)))


def head_targets(rows: Sequence[Row]) -> dict[str, tuple[list[int], list[int]]]:
    """Per head: the rows it learns from and their 0/1 labels."""
    every = list(range(len(rows)))
    alarms = [i for i, r in enumerate(rows) if r.alarm]
    crisis = [i for i, r in enumerate(rows) if r.category != "none"]
    targets = {
        "alarm": (every, [int(rows[i].alarm) for i in every]),
        "emergency": (alarms, [int(rows[i].severity == "emergency") for i in alarms]),
        "disclosure": (every, [int(rows[i].severity == "disclosure") for i in every]),
    }
    for category in CATEGORIES[1:]:
        targets[category] = (crisis, [int(rows[i].category == category) for i in crisis])
    return targets


def _fit_heads(rows: Sequence[Row], matrix: csr_matrix) -> dict[str, LogisticRegression]:
    from sklearn.linear_model import LogisticRegression

    estimators: dict[str, LogisticRegression] = {}
    for head, (members, labels) in head_targets(rows).items():
        estimator = LogisticRegression(C=C_HEAD, max_iter=2000, tol=1e-6)
        if len(set(labels)) < 2:
            raise ValueError(f"crisis model: head {head} needs examples of both kinds")
        estimators[head] = estimator.fit(matrix[members], labels)
    return estimators


def fit(rows: Sequence[Row], *, keep: int = KEEP_FEATURES) -> Fitted:
    import sklearn.linear_model  # type: ignore[import-untyped]  # noqa: F401 - its BLAS loads first
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    # One BLAS thread: the same bytes whatever the machine's cores (threads split the sums
    # differently; another CPU's vector kernels still move the fourth digit), and faster
    # too, as these matrices are too small to share out (one fit: 4 s, against 19 s with two
    # threads on a busy two-core machine).
    with threadpool_limits(limits=1):
        return _fit(rows, keep)


def _fit(rows: Sequence[Row], keep: int) -> Fitted:
    import numpy as np

    counts = _counts(rows)
    df: Counter[str] = Counter()
    for counter in counts:
        df.update(counter.keys())
    names = sorted(name for name, n in df.items() if n >= MIN_DF)
    total = len(rows)

    def idf_of(name: str) -> float:
        return math.log((1 + total) / (1 + df[name])) + 1.0

    vocabulary = {name: i for i, name in enumerate(names)}
    idf = [idf_of(name) for name in names]
    matrix = _matrix(counts, vocabulary, idf)
    estimators = _fit_heads(rows, matrix)
    if len(names) > keep:
        coef = np.vstack([estimators[head].coef_ for head in HEADS])
        importance = np.abs(coef).max(axis=0) * np.asarray(idf)
        # Stable ordering: by importance, ties by name.
        order = sorted(range(len(names)), key=lambda i: (-float(importance[i]), names[i]))
        names = sorted(names[i] for i in order[:keep])
        vocabulary = {name: i for i, name in enumerate(names)}
        idf = [idf_of(name) for name in names]
        matrix = _matrix(counts, vocabulary, idf)
        estimators = _fit_heads(rows, matrix)
    coef = np.vstack([estimators[head].coef_ for head in HEADS])
    features = {name: [idf[i], *(float(w) for w in coef[:, i])] for name, i in vocabulary.items()}
    intercepts = [float(estimators[head].intercept_[0]) for head in HEADS]
    return Fitted(features, intercepts, estimators, matrix, vocabulary)


def save(fitted: Fitted, path: Path, rows: Sequence[Row]) -> None:
    languages = Counter(r.language for r in rows)
    info = {"lines": dict(sorted(languages.items())), "features": len(fitted.features)}
    write_model(path, fitted.features, fitted.intercepts, info)


# --------------------------------------------------------------------------------------------
# Cross-validation


def folds(rows: Sequence[Row], k: int = FOLDS, seed: int = SEED) -> list[int]:
    """The fold (0..k-1) of every row, stratified by language, category and severity."""
    groups: dict[tuple[str, str, str], list[int]] = {}
    for index, row in enumerate(rows):
        groups.setdefault((row.language, row.category, row.severity), []).append(index)
    rng = random.Random(seed)  # noqa: S311 - reproducible folds, not secrets
    fold_of = [0] * len(rows)
    offset = 0
    for key in sorted(groups):
        members = groups[key]
        rng.shuffle(members)
        for position, index in enumerate(members):
            fold_of[index] = (offset + position) % k
        offset += len(members)
    return fold_of


if TYPE_CHECKING:
    from server.moderation.crisis.detector import Classifier, Detection


def cross_validate(
    rows: Sequence[Row],
    make: Callable[[LinearModel], Classifier] | None = None,
    k: int = FOLDS,
) -> list[Detection | None]:
    """Out-of-fold detections for every row: the model is fitted on the other folds, and
    `make` (default: the shipped rules around it) builds the detector."""
    from server.moderation.crisis.detector import CrisisClassifier

    if make is None:

        def make(model: LinearModel) -> Classifier:
            return CrisisClassifier(model=model)

    fold_of = folds(rows, k)
    out: list[Detection | None] = [None] * len(rows)
    for fold in range(k):
        train = [r for r, f in zip(rows, fold_of, strict=True) if f != fold]
        detector = make(fit(train).model())
        for index, (row, f) in enumerate(zip(rows, fold_of, strict=True)):
            if f == fold:
                out[index] = detector.detect(row.text)
    return out


def main(argv: list[str] | None = None) -> int:
    from server.moderation.crisis.evaluate import report

    parser = argparse.ArgumentParser(prog="python -m server.moderation.crisis.train")
    parser.add_argument("--out", type=Path, help=f"model file (default: {MODEL_FILE} here)")
    parser.add_argument("--no-cv", action="store_true", help="skip the cross-validation")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    out = args.out or Path(str(resources.files(__package__).joinpath(MODEL_FILE)))
    rows = load_rows()
    fitted = fit(rows)
    save(fitted, out, rows)
    print(f"wrote {out}: {len(fitted.features)} features, {out.stat().st_size:,} bytes")
    print(f"training lines: {dict(sorted(Counter(r.language for r in rows).items()))}")
    if not args.no_cv:
        print(f"\n{FOLDS}-fold cross-validation on the training data (rules + model):")
        print(report(rows, cross_validate(rows)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
