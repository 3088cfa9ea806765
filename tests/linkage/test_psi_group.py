"""The group layer of PSI: hash to ristretto255, scalars, validation, shuffling."""

from __future__ import annotations

import doctest
import hashlib
from types import ModuleType

import pytest
import rbcl  # type: ignore[import-untyped]

from perron.linkage import psi, psi_group, psi_messages
from perron.linkage.psi_group import (
    DOMAIN,
    check_points,
    hash_to_group,
    multiply,
    new_scalar,
    random_permutation,
    shuffled,
    split_points,
)
from perron.protocol.errors import TamperedMessage


@pytest.mark.parametrize("module", [psi, psi_group, psi_messages], ids=lambda m: m.__name__)
def test_docstring_examples_run(module: ModuleType):
    failed, attempted = doctest.testmod(module, optionflags=doctest.ELLIPSIS)

    assert attempted > 0
    assert failed == 0


def test_hash_to_group_follows_the_specified_construction():
    """point = from_hash(SHA-512(tag || len(label) || label || len(e) || e)), 8-byte lengths."""
    label, element = "study-7/task-3", "pseudonym-ü".encode()
    digest = hashlib.sha512(
        DOMAIN
        + len(label.encode()).to_bytes(8, "big")
        + label.encode()
        + len(element).to_bytes(8, "big")
        + element
    ).digest()

    [point] = hash_to_group(label, [element])

    assert point == rbcl.crypto_core_ristretto255_from_hash(digest)


def test_hash_to_group_separates_labels_and_element_boundaries():
    [plain] = hash_to_group("ab", [b"c"])

    assert hash_to_group("a", [b"bc"]) != [plain]
    assert hash_to_group("abc", [b""]) != [plain]
    assert hash_to_group("ab", [b"c"]) == [plain]


def test_scalars_are_fresh_and_multiplication_commutes():
    points = hash_to_group("s", [b"x", b"y"])
    a, b = new_scalar(), new_scalar()

    assert a != b
    assert multiply(a, multiply(b, points)) == multiply(b, multiply(a, points))
    assert multiply(a, points) != multiply(b, points)


def test_multiply_rejects_invalid_points_and_the_identity():
    [point] = hash_to_group("s", [b"x"])
    negative = bytes([point[0] ^ 1]) + point[1:]  # odd first byte: never a valid encoding

    with pytest.raises(TamperedMessage, match="not a valid ristretto255 point"):
        multiply(new_scalar(), [point, negative])
    with pytest.raises(TamperedMessage, match="identity"):
        multiply(new_scalar(), [bytes(32)])


def test_check_points_rejects_invalid_points_and_the_identity():
    [point] = hash_to_group("s", [b"x"])
    check_points([point])

    with pytest.raises(TamperedMessage, match="not a valid ristretto255 point"):
        check_points([bytes([point[0] ^ 1]) + point[1:]])
    with pytest.raises(TamperedMessage, match="identity"):
        check_points([bytes(32)])


def test_split_points_checks_length_top_bit_and_repeats():
    points = hash_to_group("s", [b"x", b"y"])
    blob = b"".join(points)
    top_bit = blob[:31] + bytes([blob[31] | 0x80]) + blob[32:]

    assert split_points(blob, "a set") == points
    assert split_points(b"", "a set") == []
    with pytest.raises(TamperedMessage, match="not a multiple of 32"):
        split_points(blob[:-1], "a set")
    with pytest.raises(TamperedMessage, match="non-canonical"):
        split_points(top_bit, "a set")
    with pytest.raises(TamperedMessage, match="same point twice"):
        split_points(points[0] + points[1] + points[0], "a set")


def test_libsodium_quirk_that_split_points_guards_against():
    """libsodium 1.0.18 takes a top-bit-set encoding as the same point, so bytes differ."""
    [point] = hash_to_group("s", [b"x"])
    twin = point[:31] + bytes([point[31] | 0x80])
    scalar = new_scalar()

    assert multiply(scalar, [twin]) == multiply(scalar, [point])


def test_random_permutation_is_a_permutation_and_varies():
    first, second = random_permutation(50), random_permutation(50)

    assert sorted(first) == list(range(50))
    assert first != second  # equal with probability 1/50!
    assert random_permutation(0) == []


def test_shuffled_keeps_the_points():
    points = hash_to_group("s", [str(i).encode() for i in range(30)])

    result = shuffled(points)

    assert sorted(result) == sorted(points)
    assert result != points
