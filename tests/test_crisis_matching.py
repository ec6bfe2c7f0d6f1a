"""The text-matching core of the content filters (server/moderation/matching.py): crisis
language with the default lists over a corpus of realistic messages, normalisation, exclusions,
custom lists, blocked terms, and contact details."""

from __future__ import annotations

import pytest

from server.moderation.matching import (
    CrisisDetector,
    CrisisMatch,
    TermBlocker,
    find_contacts,
    mask_contacts,
    shipped_word_lists,
)
from tests.crisis_corpus import SHOULD_ALERT, SHOULD_NOT_ALERT

MAX_FALSE_ALERTS = 2

SHIPPED = shipped_word_lists()
DEFAULT_CRISIS_PATTERNS = SHIPPED.crisis_patterns
DEFAULT_CRISIS_EXCLUSIONS = SHIPPED.crisis_exclusions


@pytest.fixture(scope="module")
def detector() -> CrisisDetector:
    return CrisisDetector(DEFAULT_CRISIS_PATTERNS, DEFAULT_CRISIS_EXCLUSIONS)


# --- the corpus --------------------------------------------------------------------------------


def test_corpus_is_big_enough_to_mean_something() -> None:
    assert len(set(SHOULD_ALERT)) >= 70
    assert len(set(SHOULD_NOT_ALERT)) >= 70
    assert not set(SHOULD_ALERT) & set(SHOULD_NOT_ALERT)


def test_default_lists_over_the_corpus(detector: CrisisDetector) -> None:
    missed = [text for text in SHOULD_ALERT if detector.find(text) is None]
    false_alerts = [
        (text, match.term)
        for text in SHOULD_NOT_ALERT
        if (match := detector.find(text)) is not None
    ]
    caught = len(SHOULD_ALERT) - len(missed)
    precision = caught / (caught + len(false_alerts)) if caught + len(false_alerts) else 0.0
    recall = caught / len(SHOULD_ALERT)
    print(
        f"\ncrisis corpus: {len(SHOULD_ALERT)} should alert, {len(SHOULD_NOT_ALERT)} should not;"
        f" precision {precision:.3f}, recall {recall:.3f},"
        f" {len(missed)} missed, {len(false_alerts)} false alerts"
    )
    for text, term in false_alerts:
        print(f"  false alert: {text!r} (term {term!r})")
    assert not missed, f"crisis messages that did not alert: {missed}"
    assert len(false_alerts) <= MAX_FALSE_ALERTS, (
        f"{len(false_alerts)} false alerts (at most {MAX_FALSE_ALERTS}): {false_alerts}"
    )


def test_past_ideation_disclosed_in_group_alerts(detector: CrisisDetector) -> None:
    # A deliberate policy (see the corpus): recovery now does not cancel the disclosure.
    match = detector.find("I used to want to die, now I'm 90 days sober")
    assert match is not None


@pytest.mark.parametrize(
    "text",
    ["I relapsed last night", "I drank last night", "used again after 40 days, back to day 1"],
)
def test_relapse_talk_alone_is_not_crisis(detector: CrisisDetector, text: str) -> None:
    assert detector.find(text) is None


# --- normalisation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "kill myself",
        "KILL MYSELF",
        "Kill Myself.",
        "kiiiiill myyyyself",
        "kil myself",
        "k1ll mys3lf",
        "K!LL MY$ELF",
        "k i l l  m y s e l f",
        "k.i.l.l m.y.s.e.l.f",
        "k-i-l-l_m-y-s-e-l-f",
        "k*i*l*l myself",
        "kïll mysélf",
        "ｋｉｌｌ ｍｙｓｅｌｆ",  # full-width letters
        "ki\u200bll myself",  # zero-width space inside the word
        "i wanna kill myself!!!",
        "(kill myself)",
        "kill myself😭",
    ],
)
def test_obfuscations_of_a_plain_phrase_match(text: str) -> None:
    detector = CrisisDetector(["kill myself"], [])
    assert detector.find(text) == CrisisMatch("kill myself", text)


@pytest.mark.parametrize(
    "text",
    [
        "kill my selfish habit",
        "skill myself up",
        "killjoy myself",
        "kill",
        "myself",
        "k i l l",
    ],
)
def test_pattern_ends_stay_on_word_boundaries(text: str) -> None:
    assert CrisisDetector(["kill myself"], []).find(text) is None


