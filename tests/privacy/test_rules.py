"""Each disclosure rule blocks what it must, lets a safe request pass, and never
puts the protected number into its message."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import perron
from perron import DisclosureBlocked, DisclosurePolicy


def _frame(n: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "z": rng.normal(size=n),
            "w": rng.normal(size=n),
            "v": rng.normal(size=n),
            "y": np.tile([0, 1], n // 2 + 1)[:n],
            "g": np.tile(["a", "b", "c"], n // 3 + 1)[:n],
        }
    )


def _assert_blocked(
    error: pytest.ExceptionInfo[DisclosureBlocked], station: str, rule: str, protected: int
) -> None:
    assert error.value.station == station
    assert error.value.rule == rule
    assert f"station {station!r}" in str(error.value)
    assert rule in str(error.value)
    assert str(protected) not in str(error.value).replace(str(error.value.threshold), "")


def test_min_rows_blocks_a_small_station():
    session = perron.simulate({"big": _frame(100), "tiny": _frame(7)})
    with pytest.raises(DisclosureBlocked) as error:
        session.summary(["x"], quantiles=None)
    _assert_blocked(error, "tiny", "min_rows", 7)


def test_min_rows_passes_at_the_threshold():
    session = perron.simulate({"big": _frame(100), "small": _frame(10)})
    result = session.summary(["x"], quantiles=None)
    assert result.nobs_per_station["small"] == 10


def test_min_rows_counts_complete_rows_only():
    small = _frame(14)
    small.loc[:5, "x"] = np.nan
    session = perron.simulate({"big": _frame(100), "small": small})
    with pytest.raises(DisclosureBlocked) as error:
        session.glm("y ~ x", family="binomial")
    _assert_blocked(error, "small", "min_rows", 8)


def test_min_cell_blocks_a_rare_category_level():
    rare = _frame(60)
    rare.loc[:2, "g"] = "d"  # three rows of level d
    session = perron.simulate({"a": _frame(60, 2), "b": rare})
    with pytest.raises(DisclosureBlocked) as error:
        session.glm("y ~ x + C(g)", family="binomial")
    _assert_blocked(error, "b", "min_cell", 3)


def test_min_cell_blocks_a_rare_binary_predictor_level():
    rare = _frame(60).assign(flag=0)
    rare.loc[:3, "flag"] = 1
    common = _frame(60, 2).assign(flag=np.tile([0, 1], 30))
    session = perron.simulate({"a": common, "b": rare})
    with pytest.raises(DisclosureBlocked) as error:
        session.glm("y ~ x + flag", family="binomial")
    _assert_blocked(error, "b", "min_cell", 4)


def test_min_cell_blocks_a_rare_outcome_level():
    rare = _frame(60).assign(y=0)
    rare.loc[:1, "y"] = 1
    session = perron.simulate({"a": _frame(60, 2), "b": rare})
    with pytest.raises(DisclosureBlocked) as error:
        session.glm("y ~ x", family="binomial")
    _assert_blocked(error, "b", "min_cell", 2)


def test_min_cell_blocks_an_outcome_everyone_shares():
    same = _frame(60).assign(y=1)
    session = perron.simulate({"a": _frame(60, 2), "b": same})
    with pytest.raises(DisclosureBlocked) as error:
        session.glm("y ~ x", family="binomial")
    assert error.value.rule == "min_cell"


def test_min_cell_passes_when_every_level_is_common():
    session = perron.simulate({"a": _frame(60, 2), "b": _frame(60)})
    result = session.glm("y ~ x + C(g)", family="binomial")
    assert result.nobs == 120


def test_glm_saturation_blocks_too_many_parameters():
    session = perron.simulate({"a": _frame(100), "b": _frame(12)})
    with pytest.raises(DisclosureBlocked) as error:
        session.glm("x ~ z + w + v + y", family="gaussian")  # 5 parameters > 0.33 * 12
    _assert_blocked(error, "b", "glm_saturation", 12)


def test_glm_saturation_passes_a_small_model():
    session = perron.simulate({"a": _frame(100), "b": _frame(12)})
    assert session.glm("x ~ z", family="gaussian").nobs == 112


def test_holder_threshold_decides_not_the_requester():
    strict = DisclosurePolicy(min_rows=50)
    session = perron.simulate({"a": _frame(100), "b": _frame(40)}, disclosure={"b": strict})
    with pytest.raises(DisclosureBlocked) as error:
        session.summary(["x"], quantiles=None)
    assert error.value.threshold == 50


def test_request_can_tighten_a_rule():
    session = perron.simulate({"a": _frame(100), "b": _frame(40)})
    with pytest.raises(DisclosureBlocked) as error:
        session.summary(["x"], quantiles=None, disclosure={"min_rows": 60})
    _assert_blocked(error, "b", "min_rows", 40)


def test_levels_density_blocks_an_identifier_used_as_category():
    frame = _frame(60).assign(patient=[f"p{i}" for i in range(60)])
    session = perron.simulate({"a": frame}, disclosure=DisclosurePolicy(min_cell=1))
    with pytest.raises(DisclosureBlocked) as error:
        session.crosstab("patient", "g")
    assert error.value.rule == "levels_density"


def test_levels_density_passes_few_levels():
    session = perron.simulate({"a": _frame(60)})
    assert session.crosstab("g", "y").table.shape == (3, 2)
