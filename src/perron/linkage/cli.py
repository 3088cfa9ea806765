"""``perron pseudonymise ...``: BSN -> study pseudonyms on a CSV file, and key files.

In deployment the two stages run at two parties (see ``docs/pseudonyms.md``)::

    perron pseudonymise keygen --out source.key --version v1 --owner "lung scheme holders"
    perron pseudonymise keygen --out ttp.key --version v1 --owner ZorgTTP        # at the TTP
    perron pseudonymise run --stage holder --input data.csv --output stage1.csv \\
        --bsn-column bsn --holder-key source.key                                # holder
    perron pseudonymise run --stage ttp --input stage1.csv --output study.csv \\
        --ttp-key ttp.key --study lung                                          # TTP

``--stage both`` (the default) runs both here, for tests and synthetic data.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeAlias, TypeVar

import typer

if TYPE_CHECKING:
    import pandas as pd

    from perron.linkage.bsn import InvalidBsn

    # What a stage gives back: the output table, the rows left out, a summary line.
    _Outcome: TypeAlias = tuple[pd.DataFrame, tuple[InvalidBsn, ...], str]

_T = TypeVar("_T")

app = typer.Typer(
    help="Pseudonymise BSNs the Dutch TTP way: keyed at the holder, keyed again per study "
    "at the trusted third party.",
    no_args_is_help=True,
)


class Stage(StrEnum):
    """Which stage(s) of the double pseudonymisation to run."""

    both = "both"
    holder = "holder"
    ttp = "ttp"


def _fail(error: Exception) -> typer.Exit:
    typer.echo(f"{type(error).__name__}: {error}", err=True)
    return typer.Exit(1)


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="The new key file (mode 0600).")],
    owner: Annotated[
        str, typer.Option(help="Who holds the key, e.g. 'ZorgTTP' or 'lung scheme holders'.")
    ],
    version: Annotated[
        str, typer.Option("--version", help="The key's version label, written in pseudonyms.")
    ] = "v1",
) -> None:
    """Generate a key (32 random bytes) in a new file; an existing file is never replaced."""
    from perron.linkage.pseudonym import PseudonymKey  # noqa: PLC0415 - keep --help fast
    from perron.protocol.errors import PerronError  # noqa: PLC0415

    try:
        key = PseudonymKey.generate(version, owner)
        key.save(out)
    except PerronError as error:
        raise _fail(error) from None
    typer.echo(
        f"wrote key {key.version} of {key.owner!r} to {out} (mode 0600, fingerprint "
        f"{key.fingerprint()}). A TTP key never leaves the TTP; a source key goes only to "
        "the holders of its scheme, over a secure channel. Compare fingerprints, not keys."
    )


def _read(path: Path) -> pd.DataFrame:
    import pandas as pd  # noqa: PLC0415

    from perron.protocol.errors import DataSourceError  # noqa: PLC0415

    try:
        # Everything as text: BSNs keep their leading zeros, other columns pass through.
        return pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise DataSourceError(
            f"{path} is not a readable CSV file ({type(error).__name__}); export it as "
            "UTF-8 CSV with a header line."
        ) from None


def _report(invalid: tuple[InvalidBsn, ...]) -> None:
    if not invalid:
        return
    typer.echo(
        f"{len(invalid)} rows have no valid BSN and are not pseudonymised "
        "(rows counted from 1 after the header):"
    )
    for item in invalid:
        typer.echo(f"  {item.describe()}")


def _given(value: _T | None) -> _T:
    if value is None:  # `run` checks the options of each stage first
        raise typer.BadParameter("a required option is missing.")
    return value


def _ttp_stage(
    frame: pd.DataFrame, ttp_key: Path, study: str, bsn_column: str, pseudonym_column: str
) -> _Outcome:
    from perron.linkage.pseudonym import PseudonymKey, ttp_frame  # noqa: PLC0415
    from perron.protocol.errors import InputError  # noqa: PLC0415

    if bsn_column in frame.columns:
        raise InputError(
            f"the input has a column {bsn_column!r}: the TTP must never receive BSNs. "
            "The holder sends only the stage-1 column (`--stage holder`)."
        )
    key = PseudonymKey.load(ttp_key)
    out = ttp_frame(frame, pseudonym_column, key, study)
    return out, (), f"stage 2: {len(out)} rows for study {study!r} (TTP key {key.version})"


def _holder_stages(
    frame: pd.DataFrame,
    bsn_column: str,
    holder_key: Path,
    ttp_key: Path | None,
    study: str | None,
    pseudonym_column: str,
) -> _Outcome:
    """Stage 1, or (with a TTP key) both stages; invalid BSNs are left out and listed."""
    from perron.linkage.pseudonym import (  # noqa: PLC0415
        PseudonymKey,
        holder_frame,
        pseudonymise_frame,
    )

    source = PseudonymKey.load(holder_key)
    if ttp_key is None:
        done = holder_frame(
            frame, bsn_column, source, invalid="drop", pseudonym_column=pseudonym_column
        )
        summary = (
            f"stage 1: {len(done.frame)} of {done.rows_in} rows (source key {source.version}); "
            f"send only the {pseudonym_column!r} column to the TTP"
        )
        return done.frame, done.invalid, summary
    ttp = PseudonymKey.load(ttp_key)
    done = pseudonymise_frame(
        frame, bsn_column, source, ttp, study, invalid="drop", pseudonym_column=pseudonym_column
    )
    summary = (
        f"pseudonymised {len(done.frame)} of {done.rows_in} rows for study {study!r} "
        f"(keys {source.version}.{ttp.version})"
    )
    return done.frame, done.invalid, summary


@app.command()
def run(
    input_file: Annotated[
        Path,
        typer.Option("--input", exists=True, dir_okay=False, help="The CSV file to read."),
    ],
    output: Annotated[Path, typer.Option("--output", help="The CSV file to write (new).")],
    bsn_column: Annotated[str, typer.Option(help="The column with the BSNs.")] = "bsn",
    holder_key: Annotated[
        Path | None, typer.Option(help="The scheme's source key (stages both, holder).")
    ] = None,
    ttp_key: Annotated[Path | None, typer.Option(help="The TTP's key (stages both, ttp).")] = None,
    study: Annotated[
        str | None, typer.Option(help="The study name, as agreed with the TTP.")
    ] = None,
    stage: Annotated[
        Stage,
        typer.Option(
            help="holder: BSN -> stage 1; ttp: the stage-1 column -> study pseudonyms; "
            "both: the two here (tests, synthetic data)."
        ),
    ] = Stage.both,
    pseudonym_column: Annotated[
        str,
        typer.Option(help="The column written (for --stage ttp: read and replaced)."),
    ] = "pseudonym",
    strict: Annotated[
        bool, typer.Option("--strict", help="Any invalid BSN: write nothing, exit 1.")
    ] = False,
) -> None:
    """Replace the BSN column of a CSV file by pseudonyms; list the rows with invalid BSNs."""
    from perron.protocol.errors import InputError, PerronError  # noqa: PLC0415

    needed = {
        Stage.both: (("--holder-key", holder_key), ("--ttp-key", ttp_key), ("--study", study)),
        Stage.holder: (("--holder-key", holder_key),),
        Stage.ttp: (("--ttp-key", ttp_key), ("--study", study)),
    }[stage]
    missing = [name for name, value in needed if value is None]
    if missing:
        raise typer.BadParameter(f"--stage {stage.value} needs {', '.join(missing)}.")
    try:
        if output.exists():
            raise InputError(f"{output} exists; choose another --output or remove it first.")
        frame = _read(input_file)
        if stage is Stage.ttp:
            out, invalid, summary = _ttp_stage(
                frame, _given(ttp_key), _given(study), bsn_column, pseudonym_column
            )
        else:
            out, invalid, summary = _holder_stages(
                frame,
                bsn_column,
                _given(holder_key),
                ttp_key if stage is Stage.both else None,
                study,
                pseudonym_column,
            )
    except PerronError as error:
        raise _fail(error) from None
    _report(invalid)
    if strict and invalid:
        typer.echo("--strict: nothing written; correct the BSNs at the source.", err=True)
        raise typer.Exit(1)
    out.to_csv(output, index=False)
    typer.echo(f"{summary} -> {output}")
