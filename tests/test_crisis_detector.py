"""The layered crisis detector (server/moderation/crisis): normalisation, rules and cues,
severity logic, the shipped model file, deterministic training, a recall floor on the training
data's cross-validation, and agreement of the pure-Python scorer with scikit-learn."""

from __future__ import annotations

import gzip
import importlib.util
import json
from pathlib import Path

import pytest

from server.moderation.crisis.detector import (
    Classifier,
    CrisisClassifier,
    Detection,
    Language,
    load_classifier,
    shipped_languages,
)
from server.moderation.crisis.evaluate import summary
from server.moderation.crisis.model import HEADS, LinearModel, message_features
from server.moderation.crisis.train import Fitted, Row, cross_validate, fit, load_rows, save
from server.moderation.matching import crisis_normal_form

HAS_SKLEARN = importlib.util.find_spec("sklearn") is not None
needs_sklearn = pytest.mark.skipif(not HAS_SKLEARN, reason="scikit-learn is not installed")


def constant_model(**probabilities: float) -> LinearModel:
    """A model without features whose heads always say the given probabilities (others 0)."""
    import math

    def logit(p: float) -> float:
        p = min(max(p, 1e-6), 1 - 1e-6)
        return math.log(p / (1 - p))

    return LinearModel(
        {
            "version": 2,
            "heads": list(HEADS),
            "intercepts": [logit(probabilities.get(head, 0.0)) for head in HEADS],
            "features": {},
        }
    )


QUIET = constant_model()


@pytest.fixture(scope="module")
def shipped() -> CrisisClassifier:
    return CrisisClassifier()


# --- normalisation and features ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("K1LL MYS3LF", "kil myself"),
        ("s u i c i d e", "suicide"),
        ("kiiiilll myselfffff", "kil myself"),
        ("Sí, está MUERTO", "si esta muerto"),
    ],
)
def test_normal_form_sees_through_disguises(text: str, expected: str) -> None:
    assert " ".join(crisis_normal_form(text).split()) == expected


def test_features_are_words_pairs_grams_and_emoji() -> None:
    features = message_features(crisis_normal_form("kill me"), "kill me 😭")
    assert "w:kil" in features
    assert "b:kil me" in features
    assert " kil" in features and "kil " in features
    assert "e:😭" in features


# --- rules, cues and severity, with a model that says nothing ----------------------------------

LANGUAGE = Language.from_toml(
    """
code = "xx"
stopwords = ["the", "i"]
[cues]
imminent = ["tonight"]
past = ["years ago"]
present = ["again"]
[rules]
suicide = ["kill myself"]
relapse = ["bag in my hand"]
[emergency]
overdose = ["not breathing"]
"""
)


def rules_only(model: LinearModel = QUIET) -> CrisisClassifier:
    return CrisisClassifier(model=model, languages=[LANGUAGE])


def test_a_rule_alarms_as_urgent() -> None:
    found = rules_only().detect("i want to k1ll mys3lf")
    assert isinstance(found, Detection)
    assert (found.category, found.severity, found.language) == ("suicide", "urgent", "xx")
    assert found.alarm and "rule:suicide" in found.evidence


def test_an_imminence_cue_makes_it_an_emergency() -> None:
    found = rules_only().detect("i will kill myself tonight")
    assert found is not None and found.severity == "emergency"


def test_an_emergency_phrase_is_an_emergency() -> None:
    found = rules_only().detect("my friend is not breathing")
    assert found is not None
    assert (found.category, found.severity) == ("overdose", "emergency")


def test_a_story_is_a_disclosure_not_an_alarm() -> None:
    found = rules_only().detect("years ago i wanted to kill myself")
    assert found is not None
    assert (found.category, found.severity) == ("suicide", "disclosure")
    assert not found.alarm


def test_a_present_cue_overrides_the_story() -> None:
    found = rules_only().detect("years ago i tried, and again i want to kill myself")
    assert found is not None and found.alarm


def test_nothing_without_rule_or_model() -> None:
    assert rules_only().detect("good morning everyone") is None


def test_the_model_alone_can_alarm_and_pick_the_category() -> None:
    model = constant_model(alarm=0.95, emergency=0.2, overdose=0.9, suicide=0.1)
    found = rules_only(model).detect("whatever these words")
    assert found is not None
    assert (found.category, found.severity) == ("overdose", "urgent")
    assert found.evidence == ("model",)


def test_a_story_needs_a_surer_model() -> None:
    model = constant_model(alarm=0.8, suicide=0.9, disclosure=0.7)
    assert rules_only(model).detect("something is now")
    found = rules_only(model).detect("years ago something happened")
    assert found is not None and found.severity == "disclosure"


