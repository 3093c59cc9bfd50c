"""Token Status List: the draft's own examples and vectors, bit order, limits, the JWT."""

from __future__ import annotations

import json
import tracemalloc
import zlib
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eudi_connect.core.encoding import b64url_decode, b64url_encode, json_bytes
from eudi_connect.core.jose import SigningKey, es256_sign, generate_p256_key, sign_jws, split_jws
from eudi_connect.core.status_list import (
    StatusList,
    StatusListError,
    StatusListToken,
    TokenStatus,
    build_status_list_token,
    decode_status_list_token,
)

VECTORS = json.loads(
    (Path(__file__).parents[1] / "fixtures" / "status_list" / "draft_vectors.json").read_text()
)
EXAMPLES: list[dict[str, Any]] = VECTORS["byte_array_examples"]
APPENDIX_C: list[dict[str, Any]] = VECTORS["test_vectors"]
URI = "https://issuer.example/statuslists/1"
IAT = 1_700_000_000
EXP = IAT + 3600


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [case["name"] for case in cases]


@pytest.fixture(scope="module")
def signing_key() -> SigningKey:
    return SigningKey("status-key-1", generate_p256_key())


def _token(
    signing_key: SigningKey,
    status_list: StatusList | None = None,
    *,
    uri: str = URI,
) -> str:
    return build_status_list_token(
        status_list or StatusList(64),
        uri=uri,
        issued_at=IAT,
        expires_at=EXP,
        ttl=300,
        signing_key=signing_key,
    )


def _crafted(signing_key: SigningKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """Signs arbitrary header and payload, for tokens our builder would never make."""
    return sign_jws(header, payload, signing_key.private_key)


def _payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "sub": URI,
        "iat": IAT,
        "exp": EXP,
        "ttl": 300,
        "status_list": StatusList(64).to_json(),
    }
    payload.update(overrides)
    return {k: v for k, v in payload.items() if v is not None}


