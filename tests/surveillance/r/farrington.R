## Reference values for perron.surveillance.farrington (tests/surveillance/r_farrington.py).
##
## R 4.2.2, surveillance 1.20.3 (Debian r-cran-surveillance). This script prints the
## Python module tests/surveillance/r_farrington.py itself:
##   Rscript tests/surveillance/r/farrington.R > tests/surveillance/r_farrington.py
##   .venv/bin/ruff format tests/surveillance/r_farrington.py
## Data: data("salmonella.agona") of the surveillance package (Salmonella agona cases in
## the UK, weekly, 312 weeks from 1990), made an sts with dates exactly as in CRAN
## surveillance tests/testthat/test-farringtonFlexible.R.
suppressMessages(library(surveillance))
options(warn = 1)
stopifnot(packageVersion("surveillance") == "1.20.3")

py <- function(x, level = 0) {
  ## A Python tuple literal of doubles (17 significant digits: exact) or booleans.
  if (is.logical(x)) {
    s <- ifelse(is.na(x), "None", ifelse(x, "True", "False"))
  } else {
    s <- ifelse(is.na(x), "NAN", sprintf("%.17g", as.numeric(x)))
  }
  if (length(s) == 1) return(paste0("(", s, ",)"))
  ## Lines of at most 96 characters (the module is left unformatted: # fmt: off).
  lines <- character(0)
  line <- ""
  for (item in s) {
    if (nchar(line) + nchar(item) + 2 > 84) {
      lines <- c(lines, line)
      line <- ""
    }
    line <- paste0(line, item, ", ")
  }
  lines <- c(lines, line)
  pad <- strrep(" ", level)
  paste0("(\n", paste0(pad, "    ", sub(" $", "", lines), collapse = "\n"), "\n", pad, ")")
}
pystr <- function(text) {
  ## A Python string of at most 80 characters a line, in parentheses.
  words <- strwrap(text, 76)
  parts <- paste0('"', words, c(rep(" ", length(words) - 1), ""), '"')
  paste0("(\n", paste0("            ", parts, collapse = "\n"), "\n        )")
}
out <- function(...) cat(..., "\n", sep = "")

## The sts of test-farringtonFlexible.R.
data("salmonella.agona")
lala <- paste(salmonella.agona$start[1], salmonella.agona$start[2], "1", sep = " ")
firstMonday <- as.POSIXlt(lala, format = "%Y %W %u")
salm.ts <- salmonella.agona$observed
dates <- as.Date(firstMonday) + 7 * 0:(length(salm.ts) - 1)
start <- c(salmonella.agona$start[1], salmonella.agona$start[2])
salm <- new("sts", epoch = as.numeric(dates), start = start, freq = 52,
            observed = salm.ts, epochAsDate = TRUE)
stopifnot(format(dates[1]) == "1990-01-01", all(format(dates, "%u") == "1"))

out('"""Reference values of R\'s surveillance::farringtonFlexible, for test_farrington.py.')
out("")
out("Printed by tests/surveillance/r/farrington.R (R 4.2.2, surveillance 1.20.3, Debian")
out("r-cran-surveillance); do not edit by hand. Data: ``data(salmonella.agona)`` of the")
out("surveillance package (weekly Salmonella agona cases in the UK, 312 weeks from 1990),")
out("made an ``sts`` with dates as in CRAN surveillance")
out("``tests/testthat/test-farringtonFlexible.R``: ``epoch`` the Mondays from")
out("1990-01-01 (ISO week 1990-W01), so position ``i`` is ISO week ``1990-W01 + i``.")
out("")
out("``RUNS[name]``: ``control`` the R control list (as text), ``kwargs`` the same for")
out("``farrington_flexible``, ``range`` R's 1-based positions assessed, and R's")
out("``control$expected``, ``upperbound``, ``alarm`` and ``control$score`` there (``NAN``")
out("where R gives NA; ``None`` for an NA alarm).")
out('"""')
out("")
out("# fmt: off")
out("import math")
out("")
out("NAN = math.nan")
out("")
out('SALMONELLA_FIRST_MONDAY = "', format(dates[1]), '"')
out("SALMONELLA_OBSERVED = ", py(salm.ts))
out("")