def test_the_model_says_emergency() -> None:
    model = constant_model(alarm=0.95, emergency=0.8, relapse=0.9)
    found = rules_only(model).detect("whatever these words")
    assert found is not None and found.severity == "emergency"


def test_short_replies_alarm_only_through_the_rules() -> None:
    """The model alarmed on "no" and "and now?": a reply that short gives it nothing to go on,
    so only a rule (a phrase of the language file) alarms on fewer than three words."""
    sure = constant_model(alarm=0.99, emergency=0.9, overdose=0.9, disclosure=0.9)
    for reply in ("no", "and now?", "tonight?"):
        assert rules_only(sure).detect(reply) is None, reply
    assert rules_only(sure).detect("and now what?") is not None
    found = rules_only().detect("kill myself")
    assert found is not None and found.evidence == ("rule:suicide",)


def test_the_shipped_detector_stays_quiet_on_short_everyday_replies() -> None:
    detector = CrisisClassifier()
    for reply in ("no", "and now?", "tonight?", "cant sleep", "im out", "pills", "ok", "lol"):
        assert detector.detect(reply) is None, reply
    for crisis in ("kms", "wanna ctb", "not breathing", "unalive myself"):
        found = detector.detect(crisis)
        assert found is not None and found.alarm, crisis


def test_language_vote() -> None:
    detector = CrisisClassifier(model=QUIET)
    codes = [language.code for language in detector.languages]
    assert codes[0] == "en" and "es" in codes
    assert (
        detector.language_of(crisis_normal_form("ya no quiero vivir, todo está mal")).code == "es"
    )
    assert detector.language_of(crisis_normal_form("i don't want to live")).code == "en"
    assert detector.language_of(crisis_normal_form("123")).code == "en"


def test_shipped_language_files_compile() -> None:
    for language in shipped_languages():
        assert language.rules and language.emergency and language.past is not None


def test_an_unknown_category_in_a_language_file_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown categories"):
        Language.from_toml('code = "xx"\n[rules]\nsadness = ["blue"]\n')


# --- plugging in a classifier ----------------------------------------------------------------


def test_load_classifier_by_dotted_path() -> None:
    classifier = load_classifier("tests.test_crisis_detector:rules_only")
    assert isinstance(classifier, Classifier)
    assert classifier.detect("kill myself") is not None


@pytest.mark.parametrize("spec", ["nocolon", "tests.test_crisis_detector:", ":rules_only"])
def test_load_classifier_refuses_a_bad_spec(spec: str) -> None:
    with pytest.raises(ValueError):
        load_classifier(spec)


def test_load_classifier_refuses_something_without_detect() -> None:
    with pytest.raises(TypeError):
        load_classifier("tests.test_crisis_detector:constant_model")


# --- the shipped model ------------------------------------------------------------------------


def test_shipped_model_loads_and_is_small(shipped: CrisisClassifier) -> None:
    path = Path(__file__).resolve().parent.parent / "server/moderation/crisis/model.json.gz"
    assert path.stat().st_size < 3_000_000
    assert len(shipped.model) > 1000


@pytest.mark.parametrize(
    ("text", "category"),
    [
        ("i'm going to kill myself tonight, the pills are counted", "suicide"),
        ("my roommate is blue and won't wake up", "overdose"),
        ("me quiero morir, ya no aguanto", "suicide"),
    ],
)
def test_shipped_detector_alarms(shipped: CrisisClassifier, text: str, category: str) -> None:
    found = shipped.detect(text)
    assert found is not None and found.alarm and found.category == category


@pytest.mark.parametrize(
    "text",
    ["good morning everyone ☀️", "anyone know if group is still at 6 tonight?", "hola a todos"],
)
def test_shipped_detector_stays_quiet(shipped: CrisisClassifier, text: str) -> None:
    found = shipped.detect(text)
    assert found is None or not found.alarm


def test_long_messages_are_scored(shipped: CrisisClassifier) -> None:
    text = "had a normal day at work. " * 150 + "i want to kill myself tonight"
    assert len(text) < 4100
    found = shipped.detect(text)
    assert found is not None and found.alarm


# --- training -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def rows() -> list[Row]:
    return load_rows()


@pytest.fixture(scope="module")
def fitted(rows: list[Row]) -> Fitted:
    return fit(rows)


# How far a rebuilt weight may sit from the shipped one. The solver stops at a tolerance, and
# another CPU's vector kernels (AVX2 or AVX-512, even on one thread) end it a few units off in
# the fourth significant digit the file keeps: at most 0.003 seen between two machines.
WEIGHT_TOLERANCE = 0.005


