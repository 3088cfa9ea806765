"""Double pseudonymisation: keys, stage 1 at the holder, stage 2 at the TTP, tables."""

from __future__ import annotations

import hashlib
import hmac
import random
import stat

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perron.linkage.bsn import generate_bsn
from perron.linkage.pseudonym import (
    HKDF_LABEL,
    KeyVersions,
    PseudonymKey,
    holder_frame,
    holder_pseudonym,
    key_versions,
    local_ttp,
    pseudonymise_frame,
    study_key_info,
    ttp_frame,
    ttp_pseudonym,
    ttp_pseudonyms,
)
from perron.protocol.errors import InputError, SecurityError, TransportError, UnknownColumn

BSN = "111222333"
OTHER = "123456782"


@pytest.fixture
def source():
    """The source key all holders of the scheme share."""
    return PseudonymKey.generate("v1", "holders of the lung scheme")


@pytest.fixture
def ttp():
    return PseudonymKey.generate("v3", "ZorgTTP")


def study_pseudonym(bsn: str, source: PseudonymKey, ttp: PseudonymKey, study: str = "lung") -> str:
    return ttp_pseudonym(holder_pseudonym(bsn, source), ttp, study)


def hkdf_sha256(ikm: bytes, info: bytes) -> bytes:
    """RFC 5869 with an empty salt, from hmac alone (an oracle independent of
    ``cryptography``)."""
    prk = hmac.new(bytes(32), ikm, hashlib.sha256).digest()
    return hmac.new(prk, info + b"\x01", hashlib.sha256).digest()  # one block: 32 bytes


# --- keys -----------------------------------------------------------------------------


def test_generated_keys_are_random_and_hidden_in_repr():
    one = PseudonymKey.generate("v1", "TTP")
    two = PseudonymKey.generate("v1", "TTP")

    assert len(one.secret) == 32
    assert one.secret != two.secret
    assert one.fingerprint() != two.fingerprint()
    assert one.secret.hex() not in repr(one)
    assert repr(one) == "PseudonymKey(version='v1', owner='TTP')"


@pytest.mark.parametrize(
    ("secret", "version", "owner"),
    [
        (bytes(31), "v1", "TTP"),
        (bytes(32), "v1.2", "TTP"),
        (bytes(32), "v1:x", "TTP"),
        (bytes(32), "", "TTP"),
        (bytes(32), "v1", " "),
        (bytes(32), "v1", "two\nlines"),
    ],
)
def test_bad_keys_are_refused(secret, version, owner):
    with pytest.raises(InputError):
        PseudonymKey(secret, version, owner)


def test_key_file_is_private_and_round_trips(tmp_path, ttp):
    path = ttp.save(tmp_path / "keys" / "ttp.key")

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PseudonymKey.load(path) == ttp
    assert ttp.secret.hex() not in path.read_text()  # base64, but never hex in the clear


def test_key_file_is_never_overwritten(tmp_path, ttp):
    path = ttp.save(tmp_path / "ttp.key")
    before = path.read_bytes()

    with pytest.raises(InputError, match="never overwritten"):
        PseudonymKey.generate("v4", "ZorgTTP").save(path)
    assert path.read_bytes() == before


def test_a_key_file_readable_by_others_is_refused(tmp_path, ttp):
    path = ttp.save(tmp_path / "ttp.key")
    path.chmod(0o644)

    with pytest.raises(SecurityError, match="chmod 600"):
        PseudonymKey.load(path)


def test_missing_or_foreign_key_files(tmp_path):
    with pytest.raises(InputError, match="keygen"):
        PseudonymKey.load(tmp_path / "nothing.key")
    other = tmp_path / "other.key"
    other.write_text('{"kind": "something else"}')
    other.chmod(0o600)
    with pytest.raises(InputError, match="not a Perron pseudonym key file"):
        PseudonymKey.load(other)


# --- stage 1 and stage 2 --------------------------------------------------------------