## ---- Threshold functions, at R's full precision (the calls of test-farringtonFlexible.R).
thr <- list()
for (tr in c("none", "1/2", "2/3")) {
  thr[[paste0("delta_", tr)]] <- as.numeric(unlist(
    surveillance:::algo.farrington.threshold.farrington(5, 0.2, 1, tr, 0.05, 8, "delta")))
}
for (m in c("muan", "nbPlugin")) for (phi in c(1.5, 1.0)) {
  thr[[paste0(m, "_", phi)]] <- as.numeric(unlist(
    surveillance:::algo.farrington.threshold.noufaily(log(5), log(2), phi, "none", 0.05, 11, m)))
}
## Further points: a NaN lower end under 2/3 (floored to 0), phi > 1 under 1/2.
thr[["delta_2/3_small"]] <- as.numeric(unlist(
  surveillance:::algo.farrington.threshold.farrington(0.3, 0.5, 2.5, "2/3", 0.01, 2, "delta")))
thr[["delta_1/2_phi"]] <- as.numeric(unlist(
  surveillance:::algo.farrington.threshold.farrington(12.5, 3.1, 1.7, "1/2", 0.1, 20, "delta")))
out("# (lower, upper, prob, score) of algo.farrington.threshold.{farrington,noufaily}")
out("THRESHOLDS = {")
for (nm in names(thr)) out('    "', nm, '": ', py(thr[[nm]], 4), ",")
out("}")
out("")
out("REFERENCE_DAYS_2013_06_06 = (",
    paste0('"', format(sort(surveillance:::algo.farrington.referencetimepoints(
      as.Date("2013-06-06"), b = 3, freq = 52, epochAsDate = TRUE, epochStr = "week"),
      decreasing = TRUE)), '"', collapse = ", "), ")")
out("REFERENCE_DAYS_2016_02_29 = (",
    paste0('"', format(sort(surveillance:::algo.farrington.referencetimepoints(
      as.Date("2016-02-29"), b = 4, freq = 52, epochAsDate = TRUE, epochStr = "week"),
      decreasing = TRUE)), '"', collapse = ", "), ")")
out("")

## ---- Full runs on salmonella.agona.
run <- function(name, control, kwargs, series = salm) {
  res <- farringtonFlexible(series, control = control)
  rng <- match(epoch(res), epoch(series))
  out('    "', name, '": {')
  out('        "control": ', pystr(gsub("\\s+", " ", gsub('"', "'", paste(deparse(control), collapse = " ")))), ",")
  out('        "kwargs": {')
  for (item in strsplit(kwargs, ', (?=")', perl = TRUE)[[1]]) out("            ", item, ",")
  out("        },")
  out('        "range": (', min(rng), ", ", max(rng), "),")
  stopifnot(all(diff(rng) == 1))
  out('        "expected": ', py(as.vector(res@control$expected), 8), ",")
  out('        "upperbound": ', py(as.vector(upperbound(res)), 8), ",")
  out('        "alarm": ', py(as.vector(alarms(res)), 8), ",")
  out('        "score": ', py(as.vector(res@control$score), 8), ",")
  out('        "trend": ', py(as.vector(res@control$trend), 8), ",")
  out("    },")
}

