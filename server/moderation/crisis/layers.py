"""Detectors put together: an operator's own phrases beside the shipped classifier."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from server.moderation.crisis.detector import Classifier, Detection
from server.moderation.matching import CrisisDetector

# An operator's phrase names no kind of crisis; it is treated as the commonest one, at the
# severity that alerts staff and shows the writer resources.
OPERATOR_CATEGORY = "suicide"


@dataclass(frozen=True)
class OperatorPhrases:
    """`crisis_patterns` from the settings (matching.py's pattern syntax), as a classifier."""

    detector: CrisisDetector

    def detect(self, text: str) -> Detection | None:
        match = self.detector.find(text)
        if match is None:
            return None
        return Detection(OPERATOR_CATEGORY, "urgent", 1.0, "", (f"operator phrase: {match.term}",))


@dataclass(frozen=True)
class FirstAlarm:
    """The first classifier's alarm (urgent or emergency), in order; failing any alarm, the
    first disclosure."""

    classifiers: Sequence[Classifier]

    def detect(self, text: str) -> Detection | None:
        disclosure: Detection | None = None
        for classifier in self.classifiers:
            found = classifier.detect(text)
            if found is None:
                continue
            if found.alarm:
                return found
            disclosure = disclosure or found
        return disclosure
