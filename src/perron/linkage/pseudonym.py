"""Study pseudonyms from the BSN, the Dutch TTP way: double keyed pseudonymisation.

Two keyed one-way steps, by two parties that do not share keys (the pattern of
ZorgTTP and the public *openbare pseudonimisatiemethode*, NEN 7524)::

    holder   stage 1 = HMAC-SHA256(source key, BSN)               -> "v1:<hex>"
    TTP      K_study = HKDF-SHA256(TTP key, info = label, study, TTP key version)
             stage 2 = HMAC-SHA256(K_study, stage-1 digest)       -> "v1.v3:<hex>"

- The **source key** is shared by all data holders of one scheme (so their stage-1
  values of one person are equal) and by nobody else: never by the TTP, never by a
  researcher. It is given to each holder once over a secure channel.
- The **TTP key** never leaves the trusted third party. From it the TTP derives one
  key per study, so the pseudonyms of two studies cannot be joined.

Security assumptions: HMAC-SHA256 is a pseudo-random function and HKDF-SHA256 a
key-derivation function; keys are 32 random bytes from :mod:`secrets`; the TTP does not
collude with a holder. Then:

- a holder learns nothing from a study pseudonym (it lacks the TTP key); it can make
  stage-1 values for any BSN, which is why stage-1 values are not study pseudonyms;
- the TTP sees stage-1 values only, never a BSN, and cannot test guesses (there are
  only about 9 million valid BSNs, so an *unkeyed* hash would be reversed by trying
  them all; the source key prevents that); it does learn how many distinct persons
  each holder sends and which of them recur across holders;
- whoever receives study pseudonyms learns which records belong to one person
  within the study, nothing across studies, and no BSN;
- a holder *and* the TTP together can recompute the pseudonym of every BSN and so
  re-identify the study: that is the trust placed in the TTP.

Pseudonyms carry the versions of the keys they were made with (``"v1.v3:..."``,
:func:`key_versions`): only pseudonyms with the same versions can be joined.

Rotating a key: generate the new key under the next version label
(``perron pseudonymise keygen --version v2``); for the source key, every holder of the
scheme must switch at the same time. Then re-pseudonymise every dataset that must be
linked from its BSNs (stage 1 and 2), check with :func:`key_versions` that no old
label remains, and destroy the old key once nothing needs it. Pseudonyms made with
different versions never match, by design, so a half-finished rotation shows up as
an empty join instead of a wrong one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import re
import secrets
import stat
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, NamedTuple

import pandas as pd
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from perron.linkage.bsn import InvalidBsn, check_bsns, is_valid_bsn, normalise_bsn
from perron.protocol.errors import InputError, SecurityError, TransportError, UnknownColumn

__all__ = [
    "HKDF_LABEL",
    "KeyVersions",
    "PseudonymKey",
    "PseudonymisedFrame",
    "TtpStep",
    "holder_frame",
    "holder_pseudonym",
    "key_versions",
    "local_ttp",
    "pseudonymise_frame",
    "study_key_info",
    "ttp_frame",
    "ttp_pseudonym",
    "ttp_pseudonyms",
]

KEY_BYTES = 32
#: The domain-separation label at the start of the HKDF ``info`` of a study key.
HKDF_LABEL = b"perron.linkage.pseudonym/study-key/v1"
_FINGERPRINT_LABEL = b"perron.linkage.pseudonym/fingerprint/v1"
_KEY_KIND = "perron pseudonym key"
_VERSION = re.compile(r"[A-Za-z0-9_-]{1,32}")
_PSEUDONYM = re.compile(r"([A-Za-z0-9_-]{1,32})(?:\.([A-Za-z0-9_-]{1,32}))?:([0-9a-f]{64})")
_MAX_STUDY = 200
_SHOWN_ERRORS = 10

#: The TTP's stage 2 as the holder sees it: stage-1 values in, study pseudonyms out,
#: one per value and in order. :func:`local_ttp` is the in-memory twin; in deployment
#: it sends the values to the TTP and returns its answer.
TtpStep = Callable[[list[str]], list[str]]


@dataclass(frozen=True)
class PseudonymKey:
    """A pseudonymisation key: 32 secret bytes, a version label and its owner.

    A key never leaves the party that owns it: the TTP's key stays at the TTP; the
    source key is owned jointly by the holders of one scheme and stays with them.
    Files are written with mode 0600 and never overwritten.

    Parameters
    ----------
    secret : bytes
        32 random bytes (not shown in ``repr``).
    version : str
        A label like ``"v1"`` (letters, digits, ``_`` and ``-``; at most 32), written
        into every pseudonym made with the key.
    owner : str
        Who holds the key, e.g. ``"ZorgTTP"`` or ``"holders of the lung scheme"``.

    Examples
    --------
    >>> key = PseudonymKey.generate("v1", "holders of the lung scheme")
    >>> key
    PseudonymKey(version='v1', owner='holders of the lung scheme')
    >>> len(key.secret)
    32
    """

    secret: bytes = field(repr=False)
    version: str
    owner: str

    def __post_init__(self) -> None:
        if not isinstance(self.secret, bytes) or len(self.secret) != KEY_BYTES:
            raise InputError(
                f"a pseudonym key is {KEY_BYTES} random bytes; make one with "
                "PseudonymKey.generate or `perron pseudonymise keygen`."
            )
        if not _VERSION.fullmatch(self.version):
            raise InputError(
                f"key version {self.version!r} is not a label: use letters, digits, '_' or "
                "'-' (at most 32), like 'v1'; dots and colons separate labels in pseudonyms."
            )
        if not self.owner.strip() or not self.owner.isprintable():
            raise InputError(
                "a key needs an owner: one printable line naming who holds it, e.g. 'ZorgTTP'."
            )

    @classmethod
    def generate(cls, version: str, owner: str) -> PseudonymKey:
        """A new key of 32 bytes from :mod:`secrets`."""
        return cls(secrets.token_bytes(KEY_BYTES), version, owner)

    def fingerprint(self) -> str:
        """16 hex digits that identify the key without revealing it.

        Holders compare fingerprints to check that they all have the same source key.

        Examples
        --------
        >>> len(PseudonymKey.generate("v1", "test").fingerprint())
        16
        """
        return hmac.new(self.secret, _FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]

    def save(self, path: str | Path) -> Path:
        """Write the key to a new file with mode 0600; never overwrite one.

        Raises
        ------
        InputError
            The file exists already.
        """
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        body = json.dumps(
            {
                "kind": _KEY_KIND,
                "key_version": self.version,
                "owner": self.owner,
                "secret": base64.b64encode(self.secret).decode("ascii"),
            },
            indent=2,
        )
        try:
            descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise InputError(
                f"{target} exists; keys are never overwritten (the pseudonyms made with it "
                "would be lost). Choose another file or move the old key away first."
            ) from None
        with os.fdopen(descriptor, "w") as handle:
            handle.write(body + "\n")
        return target

    @classmethod
    def load(cls, path: str | Path) -> PseudonymKey:
        """Read a key file written by :meth:`save`.

        Raises
        ------
        InputError
            No such file, or not a pseudonym key file.
        SecurityError
            The file can be read by group or others (on POSIX); ``chmod 600`` it.
        """
        source = Path(path)
        try:
            mode = source.stat().st_mode
            text = source.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InputError(
                f"no key file at {source}; create one with `perron pseudonymise keygen` "
                "(or ask the key's owner: keys are not sent around)."
            ) from None
        if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise SecurityError(
                f"{source} can be read by other users (mode {stat.filemode(mode)}); "
                f"run `chmod 600 {source}` and ask whether the key leaked."
            )
        try:
            data = json.loads(text)
            if data.get("kind") != _KEY_KIND:
                raise ValueError
            secret = base64.b64decode(str(data["secret"]), validate=True)
            version, owner = str(data["key_version"]), str(data["owner"])
        except (ValueError, KeyError, TypeError, AttributeError, binascii.Error):
            raise InputError(
                f"{source} is not a Perron pseudonym key file; use the file "
                "`perron pseudonymise keygen` wrote."
            ) from None
        return cls(secret, version, owner)


class KeyVersions(NamedTuple):
    """The key versions a pseudonym was made with (``ttp`` is None after stage 1)."""

    holder: str
    ttp: str | None


def key_versions(pseudonym: str) -> KeyVersions:
    """Which key versions made a pseudonym: ``"v1.v3:..."`` -> ``KeyVersions("v1", "v3")``.

    Raises
    ------
    InputError
        The value is not a pseudonym of this module.

    Examples
    --------
    >>> key_versions("v1.v3:" + "0" * 64)
    KeyVersions(holder='v1', ttp='v3')
    >>> key_versions("v2:" + "0" * 64)
    KeyVersions(holder='v2', ttp=None)
    """
    match = _PSEUDONYM.fullmatch(pseudonym) if isinstance(pseudonym, str) else None
    if match is None:
        raise InputError(
            "not a Perron pseudonym: expected '<holder version>:<64 hex digits>' (stage 1) "
            "or '<holder version>.<TTP version>:<64 hex digits>' (stage 2)."
        )
    return KeyVersions(match[1], match[2])


def holder_pseudonym(bsn: str, key: PseudonymKey) -> str:
    """Stage 1, at the data holder: HMAC-SHA256 of the BSN with the shared source key.

    The BSN is normalised first (:func:`~perron.linkage.bsn.normalise_bsn`); the MAC is
    over its nine ASCII digits. The result goes to the TTP, never the BSN.

    Parameters
    ----------
    bsn : str
        A BSN (spaces, dots, dashes and a dropped leading zero are accepted).
    key : PseudonymKey
        The source key every holder of the scheme shares (not the TTP's key).

    Returns
    -------
    str
        ``"<source key version>:<64 hex digits>"``.

    Raises
    ------
    InputError
        ``bsn`` is not a valid BSN (the message shows it masked).

    Examples
    --------
    A fixed key for the example only; real keys come from ``PseudonymKey.generate``.

    >>> source = PseudonymKey(bytes(32), "v1", "holders of the lung scheme")
    >>> holder_pseudonym("111222333", source)
    'v1:e028ffed744ddf5416ca3349cc1d17848d505dee5215993f2388076083d3213b'
    >>> holder_pseudonym("111 222 333", source) == holder_pseudonym("111222333", source)
    True
    """
    digits = normalise_bsn(bsn)
    digest = hmac.new(key.secret, digits.encode("ascii"), hashlib.sha256).hexdigest()
    return f"{key.version}:{digest}"


def _study_bytes(study: str) -> bytes:
    name = unicodedata.normalize("NFC", study) if isinstance(study, str) else ""
    if not name or name != name.strip() or not name.isprintable() or len(name) > _MAX_STUDY:
        raise InputError(
            f"study name {study!r} cannot name a study key: use one printable line of at "
            f"most {_MAX_STUDY} characters without leading or trailing spaces, exactly as "
            "agreed with the TTP (another spelling gives other pseudonyms)."
        )
    return name.encode("utf-8")


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(2, "big") + data


def study_key_info(study: str, version: str) -> bytes:
    """The HKDF ``info`` of a study key: three length-prefixed fields.

    ``len(label) || label || len(study) || study || len(version) || version``, each
    length two bytes big-endian; the label is :data:`HKDF_LABEL`, the study its NFC
    UTF-8 bytes, the version the TTP key's ASCII label. Length prefixes make the
    encoding unambiguous (no study name can imitate another's info).

    Examples
    --------
    >>> study_key_info("lung", "v3")
    b'\\x00%perron.linkage.pseudonym/study-key/v1\\x00\\x04lung\\x00\\x02v3'
    """
    if not _VERSION.fullmatch(version):
        raise InputError(f"key version {version!r} is not a label like 'v1'.")
    return _field(HKDF_LABEL) + _field(_study_bytes(study)) + _field(version.encode("ascii"))


def _study_key(key: PseudonymKey, study: str) -> bytes:
    # No salt: the input key is already 32 uniformly random bytes (RFC 5869, 3.1).
    kdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_BYTES,
        salt=None,
        info=study_key_info(study, key.version),
    )
    return kdf.derive(key.secret)


def _stage1_digest(value: object, where: str) -> tuple[str, bytes]:
    """(holder version, raw digest) of a stage-1 value, or an InputError."""
    match = _PSEUDONYM.fullmatch(value) if isinstance(value, str) else None
    if match is not None and match[2] is None:
        return match[1], bytes.fromhex(match[3])
    if match is not None:
        problem = (
            f"is already a stage-2 pseudonym (keys {match[1]}.{match[2]}); stage 2 is applied once"
        )
    elif isinstance(value, str | int) and (
        is_valid_bsn(str(value)) or str(value).strip().isdigit()
    ):
        problem = (
            "looks like a BSN, not a stage-1 pseudonym: the TTP must never receive BSNs. "
            "Run stage 1 at the holder (holder_pseudonym, `--stage holder`) and send only "
            "its output"
        )
    else:
        problem = (
            "is not a stage-1 pseudonym (expected '<version>:<64 hex digits>', as "
            "holder_pseudonym makes)"
        )
    raise InputError(f"{where} {problem}.")


def ttp_pseudonyms(values: Sequence[str], key: PseudonymKey, study: str) -> list[str]:
    """Stage 2 for many stage-1 values at once (the study key is derived once).

    See :func:`ttp_pseudonym`; errors name the 1-based row of the offending value.

    Examples
    --------
    >>> source = PseudonymKey(bytes(32), "v1", "holders")
    >>> ttp = PseudonymKey(bytes(range(32)), "v3", "TTP")
    >>> stage1 = [holder_pseudonym(b, source) for b in ("111222333", "123456782")]
    >>> [p[:6] for p in ttp_pseudonyms(stage1, ttp, "lung")]
    ['v1.v3:', 'v1.v3:']
    """
    mac = hmac.new(_study_key(key, study), digestmod=hashlib.sha256)
    out: list[str] = []
    for position, value in enumerate(values):
        holder_version, digest = _stage1_digest(value, f"row {position + 1}")
        one = mac.copy()
        one.update(digest)
        out.append(f"{holder_version}.{key.version}:{one.hexdigest()}")
    return out


def ttp_pseudonym(stage1: str, key: PseudonymKey, study: str) -> str:
    """Stage 2, at the TTP: HMAC-SHA256 of the stage-1 digest with a per-study key.

    The study key is ``HKDF-SHA256(key, salt=None, info=study_key_info(study,
    key.version))``; the MAC is over the 32 raw bytes of the stage-1 digest. Without
    the TTP key nobody (holders included) can compute or test a study pseudonym, and
    another study (or TTP key version) gives unrelated pseudonyms.

    Parameters
    ----------
    stage1 : str
        A stage-1 value, ``"<version>:<64 hex digits>"``, from :func:`holder_pseudonym`.
    key : PseudonymKey
        The TTP's own key (never the holders' source key).
    study : str
        The study's name, exactly as agreed (NFC-normalised; case matters).

    Returns
    -------
    str
        ``"<source key version>.<TTP key version>:<64 hex digits>"``.

    Raises
    ------
    InputError
        ``stage1`` is not a stage-1 value (a BSN is refused outright), or the study
        name is empty or not one printable line.

    Examples
    --------
    >>> source = PseudonymKey(bytes(32), "v1", "holders")
    >>> ttp = PseudonymKey(bytes(range(32)), "v3", "TTP")
    >>> lung = ttp_pseudonym(holder_pseudonym("111222333", source), ttp, "lung")
    >>> lung[:6], len(lung)
    ('v1.v3:', 70)
    >>> lung == ttp_pseudonym(holder_pseudonym("111222333", source), ttp, "heart")
    False
    """
    return ttp_pseudonyms([stage1], key, study)[0]


def local_ttp(key: PseudonymKey, study: str) -> TtpStep:
    """The TTP's stage 2 in this process: the in-memory twin of a remote TTP.

    For tests and for the TTP itself; a holder has no TTP key in deployment.

    Examples
    --------
    >>> step = local_ttp(PseudonymKey(bytes(range(32)), "v3", "TTP"), "lung")
    >>> step(["v1:" + "ab" * 32])[0][:6]
    'v1.v3:'
    """
    study_key_info(study, key.version)  # fail early on a bad study name

    def step(values: list[str]) -> list[str]:
        return ttp_pseudonyms(values, key, study)

    return step


@dataclass(frozen=True)
class PseudonymisedFrame:
    """The data with the BSN column replaced by pseudonyms, and what was left out.

    Attributes
    ----------
    frame : pandas.DataFrame
        The valid rows (original index kept), the pseudonym column where the BSN
        column was. The BSN column is gone.
    invalid : tuple of InvalidBsn
        The rows whose BSN is not valid (masked, with the reason); left out.
    rows_in : int
        Rows in the input.
    """

    frame: pd.DataFrame
    invalid: tuple[InvalidBsn, ...]
    rows_in: int


def _single_column(frame: pd.DataFrame, column: str) -> int:
    count = list(frame.columns).count(column)
    if count == 0:
        names = ", ".join(repr(str(c)) for c in frame.columns[:20])
        raise UnknownColumn(f"column {column!r} is not in the data (columns: {names}).")
    if count > 1:
        raise InputError(f"the data has {count} columns named {column!r}; rename all but one.")
    return list(frame.columns).index(column)


def _free_column(frame: pd.DataFrame, column: str, new_column: str) -> None:
    if new_column != column and new_column in frame.columns:
        raise InputError(
            f"the data has a column {new_column!r} already; choose another name for the "
            "pseudonym column."
        )


def _replace_column(
    frame: pd.DataFrame, column: str, new_column: str, values: list[str]
) -> pd.DataFrame:
    where = _single_column(frame, column)
    _free_column(frame, column, new_column)
    out = frame.drop(columns=column)
    out.insert(where, new_column, values)
    return out


def holder_frame(
    frame: pd.DataFrame,
    bsn_column: str,
    key: PseudonymKey,
    *,
    invalid: Literal["raise", "drop"] = "raise",
    pseudonym_column: str = "pseudonym",
) -> PseudonymisedFrame:
    """Stage 1 on a table: check every BSN, replace the BSN column by stage-1 values.

    The output is what a holder sends to the TTP (the pseudonym column alone
    suffices). With ``invalid="raise"`` an invalid BSN stops everything; with
    ``"drop"`` the row is left out and listed in ``PseudonymisedFrame.invalid``.

    Examples
    --------
    >>> source = PseudonymKey(bytes(32), "v1", "holders")
    >>> data = pd.DataFrame({"bsn": ["111222333", "111222334"], "age": [61, 70]})
    >>> done = holder_frame(data, "bsn", source, invalid="drop")
    >>> list(done.frame.columns), [i.describe() for i in done.invalid]
    (['pseudonym', 'age'], ['row 2: *****2334 fails the eleven-test'])
    """
    if invalid not in ("raise", "drop"):
        raise InputError(f"invalid={invalid!r}: choose 'raise' or 'drop'.")
    _single_column(frame, bsn_column)
    _free_column(frame, bsn_column, pseudonym_column)
    report = check_bsns(frame[bsn_column].tolist())
    if report.invalid and invalid == "raise":
        lines = "; ".join(item.describe() for item in report.invalid[:_SHOWN_ERRORS])
        more = len(report.invalid) - _SHOWN_ERRORS
        raise InputError(
            f"{len(report.invalid)} of {len(frame)} rows have no valid BSN ({lines}"
            f"{f'; and {more} more' if more > 0 else ''}). Correct them at the source, or "
            "leave them out on purpose with invalid='drop' (they are then listed)."
        )
    mac = hmac.new(key.secret, digestmod=hashlib.sha256)
    stage1: list[str] = []
    for digits in report.valid:
        one = mac.copy()
        one.update(digits.encode("ascii"))
        stage1.append(f"{key.version}:{one.hexdigest()}")
    kept = frame.iloc[list(report.valid_positions)]
    return PseudonymisedFrame(
        _replace_column(kept, bsn_column, pseudonym_column, stage1), report.invalid, len(frame)
    )


def ttp_frame(frame: pd.DataFrame, column: str, key: PseudonymKey, study: str) -> pd.DataFrame:
    """Stage 2 on a table: replace a column of stage-1 values by study pseudonyms.

    Examples
    --------
    >>> ttp = PseudonymKey(bytes(range(32)), "v3", "TTP")
    >>> sent = pd.DataFrame({"pseudonym": ["v1:" + "ab" * 32]})
    >>> ttp_frame(sent, "pseudonym", ttp, "lung")["pseudonym"].str[:6].tolist()
    ['v1.v3:']
    """
    _single_column(frame, column)
    return _replace_column(
        frame, column, column, ttp_pseudonyms(frame[column].tolist(), key, study)
    )


def _answers(sent: list[str], answers: object, holder_version: str) -> list[str]:
    """The TTP's answers, checked: one distinct stage-2 pseudonym per value sent."""
    if not isinstance(answers, list) or len(answers) != len(sent):
        raise TransportError(
            f"the TTP step answered {type(answers).__name__} of "
            f"{len(answers) if isinstance(answers, list) else '?'} items for {len(sent)} "
            "values sent; it must return one pseudonym per value, in order."
        )
    for answer in answers:
        match = _PSEUDONYM.fullmatch(answer) if isinstance(answer, str) else None
        if match is None or match[2] is None or match[1] != holder_version:
            raise TransportError(
                "the TTP step answered something that is not a stage-2 pseudonym of "
                f"source key {holder_version} ('{holder_version}.<TTP version>:<64 hex>'); "
                "check that the TTP runs stage 2 on what it was sent."
            )
    if len(set(answers)) != len(answers):
        raise TransportError(
            "the TTP step gave one pseudonym to different persons; do not use its answer "
            "and report this to the TTP."
        )
    return list(answers)


def pseudonymise_frame(
    frame: pd.DataFrame,
    bsn_column: str,
    holder_key: PseudonymKey,
    ttp: TtpStep | PseudonymKey,
    study: str | None = None,
    *,
    invalid: Literal["raise", "drop"] = "raise",
    pseudonym_column: str = "pseudonym",
) -> PseudonymisedFrame:
    """Both stages on a table: BSNs checked, replaced by study pseudonyms, never kept.

    Stage 1 runs here with ``holder_key``; the TTP step gets only the distinct stage-1
    values, sorted (so it learns neither row order nor how often a person occurs), and
    its answers are checked and mapped back to the rows.

    Parameters
    ----------
    frame : pandas.DataFrame
        The holder's data; not changed.
    bsn_column : str
        The column with the BSNs (text keeps leading zeros; see
        :mod:`perron.linkage.bsn`).
    holder_key : PseudonymKey
        The scheme's shared source key.
    ttp : TtpStep or PseudonymKey
        The TTP's stage 2: a callable (in deployment, one that asks the TTP; it is
        bound to its study), or the TTP's key to run it here (tests, or at the TTP).
    study : str, optional
        The study name; required with a TTP key, refused with a callable (which
        already serves one study).
    invalid : {"raise", "drop"}
        What an invalid BSN does: stop with an :class:`InputError` listing the rows,
        or leave the row out and list it in the result.
    pseudonym_column : str
        The name of the new column, at the place of the BSN column.

    Returns
    -------
    PseudonymisedFrame
        The pseudonymised rows and the rows left out.

    Examples
    --------
    >>> source = PseudonymKey.generate("v1", "holders of the lung scheme")
    >>> ttp = PseudonymKey.generate("v3", "TTP")
    >>> data = pd.DataFrame({"bsn": ["111222333", "123456782", "111222333"], "age": [61, 70, 61]})
    >>> done = pseudonymise_frame(data, "bsn", source, ttp, "lung")
    >>> done.frame.columns.tolist(), done.frame["pseudonym"].nunique()
    (['pseudonym', 'age'], 2)
    >>> key_versions(done.frame["pseudonym"].iloc[0])
    KeyVersions(holder='v1', ttp='v3')
    """
    if isinstance(ttp, PseudonymKey):
        if study is None:
            raise InputError("with the TTP's key, name the study: study='...'.")
        if hmac.compare_digest(ttp.secret, holder_key.secret):
            raise InputError(
                "the source key and the TTP key are the same key; they must be two keys "
                "held by different parties, or the TTP could reverse stage 1."
            )
        step = local_ttp(ttp, study)
    elif study is not None:
        raise InputError(
            "a TTP step (callable) is bound to its study already; pass study only with "
            "the TTP's key."
        )
    else:
        step = ttp
    stage1 = holder_frame(
        frame, bsn_column, holder_key, invalid=invalid, pseudonym_column=pseudonym_column
    )
    column = stage1.frame[pseudonym_column].tolist()
    sent = sorted(set(column))
    answers = _answers(sent, step(list(sent)), holder_key.version) if sent else []
    study_pseudonym = dict(zip(sent, answers, strict=True))
    out = stage1.frame.copy()
    out[pseudonym_column] = [study_pseudonym[value] for value in column]
    return PseudonymisedFrame(out, stage1.invalid, stage1.rows_in)
