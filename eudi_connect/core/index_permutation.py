"""Random, never-repeating status list indices: a keyed pseudo-random permutation.

draft-ietf-oauth-status-list-17 recommends non-sequential, pseudo-random indices
(sections 12.4 and 12.5.1), so an index says nothing about issuance order or volume, and
forbids unintended double allocation (section 13.3). A store keeps one
counter per list; position ``p = 0, 1, 2, ...`` maps to ``index(p)``. Because the map is a
bijection of ``[0, size)``, distinct positions can never give the same index, and no set
of used indices has to be stored or searched.

Construction: a balanced Feistel network over ``2**(2h)`` values, the smallest even bit
width that covers ``size`` (Luby and Rackoff: a Feistel network of at least three rounds
with pseudo-random round functions is a pseudo-random permutation), made to fit
``[0, size)`` by cycle walking (Black and Rogaway, "Ciphers with arbitrary finite
domains"). The round function is keyed BLAKE2b truncated to ``h`` bits. The domain is
less than four times ``size``, so a call walks fewer than four times on average.
"""

from __future__ import annotations

import hashlib
import secrets

_KEY_BYTES = 32
_MIN_KEY_BYTES = 16
_MAX_KEY_BYTES = 64  # BLAKE2b's key limit
_DIGEST_BYTES = 8  # round outputs of up to 64 bits, enough for halves of up to 32 bits
_MAX_SIZE = 1 << 64
_MIN_ROUNDS = 3
_MAX_ROUNDS = 64
_PERSON = b"eudi-idx-perm-v1"  # 16 bytes: BLAKE2b personalisation keeps uses apart


def new_permutation_key() -> bytes:
    """A fresh per-list secret: 32 bytes from the OS's CSPRNG."""
    return secrets.token_bytes(_KEY_BYTES)


class IndexPermutation:
    """A keyed bijection of ``[0, size)``: ``index(position)`` never repeats for one key."""

    __slots__ = ("_half_bits", "_half_mask", "_round_hashes", "size")

    def __init__(self, key: bytes, size: int, rounds: int = 4) -> None:
        if not isinstance(key, bytes | bytearray) or not (
            _MIN_KEY_BYTES <= len(key) <= _MAX_KEY_BYTES
        ):
            raise ValueError(f"key must be {_MIN_KEY_BYTES} to {_MAX_KEY_BYTES} bytes")
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= _MAX_SIZE:
            raise ValueError(f"size must be between 1 and 2**64, got {size!r}")
        if not _MIN_ROUNDS <= rounds <= _MAX_ROUNDS:
            # Fewer than three Feistel rounds is not a pseudo-random permutation.
            raise ValueError(f"rounds must be between {_MIN_ROUNDS} and {_MAX_ROUNDS}")
        self.size = size
        # Smallest h >= 1 with 2**(2h) >= size: the two halves are h bits each.
        self._half_bits = max(1, ((size - 1).bit_length() + 1) // 2)
        self._half_mask = (1 << self._half_bits) - 1
        # The keyed state for each round is computed once; a call only copies it and
        # absorbs the half-block. The size is absorbed too, so one key reused for lists
        # of different sizes gives unrelated permutations.
        base = hashlib.blake2b(key=bytes(key), digest_size=_DIGEST_BYTES, person=_PERSON)
        base.update(size.to_bytes(8, "little"))
        round_hashes = []
        for number in range(rounds):
            state = base.copy()
            state.update(number.to_bytes(1, "little"))
            round_hashes.append(state)
        self._round_hashes = tuple(round_hashes)

    def _feistel(self, value: int) -> int:
        half_bits = self._half_bits
        mask = self._half_mask
        left, right = value >> half_bits, value & mask
        for state in self._round_hashes:
            h = state.copy()
            h.update(right.to_bytes(4, "little"))
            left, right = right, left ^ (int.from_bytes(h.digest(), "little") & mask)
        return (left << half_bits) | right

    def index(self, position: int) -> int:
        """The status list index for the ``position``-th allocation in this list."""
        if isinstance(position, bool) or not isinstance(position, int):
            raise TypeError(f"position must be an integer, got {type(position).__name__}")
        if not 0 <= position < self.size:
            raise ValueError(f"position {position} out of range for a list of {self.size}")
        value = self._feistel(position)
        # Cycle walking: the permutation's cycle through `position` must come back into
        # [0, size), at the latest at `position` itself, so this ends.
        while value >= self.size:
            value = self._feistel(value)
        return value

    def __repr__(self) -> str:
        # The key is secret (it is the list's allocation order): never print it.
        return f"IndexPermutation(size={self.size}, rounds={len(self._round_hashes)})"