def test_format_and_key_versions(source, ttp):
    stage1 = holder_pseudonym(BSN, source)
    final = ttp_pseudonym(stage1, ttp, "lung")

    assert stage1.startswith("v1:")
    assert len(stage1) == 3 + 64
    assert final.startswith("v1.v3:")
    assert len(final) == 6 + 64
    assert int(final[6:], 16) >= 0
    assert key_versions(stage1) == KeyVersions("v1", None)
    assert key_versions(final) == KeyVersions(holder="v1", ttp="v3")


@pytest.mark.parametrize(
    "value", ["", BSN, "v1.v3:" + "0" * 63, "v1:" + "A" * 64, "a.b.c:" + "0" * 64]
)
def test_key_versions_refuses_what_is_not_a_pseudonym(value):
    with pytest.raises(InputError, match="not a Perron pseudonym"):
        key_versions(value)


def test_stage_1_is_hmac_of_the_normalised_bsn(source):
    expected = hmac.new(source.secret, BSN.encode(), hashlib.sha256).hexdigest()

    assert holder_pseudonym(BSN, source) == f"v1:{expected}"
    assert holder_pseudonym("111.222.333", source) == holder_pseudonym(BSN, source)
    assert holder_pseudonym("12345672", source) == holder_pseudonym("012345672", source)


def test_stage_2_matches_an_independent_hkdf_and_hmac(source, ttp):
    """info = len||label, len||study, len||version (two-byte big-endian lengths)."""
    info = len(HKDF_LABEL).to_bytes(2, "big") + HKDF_LABEL + b"\x00\x04lung" + b"\x00\x02v3"
    stage1 = holder_pseudonym(BSN, source)
    study_key = hkdf_sha256(ttp.secret, info)
    expected = hmac.new(study_key, bytes.fromhex(stage1[3:]), hashlib.sha256).hexdigest()

    assert study_key_info("lung", "v3") == info
    assert HKDF_LABEL == b"perron.linkage.pseudonym/study-key/v1"
    assert ttp_pseudonym(stage1, ttp, "lung") == f"v1.v3:{expected}"


def test_same_bsn_same_study_same_keys_gives_the_same_pseudonym(source, ttp):
    assert study_pseudonym(BSN, source, ttp) == study_pseudonym(" 111-222-333", source, ttp)
    assert study_pseudonym(BSN, source, ttp) != study_pseudonym(OTHER, source, ttp)


def test_another_study_ttp_key_or_version_gives_another_pseudonym(source, ttp):
    base = study_pseudonym(BSN, source, ttp)
    rolled_ttp = PseudonymKey(ttp.secret, "v4", ttp.owner)
    rolled_source = PseudonymKey(source.secret, "v2", source.owner)
    others = [
        study_pseudonym(BSN, source, ttp, "heart"),
        study_pseudonym(BSN, source, ttp, "Lung"),
        study_pseudonym(BSN, source, PseudonymKey.generate("v3", "another TTP")),
        study_pseudonym(BSN, source, rolled_ttp),
        study_pseudonym(BSN, PseudonymKey.generate("v1", "another scheme"), ttp),
    ]

    digests = {p.split(":")[1] for p in [base, *others]}
    assert len(digests) == 6  # the digests differ, not only the labels
    # A new version of the same secret changes the label (the digest of stage 2 also
    # changes, through the HKDF info); stage 1 changes only its label.
    assert study_pseudonym(BSN, rolled_source, ttp).startswith("v2.v3:")
    assert key_versions(study_pseudonym(BSN, source, rolled_ttp)) == KeyVersions("v1", "v4")


def test_study_names_are_compared_after_nfc_and_must_be_one_clean_line(source, ttp):
    composed, decomposed = "caf\u00e9", "cafe\u0301"

    assert study_pseudonym(BSN, source, ttp, composed) == study_pseudonym(
        BSN, source, ttp, decomposed
    )
    for bad in ("", " lung", "lung\n", "x" * 201):
        with pytest.raises(InputError, match="study name"):
            study_pseudonym(BSN, source, ttp, bad)


