"""The one exception tree of Perron.

Every error a user can meet is a subclass of :class:`PerronError`; its message says
what happened, why, and what to do about it::

    PerronError
    ├── InputError                  the request itself is wrong
    │   ├── UnknownColumn           a column does not exist at a station
    │   ├── NonNumericColumn        a text/categorical column used as a number
    │   ├── NoCompleteRows          every row misses a value the analysis needs
    │   ├── FormulaError            a model formula Perron cannot read
    │   └── DataSourceError         a dataset cannot be loaded
    ├── ModelError                  the data cannot support the model
    │   ├── PerfectSeparation       a logistic model separates the outcome exactly
    │   ├── SingularDesign          collinear predictors
    │   └── ConvergenceFailed       the iterations did not converge
    ├── PolicyViolation             a rule of a data holder stops the request
    │   ├── DisclosureBlocked       an output would break a disclosure rule
    │   ├── LooseningRejected       a request tried to loosen the holder's rules
    │   ├── AlgorithmNotAllowed     the algorithm is not installed / allow-listed
    │   ├── OutsidePolicy           a task falls outside the study's signed policy
    │   └── SecurityError           a message or principal failed a security check
    │       ├── TamperedMessage     a signature or ciphertext does not verify
    │       ├── ReplayedTask        a task was already seen, or has expired
    │       ├── AuthenticationFailed  no or a wrong/expired/revoked credential
    │       └── NotAuthorized       the principal may not do this (wrong study, org or role)
    ├── RouteViolation              a study-route step decided out of order or on a closed track
    ├── MissingDependency           an optional package is not installed (names the extra)
    └── TransportError              a station could not be reached or answered garbage
        ├── RoundTimeout            not every station answered in time
        └── TaskCancelled           the round was cancelled

Errors cross the transport seam by name (:func:`error_from_wire`), so a
``DisclosureBlocked`` raised at a remote station is a ``DisclosureBlocked`` at the
researcher too.
"""

from __future__ import annotations


class PerronError(Exception):
    """Base class of every error Perron raises on purpose."""


class InputError(PerronError):
    """The request is wrong: fix the call, not the data."""


class UnknownColumn(InputError):
    """A requested column does not exist in a station's dataset."""


class NonNumericColumn(InputError):
    """A column that is not numeric was used where a number is needed."""


class NoCompleteRows(InputError):
    """After dropping rows with missing values, nothing is left."""


class FormulaError(InputError):
    """A model formula uses syntax Perron does not support."""


class DataSourceError(InputError):
    """A dataset could not be opened or read."""


class ModelError(PerronError):
    """The data cannot support the requested model."""


class PerfectSeparation(ModelError):
    """A binomial model predicts the outcome exactly; the MLE does not exist."""


class SingularDesign(ModelError):
    """The design matrix is rank deficient (collinear predictors)."""


class ConvergenceFailed(ModelError):
    """The iterative fit did not converge within its iteration limit."""


class PolicyViolation(PerronError):
    """A data holder's policy stops the request."""


class DisclosureBlocked(PolicyViolation):
    """A station refused to release an output that would break a disclosure rule.

    The message names the station, the rule and the threshold, never the protected
    number.
    """

    def __init__(self, station: str, rule: str, threshold: float | int, hint: str) -> None:
        self.station = station
        self.rule = rule
        self.threshold = threshold
        self.hint = hint
        super().__init__(
            f"station {station!r} blocked the output: rule {rule!r} "
            f"(threshold {threshold}) is not met. {hint}"
        )

    def __reduce__(self) -> tuple[type[DisclosureBlocked], tuple[str, str, float | int, str]]:
        return (DisclosureBlocked, (self.station, self.rule, self.threshold, self.hint))


class LooseningRejected(PolicyViolation):
    """A request asked for disclosure settings looser than the data holder's."""


class AlgorithmNotAllowed(PolicyViolation):
    """The station does not have the requested algorithm installed and allow-listed."""


class OutsidePolicy(PolicyViolation):
    """A task falls outside the signed policy of its study at this holder.

    The message names the policy rule (algorithm, parameter, dataset, column,
    period, max_tasks, budget, signature, required) and says what to do.
    """


class SecurityError(PolicyViolation):
    """A message or a principal failed a security check."""


class TamperedMessage(SecurityError):
    """A signature or a ciphertext does not verify: the message was changed or forged."""


class ReplayedTask(SecurityError):
    """A task was delivered again with another identity, or after it expired."""


class AuthenticationFailed(SecurityError):
    """No credential, or a wrong, expired or revoked one."""


class NotAuthorized(SecurityError):
    """The authenticated principal may not do this (wrong study, organisation or role)."""


class RouteViolation(PerronError):
    """A study-route step was decided out of order, or on a track that is closed."""


class MissingDependency(PerronError, ImportError):
    """An optional package that this feature needs is not installed.

    The message names the package and the extra that installs it
    (``pip install "perron[demo]"``). It is an :class:`ImportError` too, so code that
    guards an optional import with ``except ImportError`` keeps working.
    """


class TransportError(PerronError):
    """A station could not be reached or sent an unreadable answer."""


class RoundTimeout(TransportError):
    """Not every station answered within the round's time limit."""

    #: The stations that did not answer (set by the grid that timed out).
    stations: tuple[str, ...] = ()


class TaskCancelled(TransportError):
    """The task was cancelled before every station answered."""


class HubUnavailable(TransportError):
    """The hub cannot serve the request now (its database is unreachable); try again."""


_WIRE: dict[str, type[PerronError]] = {
    cls.__name__: cls
    for cls in (
        PerronError,
        InputError,
        UnknownColumn,
        NonNumericColumn,
        NoCompleteRows,
        FormulaError,
        DataSourceError,
        ModelError,
        PerfectSeparation,
        SingularDesign,
        ConvergenceFailed,
        PolicyViolation,
        LooseningRejected,
        AlgorithmNotAllowed,
        OutsidePolicy,
        SecurityError,
        TamperedMessage,
        ReplayedTask,
        AuthenticationFailed,
        NotAuthorized,
        RouteViolation,
        MissingDependency,
        TransportError,
        RoundTimeout,
        TaskCancelled,
        HubUnavailable,
    )
}


def error_to_wire(error: PerronError) -> dict[str, object]:
    """Describe an error so that it can cross the transport seam."""
    if isinstance(error, DisclosureBlocked):
        return {
            "kind": "DisclosureBlocked",
            "station": error.station,
            "rule": error.rule,
            "threshold": error.threshold,
            "hint": error.hint,
        }
    return {"kind": type(error).__name__, "message": str(error)}


def error_from_wire(wire: dict[str, object]) -> PerronError:
    """Rebuild the error a station raised from its wire description."""
    kind = str(wire.get("kind", "PerronError"))
    if kind == "DisclosureBlocked":
        threshold = wire.get("threshold", 0)
        return DisclosureBlocked(
            str(wire.get("station", "?")),
            str(wire.get("rule", "?")),
            threshold if isinstance(threshold, int | float) else 0,
            str(wire.get("hint", "")),
        )
    cls = _WIRE.get(kind, TransportError)
    return cls(str(wire.get("message", "")))
