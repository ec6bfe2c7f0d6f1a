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
   only if it contains a letter, so "1 2 3" stays as it is.
5. Look-alike substitutions inside a word that contains at least one letter:
   1 ! | -> i, 3 -> e, 4 @ -> a, 0 -> o, 5 $ -> s, 7 -> t ("k1ll mys3lf" -> "kill myself",
   "a$$" -> "ass"). Numbers on their own ("90 days") are left alone, and "!" or "|" at the end
   or start of a word stay punctuation ("die!!!" -> "die").
6. Any other punctuation, symbol or emoji becomes a space, and whitespace is collapsed.
7. Crisis matching only: runs of the same letter are collapsed to one, so "kiiiill", "kill" and
   "kil" all become "kil" (and "goodbye" becomes "godbye"; patterns get the same treatment).

Pattern syntax
--------------
A crisis pattern or exclusion is a plain phrase or a Python regular expression written against
the normalised text. Only its literal text is normalised; regex syntax (groups, alternation,
classes, escapes, quantifiers, look-arounds) is kept as written. Between the words of a pattern
any whitespace is optional ("kill myself" also matches "kilmyself", which is what
"k i l l m y s e l f" becomes), while the pattern's two ends must sit on word boundaries
("kill myself" does not match "kill my selfish habit"). An apostrophe in a pattern is an
optional space ("don't" matches "dont" and "don t"). Patterns must not use numbered
backreferences or inline global flags, and must not match empty text.

An exclusion removes its matched span from the normalised message before the crisis patterns
are tried, so "this commute is killing me" stays quiet while "this commute is killing me and I
want to die" still alerts.

Blocked terms are plain phrases (not regexes), matched as whole words. Their repeated letters
are not collapsed, because collapsing would turn "ass" into "as"; instead each run of n equal
letters in a term matches a run of at least n in the message ("asssss" is blocked, "as" is not).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

__all__ = [
    "DEFAULT_CRISIS_EXCLUSIONS",
    "DEFAULT_CRISIS_PATTERNS",
    "CrisisDetector",
    "CrisisMatch",
    "TermBlocker",
    "find_contacts",
    "mask_contacts",
]

