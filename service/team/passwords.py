"""What a staff password must be: at least 12 characters, and not one that is easy to guess.

Easy to guess means, in the order checked: one of the 19,640 common passwords of the list
Django ships (data/README.md), also with digits or punctuation added before or after
("Sommer2024!" is "sommer" plus a year and a sign, the first thing a cracker tries); a short
piece repeated ("abcabcabcabc"); a run along the keyboard or the alphabet ("1234567890ab");
or little more than the account's own e-mail address, its part before the @ or its name. The
list is read once, on first use, into a set (about 1 MB).

Length counts the characters as typed: spaces belong to a passphrase. The upper bound keeps the
work of hashing bounded.
"""

from __future__ import annotations

import gzip
import re
from functools import cache
from pathlib import Path

from service.i18n import gettext as _

MIN_LENGTH = 12
MAX_LENGTH = 1000
# What must be left of a password once the name or address in it is taken out.
PERSONAL_REST = 8
LIST_PATH = Path(__file__).parent / "data" / "common-passwords.txt.gz"
# Digits, punctuation and spaces before or after the word: "!!sommer2024", "passwort 123".
_AFFIXES = re.compile(r"^[\W\d_]*(.*?)[\W\d_]*$", re.UNICODE)
_REPEATED = re.compile(r"^(.{1,6}?)\1+$", re.DOTALL)
_RUNS = (
    "01234567890",
    "abcdefghijklmnopqrstuvwxyz",
    "qwertzuiopasdfghjklyxcvbnm",
    "qwertyuiopasdfghjklzxcvbnm",
    "azertyuiopqsdfghjklmwxcvbn",
    "1qaz2wsx3edc4rfv5tgb6zhn7ujm8ik9ol0p",
    "1qaz2wsx3edc4rfv5tgb6yhn7ujm8ik9ol0p",
)


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(LIST_PATH, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip() for line in lines if line.strip())


def _is_run(text: str) -> bool:
    """Whether `text` goes along one of the runs, forwards or backwards (repeating it too)."""
    for run in _RUNS:
        cycle = run * 3
        if text in cycle or text[::-1] in cycle:
            return True
    return False


def problem(password: str, *, email: str = "", name: str = "") -> str | None:
    """Why `password` will not do, in the reader's language; None when it will."""
    if len(password) < MIN_LENGTH:
        return _("At least %(n)s characters, please.", n=MIN_LENGTH)
    if len(password) > MAX_LENGTH:
        return _("At most %(n)s characters, please.", n=MAX_LENGTH)
    lowered = password.lower().strip()
    core = _AFFIXES.match(lowered)[1]  # type: ignore[index]
    common = common_passwords()
    if lowered in common or (core and core in common):
        return _(
            "This password is among the most common ones and easy to guess. "
            "Please choose another, e.g. several words that belong together only for you."
        )
    if _REPEATED.match(lowered) or _is_run(lowered.replace(" ", "")):
        return _(
            "This password follows a simple pattern (a repetition, a row of the keyboard or "
            "the alphabet) and is easy to guess. Please choose another."
        )
    # "anna.schmidt2024" is the address plus a year; "information-desk-orange" of info@… is not.
    personal = {email.lower(), email.lower().partition("@")[0], name.lower().strip()}
    if any(len(p) >= 3 and len(lowered.replace(p, "")) < PERSONAL_REST for p in personal):
        return _("Please do not use your name or e-mail address in your password.")
    return None
