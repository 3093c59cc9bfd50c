"""The names a mistyped one most likely meant, for errors that say what was meant."""

from __future__ import annotations

from collections.abc import Iterable


def close_matches(word: str, choices: Iterable[str]) -> list[str]:
    """The choices that look like a misspelling of `word`, closest first (at most three)."""
    import difflib  # only a refusal needs it; command-line start-up does not

    return difflib.get_close_matches(word, list(choices), n=3, cutoff=0.6)


def with_guesses(names: Iterable[str], choices: Iterable[str]) -> str:
    """`'birth_date' (did you mean 'birthdate'?), 'nickname'`: each name quoted, with the
    choices it most likely misspells."""
    known = list(choices)
    described = []
    for name in names:
        close = close_matches(name, known)
        guess = f" (did you mean {' or '.join(repr(c) for c in close)}?)" if close else ""
        described.append(f"{name!r}{guess}")
    return ", ".join(described)