def test_pseudonyms_are_not_plain_hashes_of_the_bsn(source, ttp):
    plain = {
        hashlib.sha256(BSN.encode()).hexdigest(),
        hashlib.sha256(("lung" + BSN).encode()).hexdigest(),
        hashlib.sha512(BSN.encode()).hexdigest()[:64],
    }
    stage1 = holder_pseudonym(BSN, source)
    final = ttp_pseudonym(stage1, ttp, "lung")

    assert stage1.split(":")[1] not in plain
    assert final.split(":")[1] not in plain
    assert final.split(":")[1] != stage1.split(":")[1]


@settings(max_examples=25)
@given(st.integers(min_value=0, max_value=2**32))
def test_holders_with_the_same_source_key_are_joinable(tmp_path_factory, seed):
    rng = random.Random(seed)
    people = [generate_bsn(rng) for _ in range(12)]
    folder = tmp_path_factory.mktemp("keys")
    shared = PseudonymKey.generate("v1", "holders").save(folder / "source.key")
    ttp = PseudonymKey.generate("v1", "TTP")
    hospital = pd.DataFrame({"bsn": people[:8], "stage": range(8)})
    insurer = pd.DataFrame({"bsn": people[4:], "cost": range(8)})

    at_hospital = pseudonymise_frame(hospital, "bsn", PseudonymKey.load(shared), ttp, "lung")
    at_insurer = pseudonymise_frame(insurer, "bsn", PseudonymKey.load(shared), ttp, "lung")
    joined = at_hospital.frame.merge(at_insurer.frame, on="pseudonym")

    assert sorted(joined["stage"]) == sorted(
        i for i, bsn in enumerate(people[:8]) if bsn in people[4:]
    )


def test_the_ttp_refuses_bsns_and_stage_2_values(source, ttp):
    final = study_pseudonym(BSN, source, ttp)

    with pytest.raises(InputError, match="never receive BSNs") as caught:
        ttp_pseudonym(BSN, ttp, "lung")
    assert BSN not in str(caught.value)
    with pytest.raises(InputError, match="already a stage-2"):
        ttp_pseudonym(final, ttp, "lung")
    with pytest.raises(InputError, match="row 2 is not a stage-1"):
        ttp_pseudonyms([holder_pseudonym(BSN, source), "garbage"], ttp, "lung")


def test_an_invalid_bsn_is_never_hashed(source):
    with pytest.raises(InputError, match="eleven-test") as caught:
        holder_pseudonym("111222334", source)
    assert "111222334" not in str(caught.value)


# --- tables ---------------------------------------------------------------------------


@pytest.fixture
def data():
    return pd.DataFrame(
        {
            "site": ["a", "b", "c", "d", "e"],
            "bsn": [BSN, "111222334", OTHER, "", "12345672"],
            "age": [61, 70, 55, 80, 47],
        }
    )


def test_pseudonymise_frame_replaces_the_bsn_column_and_never_keeps_it(data, source, ttp):
    before = data.copy()

    done = pseudonymise_frame(data, "bsn", source, ttp, "lung", invalid="drop")

    assert list(done.frame.columns) == ["site", "pseudonym", "age"]
    assert list(done.frame["site"]) == ["a", "c", "e"]
    assert list(done.frame.index) == [0, 2, 4]
    assert done.rows_in == 5
    assert [(i.position, i.problem.value) for i in done.invalid] == [
        (1, "fails the eleven-test"),
        (3, "missing"),
    ]
    cells = done.frame.astype(str).to_numpy().ravel().tolist()
    assert not any(bsn in cell for cell in cells for bsn in (BSN, OTHER, "12345672"))
    assert "111222333" not in repr(done)
    assert done.frame["pseudonym"].iloc[0] == study_pseudonym(BSN, source, ttp)
    pd.testing.assert_frame_equal(data, before)  # the input is not changed