## Unknown counts: (1) with a trend, at weeks never the first baseline week of an
## assessed week 209:312 under b = 3 (R measures the trend of the prediction from the
## first known baseline week; see farrington.py); 240 is also assessed, 241 in its
## limit54 windows; (2) without a trend, anywhere, also first baseline weeks.
holes1 <- salm
observed(holes1)[c(165, 190, 200, 215, 240, 241), 1] <- NA
holes2 <- salm
observed(holes2)[c(60, 61, 100, 150, 165, 240), 1] <- NA
## (3) with a trend, at first baseline weeks: where R then keeps the trend, its
## prediction is off (farrington.py keeps one time origin and differs there).
holes3 <- salm
observed(holes3)[c(60, 61, 100, 150), 1] <- NA
out("# R's 1-based positions set to NA in the runs holes_trend, holes_no_trend and")
out("# holes_first_week")
out("HOLES_TREND = (165, 190, 200, 215, 240, 241)")
out("HOLES_NO_TREND = (60, 61, 100, 150, 165, 240)")
out("HOLES_FIRST_WEEK = (60, 61, 100, 150)")
## (4) every week of seasonal block 5 of week 300 (b = 3, w = 3, noPeriods = 10): an
## empty factor level, whose coefficient R reports as NA (aliased).
emptyBlock <- c(168:172, 220:224, 272:276)
holes4 <- salm
observed(holes4)[emptyBlock, 1] <- NA
out("HOLES_EMPTY_BLOCK = ", py(emptyBlock))
out("")

out("RUNS = {")
run("defaults", list(), "")
run("noufaily_alpha_0.1",
    list(noPeriods = 10, pastWeeksNotIncluded = 26, weightsThreshold = 2.58,
         thresholdMethod = "nbPlugin", alpha = 0.1),
    '"no_periods": 10, "past_weeks_not_included": 26, "weights_threshold": 2.58, "threshold_method": "nbPlugin", "alpha": 0.1')
## The ALARMS run of test-farringtonFlexible.R.
run("testthat_alarms", list(thresholdMethod = "nbPlugin", alpha = 0.1),
    '"threshold_method": "nbPlugin", "alpha": 0.1')
run("farrington_1996",
    list(range = 209:312, b = 3, w = 3, noPeriods = 1, weightsThreshold = 1, reweight = TRUE,
         pastWeeksNotIncluded = 0, thresholdMethod = "delta", alpha = 0.01),
    '"b": 3, "w": 3, "no_periods": 1, "weights_threshold": 1.0, "reweight": True, "past_weeks_not_included": 0, "threshold_method": "delta", "alpha": 0.01')
## ?farringtonFlexible's two examples (control1, control2), on the dated sts.
run("help_control1",
    list(range = 282:312, noPeriods = 1, b = 4, w = 3, weightsThreshold = 1,
         pastWeeksNotIncluded = 3, pThresholdTrend = 0.05, alpha = 0.1),
    '"no_periods": 1, "b": 4, "w": 3, "weights_threshold": 1.0, "past_weeks_not_included": 3, "p_threshold_trend": 0.05, "alpha": 0.1')
run("help_control2",
    list(range = 282:312, noPeriods = 10, b = 4, w = 3, weightsThreshold = 2.58,
         pastWeeksNotIncluded = 26, pThresholdTrend = 1, alpha = 0.1),
    '"no_periods": 10, "b": 4, "w": 3, "weights_threshold": 2.58, "past_weeks_not_included": 26, "p_threshold_trend": 1.0, "alpha": 0.1')
## A trend always kept when it does not extrapolate (pThresholdTrend = 1), muan,
## seasonal factor, no limit54.
run("muan_trend",
    list(range = 209:312, b = 3, w = 2, noPeriods = 4, pThresholdTrend = 1,
         thresholdMethod = "muan", alpha = 0.05, limit54 = c(0, 4)),
    '"b": 3, "w": 2, "no_periods": 4, "p_threshold_trend": 1.0, "threshold_method": "muan", "alpha": 0.05, "limit54": (0, 4)')
## Square-root and no transform, without reweighting or trend.
run("sqrt_plain",
    list(range = 209:312, b = 3, w = 3, reweight = FALSE, trend = FALSE,
         powertrans = "1/2", alpha = 0.05, limit54 = c(3, 2)),
    '"b": 3, "w": 3, "reweight": False, "trend": False, "power_trans": "1/2", "alpha": 0.05, "limit54": (3, 2)')