# A false alert costs a moderator one click; a miss can cost a life. The list therefore leans
# towards alerting on hyperbole ("I'm gonna kill myself lol") and on past ideation disclosed in
# a treatment group, and keeps out only phrases whose everyday meaning clearly dominates.
# Relapse talk on its own ("I relapsed", "I drank last night") is deliberately absent.
DEFAULT_CRISIS_PATTERNS: tuple[str, ...] = (
    # Suicide named outright, and the euphemisms people use to get past filters.
    "suicid(e|es|al|ally)",
    "kill(s|ing|ed)? (my|me) ?(self|slef)",
    "kms",
    "unaliv(e|es|ed|ing)",
    "sewer ?slide",
    "self ?delet(e|es|ed|ing)",
    "(end|ending|ended|take|taking|took) my (own )?life",
    "(end|ending) it all",
    "(end|ending) (it|things|everything) (tonight|today)",
    "(think|thinking|thought) (about|of) ending (it|things|everything)(?! with\\b)",
    "ready to (die|end it)(?! with\\b)",
    "(guts|courage|nerve) to (end it|kill my ?self|die)",
    # Wanting to die, or not to exist.
    "(want|wants|wanted|wanting|wanna|want 2) (to )?die",
    "(want|wanted|wanna) (to )?be dead",
    "wish i (was|were|could be) dead",
    "rather be dead",
    "better off dead",
    "wish i could (just )?die",
    "(hope|hoping|pray|praying) (that )?i die",
    "(let me|should just|might as well|i'll just) die",
    "(don't|do not|no longer|never) (want to|wanna) (exist|be alive|live anymore|wake up again)",
    "(don't|do not|no longer) (want to|wanna) live"
    "(?! (in|with|near|at|on|there|here|by|together|alone|far|next|like that)\\b)",
    "(don't|do not|no longer) (want to|wanna) be here(?! (at|for|on|in|with|when|until)\\b)",
    "(don't|do not|no longer) (want to|wanna) be (on|in) this (earth|world|planet)",
    "(want to|wanna) (not exist|stop existing|cease to exist)",
    "(disappear|vanish) (forever|for good)",
    "(tired|sick) of (living|being alive|life|existing)"
    "(?! (with|in|at|here|there|near|under|paycheck|like that|out of|on)\\b)",
    "done with (life|living)(?! (with|in|at|here|there)\\b)",
    "(no|any|zero) reasons? to (live|keep living|stay alive|keep going(?! (to|with|on)\\b))",
    "nothing (left )?to live for",
    "(not|isn't|ain't|no longer) worth living",
    "life (is not|isn't|ain't) worth it",
    "no point (in )?(living|being alive|going on|existing)",
    "(what's|what is) the point (of|in) (living|life|being alive|going on|existing)",
    "(can't|cannot|can not) go on (like this|anymore|any longer|living)",
    "(can't|cannot|can not) (do|take) (it|this) anymore",
    "better off without me",
    "(happier|better|easier) (if|when|once) (i'm|i am|i was|i were) (gone|dead)",
    "(nobody|no one|noone) would (even )?miss me",
    "(nobody|no one|noone) would (even )?(care|notice) if i"
    " (died|was gone|were gone|disappeared|was dead|wasn't here|killed my ?self)",
    "(i'm|i am|feel like|feeling like) (just |such )?a burden",
    "(wish|wished) i (had |was |were )?never (been born|born|existed|woke up)",
    "(and|to|just|hope i|wish i could|want to|wanna) never wake up",
    "(hope|hoping|wish|pray|praying) (that )?i (don't|do not|won't|never|wouldn't) wake up",
    "(don't|do not) care if i (die|live|wake up|od|overdose)",
    "(want to|wanna|wish i could) (go to )?sleep (forever|and never wake up)",
    "(won't|will not|not gonna|not going to) be (around|here|alive)"
    " (much longer|for (much )?longer|for long)",
    "(won't|will not) be alive",
    # Goodbyes, and putting things in order.
    "goodbye (note|notes|letter|letters|message|messages|video|post)",
    "(write|writing|wrote|written) (a |my )?(goodbye|final|last) (note|letter)s?",
    "(write|writing|wrote) (my )?goodbyes",
    "goodbye forever",
    "(final|last) goodbye",
    "this is goodbye(?! for now\\b)",
    "(give|giving|gave) away (all )?(of )?my (stuff|things|belongings|possessions)",
    "(put|putting|get|getting|got) my affairs in order",
    "(think|thinking|thought) about my (own )?funeral",
    "planning my (own )?funeral",
    # Plans and methods.
    "(have|got|made|making|come up with|came up with) a plan to"
    " (die|end it|end my life|kill my ?self|overdose|od)",
    "(planning|planned|figured out|worked out) (how|when|where)"
    " (i'll|i'd|i would|i will|i'm going to|i'm gonna) do it",
    "(plan|planning|planned|figured out|figuring out|researching|looked up|looking up|googled"
    "|googling|thinking about|thought about) (how|when|where|ways) (to |i'll |i'd |i would "
    "|i will |i could |i can |i'm going to |i'm gonna )?"
    "(end it(?! with\\b)|die|kill my ?self|end my life|overdose|od|hang my ?self)",
    "i (already )?know (how|when|where) (i'll|i'd|i would|i will|i'm going to|i'm gonna) do it",
    "(painless|easiest|easy|quickest|quick|fastest|best|surest) (way|ways|method|methods) to"
    " (die|end it|kill my ?self|end my life)",
    "lethal (dose|amount)",
    "how many (pills|tablets|of my [a-z]+|of these|of those|of them) (would|does|do|will) it take",
    "how many (pills|tablets|of my [a-z]+|of these|of those|of them) (to|would|will)"
    " (kill me|die|od|overdose|be lethal|not wake up)",
    "noose",
    "(jump|jumping|jumped) (off|from) (a|the|this|that|my) (bridge|building|roof|rooftop|cliff"
    "|balcony|overpass|ledge|parking garage|tower)",
    "(jump|jumping|step|stepping|walk|walking|throw my ?self) in front of (a|the)"
    " (train|bus|car|truck|subway)",
    "(gun|pistol) to my head",
    "blow my (brains|head) (out|off)",
    "(put|putting) a bullet (in|through) my (head|brain|skull)",
    "(crash|crashing|wreck|wrecking) my car on purpose",
    "(drive|driving) my car (into|off) (a|the) (tree|wall|bridge|cliff|river|lake|pole|overpass)",
    # Overdose on purpose. "Overdose" alone is everyday harm-reduction talk in these groups.
    "(overdose|overdosing|od|od'ing) on purpose",
    "(intentionally|deliberately|purposely|purposefully)"
    " (overdose|overdosed|overdosing|od|od'd|took too many|take too many)",
    "(want to|wanted to|wanna|going to|gonna|plan to|planning to|planned to|tempted to|tried to"
    "|trying to|about to|ready to) (overdose|od)",
    "(think|thinking|thought) (about|of) (overdosing|od'ing|taking all)",
    "(hope|hoping|wish) i (overdose|od)",
    "(take|taking|took|swallow|swallowing|swallowed) all (of )?(my|the|these|those)"
    " (pills|meds|medication|medications|tablets)",
    "(take|taking|took|swallow|swallowing|swallowed|down|downing|downed) (the|a) (whole|entire)"
    " (bottle|pack|packet|box) of (pills|meds|tablets|tylenol|advil|aspirin|sleeping pills"
    "|xanax|seroquel|benadryl)",
    "(swallow|swallowing|swallowed) (the|a) (whole|entire) bottle",
    "(stockpile|stockpiling|stockpiled|hoard|hoarding|hoarded|saving up|saved up|collecting)"
    " (my )?(pills|meds)",
    # Self-harm.
    "(hurt|hurts|hurting|harm|harming|harmed|cut|cuts|cutting|burn|burning|burned|burnt|stab"
    "|stabbing|stabbed|starve|starving|starved) (my|me) ?(self|slef)",
    "(hang|hanging|hanged|hung|drown|drowning|drowned|shoot|shooting|shot|poison|poisoning"
    "|poisoned|suffocate|suffocating) (my|me) ?(self|slef)",
    "self ?harm(s|ing|ed|er)?",
    "cutting again",
    "(started|been|keep|kept|back to) cutting(?! (back|down|out|off|ties|my hair|hair|carbs"
    "|sugar|class|corners|coupons|it|the|weight)\\b)",
    "(cut|cutting|slit|slitting|slice|slicing|slash|slashing) (my |your )?(wrist|wrists)",
    "(cutting|carving) (into )?my (arm|arms|thigh|thighs|leg|legs|skin|stomach)",
    "fresh cuts",
    "(urge|urges) to (cut|self harm|hurt my ?self|harm my ?self|burn my ?self|sh)"
    "(?! (back|down|out|ties)\\b)",
    "(relapse|relapsed|relapsing) (on|with|into) (sh|self harm|cutting)",
    "make my ?self bleed",
    "(drink|drinking|drank) my ?self to death",
    # Saying outright that they are not safe.
    "not safe (with|around) (my ?self|me)",
    "(i'm not|i am not|i don't feel|i do not feel|i'm not feeling|not feeling) safe"
    " (right now|tonight)",
)

