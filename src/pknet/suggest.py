"""Did-you-mean suggestions for a word that names nothing known (keys, columns, nodes, terms)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

CUTOFF = 0.6  # difflib's similarity ratio below which an option is not suggested


def closest(word: str, options: Iterable[str], n: int = 1) -> list[str]:
    """Up to `n` options closest to `word`: one equal to it ignoring case first, then the most
    similar ones."""
    options = list(options)
    folded = {o.casefold(): o for o in options}
    same = [folded[word.casefold()]] if word.casefold() in folded else []
    similar = difflib.get_close_matches(word, options, n=n, cutoff=CUTOFF)
    return list(dict.fromkeys(same + similar))[:n]


def did_you_mean(word: object, options: Iterable[str]) -> str | None:
    """ "did you mean `x`?" for the option closest to `word`, or None (also for a non-string)."""
    if not isinstance(word, str):
        return None
    found = closest(word, options)
    return f"did you mean `{found[0]}`?" if found else None