run("none_trend",
    list(range = 209:312, b = 3, w = 1, powertrans = "none", pThresholdTrend = 0.5,
         weightsThreshold = 1.5, alpha = 0.025),
    '"b": 3, "w": 1, "power_trans": "none", "p_threshold_trend": 0.5, "weights_threshold": 1.5, "alpha": 0.025')
run("holes_trend",
    list(range = 209:312, b = 3, w = 3, pThresholdTrend = 1, limit54 = c(2, 4)),
    '"b": 3, "w": 3, "p_threshold_trend": 1.0, "limit54": (2, 4)', series = holes1)
run("holes_no_trend",
    list(range = 209:312, b = 3, w = 3, trend = FALSE, noPeriods = 10,
         pastWeeksNotIncluded = 26, thresholdMethod = "nbPlugin"),
    '"b": 3, "w": 3, "trend": False, "no_periods": 10, "past_weeks_not_included": 26, "threshold_method": "nbPlugin"',
    series = holes2)
run("holes_first_week",
    list(range = 209:312, b = 3, w = 3, pThresholdTrend = 1, limit54 = c(2, 4)),
    '"b": 3, "w": 3, "p_threshold_trend": 1.0, "limit54": (2, 4)', series = holes3)
run("empty_block",
    list(range = 300, b = 3, w = 3, noPeriods = 10, pastWeeksNotIncluded = 26,
         pThresholdTrend = 1, limit54 = c(0, 4)),
    '"b": 3, "w": 3, "no_periods": 10, "past_weeks_not_included": 26, "p_threshold_trend": 1.0, "limit54": (0, 4)',
    series = holes4)
out("}")
out("")

## ---- The NO CONVERGENCE case of test-farringtonFlexible.R: all zero but week 696.
timeSeries <- rep(0, 698)
timeSeries[696] <- 1
algoControl <- list(noPeriods = 10, alpha = 0.01, verbose = FALSE,
                    b = 5, w = 4, weightsThreshold = 2.58, pastWeeksNotIncluded = 26,
                    pThresholdTrend = 1, thresholdMethod = "nbPlugin", limit54 = c(4, 5),
                    range = (length(timeSeries) - 1):length(timeSeries), glmWarnings = FALSE)
seriesSTSObject <- new("sts", observed = timeSeries,
                       epoch = as.numeric(seq(as.Date("2001-01-01"), length.out = length(timeSeries),
                                              by = "1 week")),
                       epochAsDate = TRUE)
res <- suppressWarnings(farringtonFlexible(seriesSTSObject, control = algoControl))
out("# test-farringtonFlexible.R NO CONVERGENCE: zeros from 2001-01-01 but a 1 at position")
out("# 696 (1-based), range 697:698; R warns that the model could not converge.")
out("NO_CONVERGENCE_UPPERBOUND = ", py(as.vector(upperbound(res))))
out("NO_CONVERGENCE_ALARM = ", py(as.vector(alarms(res))))

## The same series under the delta method without seasonal factor: R's IRLS converges
## (at its stopping rule) to a fit of mu near 0, and so its threshold is near 0.
algoControl$noPeriods <- 1
algoControl$thresholdMethod <- "delta"
algoControl$limit54 <- c(0, 4)
res <- suppressWarnings(farringtonFlexible(seriesSTSObject, control = algoControl))
out("# The same, noPeriods = 1, thresholdMethod = 'delta', limit54 = c(0, 4): R converges to")
out("# mu near 0 (25 IRLS steps at most, |dev - devold| / (|dev| + 0.1) < 1e-8).")
out("ALL_ZERO_EXPECTED = ", py(as.vector(res@control$expected)))
out("ALL_ZERO_UPPERBOUND = ", py(as.vector(upperbound(res))))
out("ALL_ZERO_SCORE = ", py(as.vector(res@control$score)))