# Each exclusion is an idiom or a piece of education/news whose span would otherwise trip a
# pattern above. Kept narrow on purpose: an exclusion that swallows a real disclosure is worse
# than the false alert it prevents.
DEFAULT_CRISIS_EXCLUSIONS: tuple[str, ...] = (
    "suicide (prevention|awareness|squad|mission|doors?|drills?|sprints?)",
    "(run|runs|running|ran) suicides",
    "(warning )?signs of suicide",
    "suicide warning signs",
    "(overdose|overdoses) (awareness|prevention|reversal|response|training|kit|kits)",
    "self ?harm (awareness|prevention)",
    "(die|died|dying|dyed) (my|her|his|your|their) hair",
    "die of (embarrassment|boredom|laughter|laughing|shame|cuteness)",
    "(kill|killed|killing) (my|me) ?self (laughing|trying|working)",
    "(hurt|hurting|cut|cutting|burn|burned|burnt|burning) (my|me) ?self (shaving|cooking|lifting"
    "|baking|chopping|at the gym|working out|playing|running|skating|skiing|gardening"
    "|by accident)",
    "accidentally (cut|cutting|burned|burnt|burn|hurt|hurting) (my|me) ?self",
    "[0-9]+ ?kms",
    "(took|taken) all (of )?my (meds|pills|medication|medications)"
    " (today|this morning|this evening|on time)",
    # No default pattern collides with these; they keep the hyperbole quiet if a deployment adds
    # broader patterns such as "kill me" or "dying".
    "killing me",
    "killed me",
    "kill for",
    "dying to",
    "dying for",
)

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
    return table


# In messages an apostrophe disappears ("don't" -> "dont"); in patterns it becomes a space,
# which compiles to optional whitespace, so a pattern "don't" accepts "dont", "don t", "don't".
_TEXT_FOLD = _fold_table(None)
_PATTERN_FOLD = _fold_table(" ")

