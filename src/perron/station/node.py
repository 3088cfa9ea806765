"""A station: runs allow-listed algorithm steps on its own data, under its own rules.

The station is where the data holder's control lives. For each task it

1. refuses algorithms that are not installed here or not on the allow-list;
2. computes the effective disclosure policy: the holder's (or, under a study
   policy, the holder's as that policy tightened it), tightened (never loosened) by
   the request;
3. runs the algorithm's station step through the data seam (under a study policy:
   the restricted view :mod:`perron.station.governance` gives it);
4. refuses to release anything the algorithm's contract does not declare;
5. returns a partial, or the error as a wire description, never a traceback
   (which could hold data values).
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping

from perron.algorithms.core.base import FederatedAlgorithm, StationContext
from perron.algorithms.core.memory import SessionMemory
from perron.algorithms.core.secure_rounds import mask_payload, open_run
from perron.algorithms.registry import INSTALLED, AlgorithmClass
from perron.data.linkage import LinkKeys
from perron.data.source import DataSource
from perron.privacy.ledger import MemoryLedger, QueryLedger
from perron.privacy.policy import DisclosurePolicy
from perron.protocol.errors import (
    AlgorithmNotAllowed,
    InputError,
    PerronError,
    PolicyViolation,
    error_to_wire,
)
from perron.protocol.messages import SECURE_AGGREGATION, Partial, Task

logger = logging.getLogger(__name__)


class Station:
    """One data holder's node.

    Parameters
    ----------
    name
        The station's name in the study.
    source
        Its local data, behind the data seam.
    policy
        The holder's disclosure settings.
    allowed
        Names of the algorithms the holder allows; ``None`` allows every installed one.
    installed
        The algorithms installed at this station.
    """

    def __init__(
        self,
        name: str,
        source: DataSource,
        policy: DisclosurePolicy | None = None,
        allowed: Collection[str] | None = None,
        installed: Mapping[str, AlgorithmClass] = INSTALLED,
        linkage: LinkKeys | None = None,
    ) -> None:
        self.name = name
        self.source = source
        self.policy = policy or DisclosurePolicy()
        self.allowed = frozenset(installed if allowed is None else allowed)
        self.installed = installed
        self.linkage = linkage
        #: Secrets of multi-round protocols (PSI), kept in this process only.
        self.memory = SessionMemory()
        #: Feasibility queries per requester (a station process swaps in its SQLite one).
        self.ledger: QueryLedger = MemoryLedger()

    def handle(
        self,
        task: Task,
        *,
        source: DataSource | None = None,
        disclosure: DisclosurePolicy | None = None,
        linkage: LinkKeys | None = None,
        requester: str | None = None,
    ) -> Partial:
        """Run one task and return what may be released.

        Parameters
        ----------
        task
            The algorithm, its parameters and the requested disclosure settings.
        source
            The data this task may see (default: the station's source).
        disclosure
            The disclosure settings this task starts from (default: the holder's);
            the request may only tighten them.
        linkage
            The link keys this task may use (default: the station's).
        requester
            Who asked (the task's signer), for the feasibility ledger.
        """
        try:
            algorithm = self._algorithm(task.algorithm)
            base = self.policy if disclosure is None else disclosure
            policy = base.tightened(task.disclosure)
            data = self.source if source is None else source
            links = self.linkage if linkage is None else linkage
            context = StationContext(
                self.name, policy, self.memory, links, requester or "researcher", self.ledger
            )
            secure = task.params.get(SECURE_AGGREGATION)
            params = {k: v for k, v in task.params.items() if k != SECURE_AGGREGATION}
            if secure is not None and secure.get("stage") == "keys":
                if algorithm.secure_fields is FederatedAlgorithm.secure_fields:
                    raise _not_secure(task.algorithm)
                return Partial(self.name, open_run(self.memory, str(secure["run"])))
            output = algorithm.station_step(data, params, context)
            undeclared = set(output.payload) - set(algorithm.contract.releases)
            if undeclared:
                raise PolicyViolation(
                    f"algorithm {task.algorithm!r} tried to release undeclared outputs "
                    f"{sorted(undeclared)}; the station refused. Report this algorithm."
                )
            payload = output.payload
            if secure is not None:
                fields = algorithm.secure_fields(params)
                if fields is None:
                    raise _not_secure(task.algorithm)
                payload = mask_payload(payload, fields, secure, self.name, self.memory)
            return Partial(self.name, payload, tuple(output.decisions))
        except PerronError as error:
            return Partial(self.name, None, error=error_to_wire(error))
        except Exception as error:
            logger.exception("station %s: task %s failed", self.name, task.algorithm)
            wire = {
                "kind": "PerronError",
                "message": f"station {self.name!r} failed with {type(error).__name__} while "
                f"running {task.algorithm!r}; the details are in the station's log.",
            }
            return Partial(self.name, None, error=wire)

    def _algorithm(self, name: str) -> AlgorithmClass:
        if name not in self.installed or name not in self.allowed:
            raise AlgorithmNotAllowed(
                f"algorithm {name!r} is not installed or not allow-listed at station "
                f"{self.name!r}; ask its data manager to allow it."
            )
        return self.installed[name]


def _not_secure(algorithm: str) -> InputError:
    return InputError(
        f"algorithm {algorithm!r} cannot run under secure aggregation (its coordinator needs "
        "each station's partial); run it without, if the study policy allows."
    )