@pytest.mark.parametrize(
    "text",
    ["i don't want to live", "i dont want to live", "I don’t want to live", "i don t want to live"],
)
def test_apostrophes_are_optional(text: str) -> None:
    assert CrisisDetector(["don't want to live"], []).find(text) is not None
    # ...on both sides: a pattern written without the apostrophe still matches it.
    assert CrisisDetector(["dont want to live"], []).find(text.replace(" t ", "'t ")) is not None


@pytest.mark.parametrize(
    "text",
    ["s u i c i d e", "s.u.i.c.i.d.e", "s-u-i-c-i-d-e", "s_u_i_c_i_d_e", "su1c1d3", "$uicide"],
)
def test_spaced_dotted_and_leet_letters_join_into_a_word(text: str) -> None:
    assert CrisisDetector(["suicide"], []).find(text) is not None


def test_numbers_and_trailing_punctuation_are_not_letters() -> None:
    # "30" must not become "eo", and "die!" must stay "die", not "diei".
    assert CrisisDetector(["30 pills"], []).find("i have 30 pills") is not None
    assert CrisisDetector(["want to die"], []).find("i want to die!!!") is not None
    assert CrisisDetector(["i am"], []).find("1 am") is None


def test_regex_patterns_are_normalised_only_in_their_literal_text() -> None:
    detector = CrisisDetector([r"(kill|hurt)(ing)? my ?self(?! at the gym\b)"], [])
    assert detector.find("HURTING MYSELF again") is not None
    assert detector.find("k1lling myself") is not None
    assert detector.find("hurting myself at the gym") is None
    assert detector.find("hurting myself at the gymnastics club") is not None


# --- exclusions --------------------------------------------------------------------------------


def test_an_exclusion_hides_only_its_own_span() -> None:
    detector = CrisisDetector(["suicide", "want to die"], ["suicide squad"])
    assert detector.find("watched suicide squad last night") is None
    assert detector.find("watched s.u.i.c.i.d.e squad last night") is None
    match = detector.find("suicide squad was ok. honestly i think about suicide every day")
    assert match is not None and match.term == "suicide"
    match = detector.find("suicide squad was so bad i want to die lol")
    assert match is not None and match.term == "want to die"


def test_default_exclusions_do_not_hide_a_real_crisis(detector: CrisisDetector) -> None:
    assert detector.find("this commute is killing me") is None
    assert detector.find("this commute is killing me and I want to die") is not None
    assert detector.find("overdose awareness day is thursday") is None
    assert detector.find("overdose awareness day is thursday, im going to overdose") is not None
    assert detector.find("I'm dying to see you") is None
    assert detector.find("I'm dying to see you before I kill myself") is not None
    assert detector.find("ran 5 kms") is None
    assert detector.find("ran 5 kms and now i wanna kms") is not None


# --- what find returns -------------------------------------------------------------------------


def test_find_returns_the_configured_term_and_the_original_text(detector: CrisisDetector) -> None:
    text = "Honestly... I wanna K1LL MYS3LF 😭"
    match = detector.find(text)
    assert match is not None
    assert match.term in DEFAULT_CRISIS_PATTERNS
    assert match.term == "kill(s|ing|ed)? (my|me) ?(self|slef)"
    assert match.excerpt == text


def test_term_is_the_first_configured_pattern_that_matches() -> None:
    detector = CrisisDetector(["no match here", "want to (die|disappear)", "die"], [])
    assert detector.find("i want to die") == CrisisMatch("want to (die|disappear)", "i want to die")
    assert detector.find("die") == CrisisMatch("die", "die")


def test_excerpt_of_a_long_message_is_cut_around_the_match() -> None:
    before = "went to group today and talked about my week, my job and my kids. " * 8
    after = " anyway thanks for listening, see everyone thursday at the meeting." * 8
    text = before + "Honestly I want to K1LL   MYS3LF tonight." + after
    match = CrisisDetector(["kill myself"], []).find(text)
    assert match is not None
    assert len(match.excerpt) <= 200
    assert "K1LL   MYS3LF" in match.excerpt
    assert match.excerpt in text


def test_excerpt_survives_text_that_normalisation_shrinks() -> None:
    # Spaced letters and emoji shrink in normalisation; the excerpt must still be original
    # text around the original words.
    text = "😭 " * 150 + "s u i c i d e" + " ..." * 100
    match = CrisisDetector(["suicide"], []).find(text)
    assert match is not None
    assert "s u i c i d e" in match.excerpt
    assert len(match.excerpt) <= 200 and match.excerpt in text


