"""The layered crisis detector: rules and cues per language (languages/*.toml) around a linear
model (model.py), on the normalised text of `matching.crisis_normal_form`.

`CrisisClassifier.detect(text)` answers a `Detection` (category, severity, score, language,
evidence) or None:

- categories: suicide, self_harm, overdose, medical, relapse;
- severities: emergency (imminent: a plan with means or a time, an overdose or someone
  unresponsive now), urgent (current ideation, self-harm urges, relapse about to happen),
  disclosure (past tense, a recovery story: no crisis dialog for the writer, at most a
  low-priority note for staff). `Detection.alarm` is true for urgent and emergency.

How the layers combine
----------------------
1. The language is the one whose stop words the message uses most (ties: the first file,
   English). Its rules and cues are used; the model covers every language it was trained on.
2. The model's alarm head gives the score; at or above `ALARM_THRESHOLD` the message alarms,
   with the likeliest crisis category of the category heads. A story (a past cue and no
   present cue) needs `STORY_THRESHOLD`.
3. An [emergency] phrase (someone not breathing, a seizure now...) alarms as an emergency of
   its category, unless a past cue (and no present cue) says it is a story.
4. A [rules] phrase alarms as urgent in its category unless it is a story; the category of a
   rule wins over the model's when the model was unsure.
5. Severity of an alarm: emergency when the model's emergency head says so, or
   when an imminence cue (tonight, in my hand, on my way, a time) comes with suicide or
   relapse; otherwise urgent.
6. No alarm, but the disclosure head or a rule in a story sees a crisis: a disclosure.

An operator may plug in another detector: anything with `detect(text) -> Detection | None`
(the `Classifier` protocol), loaded by `load_classifier("package.module:factory")`.
"""

from __future__ import annotations

import functools
import importlib
import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from server.moderation.crisis.model import CATEGORIES, LinearModel
from server.moderation.matching import compile_crisis_patterns, crisis_normal_form

__all__ = [
    "ALARM_THRESHOLD",
    "Classifier",
    "CrisisClassifier",
    "Detection",
    "Language",
    "load_classifier",
    "shipped_languages",
]

CRISIS_CATEGORIES = CATEGORIES[1:]
ALARM_SEVERITIES = ("urgent", "emergency")
ALARM_THRESHOLD = 0.80  # chosen by 5-fold cross-validation: about 3 % false alarms on none lines
STORY_THRESHOLD = 0.9
DISCLOSURE_THRESHOLD = 0.5
# The model alone alarms only on messages of at least this many words. Short chat ("no",
# "and now?", "tonight?") is everywhere in a group room and gives the model too little to
# go on: it alarmed on exactly such replies. Short crisis messages ("kms", "wanna ctb")
# alarm through the language files' rules instead.
MODEL_MIN_WORDS = 3
# The model's word on the category stands against a rule's when it is at least this sure.
MODEL_CATEGORY_CONFIDENCE = 0.6
# Categories whose severity an imminence cue raises to emergency.
IMMINENT_CATEGORIES = frozenset({"suicide", "relapse"})


@dataclass(frozen=True)
class Detection:
    category: str  # one of CRISIS_CATEGORIES
    severity: str  # disclosure, urgent or emergency
    score: float  # 0..1, how sure the detector is of an alarm
    language: str
    evidence: tuple[str, ...]  # what spoke: "model", "rule:<category>", "cue:<kind>"...

    @property
    def alarm(self) -> bool:
        return self.severity in ALARM_SEVERITIES


@runtime_checkable
class Classifier(Protocol):
    def detect(self, text: str) -> Detection | None: ...