def _bomb(expanded_bytes: int) -> str:
    """A small lst that inflates to ``expanded_bytes`` zero bytes."""
    deflater = zlib.compressobj(9, zlib.DEFLATED, zlib.MAX_WBITS, 9, zlib.Z_RLE)
    chunk = bytes(1 << 20)
    parts = [deflater.compress(chunk) for _ in range(expanded_bytes // len(chunk))]
    return b64url_encode(b"".join(parts) + deflater.flush())


# --- the draft's examples (sections 4.1 and 4.2) -------------------------------------------


@pytest.mark.parametrize("example", EXAMPLES, ids=_ids(EXAMPLES))
def test_example_lst_decodes_to_the_example_byte_array(example: dict[str, Any]) -> None:
    """The draft's compressed lst inflates to exactly the byte array it illustrates."""
    decoded = StatusList.from_json({"bits": example["bits"], "lst": example["lst"]})
    assert decoded.to_bytes() == bytes.fromhex(example["byte_array_hex"])
    assert decoded.bits == example["bits"]


@pytest.mark.parametrize("example", EXAMPLES, ids=_ids(EXAMPLES))
def test_example_lst_is_the_example_compressed_array(example: dict[str, Any]) -> None:
    """The lst of section 4.2 is the base64url of section 4.1's compressed hex."""
    assert b64url_decode(example["lst"]).hex() == example["compressed_hex"]


@pytest.mark.parametrize("example", EXAMPLES, ids=_ids(EXAMPLES))
def test_example_statuses_pack_into_the_example_bytes(example: dict[str, Any]) -> None:
    """Setting the example's statuses one by one yields the draft's bytes (bit order)."""
    status_list = StatusList(example["size"], example["bits"])
    for index, status in enumerate(example["statuses"]):
        status_list.set(index, status)
    assert status_list.to_bytes() == bytes.fromhex(example["byte_array_hex"])


@pytest.mark.parametrize("example", EXAMPLES, ids=_ids(EXAMPLES))
def test_example_statuses_read_back_from_the_example_lst(example: dict[str, Any]) -> None:
    """Every status of the example is read back from the draft's own lst."""
    decoded = StatusList.from_json({"bits": example["bits"], "lst": example["lst"]})
    assert [decoded.get(i) for i in range(example["size"])] == example["statuses"]


@pytest.mark.parametrize("example", EXAMPLES, ids=_ids(EXAMPLES))
def test_our_encoding_of_the_example_decodes_to_the_same_bytes(example: dict[str, Any]) -> None:
    """Our lst may differ from the draft's byte for byte, but it inflates to the same array."""
    data = bytes.fromhex(example["byte_array_hex"])
    ours = StatusList(len(data) * 8 // example["bits"], example["bits"], data).to_json()
    assert ours["bits"] == example["bits"]
    assert zlib.decompress(b64url_decode(ours["lst"])) == data
    assert StatusList.from_json(ours).to_bytes() == data


# --- the draft's test vectors (Appendix C) ----------------------------------------------------


@pytest.mark.parametrize("vector", APPENDIX_C, ids=_ids(APPENDIX_C))
def test_appendix_c_lst_matches_its_entries(vector: dict[str, Any]) -> None:
    """Each Appendix C lst decodes to the 2^20-entry list its sparse entries describe."""
    entries = [(index, status) for index, status in vector["entries"]]
    expected = StatusList.from_entries(vector["size"], entries, bits=vector["bits"])
    decoded = StatusList.from_json({"bits": vector["bits"], "lst": vector["lst"]})
    assert decoded == expected
    for index, status in entries:
        assert decoded.get(index) == status


@pytest.mark.parametrize("vector", APPENDIX_C, ids=_ids(APPENDIX_C))
def test_appendix_c_round_trips_through_our_encoding(vector: dict[str, Any]) -> None:
    """Our encoding of each Appendix C list decodes to the same list."""
    entries = [(index, status) for index, status in vector["entries"]]
    built = StatusList.from_entries(vector["size"], entries, bits=vector["bits"])
    assert StatusList.from_json(built.to_json()) == built


def test_appendix_c_8_bit_list_fills_the_default_cap_exactly() -> None:
    """The 1 MiB 8-bit vector is accepted at the default cap and refused one byte below it."""
    vector = next(v for v in APPENDIX_C if v["bits"] == 8)
    obj = {"bits": 8, "lst": vector["lst"]}
    assert StatusList.from_json(obj).size == 1 << 20
    with pytest.raises(StatusListError) as caught:
        StatusList.from_json(obj, max_bytes=(1 << 20) - 1)
    assert caught.value.reason == "STATUS_LIST_TOO_LARGE"


# --- layout and bit order ------------------------------------------------------------------


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_index_zero_is_in_the_least_significant_bits_of_byte_zero(bits: int) -> None:
    """Index 0 sets the lowest bits of byte 0; the last index of a byte sets its top bits."""
    per_byte = 8 // bits
    status_list = StatusList(per_byte * 2, bits)
    status_list.set(0, 1)
    assert status_list.to_bytes() == bytes([0x01, 0x00])
    status_list.set(per_byte - 1, 1)
    assert status_list.to_bytes()[0] == 0x01 | (1 << (8 - bits))
    status_list.set(per_byte, 1)
    assert status_list.to_bytes()[1] == 0x01


@pytest.mark.parametrize("bits", [1, 2, 4, 8])
def test_every_value_of_every_width_is_stored_and_read_back(bits: int) -> None:
    """Each entry holds any value of its width without touching its neighbours."""
    size = 64
    top = (1 << bits) - 1
    status_list = StatusList(size, bits)
    for index in range(size):
        status_list.set(index, index % (top + 1))
    assert [status_list.get(i) for i in range(size)] == [i % (top + 1) for i in range(size)]
    status_list.set(5, top)
    status_list.set(5, 0)
    assert status_list.get(4) == 4 % (top + 1)
    assert status_list.get(6) == 6 % (top + 1)
    assert StatusList.from_json(status_list.to_json()) == status_list


@pytest.mark.parametrize(("size", "bits", "length"), [(1, 1, 1), (9, 1, 2), (5, 2, 2), (3, 8, 3)])
def test_byte_array_length_rounds_up_to_whole_bytes(size: int, bits: int, length: int) -> None:
    """The byte array has ceil(size * bits / 8) bytes (section 4.1, step 2)."""
    assert len(StatusList(size, bits).to_bytes()) == length


def test_decoded_size_is_every_entry_the_bytes_can_address() -> None:
    """A decoded list's size is bytes * 8 / bits: the JSON form carries no separate size."""
    decoded = StatusList.from_json(StatusList(10, bits=1).to_json())
    assert decoded.size == 16
    assert len(decoded) == 16


def test_token_status_values_are_the_drafts() -> None:
    """VALID, INVALID and SUSPENDED are 0, 1 and 2 as in section 7.1."""
    assert [TokenStatus.VALID, TokenStatus.INVALID, TokenStatus.SUSPENDED] == [0, 1, 2]


def test_from_entries_equals_setting_each_entry() -> None:
    """Building from sparse entries equals setting them one at a time, last one winning."""
    entries = [(0, 1), (7, 2), (8, 3), (1000, 1), (7, 1)]
    by_hand = StatusList(1024)
    for index, status in entries:
        by_hand.set(index, status)
    assert StatusList.from_entries(1024, entries) == by_hand
    assert by_hand.get(7) == TokenStatus.INVALID


def test_data_is_copied_not_shared() -> None:
    """A list built over caller bytes does not change when the caller's buffer does."""
    buffer = bytearray(2)
    status_list = StatusList(8, 2, buffer)
    buffer[0] = 0xFF
    assert status_list.get(0) == 0


def test_repr_shows_shape_not_contents() -> None:
    """repr names size and bits rather than dumping a possibly huge byte array."""
    assert repr(StatusList(16, 2)) == "StatusList(size=16, bits=2)"


# --- bad arguments -------------------------------------------------------------------------


@pytest.mark.parametrize("index", [-1, 16, 1 << 40])
def test_get_and_set_refuse_out_of_range_indices(index: int) -> None:
    """Reading or writing outside [0, size) raises IndexError."""
    status_list = StatusList(16)
    with pytest.raises(IndexError):
        status_list.get(index)
    with pytest.raises(IndexError):
        status_list.set(index, 1)


@pytest.mark.parametrize(("bits", "value"), [(1, 2), (2, 4), (4, 16), (8, 256), (2, -1)])
def test_set_refuses_values_wider_than_bits(bits: int, value: int) -> None:
    """A status that does not fit in the list's bit width raises ValueError."""
    with pytest.raises(ValueError, match="fit"):
        StatusList(8, bits).set(0, value)


@pytest.mark.parametrize(
    ("size", "bits", "data"),
    [(8, 3, None), (8, 0, None), (0, 2, None), (-1, 2, None), (8, 2, b"\x00"), (8, 2, b"\x00" * 3)],
)
def test_constructor_refuses_bad_shapes(size: int, bits: int, data: bytes | None) -> None:
    """Bits outside {1, 2, 4, 8}, a non-positive size or mis-sized data raise ValueError."""
    with pytest.raises(ValueError):  # noqa: PT011 - several distinct messages; the type is the contract
        StatusList(size, bits, data)


@pytest.mark.parametrize(("index", "value", "error"), [(16, 1, IndexError), (0, 4, ValueError)])
def test_from_entries_refuses_bad_entries(index: int, value: int, error: type[Exception]) -> None:
    """An entry outside the list or too wide for its bits is refused."""
    with pytest.raises(error):
        StatusList.from_entries(16, [(index, value)])


# --- hostile JSON --------------------------------------------------------------------------

_GOOD_LST = StatusList(16).to_json()["lst"]
_GOOD_RAW = b64url_decode(_GOOD_LST)
_RAW_DEFLATE = zlib.compressobj(9, zlib.DEFLATED, -15)
_GZIP = zlib.compressobj(9, zlib.DEFLATED, 31)

MALFORMED_JSON: list[tuple[str, Any]] = [
    ("not-an-object", ["bits", 2]),
    ("bits-missing", {"lst": _GOOD_LST}),
    ("bits-3", {"bits": 3, "lst": _GOOD_LST}),
    ("bits-true", {"bits": True, "lst": _GOOD_LST}),
    ("bits-string", {"bits": "2", "lst": _GOOD_LST}),
    ("lst-missing", {"bits": 2}),
    ("lst-not-text", {"bits": 2, "lst": 12}),
    ("lst-standard-base64", {"bits": 2, "lst": "eNo+/w=="}),
    ("lst-not-zlib", {"bits": 2, "lst": b64url_encode(b"plain bytes")}),
    ("lst-truncated", {"bits": 2, "lst": b64url_encode(_GOOD_RAW[:-3])}),
    ("lst-trailing-data", {"bits": 2, "lst": b64url_encode(_GOOD_RAW + b"tail")}),
    (
        "lst-raw-deflate",
        {"bits": 2, "lst": b64url_encode(_RAW_DEFLATE.compress(bytes(4)) + _RAW_DEFLATE.flush())},
    ),
    ("lst-gzip", {"bits": 2, "lst": b64url_encode(_GZIP.compress(bytes(4)) + _GZIP.flush())}),
    ("lst-empty-array", {"bits": 2, "lst": b64url_encode(zlib.compress(b""))}),
]


@pytest.mark.parametrize(
    "obj", [case for _, case in MALFORMED_JSON], ids=[name for name, _ in MALFORMED_JSON]
)
def test_malformed_status_list_json_is_refused(obj: Any) -> None:
    """Anything but {bits in 1/2/4/8, lst = base64url ZLIB stream} is STATUS_LIST_MALFORMED."""
    with pytest.raises(StatusListError) as caught:
        StatusList.from_json(obj)
    assert caught.value.reason == "STATUS_LIST_MALFORMED"


def test_zlib_bomb_is_refused_without_inflating_it() -> None:
    """A lst under 100 KB that inflates to 64 MiB is refused while using about max_bytes."""
    lst = _bomb(64 << 20)
    assert len(lst) < 1 << 20
    bomb = {"bits": 2, "lst": lst}
    tracemalloc.start()
    try:
        with pytest.raises(StatusListError) as caught:
            StatusList.from_json(bomb, max_bytes=1 << 20)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert caught.value.reason == "STATUS_LIST_TOO_LARGE"
    assert peak < 4 << 20


# --- the Status List Token (section 5.1) ---------------------------------------------------


def test_token_header_and_claims_follow_section_5_1(signing_key: SigningKey) -> None:
    """The JWT has typ statuslist+jwt, ES256, the kid, and sub/iat/exp/ttl/status_list."""
    status_list = StatusList.from_entries(64, [(3, 1)])
    parts = split_jws(_token(signing_key, status_list))
    assert parts.header == {"typ": "statuslist+jwt", "kid": "status-key-1", "alg": "ES256"}
    assert parts.payload == {
        "sub": URI,
        "iat": IAT,
        "exp": EXP,
        "ttl": 300,
        "status_list": status_list.to_json(),
    }


def test_token_round_trips(signing_key: SigningKey) -> None:
    """A built token decodes, with every check on, to the same list and claims."""
    status_list = StatusList.from_entries(1 << 12, [(1, 1), (4000, 2)])
    decoded = decode_status_list_token(
        _token(signing_key, status_list),
        public_key=signing_key.private_key.public_key(),
        now=IAT + 10,
        expected_uri=URI,
    )
    assert decoded == StatusListToken(
        status_list=status_list, sub=URI, iat=IAT, exp=EXP, ttl=300, kid="status-key-1"
    )
    assert decoded.status_list.get(4000) == TokenStatus.SUSPENDED


def test_token_typ_with_application_prefix_is_accepted(signing_key: SigningKey) -> None:
    """typ application/statuslist+jwt names the same media type (RFC 7515 section 4.1.9)."""
    token = _crafted(signing_key, {"typ": "application/statuslist+jwt"}, _payload())
    decoded = decode_status_list_token(token, public_key=signing_key.private_key.public_key())
    assert decoded.kid is None


def test_token_exp_leeway_allows_bounded_clock_skew(signing_key: SigningKey) -> None:
    """A token at its exp instant passes only within the given leeway."""
    public_key = signing_key.private_key.public_key()
    token = _token(signing_key)
    assert decode_status_list_token(token, public_key=public_key, now=EXP, leeway=5).exp == EXP
    with pytest.raises(StatusListError) as caught:
        decode_status_list_token(token, public_key=public_key, now=EXP + 5, leeway=5)
    assert caught.value.reason == "STATUS_LIST_EXPIRED"


def _refusal(token: str, signing_key: SigningKey, **kwargs: Any) -> str:
    with pytest.raises(StatusListError) as caught:
        decode_status_list_token(token, public_key=signing_key.private_key.public_key(), **kwargs)
    return caught.value.reason


def test_token_with_wrong_typ_is_refused(signing_key: SigningKey) -> None:
    """A JWT whose typ is not statuslist+jwt (or is missing) is refused."""
    assert _refusal(_crafted(signing_key, {"typ": "JWT"}, _payload()), signing_key) == (
        "STATUS_LIST_WRONG_TYP"
    )
    assert _refusal(_crafted(signing_key, {}, _payload()), signing_key) == "STATUS_LIST_WRONG_TYP"


def test_token_with_alg_none_is_refused(signing_key: SigningKey) -> None:
    """alg none (or anything off the allow-list) is refused before the signature is read."""
    header = b64url_encode(json_bytes({"typ": "statuslist+jwt", "alg": "none"}))
    body = b64url_encode(json_bytes(_payload()))
    signature = es256_sign(signing_key.private_key, f"{header}.{body}".encode())
    token = f"{header}.{body}.{b64url_encode(signature)}"
    assert _refusal(token, signing_key) == "STATUS_LIST_UNSUPPORTED_ALG"


def test_token_signed_by_another_key_is_refused(signing_key: SigningKey) -> None:
    """A signature by any other key does not verify."""
    other = SigningKey("status-key-1", generate_p256_key())
    assert _refusal(_token(other), signing_key) == "STATUS_LIST_BAD_SIGNATURE"


def test_token_with_altered_payload_is_refused(signing_key: SigningKey) -> None:
    """Swapping in another list under the original signature is detected."""
    header, _, signature = _token(signing_key).split(".")
    forged = b64url_encode(json_bytes(_payload(status_list=StatusList(64, bits=1).to_json())))
    assert _refusal(f"{header}.{forged}.{signature}", signing_key) == "STATUS_LIST_BAD_SIGNATURE"


@pytest.mark.parametrize("now", [EXP, EXP + 1, EXP + 86_400])
def test_expired_token_is_refused(signing_key: SigningKey, now: int) -> None:
    """At or after exp the token is expired (RFC 7519 section 4.1.4)."""
    assert _refusal(_token(signing_key), signing_key, now=now) == "STATUS_LIST_EXPIRED"


def test_token_before_nbf_is_refused(signing_key: SigningKey) -> None:
    """A token carrying an nbf in the future is not valid yet."""
    token = _crafted(signing_key, {"typ": "statuslist+jwt"}, _payload(nbf=IAT + 100))
    assert _refusal(token, signing_key, now=IAT) == "STATUS_LIST_NOT_YET_VALID"


def test_token_for_another_list_is_refused(signing_key: SigningKey) -> None:
    """sub must equal the uri the Referenced Token points at (section 8.3, step 4a)."""
    token = _token(signing_key, uri="https://issuer.example/statuslists/2")
    assert _refusal(token, signing_key, expected_uri=URI) == "STATUS_LIST_WRONG_SUBJECT"


MALFORMED_CLAIMS: list[tuple[str, dict[str, Any]]] = [
    ("no-sub", _payload(sub=None)),
    ("sub-not-text", _payload(sub=7)),
    ("no-iat", _payload(iat=None)),
    ("iat-text", _payload(iat="1700000000")),
    ("exp-float", _payload(exp=1.5e9)),
    ("exp-bool", _payload(exp=True)),
    ("ttl-zero", _payload(ttl=0)),
    ("no-status-list", _payload(status_list=None)),
    ("status-list-bits-3", _payload(status_list={"bits": 3, "lst": _GOOD_LST})),
]


@pytest.mark.parametrize(
    "payload", [p for _, p in MALFORMED_CLAIMS], ids=[n for n, _ in MALFORMED_CLAIMS]
)
def test_token_with_malformed_claims_is_refused(
    signing_key: SigningKey, payload: dict[str, Any]
) -> None:
    """Missing or mistyped required claims make a signed token malformed."""
    token = _crafted(signing_key, {"typ": "statuslist+jwt"}, payload)
    assert _refusal(token, signing_key) == "STATUS_LIST_MALFORMED"


@pytest.mark.parametrize("token", ["", "a.b", "not.a.jws", "e30.e30.e30.e30"])
def test_text_that_is_not_a_jws_is_refused(signing_key: SigningKey, token: str) -> None:
    """Text that is not a compact JWS is STATUS_LIST_MALFORMED."""
    assert _refusal(token, signing_key) == "STATUS_LIST_MALFORMED"


def test_token_with_critical_extensions_is_refused(signing_key: SigningKey) -> None:
    """A crit header names extensions we do not implement, so the token is refused."""
    token = _crafted(signing_key, {"typ": "statuslist+jwt", "crit": ["x"], "x": 1}, _payload())
    assert _refusal(token, signing_key) == "STATUS_LIST_MALFORMED"


def test_signed_zlib_bomb_is_refused(signing_key: SigningKey) -> None:
    """Even a correctly signed token cannot make the decoder inflate past max_bytes."""
    payload = _payload(status_list={"bits": 2, "lst": _bomb(8 << 20)})
    token = _crafted(signing_key, {"typ": "statuslist+jwt"}, payload)
    assert _refusal(token, signing_key, max_bytes=1 << 20) == "STATUS_LIST_TOO_LARGE"


@pytest.mark.parametrize(("expires_at", "ttl"), [(IAT, 300), (IAT - 1, 300), (EXP, 0)])
def test_builder_refuses_impossible_lifetimes(
    signing_key: SigningKey, expires_at: int, ttl: int
) -> None:
    """exp not after iat, or a ttl that is not positive, is a programming error."""
    with pytest.raises(ValueError):  # noqa: PT011 - two distinct messages; the type is the contract
        build_status_list_token(
            StatusList(8),
            uri=URI,
            issued_at=IAT,
            expires_at=expires_at,
            ttl=ttl,
            signing_key=signing_key,
        )


# --- properties ----------------------------------------------------------------------------


@given(
    bits=st.sampled_from([1, 2, 4, 8]),
    size=st.integers(min_value=1, max_value=2048),
    data=st.data(),
)
def test_any_list_round_trips_through_json(bits: int, size: int, data: st.DataObject) -> None:
    """Any list, built from any sparse entries, survives to_json then from_json."""
    entries = data.draw(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=size - 1),
                st.integers(min_value=0, max_value=(1 << bits) - 1),
            ),
            max_size=64,
        )
    )
    built = StatusList.from_entries(size, entries, bits=bits)
    decoded = StatusList.from_json(built.to_json())
    assert decoded.to_bytes() == built.to_bytes()
    assert all(decoded.get(i) == built.get(i) for i, _ in entries)
