"""Text normalization for training data.

Full NFKC is not applied, because it turns the full-width punctuation of
Chinese text into ASCII (，→ , ：→ : ？→ ? （）→ ()), which changes the
punctuation style a tuned model learns, while 。、“” stay full-width and the
result is a mix. Instead:

1. Unicode NFC, so that one character has one encoding.
2. NFKC for the characters where it is safe: full-width ASCII letters and
   digits (Ａ→A, ０→0), Kangxi and CJK radicals left by PDF extraction
   (⼤→大), CJK compatibility ideographs and Latin ligatures (ﬁ→fi).
3. No-break and other fixed-width spaces become an ASCII space.
4. :func:`qiao.knowledge.encoding.normalize_text`: line endings, zero-width
   and control characters removed (tab and newline kept), runs of spaces
   collapsed, trailing spaces and extra blank lines removed. Indentation
   inside the text is kept because answers contain code, but the text as a
   whole loses leading and trailing whitespace.

Full-width punctuation, circled numbers (①) and other symbols stay as written.
"""

from __future__ import annotations

import re
import unicodedata

from qiao.knowledge.encoding import normalize_text

__all__ = ["normalize_message_text"]

# Characters folded with NFKC: full-width alphanumerics, Kangxi radicals, CJK
# radicals supplement, CJK compatibility ideographs, and alphabetic
# presentation forms (Latin ligatures).
_NFKC_SAFE = re.compile(
    "[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a\u2e80-\u2eff\u2f00-\u2fdf\uf900-\ufaff\ufb00-\ufb06]"
)
_FIXED_SPACES = re.compile("[\u00a0\u2000-\u200a\u202f\u205f]")


def normalize_message_text(text: str) -> str:
    """Return ``text`` normalized as the module docstring describes."""
    text = unicodedata.normalize("NFC", text)
    text = _NFKC_SAFE.sub(lambda match: unicodedata.normalize("NFKC", match.group()), text)
    text = _FIXED_SPACES.sub(" ", text)
    return normalize_text(text, keep_indent=True).strip()
