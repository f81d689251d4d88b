"""The password generator: length and character classes, drawn with `secrets`."""

import secrets
import string
from dataclasses import dataclass

MIN_LENGTH = 8
MAX_LENGTH = 128
DEFAULT_LENGTH = 20

# Symbols that survive shells, URLs and most password forms without quoting.
SYMBOLS = "!#$%&*+-.:=?@^_~"
# Characters people misread (O/0, l/1/I) are left out when asked.
AMBIGUOUS = set("O0oIl1|")

CLASSES = {
    "lower": ("Lower-case letters", string.ascii_lowercase),
    "upper": ("Upper-case letters", string.ascii_uppercase),
    "digits": ("Digits", string.digits),
    "symbols": ("Symbols", SYMBOLS),
}


@dataclass(frozen=True)
class Recipe:
    """What to generate: a length and the character classes to draw from."""

    length: int = DEFAULT_LENGTH
    classes: tuple[str, ...] = ("lower", "upper", "digits", "symbols")
    avoid_ambiguous: bool = False


def generate(recipe: Recipe) -> str:
    """A password of `recipe.length` holding at least one of each chosen class.

    Raises ValueError for a length out of range or no class chosen.
    """
    if not MIN_LENGTH <= recipe.length <= MAX_LENGTH:
        raise ValueError(f"the length must be from {MIN_LENGTH} to {MAX_LENGTH}")
    pools: list[str] = []
    for name in recipe.classes:
        pool = CLASSES[name][1]
        if recipe.avoid_ambiguous:
            pool = "".join(c for c in pool if c not in AMBIGUOUS)
        pools.append(pool)
    if not pools:
        raise ValueError("choose at least one kind of character")

    # One from each class first, the rest from all of them, then a shuffle by
    # SystemRandom so the guaranteed characters are not at the front.
    alphabet = "".join(pools)
    chars = [secrets.choice(pool) for pool in pools]
    chars += [secrets.choice(alphabet) for _ in range(recipe.length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)
