"""Text matching for the content filters: crisis language, blocked terms and contact details.

Pure functions and immutable matchers; no I/O. Everything is compiled once when a matcher is
built, so a call costs a handful of C-level regex passes over the message.

Normalisation
-------------
Crisis patterns, crisis exclusions and blocked terms are all matched against a normalised form
of the message, and are themselves normalised the same way before they are compiled, so authors
write ordinary lower-case English ("kill myself", "don't want to live").

1. Unicode compatibility decomposition (NFKD), then accents dropped: "suïcide" -> "suicide",
   full-width and mathematical letters become plain ones.
2. Case folded: "KILL" -> "kill".
3. Zero-width characters and soft hyphens removed; apostrophes removed ("don't" -> "dont",
   "i'm" -> "im"); a few Cyrillic/Greek/Latin look-alike letters mapped to the Latin letter they
   imitate (Cyrillic "а" -> "a", "ø" -> "o", ...).
4. Runs of single characters separated by spaces, dots, dashes, underscores or asterisks are
   joined: "s u i c i d e", "s.u.i.c.i.d.e", "k*i*l*l" -> "suicide", "kill". A run is joined
   only if it contains a letter, so "1 2 3" stays as it is. Within a run the commonest
   separator joins letters and any other separator splits words ("k i l l  m y s e l f",
   "k.i.l.l m.y.s.e.l.f" -> "kill myself"); with one kind of separator throughout, the run
   becomes one word. A run that starts with the word "a" or "i" is also kept in a second
   reading without it ("i d i e" -> "idie i die").
5. Look-alike substitutions inside a word that contains at least one letter:
   1 ! | -> i, 3 -> e, 4 @ -> a, 0 -> o, 5 $ -> s, 7 -> t ("k1ll mys3lf" -> "kill myself",
   "a$$" -> "ass"). Numbers on their own ("90 days") are left alone, and "!" or "|" at the end
   or start of a word stay punctuation ("die!!!" -> "die").
6. Any other punctuation, symbol or emoji becomes a space. How much whitespace separates two
   words never matters (see below).
7. Crisis matching only: runs of the same ASCII letter are collapsed to one, so "kiiiill",
   "kill" and "kil" all become "kil" (and "goodbye" becomes "godbye"; patterns get the same
   treatment, so authors need not think about it).

Pattern syntax
--------------
A crisis pattern or exclusion is a plain phrase or a Python regular expression written against
the normalised text. Only its literal text is normalised; regex syntax (groups, alternation,
classes, escapes, quantifiers, look-arounds) is kept as written. Between the words of a pattern
any whitespace is optional ("kill myself" also matches "kilmyself", which is what
"k i l l m y s e l f" becomes), while the pattern's two ends must sit on word boundaries
("kill myself" does not match "kill my selfish habit"). An apostrophe in a pattern is an
optional space ("don't" matches "dont" and "don t"). Patterns must not use backreferences,
inline global flags or "^", and must not match empty text; a ValueError names the pattern.

An exclusion removes its matched span from the normalised message before the crisis patterns
are tried, so "this commute is killing me" stays quiet while "this commute is killing me and I
want to die" still alerts.

Blocked terms are plain phrases (not regexes), matched as whole words. Their repeated letters
are not collapsed, because collapsing would turn "ass" into "as"; instead each run of n equal
letters in a term matches a run of at least n in the message ("asssss" is blocked, "as" is not).
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import TypeAlias

__all__ = [
    "CrisisDetector",
    "CrisisMatch",
    "TermBlocker",
    "WordLists",
    "compile_crisis_patterns",
    "crisis_normal_form",
    "find_contacts",
    "mask_contacts",
    "shipped_word_lists",
]


@dataclass(frozen=True)
class WordLists:
    crisis_patterns: tuple[str, ...]
    crisis_exclusions: tuple[str, ...]


def shipped_word_lists() -> WordLists:
    """The lists shipped in word_lists.toml beside this module (data, not code: a deployment
    replaces them in its configuration)."""
    text = resources.files(__package__).joinpath("word_lists.toml").read_text("utf-8")
    data = tomllib.loads(text)
    return WordLists(tuple(data["crisis_patterns"]), tuple(data["crisis_exclusions"]))


EXCERPT_CHARS = 200

# --------------------------------------------------------------------------------------------
# Normalisation

_COMBINING = re.compile("[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_APOSTROPHES = "'`\u2018\u2019\u02bc\u02b9\u2032"
_INVISIBLE = "\u00ad\u180e\u200b\u200c\u200d\u2060\ufeff"
_LOOKALIKE_LETTERS = {
    # Cyrillic and Greek letters that render like Latin ones, and Latin letters that NFKD
    # leaves alone but readers see as plain ones.
    "а": "a", "е": "e", "ё": "e", "і": "i", "ї": "i", "ј": "j", "к": "k", "о": "o", "р": "p",
    "с": "c", "у": "y", "х": "x", "ѕ": "s", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "α": "a", "ε": "e", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u",
    "χ": "x",
    "ø": "o", "ł": "l", "đ": "d", "ħ": "h", "ı": "i", "ŧ": "t", "ð": "d", "æ": "ae", "œ": "oe",
    "þ": "th", "ɡ": "g",
}  # fmt: skip


def _fold_table(apostrophe: str | None) -> dict[int, str | None]:
    table: dict[int, str | None] = {ord(k): v for k, v in _LOOKALIKE_LETTERS.items()}
    table.update((ord(c), None) for c in _INVISIBLE)
    table.update((ord(c), apostrophe) for c in _APOSTROPHES)
    table[ord("_")] = " "
    return table


# In messages an apostrophe disappears ("don't" -> "dont"); in patterns it becomes a space,
# which compiles to optional whitespace, so a pattern "don't" accepts "dont", "don t", "don't".
# An underscore is a space from the start, so later steps only have to think about spaces.
_TEXT_FOLD = _fold_table(None)
_PATTERN_FOLD = _fold_table(" ")

# Both start by consuming the character before the word (there always is one: normalised text
# starts with a space), which lets the engine scan for candidates instead of trying every
# position. Group 1 is that character, group 2 the word.
_SPACED_RUN = re.compile(r"([^\w!|@$])([a-z0-9!|@$](?:[\s.*\-]+[a-z0-9!|@$])+)(?![\w!|@$])")
_SPACED_SEPARATORS = re.compile(r"([\s.*\-]+)")
_LEET_WORD = re.compile(r"([^\w!|@$])([a-z0-9!|@$]*[013457!|@$][a-z0-9!|@$]*)")
_LOOKALIKE = re.compile("[013457!|@$]")
_ASCII_LETTER = re.compile("[a-z]")
_LEET = str.maketrans(
    {"1": "i", "!": "i", "|": "i", "3": "e", "4": "a", "@": "a", "0": "o", "5": "s", "$": "s",
     "7": "t"}
)  # fmt: skip
_NON_WORD = re.compile(r"[^\w ]+")
# Deleting each letter that the same letter follows is the cheapest way to collapse runs: the
# replacement is a constant, so the engine builds no match objects.
_REPEATED_LETTER = re.compile(r"([a-z])(?=\1)")

_Replacement: TypeAlias = str | Callable[[re.Match[str]], str]
# (pattern, replacement, a cheap search that must find something for the step to do anything)
_Step: TypeAlias = tuple[re.Pattern[str], _Replacement, re.Pattern[str] | None]


def _join_spaced(match: re.Match[str]) -> str:
    before, run = match.groups()
    if _ASCII_LETTER.search(run) is None:
        return match.group()  # "1 2 3" or "! ! !": not an obfuscated word
    parts = _SPACED_SEPARATORS.split(run)
    separators = parts[1::2]
    # The commonest separator joins letters; any other one ("k i l l  m y s e l f",
    # "k.i.l.l m.y.s.e.l.f") is taken as the gap between two spelled-out words.
    joiner = max(set(separators), key=lambda sep: (separators.count(sep), -len(sep)))
    joined = parts[0] + "".join(
        char if sep == joiner else " " + char
        for sep, char in zip(separators, parts[2::2], strict=True)
    )
    if run[0] in "ai" and separators[0] == joiner and run[1].isspace() and len(joined) > 3:
        # "a" and "i" are words: "what a b i t c h" and "i d i e" must also be read as
        # "a bitch" and "i die". Both readings go into the text, which only matching reads.
        return f"{before}{joined} {run[0]} {joined[1:]}"
    return before + joined


def _unleet(match: re.Match[str]) -> str:
    before, word = match.groups()
    core = word.strip("!|")
    if _ASCII_LETTER.search(core) is None:
        return match.group()  # a number, a price, "!!!": no letters to imitate
    lead = len(word) - len(word.lstrip("!|"))
    trail = len(word) - len(word.rstrip("!|"))
    return before + word[:lead] + core.translate(_LEET) + word[len(word) - trail :]


def _fold(text: str, *, pattern: bool = False) -> str:
    if text.isascii():
        # str.translate looks every character up in a dict; three replaces are cheaper.
        text = text.lower()
        for apostrophe in "'`":
            if apostrophe in text:
                text = text.replace(apostrophe, " " if pattern else "")
        return text.replace("_", " ") if "_" in text else text
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return text.casefold().translate(_PATTERN_FOLD if pattern else _TEXT_FOLD)


def _steps(*, join: bool, collapse: bool) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    if join:
        steps.append((_SPACED_RUN, _join_spaced, None))
    steps.append((_LEET_WORD, _unleet, _LOOKALIKE))
    steps.append((_NON_WORD, " ", None))
    if collapse:
        steps.append((_REPEATED_LETTER, "", None))
    return tuple(steps)


def _sub_tracked(
    pattern: re.Pattern[str], replacement: _Replacement, text: str, origin: list[int]
) -> tuple[str, list[int]]:
    """`pattern.sub(replacement, text)`, also mapping every output character to the index in
    the original message it came from (`origin` does that for `text`)."""
    parts: list[str] = []
    mapped: list[int] = []
    pos = 0
    for match in pattern.finditer(text):
        start, end = match.span()
        parts.append(text[pos:start])
        mapped.extend(origin[pos:start])
        new = match.expand(replacement) if isinstance(replacement, str) else replacement(match)
        parts.append(new)
        mapped.extend([origin[start]] * len(new))
        pos = end
    parts.append(text[pos:])
    mapped.extend(origin[pos:])
    return "".join(parts), mapped


class _Normaliser:
    def __init__(self, *, collapse: bool) -> None:
        self._steps = _steps(join=True, collapse=collapse)

    def __call__(self, text: str) -> str:
        # The leading space puts a space before every word; see _Combined.
        text = " " + _fold(text)
        for pattern, replacement, precheck in self._steps:
            if precheck is None or precheck.search(text):
                text = pattern.sub(replacement, text)
        return text

    def tracked(self, text: str) -> tuple[str, list[int]]:
        """The same normalisation, slower, with each output character's index in `text`;
        run only after a match, to cut the excerpt from the original message."""
        parts = [" "]
        origin = [0]
        for index, char in enumerate(text):
            folded = _fold(char)
            parts.append(folded)
            origin.extend([index] * len(folded))
        normal = "".join(parts)
        for pattern, replacement, _ in self._steps:
            normal, origin = _sub_tracked(pattern, replacement, normal, origin)
        return normal, origin


# --------------------------------------------------------------------------------------------
# Compiling patterns

# Regex syntax that passes through untouched; the text between these tokens is literal and is
# normalised like a message.
_REGEX_SYNTAX = re.compile(
    r"""
    \\.                                        # escape: \s \b \d \. ...
  | \[\^?\]?(?:\\.|[^\]\\])*\]                 # character class
  | \((?:\?(?:P<\w+>|<[=!]|[:=!>]|[a-zA-Z-]+:))?  # group opener
  | \{\d*(?:,\d*)?\}                           # counted repetition
  | [)|?*+.^$]
    """,
    re.VERBOSE,
)
_QUANTIFIER = re.compile(r"[?*+]|\{\d*(?:,\d*)?\}")
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")
_PATTERN_STEPS = _steps(join=False, collapse=True)
_TERM_STEPS = _steps(join=False, collapse=False)
_MAX_BRANCHES = 400

# A compiled pattern is a list of pieces: (True, regex for a run of literal text) or
# (False, a regex syntax token).
_Piece: TypeAlias = tuple[bool, str]


def _normalise_literal(literal: str, steps: tuple[_Step, ...]) -> str:
    text = " " + _fold(literal, pattern=True)  # the steps expect a character before each word
    for pattern, replacement, _ in steps:
        text = pattern.sub(replacement, text)
    return text[1:]


def _words_to_regex(normal: str) -> str:
    body = r"\s*".join(re.escape(word) for word in normal.split())
    if normal.startswith(" "):
        body = r"\s*" + body
    if normal.endswith(" ") and not body.endswith(r"\s*"):
        body += r"\s*"
    return body


def _pattern_pieces(pattern: str) -> list[_Piece]:
    pieces: list[_Piece] = []
    pos = 0
    for token in _REGEX_SYNTAX.finditer(pattern):
        if token.start() > pos:
            literal = _normalise_literal(pattern[pos : token.start()], _PATTERN_STEPS)
            pieces.append((True, _words_to_regex(literal)))
        syntax = token.group()
        # Capturing groups become non-capturing: the engine can then skip an alternative on
        # its first character, and group numbers cannot clash in the combined pattern.
        pieces.append((False, "(?:" if syntax == "(" or syntax.startswith("(?P<") else syntax))
        pos = token.end()
    if pos < len(pattern):
        pieces.append((True, _words_to_regex(_normalise_literal(pattern[pos:], _PATTERN_STEPS))))
    return pieces


def _term_pieces(term: str) -> list[_Piece]:
    words = []
    for word in _normalise_literal(term, _TERM_STEPS).split():
        # A run of n equal letters matches a run of n or more; possessive, so that a long run
        # in a message cannot make the engine backtrack through it.
        runs = (run.group() for run in re.finditer(r"(.)\1*", word))
        words.append("".join(f"{re.escape(run)}{re.escape(run[0])}*+" for run in runs))
    return [(True, r"\s*".join(words))]


def _is_quantifier(piece: _Piece) -> bool:
    literal, text = piece
    return not literal and _QUANTIFIER.fullmatch(text) is not None


def _branches(pieces: list[_Piece]) -> list[str] | None:
    """The pattern as alternatives that each start with one known literal character, by
    distributing leading groups: "(end|take) my life" -> "end my life", "take my life".
    None when a pattern does not start that way (it then goes into the combined pattern
    whole, and is merely slower)."""
    if not pieces:
        return None
    literal, text = pieces[0]
    if literal:
        if not text[:1].isalnum():
            return None
        if len(text) == 1 and len(pieces) > 1 and _is_quantifier(pieces[1]):
            return None  # "a?b": the first character is optional
        return ["".join(piece_text for _, piece_text in pieces)]
    if text != "(?:":
        return None
    depth = 0
    bars: list[int] = []
    close = None
    for index in range(1, len(pieces)):
        literal, text = pieces[index]
        if literal:
            continue
        if text.startswith("("):
            depth += 1
        elif text == ")":
            if depth == 0:
                close = index
                break
            depth -= 1
        elif text == "|" and depth == 0:
            bars.append(index)
    if close is None:
        return None
    rest = pieces[close + 1 :]
    if rest and _is_quantifier(rest[0]):
        return None
    bounds = [0, *bars, close]
    branches: list[str] = []
    for after, before in zip(bounds, bounds[1:], strict=False):
        more = _branches(pieces[after + 1 : before] + rest)
        if more is None:
            return None
        branches.extend(more)
        if len(branches) > _MAX_BRANCHES:
            return None
    return branches


@dataclass(frozen=True)
class _Compiled:
    source: str  # as configured
    pieces: list[_Piece]
    alone: re.Pattern[str]  # the pattern by itself, with its word boundaries


def _compile_each(
    kind: str, sources: Sequence[str], to_pieces: Callable[[str], list[_Piece]]
) -> list[_Compiled]:
    compiled: list[_Compiled] = []
    for source in sources:
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"{kind} {source!r}: must be a non-empty string")
        if _BACKREFERENCE.search(source):
            raise ValueError(f"{kind} {source!r}: backreferences are not supported")
        pieces = to_pieces(source.strip())
        if (False, "^") in pieces:
            raise ValueError(f"{kind} {source!r}: '^' is not supported; patterns match anywhere")
        body = "".join(text for _, text in pieces)
        try:
            alone = re.compile(rf"(?<!\w)(?:{body})(?!\w)")
            empty = re.compile(body).fullmatch("") is not None
        except re.error as error:
            raise ValueError(f"{kind} {source!r}: invalid pattern ({error})") from error
        if empty:
            raise ValueError(f"{kind} {source!r}: would match empty text")
        compiled.append(_Compiled(source, pieces, alone))
    return compiled


_PREFIX_DEPTH = 3


def _by_prefix(branches: list[str], depth: int) -> str:
    """Alternatives that share their first character become that character followed by their
    alternation, `depth` characters deep: the engine then rejects most of them with one test."""
    groups: dict[str, list[str]] = {}
    rest: list[str] = []
    for branch in branches:
        # Only a character no quantifier applies to can be factored out.
        if depth and branch[:1].isalnum() and branch[1:2] not in ("?", "*", "+", "{"):
            groups.setdefault(branch[0], []).append(branch[1:])
        else:
            rest.append(branch)
    factored = [
        f"{re.escape(first)}(?:{_by_prefix(tails, depth - 1)})" for first, tails in groups.items()
    ]
    return "|".join(factored + rest)


class _Combined:
    """All patterns of one kind as one regex, so a clean message costs one search, not one per
    pattern.

    It runs over normalised text, which starts with a space and has a space before every word,
    so it can begin with a literal space: the engine jumps from space to space instead of
    trying every position. The alternatives are grouped by their first character, so at each
    word only the patterns that can start with its first letter are tried. A match therefore
    starts at the space before the words it matched."""

    def __init__(self, kind: str, compiled: list[_Compiled]) -> None:
        factorable: list[str] = []
        firsts: list[set[str]] = []  # per pattern; empty when it could start with anything
        other: list[str] = []
        for each in compiled:
            branches = _branches(each.pieces)
            if branches is None:
                other.append(f"(?:{''.join(text for _, text in each.pieces)})")
                firsts.append(set())
                continue
            firsts.append({branch[0] for branch in branches})
            factorable.extend(branches)
        alternatives = "|".join(filter(None, [_by_prefix(factorable, _PREFIX_DEPTH), *other]))
        try:
            self.regex = re.compile(rf" (?:{alternatives})(?!\w)")
        except re.error as error:
            raise ValueError(f"{kind}s cannot be combined: {error}") from error
        self._all = compiled
        # Which patterns to ask, in configured order, about a match starting with a character.
        self._anywhere = [each for each, first in zip(compiled, firsts, strict=True) if not first]
        self._starting_with = {
            char: [
                each
                for each, first in zip(compiled, firsts, strict=True)
                if not first or char in first
            ]
            for char in set().union(*firsts)
        }

    def which(self, text: str, match: re.Match[str]) -> str:
        """The configured pattern behind `match`: several may match at the same place, and the
        audit log names the first configured."""
        start = match.start() + 1
        for each in self._starting_with.get(text[start], self._anywhere):
            if each.alone.match(text, start):
                return each.source
        # Only reachable if the combined and the single patterns disagree; an alert with a
        # vaguer audit entry is still far better than an exception instead of an alert.
        return self._all[0].source


# --------------------------------------------------------------------------------------------
# Matchers


@dataclass(frozen=True)
class CrisisMatch:
    term: str  # the configured pattern that matched (for the audit log)
    excerpt: str  # the original message text around the match, at most 200 characters


def _excerpt(text: str, start: int, end: int) -> str:
    if len(text) <= EXCERPT_CHARS:
        return text
    width = end - start
    if width >= EXCERPT_CHARS:
        return text[start : start + EXCERPT_CHARS]
    first = max(0, start - (EXCERPT_CHARS - width) // 2)
    last = min(len(text), first + EXCERPT_CHARS)
    return text[max(0, last - EXCERPT_CHARS) : last]


class CrisisDetector:
    """Crisis language (suicide, self-harm, overdose) in a message, after normalisation."""

    def __init__(self, patterns: Sequence[str], exclusions: Sequence[str]) -> None:
        self._normalise = _Normaliser(collapse=True)
        compiled = _compile_each("crisis pattern", patterns, _pattern_pieces)
        self._patterns = _Combined("crisis pattern", compiled) if compiled else None
        compiled = _compile_each("crisis exclusion", exclusions, _pattern_pieces)
        self._exclusions = _Combined("crisis exclusion", compiled).regex if compiled else None

    def find(self, text: str) -> CrisisMatch | None:
        if self._patterns is None:
            return None
        normal = self._normalise(text)
        match = self._patterns.regex.search(normal)
        if match is None:
            return None  # most messages: no need to look for exclusions at all
        if self._exclusions is not None:
            # A space, not nothing, so the words either side cannot fuse into a new phrase.
            normal = self._exclusions.sub(" ", normal)
            match = self._patterns.regex.search(normal)
            if match is None:
                return None
        if len(text) > EXCERPT_CHARS:
            located = self._locate(text, self._patterns)
            if located is not None:
                return located
        return CrisisMatch(self._patterns.which(normal, match), text[:EXCERPT_CHARS])

    def _locate(self, text: str, patterns: _Combined) -> CrisisMatch | None:
        """The match again, on a normalisation that remembers where each character came from,
        to cut the excerpt around it from a long message."""
        normal, origin = self._normalise.tracked(text)
        if self._exclusions is not None:
            normal, origin = _sub_tracked(self._exclusions, " ", normal, origin)
        match = patterns.regex.search(normal)
        if match is None:
            return None
        start = origin[match.start() + 1]
        end = origin[match.end() - 1] + 1
        return CrisisMatch(patterns.which(normal, match), _excerpt(text, start, end))


_CRISIS_NORMALISER = _Normaliser(collapse=True)


def crisis_normal_form(text: str) -> str:
    """The normalised text that crisis patterns are matched against (steps 1-7 above): it
    starts with a space and has at least one space before every word. For other detectors that
    want to see through the same disguises."""
    return _CRISIS_NORMALISER(text)


def compile_crisis_patterns(kind: str, patterns: Sequence[str]) -> re.Pattern[str]:
    """`patterns`, written in the crisis-pattern syntax above, as one regex to search a
    `crisis_normal_form`: a match starts at the space before its first word. `kind` names the
    list in a ValueError. Nothing else in this module uses it."""
    compiled = _compile_each(kind, patterns, _pattern_pieces)
    if not compiled:
        raise ValueError(f"{kind}: no patterns")
    return _Combined(kind, compiled).regex


class TermBlocker:
    """Blocked terms (slurs etc.): whole-word, case-insensitive, surviving the same obfuscations."""

    def __init__(self, terms: Sequence[str]) -> None:
        self._normalise = _Normaliser(collapse=False)
        compiled = _compile_each("blocked term", terms, _term_pieces)
        self._terms = _Combined("blocked term", compiled) if compiled else None

    def find(self, text: str) -> str | None:
        if self._terms is None:
            return None
        normal = self._normalise(text)
        match = self._terms.regex.search(normal)
        return None if match is None else self._terms.which(normal, match)


# --------------------------------------------------------------------------------------------
# Contact details

_EMAIL = re.compile(
    r"(?<![\w.%+-])[a-z0-9](?:[a-z0-9._%+-]*[a-z0-9_%+-])?"
    r"(?:@|\s?[\[(]at[\])]\s?)"
    r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
    r"(?:(?:\.|\s?[\[(]dot[\])]\s?)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*"
    r"(?:\.|\s?[\[(]dot[\])]\s?)[a-z]{2,}(?![\w-])",
    re.IGNORECASE | re.ASCII,
)
# North American numbers with or without the country code, and anything written with a leading
# "+" and 8-15 digits. Dates (11/23/2026), times (18:00), years, "988" and "room 12" have too
# few digits or the wrong separators to qualify.
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"\+(?:[0-9][ .()\-]{0,2}){7,14}[0-9]"
    r"|(?:1[ .\-]?)?(?:\([0-9]{3}\)[ .\-]?|[0-9]{3}[ .\-]?)[0-9]{3}[ .\-]?[0-9]{4}"
    r")(?![\w])"
)


def find_contacts(text: str) -> list[tuple[int, int]]:
    """(start, end) spans of phone numbers and e-mail addresses in `text`, sorted, not
    overlapping."""
    spans = [m.span() for m in _EMAIL.finditer(text)]
    spans.extend(m.span() for m in _PHONE.finditer(text))
    spans.sort(key=lambda span: (span[0], -span[1]))
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
            continue
        merged.append((start, end))
    return merged


def mask_contacts(text: str, mask: str = "[contact removed]") -> str:
    """`text` with every span from `find_contacts` replaced by `mask`."""
    pieces: list[str] = []
    pos = 0
    for start, end in find_contacts(text):
        pieces.append(text[pos:start])
        pieces.append(mask)
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)
