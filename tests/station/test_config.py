"""The ``[governance]`` table of station.toml: defaults, and clear errors for mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from perron.crypto.keys import KeyPair, b64
from perron.governance.roles import Role
from perron.protocol.errors import InputError
from perron.station.config import GovernanceSettings, StationConfig

BASE = {
    "name": "north",
    "organisation": "org-north",
    "hub_url": "http://127.0.0.1:9",
    "dataset": "data/lung_north.csv",
}


def _config(**governance: object) -> StationConfig:
    return StationConfig.from_mapping({**BASE, "governance": governance}, Path("/stations/a"))


def test_every_governance_key_is_optional():
    config = StationConfig.from_mapping(BASE, Path("/stations/a"))

    assert config.governance == GovernanceSettings()
    assert config.dataset_name == "lung_north"  # the file's stem
    assert config.objections_file == Path("/stations/a/state/objections.sqlite")


def test_the_governance_table_is_read(tmp_path):
    key = KeyPair.generate().public().verify_key
    (tmp_path / "station.toml").write_text(
        'name = "north"\norganisation = "org-north"\nhub_url = "http://hub"\n'
        'dataset = "lung.csv"\n\n[governance]\ndataset_name = "lung"\n'
        'id_column = "patient_id"\nrequire_policy = true\n'
        "objections_apply_to_earlier = true\n\n"
        f'[governance.signers]\nprivacy_officer = "{key}"\n'
    )

    config = StationConfig.load(tmp_path / "station.toml")

    assert config.governance == GovernanceSettings(
        dataset_name="lung",
        id_column="patient_id",
        require_policy=True,
        objections_apply_to_earlier=True,
        signers={Role.PRIVACY_OFFICER: key},
    )
    assert config.dataset_name == "lung"


@pytest.mark.parametrize(
    ("governance", "message"),
    [
        ({"signers": {"chief": "x"}}, "unknown role 'chief'"),
        ({"signers": {"privacy_officer": b64(bytes(16))}}, "16 bytes, not the 32 bytes"),
        ({"signers": {"privacy_officer": "not base64!"}}, "not valid base64"),
        ({"signers": {"privacy_officer": 42}}, "must be a base64 string"),
        ({"signers": ["privacy_officer"]}, "must be a table"),
        ({"require_policy": True}, "needs the keys of the policy signers"),
        ({"require_policy": "yes"}, "must be true or false"),
        ({"objections_apply_to_earlier": 1}, "must be true or false"),
        ({"id_column": ""}, "non-empty string"),
        ({"dataset_name": 3}, "non-empty string"),
        ({"objection_apply_to_earlier": True}, "unknown keys"),
    ],
)
def test_a_mistake_is_named(governance, message):
    with pytest.raises(InputError, match=message):
        _config(**governance)


def test_governance_must_be_a_table():
    with pytest.raises(InputError, match="must be a table"):
        StationConfig.from_mapping({**BASE, "governance": "on"}, Path("/stations/a"))


def test_runs_come_over_a_websocket_unless_http_long_polls_are_asked_for():
    assert StationConfig.from_mapping(BASE, Path("/s")).transport == "websocket"
    config = StationConfig.from_mapping({**BASE, "transport": "http"}, Path("/s"))
    assert config.transport == "http"


def test_an_unknown_transport_is_refused_with_the_choices():
    with pytest.raises(
        InputError, match=r"transport must be one of 'websocket', 'http', not 'smtp'"
    ):
        StationConfig.from_mapping({**BASE, "transport": "smtp"}, Path("/s"))
