"""The learned part of the crisis detector: a linear model over character and word n-grams of
the normalised message, scored in pure Python (no scikit-learn or numpy at runtime).

Features
--------
The message is normalised by `matching.crisis_normal_form` (accents, case, leetspeak, spaced
and repeated letters), then split into words. Each word gives
- itself ("w:word"),
- its character 3-, 4- and 5-grams with a space either side (" kil", "kil ", "mys"...), which
  carry typos, inflections and unseen compounds ("sucidal" shares most grams with "suicidal");
every pair of neighbouring words gives a bigram ("b:kil myself"); every emoji in the raw text
gives "e:<emoji>". Only the features kept at training time count.

A feature occurring tf times has the value tf * idf / norm, where norm is the square root of
the sum of idf² over every feature occurrence of the message (the L2 norm when no feature
repeats). That normaliser decomposes over words, so a word's whole contribution (its weights
summed, and its share of the norm) is computed once and cached: scoring a message is one dict
lookup per word and per word pair, plus eight sigmoids.

Eight binary logistic regressions (heads) share the features, each trained by `train.py`:
- alarm: the message needs a person now (urgent or emergency) rather than nothing or a story;
- emergency: among alarms, emergency rather than urgent;
- disclosure: a past-tense story of a crisis (no alarm);
- one head per crisis category (suicide, self_harm, overdose, medical, relapse), trained on
  the lines of some crisis category: the likeliest is the category.

The model file (`model.json.gz`) holds the feature names, their idf, the weights of both heads
and the intercepts, rounded; it is written deterministically (sorted keys, fixed gzip header).
"""

from __future__ import annotations

import functools
import gzip
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = [
    "CATEGORIES",
    "HEADS",
    "MODEL_FILE",
    "SEVERITIES",
    "LinearModel",
    "Scores",
    "message_features",
    "write_model",
]

CATEGORIES = ("none", "suicide", "self_harm", "overdose", "medical", "relapse")
SEVERITIES = ("none", "disclosure", "urgent", "emergency")
HEADS = ("alarm", "emergency", "disclosure", *CATEGORIES[1:])
OUTPUTS = len(HEADS)
MODEL_FILE = "model.json.gz"
FORMAT_VERSION = 2

GRAM_SIZES = (3, 4, 5)
MAX_WORD_CHARS = 24  # longer "words" (URLs, keyboard mashing) give the grams of their start
_WORD_CACHE_LIMIT = 50_000
_EMOJI = re.compile("[\U0001f000-\U0001faff\u2600-\u27bf\u2b00-\u2bff]")


def word_grams(word: str) -> list[str]:
    """The features of one normalised word, with repetition."""
    padded = f" {word[:MAX_WORD_CHARS]} "
    grams = [f"w:{word}"]
    length = len(padded)
    for size in GRAM_SIZES:
        if size > length:
            break
        grams.extend(padded[i : i + size] for i in range(length - size + 1))
    return grams


def _pairs(words: Sequence[str]) -> Iterator[str]:
    for first, second in zip(words, words[1:], strict=False):
        yield f"b:{first} {second}"


def message_features(normal: str, raw: str) -> list[str]:
    """Every feature occurrence of a message (`normal` is its crisis_normal_form); what
    training counts. The scorer computes the same thing word by word."""
    words = normal.split()
    features: list[str] = []
    for word in words:
        features.extend(word_grams(word))
    features.extend(_pairs(words))
    features.extend(f"e:{emoji}" for emoji in _EMOJI.findall(raw))
    return features


class Scores:
    """The probability each head gives, in the order of HEADS."""

    __slots__ = ("alarm", "categories", "disclosure", "emergency")

    def __init__(self, probabilities: Sequence[float]) -> None:
        self.alarm = probabilities[0]
        self.emergency = probabilities[1]
        self.disclosure = probabilities[2]
        self.categories = tuple(probabilities[3:])  # in the order of CATEGORIES[1:]

    def category(self) -> tuple[str, float]:
        """The likeliest crisis category and its probability."""
        best = max(range(len(self.categories)), key=self.categories.__getitem__)
        return CATEGORIES[best + 1], self.categories[best]


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)


