"""Keyed index permutation: a bijection, random-looking, deterministic per key."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eudi_connect.core.index_permutation import IndexPermutation, new_permutation_key

KEY_A = bytes(range(32))
KEY_B = bytes(range(1, 33))


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 15, 16, 17, 100, 255, 256, 1000, 5000, 4096])
def test_every_position_maps_to_a_distinct_index(size: int) -> None:
    """Over the whole domain the indices are exactly 0..size-1, each once."""
    permutation = IndexPermutation(KEY_A, size)
    assert sorted(permutation.index(p) for p in range(size)) == list(range(size))


def test_large_list_positions_never_collide() -> None:
    """20,000 positions spread over a 2^17 list give 20,000 distinct in-range indices."""
    size = 1 << 17
    permutation = IndexPermutation(KEY_A, size)
    indices = [permutation.index(p) for p in range(0, size, 6)] + [permutation.index(size - 1)]
    assert len(set(indices)) == len(indices)
    assert all(0 <= i < size for i in indices)


def test_same_key_gives_the_same_order() -> None:
    """The order is a pure function of key and size, so a restarted server continues it."""
    first = [IndexPermutation(KEY_A, 4096).index(p) for p in range(500)]
    second = [IndexPermutation(KEY_A, 4096).index(p) for p in range(500)]
    assert first == second


def test_different_keys_give_different_orders() -> None:
    """Each list's secret key yields its own order."""
    a = [IndexPermutation(KEY_A, 4096).index(p) for p in range(100)]
    b = [IndexPermutation(KEY_B, 4096).index(p) for p in range(100)]
    assert a != b
    assert sum(x == y for x, y in zip(a, b, strict=True)) < 5


def test_same_key_different_sizes_give_unrelated_orders() -> None:
    """Reusing a key for a list of another size does not reuse its order."""
    a = [IndexPermutation(KEY_A, 4096).index(p) for p in range(100)]
    b = [IndexPermutation(KEY_A, 4000).index(p) for p in range(100)]
    assert sum(x == y for x, y in zip(a, b, strict=True)) < 5


def test_order_is_not_sequential() -> None:
    """Issuance order is hidden: few fixed points, and no rising run like a counter's."""
    size = 4096
    indices = [IndexPermutation(KEY_A, size).index(p) for p in range(size)]
    assert sum(i == p for p, i in enumerate(indices)) < 10
    rises = sum(b > a for a, b in itertools.pairwise(indices))
    assert 0.4 * size < rises < 0.6 * size


def test_early_positions_spread_over_the_whole_list() -> None:
    """The first 1,000 allocations land in all eight eighths of a 2^17 list, evenly."""
    size = 1 << 17
    permutation = IndexPermutation(KEY_A, size)
    buckets = [0] * 8
    for position in range(1000):
        buckets[permutation.index(position) * 8 // size] += 1
    assert all(80 <= count <= 170 for count in buckets)


@pytest.mark.parametrize("position", [-1, 100, 1 << 70])
def test_positions_outside_the_list_are_refused(position: int) -> None:
    """A position outside [0, size) is a caller bug and raises ValueError."""
    with pytest.raises(ValueError, match="out of range"):
        IndexPermutation(KEY_A, 100).index(position)


def test_non_integer_positions_are_refused() -> None:
    """Booleans are not positions."""
    with pytest.raises(TypeError):
        IndexPermutation(KEY_A, 100).index(True)


@pytest.mark.parametrize(
    ("key", "size", "rounds"),
    [
        (b"short", 100, 4),
        (bytes(65), 100, 4),
        (KEY_A, 0, 4),
        (KEY_A, (1 << 64) + 1, 4),
        (KEY_A, 100, 2),
        (KEY_A, 100, 65),
    ],
)
def test_unsafe_parameters_are_refused(key: bytes, size: int, rounds: int) -> None:
    """Short keys, empty or huge domains and too few rounds raise ValueError."""
    with pytest.raises(ValueError):  # noqa: PT011 - several distinct messages; the type is the contract
        IndexPermutation(key, size, rounds)


def test_repr_hides_the_key() -> None:
    """The key decides the whole order, so repr never shows it."""
    text = repr(IndexPermutation(KEY_A, 100))
    assert KEY_A.hex() not in text
    assert "size=100" in text


def test_new_keys_are_32_fresh_random_bytes() -> None:
    """Each new key is 32 bytes and differs from the last."""
    first, second = new_permutation_key(), new_permutation_key()
    assert len(first) == len(second) == 32
    assert first != second


@given(
    key=st.binary(min_size=16, max_size=64),
    size=st.integers(min_value=1, max_value=1 << 40),
    data=st.data(),
)
def test_index_is_always_in_range(key: bytes, size: int, data: st.DataObject) -> None:
    """For any key, size and position the index lies in [0, size)."""
    position = data.draw(st.integers(min_value=0, max_value=size - 1))
    assert 0 <= IndexPermutation(key, size).index(position) < size


@given(key=st.binary(min_size=16, max_size=64), size=st.integers(min_value=1, max_value=300))
def test_small_domains_are_bijections_for_any_key(key: bytes, size: int) -> None:
    """For any key, every small domain is permuted without a collision."""
    permutation = IndexPermutation(key, size)
    assert sorted(permutation.index(p) for p in range(size)) == list(range(size))