@needs_sklearn
def test_the_shipped_model_is_what_training_on_the_committed_data_builds(
    rows: list[Row], fitted: Fitted, tmp_path: Path, shipped: CrisisClassifier
) -> None:
    """`python -m server.moderation.crisis.train` rebuilds the shipped model, so the model in
    the repository is the one its data and code make, and nothing else: the same features,
    heads and counts, every weight within WEIGHT_TOLERANCE, and the same decision on every
    committed line. (The same machine rebuilds it byte for byte; the file was built by
    another process, another day, maybe on another CPU.)"""
    rebuilt_path = tmp_path / "model.json.gz"
    save(fitted, rebuilt_path, rows)
    shipped_path = Path(__file__).resolve().parent.parent / "server/moderation/crisis/model.json.gz"
    rebuilt, original = (
        json.loads(gzip.decompress(p.read_bytes())) for p in (rebuilt_path, shipped_path)
    )
    assert {k: v for k, v in rebuilt.items() if k not in ("features", "intercepts")} == {
        k: v for k, v in original.items() if k not in ("features", "intercepts")
    }
    assert rebuilt["features"].keys() == original["features"].keys()
    pairs = [(rebuilt["intercepts"], original["intercepts"])] + [
        (row, original["features"][name]) for name, row in rebuilt["features"].items()
    ]
    worst = max(abs(a - b) for mine, theirs in pairs for a, b in zip(mine, theirs, strict=True))
    assert worst <= WEIGHT_TOLERANCE, f"a rebuilt weight is {worst} off the shipped one"
    again = CrisisClassifier(LinearModel.load(rebuilt_path))
    changed = [row.text for row in rows if decision(again, row.text) != decision(shipped, row.text)]
    assert not changed, f"{len(changed)} lines decided otherwise, such as {changed[:3]}"


def decision(classifier: CrisisClassifier, text: str) -> tuple[str, str] | None:
    found = classifier.detect(text)
    return (found.category, found.severity) if found else None


@needs_sklearn
def test_exported_scorer_agrees_with_scikit_learn(
    rows: list[Row], fitted: Fitted, tmp_path: Path
) -> None:
    path = tmp_path / "model.json.gz"
    save(fitted, path, rows)
    model = LinearModel.load(path)
    sample = range(0, len(rows), 3)
    exported = {}
    for index in sample:
        text = rows[index].text
        scores = model.scores(crisis_normal_form(text), text)
        exported[index] = [scores.alarm, scores.emergency, scores.disclosure, *scores.categories]
    worst = 0.0
    for head_index, head in enumerate(HEADS):
        expected = fitted.estimators[head].predict_proba(fitted.matrix[list(sample)])[:, 1]
        for index, want in zip(sample, expected, strict=True):
            worst = max(worst, abs(exported[index][head_index] - float(want)))
    assert worst < 0.01, f"largest difference in a probability: {worst}"


# Floors a little under what the shipped rules and settings reach in 3-fold cross-validation,
# so a change that makes the detector worse fails here. Three folds, not the benchmark's five
# (bench/crisis.py, the README's figures): half the fitting, and as good a guard. Relapse has
# about 200 lines a language: moving a few lines reshuffles the folds and moves its figure by
# up to 0.05, hence the wider margin there.
TEST_FOLDS = 3
FLOORS = {
    "en.recall.suicide_self_harm": 0.62,
    "en.recall.overdose_medical": 0.76,
    "en.recall.relapse": 0.50,
    "es.recall.suicide_self_harm": 0.63,
    "es.recall.overdose_medical": 0.76,
    "es.recall.relapse": 0.53,
}
CEILINGS = {"en.false_alarms": 0.045, "es.false_alarms": 0.045}


@needs_sklearn
def test_cross_validated_figures_hold_their_floors_and_ceilings(rows: list[Row]) -> None:
    """One test, not one per figure: the cross-validation fits three models (about 5 s),
    and parallel workers would each fit them again for the figures they were handed."""
    figures = summary(rows, cross_validate(rows, k=TEST_FOLDS))
    misses = [
        f"{name} {figures[name]:.3f} < {floor}"
        for name, floor in FLOORS.items()
        if figures[name] < floor
    ] + [
        f"{name} {figures[name]:.3f} > {ceiling}"
        for name, ceiling in CEILINGS.items()
        if figures[name] > ceiling
    ]
    assert not misses, (misses, figures)


HELDOUT_SETS = ("crisis_heldout", "crisis_heldout_2")


def test_no_training_line_is_in_a_held_out_set(rows: list[Row]) -> None:
    """A held-out line that is also a training line measures memory, not detection; lines are
    compared in the detector's own normal form, so a change of case or accents still counts."""
    tests = Path(__file__).resolve().parent
    held_out = {
        crisis_normal_form(row.text).strip()
        for name in HELDOUT_SETS
        for row in load_rows(sorted((tests / name).glob("*.jsonl")))
    }
    assert len(held_out) > 1500
    shared = [r.text for r in rows if crisis_normal_form(r.text).strip() in held_out]
    assert not shared, shared
