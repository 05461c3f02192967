"""Personal data scrubbing: each match is replaced by a placeholder and counted.

Kinds, in the order they are applied (earlier kinds claim digits first):

- ``email`` → ``[EMAIL]``: ``local@domain.tld`` with an ASCII local part.
- ``id_card`` → ``[ID_CARD]``: an 18-character resident ID number (GB 11643):
  17 digits and a check character 0-9 or X, accepted only when the check
  character matches ISO 7064 MOD 11-2 and digits 7-14 form a valid birth
  date from 1900 on. A 15-digit first-generation number is not matched.
- ``bank_card`` → ``[BANK_CARD]``: 16 to 19 digits, written together or in
  groups of four separated by spaces or hyphens, accepted only when the Luhn
  checksum holds.
- ``phone`` → ``[PHONE]``: a mainland mobile number, 1[3-9] and 9 more digits,
  optionally after +86, 0086 or 86 and written as 3-4-4 groups. Landline
  numbers are not matched.
- ``address`` → ``[ADDRESS]``, only on request: see :data:`ADDRESS_PATTERN`.

Digit runs are matched whole (no digit may touch a match on either side, and
no decimal point may join one), so an order number of 25 digits or the
fraction 0.9381531715393066 is neither a card nor a phone number.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter

__all__ = ["ADDRESS_PATTERN", "PII_KINDS", "PiiScrubber", "id_card_valid", "luhn_valid"]

PII_KINDS = ("email", "id_card", "bank_card", "phone", "address")
PLACEHOLDERS = {
    "email": "[EMAIL]",
    "id_card": "[ID_CARD]",
    "bank_card": "[BANK_CARD]",
    "phone": "[PHONE]",
    "address": "[ADDRESS]",
}

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_ID_CARD = re.compile(r"(?<!\d)(?<!\d\.)\d{17}[\dXx](?![\dA-Za-z]|\.\d)")
_BANK_CARD = re.compile(
    r"(?<!\d)(?<!\d\.)(?:\d{16,19}|\d{4}(?:[ -]\d{4}){3}(?:[ -]?\d{1,3})?)(?!\d|\.\d)"
)
_PHONE = re.compile(
    r"(?<![\d+])(?<!\d\.)(?:(?:\+|00)?86[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}(?!\d|\.\d)"
)

_ID_WEIGHTS = [2 ** (17 - index) % 11 for index in range(17)]
_ID_CHECK_CHARS = "10X98765432"

# Address heuristic. Optional administrative units (a 2-6 character name
# ending in 省 自治区 市 州 盟 区 县 旗 镇 乡 or 街道), then either
#   a road (路 大道 街 巷 弄 胡同 里, name up to 10 characters) and a house
#   number (digits or Chinese numerals, then 号), or
#   a compound (小区 花园 公寓 大厦 村 苑), both optionally followed by
#   building, unit, floor and room numbers (栋 幢 座 号楼 单元 层 楼 室 号).
# Name characters exclude common function words (在 住 于 到 是 的 我 ...), so
# "我住在朝阳区…" loses only "朝阳区…". Known misses: addresses without a
# house number or compound ("北京市海淀区"), and names containing those words.
_FUNCTION_CHARS = "在住于到是的了我你他她们和与及或从往去来要想请把被给对向这那个为址就也都还很"
_NAME_CHAR = rf"(?:(?![{_FUNCTION_CHARS}])[\u4e00-\u9fff])"
_NUMERAL = r"[0-9一二三四五六七八九十百零〇]+"
_ADMIN = rf"(?:{_NAME_CHAR}{{2,6}}?(?:自治区|省|市|州|盟|区|县|旗|镇|乡|街道))"
_ROAD = rf"(?:(?:{_NAME_CHAR}|\d){{1,10}}?(?:大道|路|街|巷|弄|胡同|里))"
_DETAIL = rf"(?:{_NUMERAL}(?:号楼|栋|幢|座|单元|层|楼|室|号))"
ADDRESS_PATTERN = re.compile(
    rf"{_ADMIN}*(?:{_ROAD}{_NUMERAL}号(?:院)?|{_NAME_CHAR}{{1,8}}?(?:小区|花园|公寓|大厦|村|苑))"
    rf"{_DETAIL}*"
)


def id_card_valid(number: str) -> bool:
    """Return whether an 18-character resident ID passes MOD 11-2 and has a real birth date."""
    if len(number) != 18 or not number[:17].isdigit():
        return False
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK_CHARS[total % 11] != number[17].upper():
        return False
    try:
        birth = datetime.date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return False
    return datetime.date(1900, 1, 1) <= birth


def luhn_valid(digits: str) -> bool:
    """Return whether a digit string passes the Luhn (mod 10) checksum."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char)
        if index % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


class PiiScrubber:
    """Replaces personal data in texts with placeholders and counts replacements per kind."""

    def __init__(self, *, addresses: bool = False) -> None:
        self.addresses = addresses
        self.counts: Counter[str] = Counter()

    def scrub(self, text: str) -> str:
        text = self._replace(_EMAIL, text, "email", None)
        text = self._replace(_ID_CARD, text, "id_card", id_card_valid)
        text = self._replace(_BANK_CARD, text, "bank_card", _bank_card_valid)
        text = self._replace(_PHONE, text, "phone", None)
        if self.addresses:
            text = self._replace(ADDRESS_PATTERN, text, "address", None)
        return text

    def _replace(self, pattern: re.Pattern[str], text: str, kind: str, check) -> str:
        def substitute(match: re.Match[str]) -> str:
            if check is not None and not check(match.group()):
                return match.group()
            self.counts[kind] += 1
            return PLACEHOLDERS[kind]

        return pattern.sub(substitute, text)


def _bank_card_valid(candidate: str) -> bool:
    digits = re.sub(r"[ -]", "", candidate)
    return 16 <= len(digits) <= 19 and luhn_valid(digits)