_WORDISH = "a-z0-9!|@$"
_NOT_AFTER_WORDISH = "(?<![^\\W_])(?<![!|@$])"
_NOT_BEFORE_WORDISH = "(?![^\\W_])(?![!|@$])"
_SPACED_RUN = re.compile(
    f"{_NOT_AFTER_WORDISH}[{_WORDISH}](?:[\\s._*\\-]+[{_WORDISH}])+{_NOT_BEFORE_WORDISH}"
)
_SPACED_SEPARATORS = re.compile(r"[\s._*\-]+")
_ASCII_LETTER = re.compile("[a-z]")
_LEET_WORD = re.compile(f"{_NOT_AFTER_WORDISH}[{_WORDISH}]*[013457!|@$][{_WORDISH}]*")
_LEET = str.maketrans(
    {"1": "i", "!": "i", "|": "i", "3": "e", "4": "a", "@": "a", "0": "o", "5": "s", "$": "s",
     "7": "t"}
)  # fmt: skip
_NON_WORD = re.compile(r"[\W_]+")
_REPEATED_LETTER = re.compile(r"([^\W\d_])\1+")

_Replacement: TypeAlias = str | Callable[[re.Match[str]], str]
_Step: TypeAlias = tuple[re.Pattern[str], _Replacement]


def _join_spaced(match: re.Match[str]) -> str:
    run = match.group()
    if _ASCII_LETTER.search(run) is None:
        return run  # "1 2 3" or "! ! !": not an obfuscated word
    return _SPACED_SEPARATORS.sub("", run)


def _unleet(match: re.Match[str]) -> str:
    word = match.group()
    core = word.strip("!|")
    if _ASCII_LETTER.search(core) is None:
        return word  # a number, a price, "!!!": no letters to imitate
    lead = len(word) - len(word.lstrip("!|"))
    trail = len(word) - len(word.rstrip("!|"))
    return word[:lead] + core.translate(_LEET) + word[len(word) - trail :]


def _fold(text: str, table: dict[int, str | None]) -> str:
    if text.isascii():
        return text.lower().translate(table)
    text = _COMBINING.sub("", unicodedata.normalize("NFKD", text))
    return text.casefold().translate(table)


def _steps(*, join: bool, collapse: bool) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    if join:
        steps.append((_SPACED_RUN, _join_spaced))
    steps.append((_LEET_WORD, _unleet))
    steps.append((_NON_WORD, " "))
    if collapse:
        steps.append((_REPEATED_LETTER, r"\1"))
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
        text = _fold(text, _TEXT_FOLD)
        for pattern, replacement in self._steps:
            text = pattern.sub(replacement, text)
        return text

    def tracked(self, text: str) -> tuple[str, list[int]]:
        """The same normalisation, slower, with each output character's index in `text`;
        run only after a match, to cut the excerpt from the original message."""
        parts: list[str] = []
        origin: list[int] = []
        for index, char in enumerate(text):
            folded = _fold(char, _TEXT_FOLD)
            parts.append(folded)
            origin.extend([index] * len(folded))
        normal = "".join(parts)
        for pattern, replacement in self._steps:
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
_BACKREFERENCE = re.compile(r"\\[1-9]|\(\?P=")
_PATTERN_STEPS = _steps(join=False, collapse=True)
_TERM_STEPS = _steps(join=False, collapse=False)


def _normalise_literal(literal: str, steps: tuple[_Step, ...]) -> str:
    text = _fold(literal, _PATTERN_FOLD)
    for pattern, replacement in steps:
        text = pattern.sub(replacement, text)
    return text


def _words_to_regex(normal: str) -> str:
    return r"\s*".join(re.escape(word) for word in normal.split(" "))


def _pattern_body(pattern: str) -> str:
    pieces: list[str] = []
    pos = 0
    for token in _REGEX_SYNTAX.finditer(pattern):
        if token.start() > pos:
            pieces.append(
                _words_to_regex(_normalise_literal(pattern[pos : token.start()], _PATTERN_STEPS))
            )
        syntax = token.group()
        # Capturing groups become non-capturing: the engine can then skip an alternative on
        # its first character, which is most of the speed of the combined search.
        pieces.append("(?:" if syntax == "(" or syntax.startswith("(?P<") else syntax)
        pos = token.end()
    if pos < len(pattern):
        pieces.append(_words_to_regex(_normalise_literal(pattern[pos:], _PATTERN_STEPS)))
    return "".join(pieces)


def _term_body(term: str) -> str:
    normal = _normalise_literal(term, _TERM_STEPS).strip()
    words = []
    for word in normal.split(" "):
        runs = re.finditer(r"(.)\1*", word)
        words.append("".join(_letter_run(run.group()) for run in runs))
    return r"\s*".join(words)


def _letter_run(run: str) -> str:
    letter = re.escape(run[0])
    return f"{letter}+" if len(run) == 1 else f"{letter}{{{len(run)},}}"


