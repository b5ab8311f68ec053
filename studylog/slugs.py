"""Slugs that keep Japanese (and any letters/digits) intact; punctuation becomes '-'."""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

_DASHES = re.compile(r"-{2,}")


@lru_cache(maxsize=65536)  # tag and series URLs are asked for on every page
def slugify(text: str, sep: str = "-") -> str:
    """'2017-12-04 週の日記' -> '2017-12-04-週の日記'.

    NFC only (not NFKC) so that no kana is changed; ASCII is lower-cased. Letters (L*),
    marks (M*, e.g. dakuten) and numbers (N*) are kept; everything else is a separator.
    Returns '' for a title of only symbols: callers fall back to the file name.
    """
    out = []
    for ch in unicodedata.normalize("NFC", text):
        cat = unicodedata.category(ch)
        if ch in "-_" or cat[0] in "LMN":
            out.append(ch.lower() if ch.isascii() else ch)
        else:
            out.append(sep)
    return _DASHES.sub(sep, "".join(out)).strip(sep + "_")


# symbols that make a tag what it is: "C++" and "C#" must not both become /tags/c/
_TAG_WORDS = {"+": "-plus-", "#": "-sharp-"}


@lru_cache(maxsize=4096)
def tag_slug(tag: str) -> str:
    """The one key of a tag (its URL, and what makes two spellings one tag): NFKC first, so
    full-width "ＧＡＮ" is "GAN" (a tag is matched, not shown, by it), then slugify; '+'/'#'
    become words. '' for a tag of other symbols only (content.py drops such tags)."""
    text = "".join(_TAG_WORDS.get(ch, ch) for ch in unicodedata.normalize("NFKC", tag))
    return slugify(text)


def toc_slugify(value: str, separator: str) -> str:
    """Heading anchors for the toc extension (same rule, Japanese untouched)."""
    return slugify(value, separator) or "section"
