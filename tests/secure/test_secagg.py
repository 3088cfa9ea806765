"""Pairwise-masked secure aggregation: exact sums, masked parts, three stations at least."""

from __future__ import annotations

import numpy as np
import pytest

from perron.protocol.errors import InputError, TamperedMessage
from perron.secure.secagg import (
    MaskKey,
    Ring,
    StationDropped,
    decode,
    encode,
    mask,
    unmask,
)


def _masked(vectors: dict[str, np.ndarray], run: str = "r1", label: str = "0") -> dict[str, Ring]:
    keys = {name: MaskKey() for name in vectors}
    public = {name: key.public for name, key in keys.items()}
    return {
        name: mask(v, me=name, key=keys[name], peers=public, run=run, label=label)
        for name, v in vectors.items()
    }


def test_the_sum_of_masked_vectors_is_the_sum_within_float_rounding():
    rng = np.random.default_rng(4)
    vectors = {f"s{i}": rng.normal(scale=10.0 ** rng.integers(-3, 9), size=500) for i in range(5)}

    total = unmask(_masked(vectors), list(vectors))

    np.testing.assert_allclose(total, np.sum(list(vectors.values()), axis=0), rtol=1e-12)


def test_fixed_point_is_exact_for_ordinary_magnitudes_and_negative_values():
    values = np.array([-123456.789, 0.1, -0.1, -0.5, 3.0e15, -(2.0**-4)])
    np.testing.assert_array_equal(decode(encode(values)), values)
    np.testing.assert_array_equal(decode(encode(values) + encode(-values)), np.zeros(6))


def test_one_masked_vector_shows_nothing_of_its_values():
    vectors = {name: np.zeros(2000) for name in "abc"}
    masked = _masked(vectors)
    for part in masked.values():
        for lane in part.lanes:  # uniform 64-bit words, not zeros
            assert len(np.unique(lane)) == part.size
    # another round (label) gives fresh masks for the same values
    again = _masked(vectors, label="1")
    assert not np.array_equal(masked["a"].lanes, again["a"].lanes)


def test_the_fractions_carry_into_the_whole_part_when_summed():
    vectors = {f"s{i}": np.full(3, 0.999999) for i in range(250)}
    # 250 fractions just below one: their lane sum needs the 8 spare bits
    total = encode(np.zeros(3))
    for v in vectors.values():
        total = total + encode(v)
    np.testing.assert_allclose(decode(total), np.full(3, 250 * 0.999999), rtol=1e-15)


def test_fewer_than_three_stations_are_refused():
    with pytest.raises(InputError, match="at least 3 stations"):
        _masked({"a": np.ones(3), "b": np.ones(3)})


def test_a_missing_station_cannot_be_unmasked_and_is_named():
    masked = _masked({name: np.ones(4) for name in "abcd"})
    del masked["c"]
    with pytest.raises(StationDropped, match=r"\['c'\]"):
        unmask(masked, list("abcd"))


def test_bad_values_and_bad_bytes_are_refused():
    with pytest.raises(InputError, match="NaN or infinite"):
        encode([1.0, np.nan])
    with pytest.raises(InputError, match="too large"):
        encode([2.0**63])
    with pytest.raises(TamperedMessage, match="bytes"):
        Ring.from_bytes(b"\x00" * 15, 1)
    with pytest.raises(TamperedMessage, match="X25519"):
        MaskKey().pair_seed(b"\x00" * 31, "r", ("a", "b"))
