"""The BSN eleven-test, normalisation, masked messages and the column report."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from perron.linkage.bsn import (
    BsnProblem,
    check_bsns,
    generate_bsn,
    is_valid_bsn,
    mask_bsn,
    normalise_bsn,
)
from perron.protocol.errors import InputError

nine_digits = st.text(alphabet="0123456789", min_size=9, max_size=9)
seeds = st.integers(min_value=0, max_value=2**32)


def eleven_test(digits: str) -> bool:
    """The oracle, written from the definition (not from the module's weights):
    9*d1 + 8*d2 + ... + 2*d8 - 1*d9 is a multiple of 11, and not all zeros."""
    d = [int(c) for c in digits]
    total = (
        9 * d[0] + 8 * d[1] + 7 * d[2] + 6 * d[3] + 5 * d[4] + 4 * d[5] + 3 * d[6] + 2 * d[7]
    ) - d[8]
    return total % 11 == 0 and digits != "000000000"


def test_known_valid_numbers():
    """111222333: 9+8+7+12+10+8+9+6 = 69, 69 - 3 = 66 = 6*11.
    123456782: 9+16+21+24+25+24+21+16 = 156, 156 - 2 = 154 = 14*11.
    012345672: 0+8+14+18+20+20+18+14 = 112, 112 - 2 = 110 = 10*11."""
    for bsn in ("111222333", "123456782", "012345672"):
        assert eleven_test(bsn)
        assert is_valid_bsn(bsn)
        assert normalise_bsn(bsn) == bsn


def test_known_invalid_numbers():
    """123456789: 156 - 9 = 147 = 13*11 + 4; 111222334: 69 - 4 = 65 = 5*11 + 10."""
    for bsn in ("123456789", "111222334", "000000000"):
        assert not eleven_test(bsn)
        assert not is_valid_bsn(bsn)


@given(nine_digits)
def test_agrees_with_the_oracle_on_any_nine_digits(digits):
    assert is_valid_bsn(digits) == eleven_test(digits)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" 111 222 333 ", "111222333"),
        ("111.222.333", "111222333"),
        ("111-222-333", "111222333"),
        ("1112\t22\u00a0333", "111222333"),
        ("12345672", "012345672"),  # the leading zero a spreadsheet dropped
        ("1234.5672", "012345672"),
    ],
)
def test_normalisation(text, expected):
    assert normalise_bsn(text) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", BsnProblem.MISSING),
        ("  .- ", BsnProblem.MISSING),
        ("12a456782", BsnProblem.NOT_DIGITS),
        (
            "\uff11\uff12\uff13\uff14\uff15\uff16\uff17\uff18\uff12",
            BsnProblem.NOT_DIGITS,
        ),  # full width
        ("123/456/782", BsnProblem.NOT_DIGITS),
        ("1234567", BsnProblem.WRONG_LENGTH),  # only one leading zero is restored
        ("1234567820", BsnProblem.WRONG_LENGTH),
        ("000000000", BsnProblem.ALL_ZEROS),
        ("00000000", BsnProblem.ALL_ZEROS),
        ("123456789", BsnProblem.ELEVEN_TEST),
    ],
)
def test_each_problem_is_named(text, problem):
    report = check_bsns([text])

    assert report.valid == ()
    assert [item.problem for item in report.invalid] == [problem]
    with pytest.raises(InputError, match="cannot be pseudonymised"):
        normalise_bsn(text)


@given(seeds)
def test_generate_bsn_is_always_valid(seed):
    bsn = generate_bsn(random.Random(seed))

    assert len(bsn) == 9
    assert eleven_test(bsn)
    assert is_valid_bsn(bsn)


def test_generate_bsn_is_reproducible_and_varied():
    first = [generate_bsn(random.Random(42)) for _ in range(2)]
    many = {generate_bsn(rng) for rng in [random.Random(1)] for _ in range(200)}

    assert first[0] == first[1]
    assert len(many) == 200


@given(seeds)
def test_every_single_digit_error_is_detected(seed):
    """All 9 positions x 9 other digits: each weight is a unit mod the prime 11."""
    bsn = generate_bsn(random.Random(seed))

    for position in range(9):
        for digit in "0123456789":
            if digit == bsn[position]:
                continue
            changed = bsn[:position] + digit + bsn[position + 1 :]
            assert not is_valid_bsn(changed), (bsn, changed)


@given(seeds)
def test_every_adjacent_transposition_of_different_digits_is_detected(seed):
    bsn = generate_bsn(random.Random(seed))

    for position in range(8):
        a, b = bsn[position], bsn[position + 1]
        if a == b:
            continue
        swapped = bsn[:position] + b + a + bsn[position + 2 :]
        assert not is_valid_bsn(swapped), (bsn, swapped)


def test_mask_bsn():
    assert mask_bsn("123456782") == "*****6782"
    assert mask_bsn("012345672") == "*****5672"
    assert mask_bsn("1234567") == "*******"
    assert mask_bsn("") == ""


@given(nine_digits.filter(lambda d: not eleven_test(d)))
def test_messages_never_contain_the_full_number(digits):
    spaced = f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    for text in (digits, spaced, digits + "1", digits[:4] + "x" + digits[5:]):
        with pytest.raises(InputError) as caught:
            normalise_bsn(text)
        message = str(caught.value)
        assert digits not in message
        assert digits[:5] not in message
        assert caught.value.__cause__ is None
        for item in check_bsns([text]).invalid:
            assert digits[:5] not in item.describe()


def test_check_bsns_reports_every_invalid_row_and_keeps_order():
    values = ["111222333", "111222334", None, float("nan"), 12345672, "123456782", "abc"]

    report = check_bsns(values)

    assert report.valid == ("111222333", "012345672", "123456782")
    assert report.valid_positions == (0, 4, 5)
    assert [(i.position, i.problem) for i in report.invalid] == [
        (1, BsnProblem.ELEVEN_TEST),
        (2, BsnProblem.MISSING),
        (3, BsnProblem.MISSING),
        (6, BsnProblem.NOT_DIGITS),
    ]
    assert report.invalid[0].describe() == "row 2: *****2334 fails the eleven-test"
    assert not report.ok
    assert "111222333" not in repr(report)


def test_check_bsns_reads_pandas_columns_of_any_dtype():
    numbers = pd.Series([111222333, 12345672, None], dtype="Int64")
    floats = pd.Series([111222333, None])  # float64: an integer column with a gap
    ints = np.array([111222333, -5], dtype=np.int64)

    assert check_bsns(numbers).valid == ("111222333", "012345672")
    assert [i.problem for i in check_bsns(numbers).invalid] == [BsnProblem.MISSING]
    assert check_bsns(floats).valid == ("111222333",)
    assert check_bsns(ints).valid == ("111222333",)
    assert check_bsns([True, 1.5, object()]).valid == ()
    assert check_bsns(["111222333"]).ok
