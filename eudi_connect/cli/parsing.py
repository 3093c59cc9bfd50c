"""The argument parser every command uses: help that shows defaults, typed option values.

Kept free of the service's imports: `eudi-connect --help` and each command's parser load
only this and argparse.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends "(default: X)" to an option's help unless the help already says what the
    default is, or there is none to show (None, a flag that is off); never breaks a line
    inside a word (an option name, a path, a URL)."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(
            " ".join(text.split()), width, break_long_words=False, break_on_hyphens=False
        )

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        nothing = default is None or default is False or default in ("", argparse.SUPPRESS)
        if not action.option_strings or nothing or "default" in text:
            return text
        return f"{text} (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose sub-commands (of any depth) share its help formatter."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


def base64url(text: str) -> bytes:
    from eudi_connect.core.encoding import b64url_decode  # only when the option is given

    try:
        return b64url_decode(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not base64url") from None


def openid4vp_flags(parser: argparse.ArgumentParser) -> None:
    """The rest of an mdoc's OpenID4VP session transcript, beside --audience and --nonce."""
    parser.add_argument("--response-uri", help="mdoc: the OpenID4VP response_uri")
    parser.add_argument(
        "--jwk-thumbprint",
        type=base64url,
        help="mdoc: base64url SHA-256 thumbprint of the verifier's response encryption key",
    )


def positive_int(text: str) -> int:
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def non_negative_int(text: str) -> int:
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def non_negative_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value >= 0:
        raise argparse.ArgumentTypeError("must be a number of seconds, 0 or more")
    return value


def positive_float(text: str) -> float:
    value = non_negative_float(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be a number of seconds above 0")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