# --- configuration -----------------------------------------------------------------------------


def test_custom_patterns_replace_the_defaults() -> None:
    detector = CrisisDetector(["purple elephant"], [])
    assert detector.find("i want to die") is None
    assert detector.find("PURPLE ELEPHANT") == CrisisMatch("purple elephant", "PURPLE ELEPHANT")


def test_custom_exclusions_replace_the_defaults() -> None:
    without = CrisisDetector(DEFAULT_CRISIS_PATTERNS, [])
    assert without.find("watched suicide squad last night") is not None
    only_mine = CrisisDetector(DEFAULT_CRISIS_PATTERNS, ["suicide squad"])
    assert only_mine.find("watched suicide squad last night") is None
    assert only_mine.find("anyone doing the suicide prevention walk?") is not None


def test_no_patterns_means_no_alerts() -> None:
    assert CrisisDetector([], []).find("i want to die") is None


@pytest.mark.parametrize("bad", ["", "   ", "!!!", "(unclosed", "a*", "(?:x)?", r"(a)\1", "^kill"])
def test_unusable_patterns_are_refused_at_construction(bad: str) -> None:
    with pytest.raises(ValueError, match="crisis"):
        CrisisDetector([bad], [])
    with pytest.raises(ValueError, match="crisis exclusion"):
        CrisisDetector(["fine"], [bad])


# --- blocked terms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    ["you're an ass", "ASS", "what an a s s", "a.s.s", "a$$", "@ss", "asssss", "Ass!", "ａｓｓ"],
)
def test_blocked_term_survives_obfuscation(text: str) -> None:
    assert TermBlocker(["ass"]).find(text) == "ass"


@pytest.mark.parametrize(
    "text",
    [
        "class starts at 6",
        "my assessment went well",
        "as if",
        "pass the salt",
        "bass guitar",
        "a s",
    ],
)
def test_blocked_term_is_whole_word_only(text: str) -> None:
    assert TermBlocker(["ass"]).find(text) is None


def test_blocked_terms_report_which_term_and_allow_phrases() -> None:
    blocker = TermBlocker(["ass", "bad word"])
    assert blocker.find("that is a BAD   WORD") == "bad word"
    assert blocker.find("that is a b a d w o r d") == "bad word"
    assert blocker.find("what an a s s h o l e") is None
    assert TermBlocker(["asshole"]).find("what an a s s h o l e") == "asshole"
    assert blocker.find("a badword") == "bad word"
    assert blocker.find("bad words") is None
    assert TermBlocker([]).find("anything") is None


# --- contact details ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "contact",
    [
        "555-123-4567",
        "(555) 123 4567",
        "(555) 123-4567",
        "+1 555 123 4567",
        "+1 (555) 123-4567",
        "1-555-123-4567",
        "555.123.4567",
        "5551234567",
        "+44 20 7946 0958",
        "+33 6 12 34 56 78",
        "sam.smith+iop@example.co.uk",
        "me@mail.example.com",
        "sam [at] example [dot] com",
    ],
)
def test_contacts_are_found_and_masked(contact: str) -> None:
    text = f"text me at {contact}, ok?"
    start = text.index(contact)
    assert find_contacts(text) == [(start, start + len(contact))]
    assert mask_contacts(text) == "text me at [contact removed], ok?"
    assert mask_contacts(text, mask="***") == "text me at ***, ok?"


@pytest.mark.parametrize(
    "text",
    [
        "90 days sober today",
        "call 988 if you need to",
        "we're in room 12",
        "1-800 is toll free",
        "see you in 2026",
        "group starts at 18:00",
        "next session 11/23/2026",
        "2026-11-23 works for me",
        "i have 2 kids and 3 dogs",
        "it cost $1,000",
        "email me at group@",
    ],
)
def test_ordinary_numbers_are_not_contacts(text: str) -> None:
    assert find_contacts(text) == []
    assert mask_contacts(text) == text


def test_several_contacts_in_one_message() -> None:
    text = "me: 555-123-4567 or a@b.io, not room 12"
    assert [text[a:b] for a, b in find_contacts(text)] == ["555-123-4567", "a@b.io"]
    assert mask_contacts(text, "[x]") == "me: [x] or [x], not room 12"