def test_pseudonymise_frame_raises_on_invalid_rows_by_default(data, source, ttp):
    with pytest.raises(InputError, match=r"2 of 5 rows have no valid BSN") as caught:
        pseudonymise_frame(data, "bsn", source, ttp, "lung")
    message = str(caught.value)
    assert "row 2: *****2334 fails the eleven-test" in message
    assert "row 4: (empty) is missing" in message
    assert "111222334" not in message


def test_the_ttp_step_sees_only_distinct_sorted_stage_1_values(source, ttp):
    seen: list[list[str]] = []
    step = local_ttp(ttp, "lung")

    def remote(values: list[str]) -> list[str]:
        seen.append(values)
        return step(values)

    frame = pd.DataFrame({"bsn": [OTHER, BSN, OTHER, BSN, OTHER]})
    done = pseudonymise_frame(frame, "bsn", source, remote)

    assert len(seen) == 1
    assert seen[0] == sorted({holder_pseudonym(BSN, source), holder_pseudonym(OTHER, source)})
    assert done.frame["pseudonym"].tolist() == [
        study_pseudonym(b, source, ttp) for b in frame["bsn"]
    ]


@pytest.mark.parametrize(
    "answer",
    [
        lambda values: values[:-1],  # one missing
        lambda values: values,  # stage 1 sent back
        lambda values: ["v9.v1:" + "0" * 64 for _ in values],  # another source key
        lambda values: ["v1.v1:" + "0" * 64 for _ in values],  # one pseudonym for all
        tuple,  # not a list
    ],
)
def test_a_wrong_ttp_answer_is_refused(source, answer):
    frame = pd.DataFrame({"bsn": [BSN, OTHER]})

    with pytest.raises(TransportError):
        pseudonymise_frame(frame, "bsn", source, answer)


def test_frame_arguments_are_checked(data, source, ttp):
    with pytest.raises(UnknownColumn, match="'BSN' is not in the data"):
        pseudonymise_frame(data, "BSN", source, ttp, "lung")
    with pytest.raises(InputError, match="already"):
        pseudonymise_frame(data, "bsn", source, ttp, "lung", pseudonym_column="age")
    with pytest.raises(InputError, match="name the study"):
        pseudonymise_frame(data, "bsn", source, ttp)
    with pytest.raises(InputError, match="bound to its study"):
        pseudonymise_frame(data, "bsn", source, local_ttp(ttp, "lung"), "lung")
    with pytest.raises(InputError, match="same key"):
        pseudonymise_frame(data, "bsn", source, PseudonymKey(source.secret, "v9", "x"), "lung")
    with pytest.raises(InputError, match="choose 'raise' or 'drop'"):
        holder_frame(data, "bsn", source, invalid="ignore")  # type: ignore[arg-type]


def test_the_two_stages_apart_equal_both_at_once(data, source, ttp):
    both = pseudonymise_frame(data, "bsn", source, ttp, "lung", invalid="drop")

    stage1 = holder_frame(data, "bsn", source, invalid="drop")
    sent = stage1.frame[["pseudonym"]]  # only this column goes to the TTP
    back = ttp_frame(sent, "pseudonym", ttp, "lung")

    assert back["pseudonym"].tolist() == both.frame["pseudonym"].tolist()
    assert stage1.invalid == both.invalid


def test_an_empty_frame(source, ttp):
    frame = pd.DataFrame({"bsn": pd.Series([], dtype=str), "age": pd.Series([], dtype=int)})

    done = pseudonymise_frame(frame, "bsn", source, ttp, "lung")

    assert list(done.frame.columns) == ["pseudonym", "age"]
    assert len(done.frame) == 0


def test_the_example_in_the_documentation_runs(capsys):
    import re
    from pathlib import Path

    doc = Path(__file__).parents[2] / "docs" / "pseudonyms.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.DOTALL)
    printed = re.search(r"prints\n\n```\n(.*?)```", doc.read_text(), flags=re.DOTALL)
    [code] = blocks
    assert printed is not None

    exec(compile(code, str(doc), "exec"), {"__name__": "docs_example"})

    assert capsys.readouterr().out == printed[1]
