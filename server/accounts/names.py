"""Display names no one can fake: two names that look alike (case, accents, spacing and
punctuation aside, letters from other scripts that look Latin: Unicode's confusables data,
UTS #39) are one name, and only staff may call themselves staff."""

from __future__ import annotations

import functools
import re
import unicodedata

from confusable_homoglyphs import confusables

# Words that would make a member look like staff to the others in a room.
STAFF_WORDS = re.compile(
    r"\b(staff|moderator|mod|admin|administrator|clinician|counsel+or|therapist|nurse|doctor|"
    r"dr|facilitator|peerrooms)\b"
)


@functools.cache
def _latin_lookalike(character: str) -> str:
    """The Latin character this one looks like, or itself."""
    found = confusables.is_confusable(character, preferred_aliases=["latin"])
    if not found:
        return character
    for homoglyph in found[0]["homoglyphs"]:
        if all(unicodedata.name(c, "").startswith("LATIN") for c in homoglyph["c"]):
            return str(homoglyph["c"])
    return character


def skeleton(name: str) -> str:
    """What a name looks like: equal skeletons, one name."""
    text = "".join(_latin_lookalike(c) for c in unicodedata.normalize("NFKC", name))
    folded = unicodedata.normalize("NFKD", text).casefold()
    return "".join(c for c in folded if c.isalnum())


def looks_like_staff(name: str) -> bool:
    text = unicodedata.normalize("NFKD", "".join(_latin_lookalike(c) for c in name)).casefold()
    plain = "".join(c for c in text if not unicodedata.combining(c))
    return STAFF_WORDS.search(plain) is not None