def load_classifier(spec: str) -> Classifier:
    """The detector built by `spec`, "package.module:factory" (a class or a function taking no
    argument), for an operator who plugs in a stronger model."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise ValueError(f"crisis classifier {spec!r}: expected 'package.module:factory'")
    factory: Any = importlib.import_module(module_name)
    for part in attribute.split("."):
        factory = getattr(factory, part)
    classifier = factory()
    if not isinstance(classifier, Classifier):
        raise TypeError(f"crisis classifier {spec!r}: has no detect(text) method")
    return classifier


# --------------------------------------------------------------------------------------------
# Languages


@dataclass(frozen=True)
class Language:
    code: str
    stopwords: frozenset[str]
    rules: tuple[tuple[str, re.Pattern[str]], ...]  # (category, patterns), in category order
    emergency: tuple[tuple[str, re.Pattern[str]], ...]
    imminent: re.Pattern[str] | None
    past: re.Pattern[str] | None
    present: re.Pattern[str] | None

    @classmethod
    def from_toml(cls, text: str, origin: str = "language file") -> Language:
        data = tomllib.loads(text)
        code = str(data["code"])
        stopwords = frozenset(crisis_normal_form(w).strip() for w in data.get("stopwords", []))

        def compiled(kind: str, patterns: Sequence[str]) -> re.Pattern[str] | None:
            if not patterns:
                return None
            return compile_crisis_patterns(f"{origin} {kind}", list(patterns))

        def by_category(section: str) -> tuple[tuple[str, re.Pattern[str]], ...]:
            table = data.get(section, {})
            unknown = set(table) - set(CRISIS_CATEGORIES)
            if unknown:
                raise ValueError(f"{origin} [{section}]: unknown categories {sorted(unknown)}")
            out = []
            for category in CRISIS_CATEGORIES:
                pattern = compiled(f"{section}.{category}", table.get(category, []))
                if pattern is not None:
                    out.append((category, pattern))
            return tuple(out)

        cues = data.get("cues", {})
        return cls(
            code=code,
            stopwords=stopwords,
            rules=by_category("rules"),
            emergency=by_category("emergency"),
            imminent=compiled("cues.imminent", cues.get("imminent", [])),
            past=compiled("cues.past", cues.get("past", [])),
            present=compiled("cues.present", cues.get("present", [])),
        )


@functools.cache
def shipped_languages() -> tuple[Language, ...]:
    """Every languages/*.toml beside this module, English first; read and compiled once per
    process (they are immutable)."""
    folder = resources.files(__package__).joinpath("languages")
    files = sorted(
        (entry for entry in folder.iterdir() if entry.name.endswith(".toml")),
        key=lambda entry: (entry.name != "en.toml", entry.name),
    )
    return tuple(Language.from_toml(entry.read_text("utf-8"), entry.name) for entry in files)


def languages_from(paths: Sequence[Path]) -> tuple[Language, ...]:
    return tuple(Language.from_toml(p.read_text("utf-8"), p.name) for p in paths)


# --------------------------------------------------------------------------------------------
# The detector


def _first(rules: tuple[tuple[str, re.Pattern[str]], ...], normal: str) -> str | None:
    for category, pattern in rules:
        if pattern.search(normal) is not None:
            return category
    return None


class CrisisClassifier:
    """Rules, cues and the learned model; everything is compiled and cached at construction."""

    def __init__(
        self,
        model: LinearModel | None = None,
        languages: Sequence[Language] | None = None,
        *,
        alarm_threshold: float = ALARM_THRESHOLD,
        use_rules: bool = True,
    ) -> None:
        self.model = model if model is not None else LinearModel.shipped()
        self.languages = tuple(languages) if languages is not None else shipped_languages()
        if not self.languages:
            raise ValueError("crisis classifier: no language")
        self.alarm_threshold = alarm_threshold
        self.use_rules = use_rules
        # Which languages each stop word votes for.
        votes: dict[str, list[int]] = {}
        for index, language in enumerate(self.languages):
            for word in language.stopwords:
                votes.setdefault(word, []).append(index)
        self._votes = {word: tuple(indices) for word, indices in votes.items()}

    def language_of(self, normal: str) -> Language:
        if len(self.languages) == 1:
            return self.languages[0]
        counts = [0] * len(self.languages)
        votes = self._votes
        for word in normal.split():
            for index in votes.get(word, ()):
                counts[index] += 1
        best = max(range(len(counts)), key=lambda i: (counts[i], -i))
        return self.languages[best]

    def detect(self, text: str) -> Detection | None:
        normal = crisis_normal_form(text)
        language = self.language_of(normal)
        scores = self.model.scores(normal, text)
        category, category_p = scores.category()
        score = scores.alarm
        evidence: list[str] = []

        rule: str | None = None
        emergency_rule: str | None = None
        story = imminent = False
        if self.use_rules:
            emergency_rule = _first(language.emergency, normal)
            rule = emergency_rule or _first(language.rules, normal)
            imminent = language.imminent is not None and bool(language.imminent.search(normal))
            if language.past is not None and language.past.search(normal) is not None:
                story = language.present is None or language.present.search(normal) is None
            if story:
                evidence.append("cue:past")
            if imminent:
                evidence.append("cue:imminent")

        # A story (past cue, no present cue) needs the model to be surer to alarm.
        alarm = score >= (
            max(self.alarm_threshold, STORY_THRESHOLD) if story else self.alarm_threshold
        )
        model_heard = len(normal.split()) >= MODEL_MIN_WORDS
        alarm = alarm and model_heard
        if alarm:
            evidence.append("model")
        if rule is not None and not story:
            evidence.append(f"rule:{rule}")
            if not alarm or category_p < MODEL_CATEGORY_CONFIDENCE:
                category = rule
            alarm = True
        if alarm:
            if emergency_rule is not None and not story and emergency_rule == category:
                severity = "emergency"
                evidence.append("emergency")
            elif scores.emergency >= 0.5 or (imminent and category in IMMINENT_CATEGORIES):
                severity = "emergency"
            else:
                severity = "urgent"
            return Detection(category, severity, score, language.code, tuple(evidence))
        if (model_heard and scores.disclosure >= DISCLOSURE_THRESHOLD) or (
            rule is not None and story
        ):
            if rule is not None and category_p < MODEL_CATEGORY_CONFIDENCE:
                category = rule
                evidence.append(f"rule:{rule}")
            return Detection(category, "disclosure", score, language.code, tuple(evidence))
        return None