def _whole_words(body: str) -> str:
    return rf"(?<!\w)(?:{body})(?!\w)"


def _spaced(text: str) -> str:
    # Normalised text is words separated by single spaces. With a space in front, every word
    # start is a space, so the combined pattern can begin with a literal space instead of a
    # look-behind; the engine then only tries the alternatives at word starts.
    return " " + text


def _compile_each(
    kind: str, sources: Sequence[str], body: Callable[[str], str]
) -> list[tuple[str, re.Pattern[str]]]:
    compiled: list[tuple[str, re.Pattern[str]]] = []
    for source in sources:
        if not isinstance(source, str) or not source.strip():
            raise ValueError(f"{kind} {source!r}: must be a non-empty string")
        if _BACKREFERENCE.search(source):
            raise ValueError(f"{kind} {source!r}: backreferences are not supported")
        text = body(source.strip())
        try:
            regex = re.compile(_whole_words(text))
            empty = re.compile(text).fullmatch("") is not None
        except re.error as error:
            raise ValueError(f"{kind} {source!r}: invalid pattern ({error})") from error
        if empty:
            raise ValueError(f"{kind} {source!r}: would match empty text")
        compiled.append((source, regex))
    return compiled


def _combine(
    kind: str, sources: Sequence[str], body: Callable[[str], str]
) -> re.Pattern[str] | None:
    """One alternation for all, searched in `_spaced` text: a clean message costs one regex
    search, not one per term. A match starts at the space before the words it matched."""
    if not sources:
        return None
    bodies = "|".join(f"(?:{body(source.strip())})" for source in sources)
    try:
        return re.compile(rf" (?:{bodies})(?!\w)")
    except re.error as error:  # e.g. the same group name in two patterns
        raise ValueError(f"{kind}s cannot be combined: {error}") from error


def _which(each: list[tuple[str, re.Pattern[str]]], text: str, start: int) -> str:
    # The alternation takes the first alternative that matches at the leftmost position, so
    # the first single pattern that matches there is the one that fired.
    for source, regex in each:
        if regex.match(text, start):
            return source
    return each[0][0]  # unreachable while the alternation and the singles agree


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
        self._patterns = _compile_each("crisis pattern", patterns, _pattern_body)
        self._any_pattern = _combine("crisis pattern", patterns, _pattern_body)
        _compile_each("crisis exclusion", exclusions, _pattern_body)  # for its error messages
        self._any_exclusion = _combine("crisis exclusion", exclusions, _pattern_body)

    def find(self, text: str) -> CrisisMatch | None:
        if self._any_pattern is None:
            return None
        normal = _spaced(self._normalise(text))
        if self._any_exclusion is not None:
            # A space, not nothing, so the words either side cannot fuse into a new phrase.
            normal = self._any_exclusion.sub(" ", normal)
        match = self._any_pattern.search(normal)
        if match is None:
            return None
        return self._locate(text, self._any_pattern) or CrisisMatch(
            term=_which(self._patterns, normal, match.start() + 1),
            excerpt=text[:EXCERPT_CHARS],
        )

    def _locate(self, text: str, any_pattern: re.Pattern[str]) -> CrisisMatch | None:
        normal, origin = self._normalise.tracked(text)
        normal, origin = _spaced(normal), [0, *origin]
        if self._any_exclusion is not None:
            normal, origin = _sub_tracked(self._any_exclusion, " ", normal, origin)
        match = any_pattern.search(normal)
        if match is None:
            return None
        start = origin[match.start() + 1]
        end = origin[match.end() - 1] + 1
        return CrisisMatch(
            term=_which(self._patterns, normal, match.start() + 1),
            excerpt=_excerpt(text, start, end),
        )


class TermBlocker:
    """Blocked terms (slurs etc.): whole-word, case-insensitive, surviving the same obfuscations."""

    def __init__(self, terms: Sequence[str]) -> None:
        self._normalise = _Normaliser(collapse=False)
        self._terms = _compile_each("blocked term", terms, _term_body)
        self._any_term = _combine("blocked term", terms, _term_body)

    def find(self, text: str) -> str | None:
        if self._any_term is None:
            return None
        normal = _spaced(self._normalise(text))
        match = self._any_term.search(normal)
        if match is None:
            return None
        return _which(self._terms, normal, match.start() + 1)


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
    pieces: list[str] = []
    pos = 0
    for start, end in find_contacts(text):
        pieces.append(text[pos:start])
        pieces.append(mask)
        pos = end
    pieces.append(text[pos:])
    return "".join(pieces)
