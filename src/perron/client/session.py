"""The researcher's handle on a study: every analysis is a method of a Session.

A Session drives algorithms over a :class:`~perron.protocol.grid.Grid`; it is the
same object whether the stations run in this process (:func:`perron.simulate`) or
behind a hub (the network issue). Every method accepts ``disclosure``: settings
that may tighten, never loosen, each station's own rules for this call.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pandas as pd

from perron.algorithms.core.model_spec import ModelSpec
from perron.algorithms.core.secure_rounds import SecureAggregation
from perron.algorithms.feasibility.counts import Feasibility, FeasibilityResult
from perron.algorithms.feasibility.overlap import Overlap, OverlapReport
from perron.algorithms.linkage.linked_crosstab import LinkedCrosstab, LinkedCrosstabResult
from perron.algorithms.prediction.boosting import GradientBoosting
from perron.algorithms.prediction.published_model import PublishedModel
from perron.algorithms.prediction.recalibration import Recalibrate, RecalibrationResult
from perron.algorithms.prediction.trained import TrainedModel
from perron.algorithms.prediction.training import FederatedTraining, TrainingPlan
from perron.algorithms.prediction.validation import Validate
from perron.algorithms.prediction.validation_result import ValidationResult
from perron.algorithms.quality.reports import Quality, QualityResult
from perron.algorithms.regression.glm import GLM
from perron.algorithms.regression.glm_result import GLMResult
from perron.algorithms.statistics.crosstab import Crosstab, CrosstabResult
from perron.algorithms.statistics.dp_release import DPRelease, DPResult
from perron.algorithms.statistics.histogram import Histogram, HistogramResult
from perron.algorithms.statistics.quantile import Quantile, QuantileResult
from perron.algorithms.statistics.summary import COMBINED, Summary, SummaryResult
from perron.algorithms.surveillance.case_counts import CountSpec
from perron.algorithms.surveillance.weekly_counts import WeeklyCounts
from perron.algorithms.surveillance.weekly_result import WeeklyCountsResult
from perron.algorithms.survival.cox_result import CoxResult
from perron.algorithms.survival.coxph import CoxPH
from perron.algorithms.survival.kaplan_meier import KaplanMeier
from perron.algorithms.survival.km_result import KaplanMeierResult
from perron.algorithms.survival.logrank import Logrank, LogrankResult
from perron.client.publish import Errors, publish
from perron.learning.boosting import BoostedModel, tree_progress
from perron.learning.local import LocalConfig
from perron.learning.metrics import RoundMetrics
from perron.learning.progress import TrainingProgress
from perron.learning.strategies import ServerOptimizer
from perron.protocol.errors import InputError
from perron.protocol.grid import Grid
from perron.protocol.messages import Decision

Disclosure = Mapping[str, Any] | None


class Session:
    """Federated analyses over the stations of one grid.

    Examples
    --------
    >>> import perron, pandas as pd
    >>> frames = {s: pd.DataFrame({"x": range(i, i + 40)}) for i, s in enumerate("abc")}
    >>> session = perron.simulate(frames)
    >>> session.stations
    ['a', 'b', 'c']
    """

    def __init__(self, grid: Grid, *, secure_aggregation: bool = False) -> None:
        self._grid = grid
        #: Run every analysis that adds up partials under secure aggregation: the
        #: coordinator sees only sums over the stations (at least three); a study
        #: policy can require it. See :mod:`perron.algorithms.core.secure_rounds`.
        self.secure_aggregation = secure_aggregation

    @property
    def _secure_rounds(self) -> SecureAggregation | None:
        """What the round loop runs under: secure aggregation when it is on."""
        return SecureAggregation() if self.secure_aggregation else None

    @property
    def stations(self) -> list[str]:
        return list(self._grid.stations)

    def close(self) -> None:
        """Release the transport (the hub connection of a ``connect`` session)."""
        closer = getattr(self._grid, "close", None)
        if callable(closer):
            closer()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def grid(self) -> Grid:
        """The transport this session's rounds go through."""
        return self._grid

    def publish(self, result: object, *, title: str, errors: Errors = ()) -> str:
        """Publish ``result`` to the study's page, signed with your key; its result id.

        ``result`` is what an analysis returned (or an error it raised); ``errors``
        adds the errors of stations (exceptions, or ``{station, kind, message}``).
        The hub cannot read the partials it relays, so this is how a result reaches
        the study's pages; it names the tasks sent since the last publication. See
        :mod:`perron.client.publish` for the document.
        """
        return publish(self._grid, result, title=title, errors=errors)

    def publish_error(self, error: BaseException, *, title: str) -> str:
        """Publish an analysis that failed: its errors as the stations sent them."""
        return publish(self._grid, error, title=title)

    def summary(
        self,
        columns: Sequence[str] | str,
        quantiles: Sequence[float] | None = (0.25, 0.5, 0.75),
        *,
        disclosure: Disclosure = None,
    ) -> SummaryResult:
        """Count, missing, mean, variance and standard deviation per station and combined.

        Pooled quantiles are added to the ``combined`` rows (as ``25%``, ``50%``...),
        except under secure aggregation: the quantile search needs each station's
        values near the quantile, and the coordinator there sees only sums.
        """
        names = [columns] if isinstance(columns, str) else list(columns)
        if not names:
            raise InputError("summary needs at least one column.")
        result = Summary(names).run(self._grid, disclosure, secure=self._secure_rounds)
        if not quantiles or self.secure_aggregation:
            return result
        table = result.table.copy()
        decisions = list(result.decisions)
        for column in names:
            q = self.quantiles(column, quantiles, disclosure=disclosure)
            decisions.extend(q.decisions)
            for prob, value in zip(q.values.index, q.values, strict=True):
                table.loc[(column, COMBINED), f"{prob * 100:g}%"] = value
        return replace(result, table=table, decisions=tuple(decisions))

    def quantiles(
        self, column: str, probabilities: Sequence[float], *, disclosure: Disclosure = None
    ) -> QuantileResult:
        """Pooled quantiles (numpy's ``inverted_cdf`` definition) by federated bisection."""
        return Quantile(column, probabilities).run(
            self._grid, disclosure, secure=self._secure_rounds
        )

    def overlap(
        self, columns: Sequence[str] = (), *, disclosure: Disclosure = None
    ) -> OverlapReport:
        """How many records the stations can link (PSI on their link keys), before a study.

        Set sizes, every pairwise and the all-way overlap, coverage per holder and,
        for ``columns``, the linked records missing each variable per station; counts
        pass each holder's small-cells rule. See :mod:`perron.algorithms.feasibility.overlap`.
        """
        counts = Overlap(self.stations).run(self._grid, disclosure)
        if not columns:
            return counts
        # Missing values need each station to know its linked records: a second PSI
        # session in intersection mode, which announces no pairwise overlaps.
        linked = Overlap(self.stations, columns).run(self._grid, disclosure)
        return replace(
            counts, missing=linked.missing, decisions=counts.decisions + linked.decisions
        )

    def linked_crosstab(
        self,
        row: tuple[str, str],
        col: tuple[str, str],
        *,
        helper: str,
        disclosure: Disclosure = None,
    ) -> LinkedCrosstabResult:
        """Counts of a variable at one station against a variable at another, on the
        records the two can link, without pooling.

        ``row`` and ``col`` are ``(station, column)``; ``helper`` is a third station (or
        a trusted third party's) that deals the secure product's randomness and
        applies the strictest of the holders' disclosure rules. See
        :mod:`perron.algorithms.linkage.linked_crosstab` for what each party learns.
        """
        algorithm = LinkedCrosstab(row, col, helper, self.stations)
        return algorithm.run(self._grid, disclosure)

    def feasibility(
        self,
        cohort: Sequence[Mapping[str, Any]],
        *,
        linked: bool = False,
        disclosure: Disclosure = None,
    ) -> FeasibilityResult:
        """How many records each station has that meet ``cohort`` (Beacon v2 counts).

        ``cohort`` is a list of criteria, e.g. ``[{"column": "age", "between": [40,
        60]}, {"column": "icd10", "prefix": ["I21"]}]``; counts come back exact,
        rounded or imprecise as each holder decides, and a station refuses a cohort
        too close to one you counted before. With ``linked``, also how many of the
        cohort's records are present at several holders (PSI on the link keys; it
        counts as a second use of the cohort at each station). See
        :mod:`perron.algorithms.feasibility.counts`.
        """
        result = Feasibility(cohort).run(self._grid, disclosure)
        if not linked:
            return result
        report = Overlap(self.stations, cohort=cohort).run(self._grid, disclosure)
        return replace(result, linked=report, decisions=result.decisions + report.decisions)

    def crosstab(self, row: str, col: str, *, disclosure: Disclosure = None) -> CrosstabResult:
        """Combined contingency table of two categorical columns, small cells suppressed."""
        return Crosstab(row, col).run(self._grid, disclosure, secure=self._secure_rounds)

    def histogram(
        self,
        column: str,
        bins: int | Sequence[float] | npt.NDArray[np.float64] = 10,
        range: tuple[float, float] | None = None,
        *,
        disclosure: Disclosure = None,
    ) -> HistogramResult:
        """Counts in bins, small cells suppressed.

        With an integer ``bins`` and no ``range``, the bins span the pooled 1st to
        99th percentile (the minimum and maximum are disclosive); values outside
        are counted in ``below`` and ``above``.
        """
        if isinstance(bins, int):
            if bins < 1:
                raise InputError("bins must be a positive integer or a sequence of edges.")
            if range is None:
                q = self.quantiles(column, (0.01, 0.99), disclosure=disclosure).values
                low, high = float(q.iloc[0]), float(q.iloc[1])
                range = (low, high) if high > low else (low - 0.5, low + 0.5)
            edges: Sequence[float] = np.linspace(range[0], range[1], bins + 1).tolist()
        else:
            edges = list(bins)
        return Histogram(column, edges).run(self._grid, disclosure, secure=self._secure_rounds)

    def kaplan_meier(
        self,
        duration: str,
        event: str,
        by: str | Sequence[str] | None = None,
        times: Sequence[float] | None = None,
        *,
        entry: str | None = None,
        conf_type: Literal["log-log", "log", "plain"] = "log-log",
        alpha: float = 0.05,
        disclosure: Disclosure = None,
    ) -> KaplanMeierResult:
        """Kaplan-Meier survival curves of the pooled data, per group of ``by``.

        Parameters
        ----------
        duration, event
            Follow-up time and event indicator (1 = event, 0 = censored).
        by
            Categorical column(s) whose levels get their own curve (levels are released).
        times
            Times at which to report survival (``result.survival_at()``).
        entry
            Delayed-entry time (left truncation): at risk at t when entry < t <= duration.
        conf_type
            Pointwise intervals: ``"log-log"`` (lifelines' exponential Greenwood),
            ``"log"`` (R's default) or ``"plain"``.
        alpha
            1 - confidence level of the intervals.

        Each station releases per group its event table at its own coarsened times
        (blocks of at least ``min_cell`` events); see ``docs/survival.md``.
        """
        columns = () if by is None else ((by,) if isinstance(by, str) else tuple(by))
        algorithm = KaplanMeier(
            duration,
            event,
            columns,
            entry=entry,
            times=() if times is None else times,
            conf_type=conf_type,
            alpha=alpha,
        )
        return algorithm.run(self._grid, disclosure, secure=self._secure_rounds)

    def logrank(
        self,
        duration: str,
        event: str,
        group: str,
        strata: str | None = None,
        weights: Literal["wilcoxon", "tarone-ware", "fleming-harrington"] | None = None,
        p: float = 0.0,
        q: float = 0.0,
        *,
        disclosure: Disclosure = None,
    ) -> LogrankResult:
        """Test equal survival in the groups of ``group`` (log-rank and weighted variants).

        Parameters
        ----------
        duration, event
            Follow-up time and event indicator (1 = event, 0 = censored).
        group
            Categorical column whose levels are compared.
        strata
            A column whose levels are separate strata, or ``"station"`` for one
            stratum per station; O - E and its variance are summed over strata.
        weights
            ``None`` (log-rank), ``"wilcoxon"`` (Gehan, n(t)), ``"tarone-ware"``
            (sqrt n(t)) or ``"fleming-harrington"`` (S(t-)^p (1 - S(t-))^q).
        p, q
            The Fleming-Harrington exponents.
        """
        algorithm = Logrank(duration, event, group, strata=strata, weights=weights, p=p, q=q)
        return algorithm.run(self._grid, disclosure, secure=self._secure_rounds)

    def glm(
        self,
        y: str,
        x: Sequence[str] | None = None,
        *,
        family: Literal["gaussian", "binomial", "poisson"] = "gaussian",
        offset: str | None = None,
        categorical: Sequence[str] = (),
        intercept: bool = True,
        disclosure: Disclosure = None,
    ) -> GLMResult:
        """Fit a generalized linear model; the result equals the pooled fit.

        ``y`` is a formula (``"low ~ age + smoke + C(race)"``) or, with ``x``, the
        outcome column. Rows with a missing value in any model column are dropped
        (complete-case), and the number dropped is reported per station.
        """
        spec = _model_spec(y, x, categorical, intercept, offset)
        return GLM(spec, family).run(self._grid, disclosure, secure=self._secure_rounds)

    def coxph(
        self,
        duration: str | None = None,
        event: str = "event",
        covariates: Sequence[str] | str = (),
        *,
        ties: Literal["efron", "breslow"] = "efron",
        strata: str | None = None,
        entry: str | None = None,
        start: str | None = None,
        stop: str | None = None,
        id: str | None = None,
        categorical: Sequence[str] = (),
        disclosure: Disclosure = None,
    ) -> CoxResult:
        """Fit a Cox proportional hazards model; the result equals the pooled fit.

        Parameters
        ----------
        duration, event
            Follow-up time and event indicator (1 = event, 0 = censored).
        covariates
            Column names, or a right-hand side such as ``"age + C(sex)"``.
        ties
            ``"efron"`` (lifelines, R) or ``"breslow"``.
        strata
            A column whose levels get their own baseline hazard, or ``"station"``
            for a baseline hazard per station (between-site heterogeneity).
        entry
            Delayed-entry time (left truncation): at risk at t when entry < t.
        start, stop, id
            Counting-process rows ``(start, stop]`` for time-dependent covariates,
            instead of ``duration``; ``id`` names the subject column (reported only).
        """
        time: str
        begin: str | None
        if start is not None or stop is not None:
            if start is None or stop is None or duration is not None or entry is not None:
                raise InputError("give start= and stop= together, without duration or entry.")
            time, begin = stop, start
        else:
            if duration is None:
                raise InputError("give duration= (or start= and stop=) for the Cox model.")
            time, begin = duration, entry
        if isinstance(covariates, str):
            spec = ModelSpec.from_formula(f"{time} ~ {covariates}")
        else:
            spec = ModelSpec.from_columns(time, covariates, categorical)
        del id  # the subject column is not needed for the partial likelihood
        algorithm = CoxPH(spec, time, event, start=begin, strata=strata, ties=ties)
        return algorithm.run(self._grid, disclosure, secure=self._secure_rounds)

    def dp_count(self, column: str, *, epsilon: float, disclosure: Disclosure = None) -> DPResult:
        """A differentially private count of the values of ``column`` (OpenDP, Laplace).

        Each station spends ``epsilon`` of the study's privacy budget there; the
        result shows the noise scale, the loss spent and the budget left per
        station. See ``docs/dp.md``.
        """
        return DPRelease("count", column, epsilon).run(self._grid, disclosure)

    def dp_sum(
        self,
        column: str,
        bounds: tuple[float, float],
        *,
        epsilon: float,
        disclosure: Disclosure = None,
    ) -> DPResult:
        """A differentially private sum of ``column``, its values clamped to ``bounds``."""
        return DPRelease("sum", column, epsilon, bounds=bounds).run(self._grid, disclosure)

    def dp_mean(
        self,
        column: str,
        bounds: tuple[float, float],
        *,
        epsilon: float,
        disclosure: Disclosure = None,
    ) -> DPResult:
        """A differentially private mean of ``column`` clamped to ``bounds``: the summed
        noisy sums over the summed noisy counts (``epsilon`` split evenly)."""
        return DPRelease("mean", column, epsilon, bounds=bounds).run(self._grid, disclosure)

    def dp_histogram(
        self,
        column: str,
        edges: Sequence[float],
        *,
        epsilon: float,
        disclosure: Disclosure = None,
    ) -> DPResult:
        """Differentially private counts of ``column`` in bins ``[e_i, e_i+1)``, with the
        counts below the first edge and from the last edge up."""
        return DPRelease("histogram", column, epsilon, edges=edges).run(self._grid, disclosure)

    def weekly_counts(
        self,
        *,
        case: Sequence[Mapping[str, Any]],
        date: str,
        first: str,
        last: str,
        by: Sequence[str] = (),
        bands: Mapping[str, Sequence[float]] | None = None,
        levels: Mapping[str, Sequence[Any]] | None = None,
        report_date: str | None = None,
        max_delay: int = 0,
        epsilon: float | None = None,
        disclosure: Disclosure = None,
    ) -> WeeklyCountsResult:
        """Cases of a case definition per ISO week (``first``, ``last``: ``2024-W05``)
        at every station, pooled; ``.detect()`` raises alarms and ``.nowcast()`` corrects
        the last weeks for reporting delay. See :mod:`perron.algorithms.surveillance`."""
        params: dict[str, Any] = {"case": case, "date": date, "first": first, "last": last}
        params |= {"by": by, "bands": bands, "levels": levels, "report_date": report_date}
        params |= {"max_delay": max_delay, "epsilon": epsilon}
        return WeeklyCounts(CountSpec.from_params(params)).run(self._grid, disclosure)

    def quality(
        self,
        columns: Sequence[str] | None = None,
        *,
        required: Sequence[str] = (),
        expected: Mapping[str, str] | None = None,
        ranges: Mapping[str, Sequence[float | None]] | None = None,
        levels: Mapping[str, Sequence[Any]] | None = None,
        thresholds: Mapping[str, float] | None = None,
        cdm: bool = True,
        disclosure: Disclosure = None,
    ) -> QualityResult:
        """Data quality reports per station (OHDSI DQD checks), released by each holder.

        The analysis dataset is checked through the data seam: completeness of
        ``columns`` (default: all), ``required`` columns, ``expected`` kinds
        (``{"age": "numeric"}``), plausible ``ranges`` (``{"age": [0, 120]}``), allowed
        ``levels`` and ``thresholds`` per check (%). With ``cdm``, a station that keeps
        a CDM report (``perron station quality``) adds it. Counts below a holder's
        ``min_cell`` come back as ``"< min_cell"``. See :mod:`perron.algorithms.quality.reports`.
        """
        algorithm = Quality(
            columns,
            required=required,
            expected=expected,
            ranges=ranges,
            levels=levels,
            thresholds=thresholds,
            cdm=cdm,
        )
        return algorithm.run(self._grid, disclosure)

    # -- federated learning (docs/federated-learning.md) ------------------------------

    def train(
        self,
        model: Literal["logistic", "mlp"],
        y: str,
        x: Sequence[str] | None = None,
        *,
        strategy: Literal["fedavg", "fedprox", "fedadam"] = "fedavg",
        rounds: int = 20,
        local_epochs: int = 1,
        learning_rate: float = 0.1,
        batch_size: int | None = None,
        penalty: Literal["none", "l2", "l1", "elasticnet"] = "none",
        alpha: float = 0.0,
        l1_ratio: float = 0.5,
        validation: float = 0.0,
        patience: int | None = None,
        seed: int = 0,
        progress: bool = False,
        on_round: Callable[[RoundMetrics], None] | None = None,
        categorical: Sequence[str] = (),
        offset: str | None = None,
        hidden: Sequence[int] = (16,),
        activation: Literal["tanh", "relu"] = "tanh",
        mu: float = 0.01,
        server_learning_rate: float | None = None,
        beta1: float = 0.9,
        beta2: float = 0.99,
        tau: float = 1e-9,
        standardize: bool = True,
        epsilon: float | None = None,
        clip: float = 1.0,
        disclosure: Disclosure = None,
    ) -> TrainedModel:
        """Train a logistic regression or a small neural network by federated learning.

        ``model`` is ``"logistic"`` (penalised logistic regression) or ``"mlp"`` (a
        multilayer perceptron with ``hidden`` layer sizes); the outcome is 0/1. ``y``
        is a formula (``"low ~ age + C(race)"``) or, with ``x``, the outcome column.
        Each of ``rounds`` rounds every station takes ``local_epochs`` passes of
        gradient descent (``learning_rate``; mini-batches of ``batch_size`` rows, or
        full batch) from the global weights and releases only ``n_k * w_k``, its row
        count and loss sums; ``strategy`` combines them (FedProx adds ``mu``; FedAdam
        uses ``server_learning_rate``, ``beta1``, ``beta2``, ``tau``). ``penalty`` and
        ``alpha`` (and ``l1_ratio``) set the penalty on the mean log-loss; with
        ``validation`` each station holds out that fraction of its rows (fixed by
        ``seed``) and ``patience`` stops after that many rounds without a better
        validation loss. ``on_round`` receives each round's :class:`RoundMetrics`;
        ``progress`` draws a progress bar. With ``epsilon`` (and ``clip``), training is
        differentially private (OpenDP); every round spends ``epsilon / rounds`` of
        the study's privacy budget at each station. See ``docs/federated-learning.md``.
        """
        spec = _model_spec(y, x, categorical, True, offset)
        plan = TrainingPlan(
            kind=model,
            rounds=rounds,
            local=LocalConfig(
                epochs=local_epochs,
                learning_rate=learning_rate,
                batch_size=batch_size,
                penalty=penalty,
                alpha=alpha,
                l1_ratio=l1_ratio,
                mu=mu if strategy == "fedprox" else 0.0,
            ),
            server=ServerOptimizer.named(
                strategy, server_learning_rate, beta1=beta1, beta2=beta2, tau=tau
            ),
            hidden=tuple(hidden),
            activation=activation,
            validation=validation,
            patience=patience,
            seed=seed,
            standardize=standardize,
            epsilon=epsilon,
            clip=clip,
        )
        with TrainingProgress(rounds, enabled=progress, then=on_round) as show:
            algorithm = FederatedTraining(spec, plan, on_round=show, secure=self.secure_aggregation)
            # The training bar replaces a hub grid's spinner per round (rich draws one
            # live display at a time).
            quiet = progress and bool(getattr(self._grid, "progress", False))
            if quiet:
                setattr(self._grid, "progress", False)  # noqa: B010
            try:
                return algorithm.run(self._grid, disclosure, secure=self._secure_rounds)
            finally:
                if quiet:
                    setattr(self._grid, "progress", True)  # noqa: B010

    # -- prediction models: external validation and updating (docs/prediction.md) ----

    def validate(
        self,
        model: PublishedModel | Mapping[str, Any] | str | Path,
        outcome: str | None = None,
        *,
        duration: str | None = None,
        event: str | None = None,
        bins: int = 200,
        calibration_bins: int = 10,
        time_intervals: int = 10,
        disclosure: Disclosure = None,
    ) -> ValidationResult:
        """External validation of a published model without releasing predictions.

        ``model`` is a
        :class:`~perron.algorithms.prediction.published_model.PublishedModel`, its
        dict form or a JSON file. A logistic model needs the 0/1 ``outcome``; a Cox model
        ``duration`` and ``event``. Returns discrimination (AUC / Harrell's C),
        observed/expected, calibration-in-the-large and slope (exact federated
        GLMs), the Brier score and a calibration table, per station and pooled.
        Cross-station pairs of the c-statistic come from score histograms coarsened
        to blocks of ``min_cell`` subjects on a grid of ``bins`` bins (Cox: within
        ``time_intervals`` pooled quantile intervals of ``duration``); see
        :mod:`perron.algorithms.prediction.validation`.
        """
        published = PublishedModel.coerce(model)
        secure = self._secure_rounds
        if published.kind == "cox":
            if duration is None or event is None:
                raise InputError("validate a Cox model with duration= and event=.")
            probabilities = [i / time_intervals for i in range(1, time_intervals)]
            times = self.quantiles(duration, probabilities, disclosure=disclosure)
            edges = sorted({float(v) for v in times.values})
            validation = Validate(
                published, duration, event=event, bins=bins, time_edges=edges
            ).run(self._grid, disclosure)
            cox_slope = Recalibrate(published, duration, event=event, method="logistic")
            fit = cox_slope.run(self._grid, disclosure, secure=secure)
            decisions = (*times.decisions, *validation.decisions, *fit.decisions)
            return replace(validation, slope=fit.slope, slope_fit=fit.fit, decisions=decisions)
        if outcome is None:
            raise InputError("validate a logistic model with outcome=.")
        validation = Validate(published, outcome, bins=bins, calibration_bins=calibration_bins).run(
            self._grid, disclosure
        )
        large = Recalibrate(published, outcome, method="intercept")
        citl = large.run(self._grid, disclosure, secure=secure)
        slope = Recalibrate(published, outcome, method="logistic").run(
            self._grid, disclosure, secure=secure
        )
        assert isinstance(citl.fit, GLMResult)
        per_station, more = self._calibration_per_station(published, outcome, disclosure)
        return replace(
            validation,
            per_station=validation.per_station.join(per_station),
            citl=citl.intercept,
            citl_fit=citl.fit,
            slope=slope.slope,
            slope_fit=slope.fit,
            decisions=(*validation.decisions, *citl.decisions, *slope.decisions, *more),
        )

    def _calibration_per_station(
        self, published: PublishedModel, outcome: str, disclosure: Disclosure
    ) -> tuple[pd.DataFrame, list[Decision]]:
        """Calibration-in-the-large and slope at each station: the same exact GLMs as
        the pooled ones, each on the grid of that station alone (one station: its
        figures are the pooled ones, fitted again)."""
        names = self.stations
        without = getattr(self._grid, "without", None)
        rows: dict[str, dict[str, float]] = {}
        decisions: list[Decision] = []
        for name in names:
            grid = without([s for s in names if s != name]) if callable(without) else None
            if grid is None:
                return pd.DataFrame(index=names, columns=["citl", "slope"], dtype=float), []
            citl = Recalibrate(published, outcome, method="intercept").run(grid, disclosure)
            slope = Recalibrate(published, outcome, method="logistic").run(grid, disclosure)
            rows[name] = {"citl": _number(citl.intercept), "slope": _number(slope.slope)}
            decisions += [*citl.decisions, *slope.decisions]
        return pd.DataFrame.from_dict(rows, orient="index"), decisions

    def recalibrate(
        self,
        model: PublishedModel | Mapping[str, Any] | str | Path,
        outcome: str | None = None,
        *,
        method: Literal["intercept", "logistic", "revision"] = "intercept",
        revise: Sequence[str] = (),
        duration: str | None = None,
        event: str | None = None,
        disclosure: Disclosure = None,
    ) -> RecalibrationResult:
        """Update a published model on the stations' data by an exact federated fit.

        ``method="intercept"`` re-estimates the intercept (LP as offset),
        ``"logistic"`` an intercept and a slope on LP, ``"revision"`` the intercept
        and the coefficients of the terms in ``revise`` (LP as offset). A Cox model
        (``duration``, ``event``) takes ``"logistic"`` only (the slope). The
        result's ``model`` is the updated
        :class:`~perron.algorithms.prediction.published_model.PublishedModel`.
        """
        published = PublishedModel.coerce(model)
        target = duration if published.kind == "cox" else outcome
        if target is None:
            raise InputError(
                "give outcome= for a logistic model, duration= and event= for a Cox model."
            )
        algorithm = Recalibrate(published, target, event=event, method=method, revise=revise)
        return algorithm.run(self._grid, disclosure, secure=self._secure_rounds)

    # -- gradient-boosted trees (docs/boosting.md) ------------------------------------

    def train_boosted(
        self,
        y: str,
        x: Sequence[str] | None = None,
        *,
        loss: Literal["logistic", "squared_error"] = "logistic",
        trees: int = 50,
        depth: int = 3,
        learning_rate: float = 0.3,
        bins: int = 32,
        reg_lambda: float = 1.0,
        min_child_weight: float = 1.0,
        min_split_loss: float = 0.0,
        categorical: Sequence[str] = (),
        edges: Mapping[str, Sequence[float]] | None = None,
        validation: float = 0.0,
        patience: int | None = None,
        seed: int = 0,
        progress: bool = False,
        disclosure: Disclosure = None,
    ) -> BoostedModel:
        """Train gradient-boosted trees on gradient histograms the stations add up.

        ``y`` is a formula (``"low ~ age + lwt + C(race)"``) or, with ``x``, the outcome
        column (0/1 for ``loss="logistic"``). ``trees`` trees of ``depth`` levels are
        grown one level per round, splits chosen by the XGBoost gain with
        ``reg_lambda``, ``min_child_weight`` and ``min_split_loss`` on ``bins`` bins
        per feature placed at pooled quantiles (or at ``edges`` given per feature);
        leaf weights are shrunk by ``learning_rate``. A station merges bins so that
        no released sum covers fewer than ``min_cell`` of its rows; splits fall only
        where every station allows them. With ``validation`` each station holds out
        that fraction of its rows (fixed by ``seed``) and reports their loss per tree;
        ``patience`` stops after that many trees without a better validation loss and
        keeps the best number of trees. ``progress`` draws a bar over the trees.
        Returns a :class:`~perron.learning.boosting.BoostedModel` (``predict``,
        ``predict_proba``, ``save``, ``card``). See ``docs/boosting.md``.
        """
        spec = _model_spec(y, x, categorical, True, None)
        with tree_progress(trees, progress) as show:
            algorithm = GradientBoosting(
                spec,
                loss=loss,
                trees=trees,
                depth=depth,
                learning_rate=learning_rate,
                bins=bins,
                reg_lambda=reg_lambda,
                min_child_weight=min_child_weight,
                min_split_loss=min_split_loss,
                edges=edges,
                validation=validation,
                patience=patience,
                seed=seed,
                on_tree=show,
            )
            quiet = progress and bool(getattr(self._grid, "progress", False))
            if quiet:
                setattr(self._grid, "progress", False)  # noqa: B010
            try:
                result = algorithm.run(self._grid, disclosure, secure=self._secure_rounds)
            finally:
                if quiet:
                    setattr(self._grid, "progress", True)  # noqa: B010
        return replace(result.model, decisions=result.decisions)


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _model_spec(
    y: str,
    x: Sequence[str] | None,
    categorical: Sequence[str],
    intercept: bool,
    offset: str | None,
) -> ModelSpec:
    """A model from a formula ``y`` or from the outcome ``y`` and predictors ``x``."""
    if x is None:
        if "~" not in y:
            raise InputError("pass predictors as x=[...] or write y as a formula 'y ~ x1 + x2'.")
        return ModelSpec.from_formula(y, offset=offset)
    return ModelSpec.from_columns(y, x, categorical, intercept, offset)