_Contribution = tuple[tuple[float, ...], float]  # summed idf*weights per output, summed idf²
_NOTHING: _Contribution = ((0.0,) * OUTPUTS, 0.0)


class LinearModel:
    """The exported model, scored in pure Python."""

    def __init__(self, data: dict[str, Any]) -> None:
        if data.get("version") != FORMAT_VERSION:
            raise ValueError(f"crisis model: unsupported format {data.get('version')!r}")
        if tuple(data["heads"]) != HEADS:
            raise ValueError("crisis model: unexpected heads")
        intercepts = [float(v) for v in data["intercepts"]]
        if len(intercepts) != OUTPUTS:
            raise ValueError("crisis model: wrong number of intercepts")
        self.intercepts = tuple(intercepts)
        self.info: dict[str, Any] = dict(data.get("info", {}))
        # Per feature: idf * weight for every output, then idf².
        self._features: dict[str, _Contribution] = {}
        for name, row in data["features"].items():
            idf = float(row[0])
            weights = row[1:]
            if len(weights) != OUTPUTS:
                raise ValueError(f"crisis model: feature {name!r} has the wrong shape")
            self._features[name] = (tuple(idf * float(w) for w in weights), idf * idf)
        self._words: dict[str, _Contribution] = {}
        for name in self._features:
            if name.startswith("w:"):
                self._word(name[2:])

    @classmethod
    def load(cls, path: Path | None = None) -> LinearModel:
        """The model at `path`, or the one shipped beside this module."""
        if path is None:
            blob = resources.files(__package__).joinpath(MODEL_FILE).read_bytes()
        else:
            blob = path.read_bytes()
        return cls(json.loads(gzip.decompress(blob)))

    def __len__(self) -> int:
        return len(self._features)

    @classmethod
    @functools.cache
    def shipped(cls) -> LinearModel:
        """The shipped model, read once per process: it cannot change while the process runs,
        and reading it took 0.2 s of every app's start (every test server's too). Sharing one
        is safe: scoring changes nothing but the word cache."""
        return cls.load()

    def _word(self, word: str) -> _Contribution:
        cached = self._words.get(word)
        if cached is not None:
            return cached
        found = [c for g in word_grams(word) if (c := self._features.get(g)) is not None]
        if not found:
            contribution = _NOTHING
        elif len(found) == 1:
            contribution = found[0]
        else:
            contribution = (
                tuple(map(sum, zip(*(c[0] for c in found), strict=True))),
                sum(c[1] for c in found),
            )
        if len(self._words) >= _WORD_CACHE_LIMIT:
            self._words.clear()  # rare: a flood of unseen words; the cache refills itself
        self._words[word] = contribution
        return contribution

    def scores(self, normal: str, raw: str) -> Scores:
        """Every head's probability for a message (`normal` is its crisis_normal_form)."""
        words = normal.split()
        features = self._features
        found = [self._word(word) for word in words]
        found.extend(c for pair in _pairs(words) if (c := features.get(pair)) is not None)
        if _EMOJI.search(raw) is not None:
            found.extend(
                c for e in _EMOJI.findall(raw) if (c := features.get(f"e:{e}")) is not None
            )
        square = sum(c[1] for c in found)
        if square > 0.0:
            scale = 1.0 / math.sqrt(square)
            totals = map(sum, zip(*(c[0] for c in found), strict=True))
            logits = [b + t * scale for b, t in zip(self.intercepts, totals, strict=True)]
        else:
            logits = list(self.intercepts)
        return Scores([_sigmoid(logit) for logit in logits])


def write_model(
    path: Path,
    features: Mapping[str, Sequence[float]],
    intercepts: Sequence[float],
    info: dict[str, Any],
) -> None:
    """Write a model file byte for byte reproducibly: `features` maps a feature name to its
    idf followed by one weight per head (in the order of HEADS)."""
    data = {
        "version": FORMAT_VERSION,
        "heads": list(HEADS),
        "intercepts": [_round(v) for v in intercepts],
        "info": info,
        "features": {name: [_round(v) for v in row] for name, row in sorted(features.items())},
    }
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    path.write_bytes(gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0))


def _round(value: float) -> float:
    rounded = float(f"{value:.4g}")
    return 0.0 if rounded == 0.0 else rounded
