"""Figures for a crisis detector over labelled lines (training cross-validation or a held-out
set): used by `train.py` and `bench/crisis.py`.

An alarm is a detection with severity urgent or emergency. A crisis line is a line labelled
urgent or emergency. Recall: the share of crisis lines that alarm, whatever category the
detector names ("any"); "exact" also requires the right category. Precision for a category:
of the alarms naming it, the share on crisis lines ("any") and on crisis lines of that
category ("exact"). False alarms: the share of `none` lines that alarm, overall and per
`kind`; disclosure lines (past tense stories) are counted apart: an alarm there is a false
alarm too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from server.moderation.crisis.model import CATEGORIES

__all__ = ["Labelled", "Predicted", "report", "summary"]

CRISIS = CATEGORIES[1:]
ALARMS = ("urgent", "emergency")


class Labelled(Protocol):
    @property
    def text(self) -> str: ...
    @property
    def category(self) -> str: ...
    @property
    def severity(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def language(self) -> str: ...


class Predicted(Protocol):
    @property
    def category(self) -> str: ...
    @property
    def severity(self) -> str: ...


def _alarm(p: Predicted | None) -> bool:
    return p is not None and p.severity in ALARMS


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:6.3f} ({part}/{whole})" if whole else "     -"


def summary(rows: Sequence[Labelled], predictions: Sequence[Predicted | None]) -> dict[str, float]:
    """The headline figures (recall of crisis lines by group and language, false alarms on
    `none` lines by language), for tests and comparisons."""
    out: dict[str, float] = {}
    groups = {
        "suicide_self_harm": ("suicide", "self_harm"),
        "overdose_medical": ("overdose", "medical"),
        "relapse": ("relapse",),
    }
    for language in sorted({r.language for r in rows}):
        for name, members in groups.items():
            hits = [
                _alarm(p)
                for r, p in zip(rows, predictions, strict=True)
                if r.language == language and r.category in members and r.severity in ALARMS
            ]
            if hits:
                out[f"{language}.recall.{name}"] = sum(hits) / len(hits)
        quiet = [
            _alarm(p)
            for r, p in zip(rows, predictions, strict=True)
            if r.language == language and r.category == "none"
        ]
        if quiet:
            out[f"{language}.false_alarms"] = sum(quiet) / len(quiet)
    return out


def report(rows: Sequence[Labelled], predictions: Sequence[Predicted | None]) -> str:
    pairs = list(zip(rows, predictions, strict=True))
    lines: list[str] = []
    add = lines.append
    positives = [(r, p) for r, p in pairs if r.severity in ALARMS]

    add("recall and precision per category (urgent+emergency lines; any = any crisis category)")
    add(f"  {'category':<10} {'recall any':>20} {'recall exact':>20} {'precision any':>20} "
        f"{'precision exact':>20}")  # fmt: skip
    for category in CRISIS:
        mine = [(r, p) for r, p in positives if r.category == category]
        found = sum(_alarm(p) for _, p in mine)
        exact = sum(_alarm(p) and p is not None and p.category == category for _, p in mine)
        said = [(r, p) for r, p in pairs if _alarm(p) and p is not None and p.category == category]
        right_any = sum(r.severity in ALARMS for r, _ in said)
        right_exact = sum(r.severity in ALARMS and r.category == category for r, _ in said)
        add(f"  {category:<10} {_ratio(found, len(mine)):>20} {_ratio(exact, len(mine)):>20} "
            f"{_ratio(right_any, len(said)):>20} {_ratio(right_exact, len(said)):>20}")  # fmt: skip

    add("per severity (label -> detection)")
    for severity in ("emergency", "urgent"):
        mine = [(r, p) for r, p in pairs if r.severity == severity]
        found = sum(_alarm(p) for _, p in mine)
        same = sum(p is not None and p.severity == severity for _, p in mine)
        add(
            f"  {severity:<10} alarm {_ratio(found, len(mine))}   same severity "
            f"{_ratio(same, len(mine))}"
        )
    mine = [(r, p) for r, p in pairs if r.severity == "disclosure"]
    loud = sum(_alarm(p) for _, p in mine)
    noted = sum(p is not None and p.severity == "disclosure" for _, p in mine)
    add(
        f"  {'disclosure':<10} alarm (false) {_ratio(loud, len(mine))}   noted as disclosure "
        f"{_ratio(noted, len(mine))}"
    )

    add("per language")
    for language in sorted({r.language for r in rows}):
        mine = [(r, p) for r, p in pairs if r.language == language]
        parts = []
        for name, members in (
            ("suicide/self_harm", ("suicide", "self_harm")),
            ("overdose/medical", ("overdose", "medical")),
            ("relapse", ("relapse",)),
        ):
            hits = [_alarm(p) for r, p in mine if r.category in members and r.severity in ALARMS]
            parts.append(f"recall {name} {_ratio(sum(hits), len(hits))}")
        quiet = [_alarm(p) for r, p in mine if r.category == "none"]
        story = [_alarm(p) for r, p in mine if r.severity == "disclosure"]
        add(f"  {language}: " + "; ".join(parts))
        add(f"      false alarms on none {_ratio(sum(quiet), len(quiet))}; alarms on "
            f"disclosures {_ratio(sum(story), len(story))}")  # fmt: skip

    none = [(r, p) for r, p in pairs if r.category == "none"]
    add(f"false alarms on none lines: {_ratio(sum(_alarm(p) for _, p in none), len(none))}")
    for kind in sorted({r.kind for r, _ in none}):
        of_kind = [p for r, p in none if r.kind == kind]
        add(f"  {kind:<20} {_ratio(sum(_alarm(p) for p in of_kind), len(of_kind))}")
    return "\n".join(lines)
