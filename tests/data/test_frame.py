"""The pandas data source and file loading."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perron
from perron import DataSourceError
from perron.data.frame import FrameSource


def test_csv_and_parquet_paths_are_loaded(tmp_path, lbw):
    lbw[:100].to_csv(tmp_path / "a.csv", index=False)
    lbw[100:].to_parquet(tmp_path / "b.parquet")

    session = perron.simulate({"a": tmp_path / "a.csv", "b": str(tmp_path / "b.parquet")})

    result = session.summary(["age"], quantiles=None)
    assert result.nobs_per_station == {"a": 100, "b": 89}


def test_missing_file_says_so(tmp_path):
    with pytest.raises(DataSourceError, match="does not exist"):
        perron.simulate({"a": tmp_path / "nope.csv"})


def test_unsupported_file_type_says_which_are(tmp_path):
    path = tmp_path / "data.xlsx"
    path.write_text("x")
    with pytest.raises(DataSourceError, match=r"\.csv or \.parquet"):
        perron.simulate({"a": path})


def test_unreadable_file_is_a_data_source_error(tmp_path):
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet")
    with pytest.raises(DataSourceError, match="could not read"):
        perron.simulate({"a": path})


def test_wrong_dataset_type_is_rejected():
    with pytest.raises(perron.InputError, match="DataFrame"):
        perron.simulate({"a": [1, 2, 3]})  # type: ignore[dict-item]


def test_no_datasets_is_rejected():
    with pytest.raises(perron.InputError):
        perron.simulate({})


def test_source_answers_are_complete_case():
    source = FrameSource(pd.DataFrame({"x": [1.0, 2.0, np.nan, 4.0], "g": ["a", None, "b", "b"]}))

    assert source.complete_count(["x", "g"]) == 2
    assert source.missing_counts(["x", "g"]) == {"x": 1, "g": 1}
    assert source.value_counts(["g"], ["x"]) == {("a",): 1, ("b",): 1}
    np.testing.assert_array_equal(source.count_at_most("x", np.array([0.0, 2.0, 9.0])), [0, 2, 3])
    np.testing.assert_array_equal(source.smallest_above("x", np.array([1.5, 4.0])), [2.0, np.nan])
    np.testing.assert_array_equal(source.bin_counts("x", np.array([1.5, 3.0])), [1, 1, 1])
