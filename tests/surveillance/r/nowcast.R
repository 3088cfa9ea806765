## Reference values for perron.surveillance.nowcast (tests/surveillance/r_nowcast.py).
##
## R 4.2.2, surveillance 1.20.3 (Debian r-cran-surveillance). Run: Rscript nowcast.R
## It prints Python: the body of r_nowcast.py below its docstring is this output.
## Data: data("husO104Hosp") of the surveillance package: hospitalisation date (dHosp)
## and date of report to the Robert Koch Institute (dReport) of the 630 HUS cases of the
## 2011 STEC O104:H4 outbreak in Germany (Hoehle and an der Heiden 2014, Biometrics).
##
## Every case is nowcast(method = "lawless"), on the daily data (aggregate.by = "1 day")
## and on the data aggregated by R to ISO weeks (aggregate.by = "1 week": R moves each
## date to the Monday of its week, and a delay is the number of whole weeks between the
## Mondays, i.e. the difference of the ISO weeks).
##
## Quoted, for each case, as R returns them:
##   triangle  reportingTriangle(nc): the cells known at `now` (NA = after now), delays
##             > D already folded into delay D by R;
##   n_x, N_x  attr(, "n.x"), attr(, "N.x") (Lawless 1994, (2.7), (2.8));
##   reported  attr(, "N.tT");
##   delay_cdf nc@delayCDF$lawless, the estimated F(d), d = 0..T (1 beyond D);
##   estimate  N.tT / rev(delayCDF): Lawless's (2.12), which nowcast() computes as
##             Nhat.tT1 (its point nowcast; the sts keeps only the median, below);
##   lower, upper  nc@pi[, 1, 1:2], the bounds of the prediction interval;
##   median    upperbound(nc), the median of R's predictive distribution.
## And, computed here (not by the package): intended_lower, intended_upper, the bounds
## R's code means to give, with both terms of Lawless's (2.16) variance and the normal
## censored at N.tT ("all mass below actual observation is put to observation", the
## comment of nowcast.R), using R's own n.x, N.x, N.tT and delayCDF. See the docstring
## of perron.surveillance.nowcast for the two slips in nowcast.R this corrects.
## Then the same call with method = "bayes.notrunc.bnb" (deterministic): its delayCDF,
## its nc@pi and its upperbound (the predictive median), as *_BNB_*.
suppressMessages(library(surveillance))
options(warn = 1)
stopifnot(packageVersion("surveillance") == "1.20.3")
data("husO104Hosp")

py_num <- function(x) {
  ifelse(is.na(x), "NAN", ifelse(is.infinite(x), ifelse(x > 0, "INF", "-INF"),
                                 sprintf("%.17g", x)))
}
py <- function(name, x) {
  cat(name, " = (", paste(py_num(x), collapse = ", "), if (length(x) == 1) "," else "",
      ")\n", sep = "")
}
py_matrix <- function(name, x) {
  rows <- apply(x, 1, function(r) paste0("(", paste(py_num(r), collapse = ", "), ")"))
  cat(name, " = (\n", paste0("    ", rows, ",\n", collapse = ""), ")\n", sep = "")
}

## The line list, tallied by (dHosp, dReport).
tally <- aggregate(list(n = rep(1L, nrow(husO104Hosp))),
                   by = list(dHosp = husO104Hosp$dHosp, dReport = husO104Hosp$dReport),
                   FUN = sum)
tally <- tally[order(tally$dHosp, tally$dReport), ]
stopifnot(sum(tally$n) == 630, !anyNA(husO104Hosp))
cat("HUS_O104_HOSP = (  # (dHosp, dReport, cases)\n")
cat(sprintf('    ("%s", "%s", %d),\n', tally$dHosp, tally$dReport, tally$n), sep = "")
cat(")\n\n")

## What nowcast.R would give with both terms of (2.16) and the normal censored at N.tT.
intended_bounds <- function(nc, alpha) {
  rt <- reportingTriangle(nc)
  n.x <- attr(rt, "n.x"); N.x <- attr(rt, "N.x"); N.tT <- attr(rt, "N.tT")
  T <- attr(rt, "T"); D <- attr(rt, "D")
  W <- rev(nc@delayCDF$lawless)
  g <- ifelse(!is.na(n.x / N.x), n.x / N.x, 0); g[1] <- 1
  Nhat <- N.tT / W
  V <- sapply(0:T, function(t) {
    if (t < T - D) return(0)
    x <- T - t + seq_len(D - (T - t))
    VW <- W[t + 1]^2 * sum(g[x + 1] / (N.x[x + 1] * (1 - g[x + 1])), na.rm = TRUE)
    N.tT[t + 1] * (N.tT[t + 1] + 1) / W[t + 1]^4 * VW +
      N.tT[t + 1] * (1 - W[t + 1]) / W[t + 1]^2
  })
  support <- 0:5000
  t(sapply(0:T, function(t) {
    i <- t + 1
    cdf <- if (V[i] > 0) {
      ifelse(support < N.tT[i], 0, pnorm(support, Nhat[i], sqrt(V[i])))
    } else {
      as.numeric(support >= Nhat[i])
    }
    support[c(which.max(cdf > alpha / 2), which.max(cdf > 1 - alpha / 2))]
  }))
}

case <- function(tag, now, D, m = NULL, aggregate.by = "1 day", alpha = 0.05) {
  first <- min(husO104Hosp$dHosp)
  if (aggregate.by == "1 week") first <- first - as.numeric(format(first, "%u")) + 1
  when <- seq(first, now, by = aggregate.by)
  ## nowcast() chats on stdout (cat) and warns that it moves dates to Mondays, that
  ## long delays are folded into D, and (for m with method "lawless") that its moving
  ## window is a horizontal cut of the triangle, not Lawless's; none of these matter.
  invisible(capture.output(nc <- suppressWarnings(suppressMessages(
    nowcast(now = now, when = when, data = husO104Hosp, dEventCol = "dHosp",
            dReportCol = "dReport", method = "lawless", aggregate.by = aggregate.by,
            D = D, m = m, control = list(alpha = alpha, N.tInf.max = 5000))))))
  rt <- reportingTriangle(nc)
  idx <- match(as.character(when), as.character(epoch(nc)))
  stopifnot(!anyNA(idx), max(nc@pi[idx, 1, ]) < 5000)
  cat("# ", tag, ": now = ", format(now), ", D = ", D, ", m = ",
      if (is.null(m)) "NULL" else m, ", aggregate.by = \"", aggregate.by, "\", alpha = ",
      alpha, "\n", sep = "")
  cat(tag, "_FIRST = \"", format(first), "\"\n", sep = "")
  cat(tag, "_NOW = \"", format(now), "\"\n", sep = "")
  cat(tag, "_D = ", D, "\n", tag, "_M = ", if (is.null(m)) "None" else m, "\n",
      tag, "_ALPHA = ", alpha, "\n", sep = "")
  py_matrix(paste0(tag, "_TRIANGLE"), unclass(rt)[, , drop = FALSE])
  py(paste0(tag, "_N_X"), attr(rt, "n.x"))
  py(paste0(tag, "_BIG_N_X"), attr(rt, "N.x"))
  py(paste0(tag, "_REPORTED"), attr(rt, "N.tT"))
  py(paste0(tag, "_DELAY_CDF"), nc@delayCDF$lawless)
  py(paste0(tag, "_ESTIMATE"), attr(rt, "N.tT") / rev(nc@delayCDF$lawless))
  py(paste0(tag, "_LOWER"), nc@pi[idx, 1, 1])
  py(paste0(tag, "_UPPER"), nc@pi[idx, 1, 2])
  py(paste0(tag, "_MEDIAN"), upperbound(nc)[idx, 1])
  intended <- intended_bounds(nc, alpha)
  py(paste0(tag, "_INTENDED_LOWER"), intended[, 1])
  py(paste0(tag, "_INTENDED_UPPER"), intended[, 2])

  ## The same with method = "bayes.notrunc.bnb" (deterministic: beta-negative-binomial
  ## predictive distributions, no sampling), the default prior gd.prior.kappa = 0.1.
  invisible(capture.output(nc <- suppressWarnings(suppressMessages(
    nowcast(now = now, when = when, data = husO104Hosp, dEventCol = "dHosp",
            dReportCol = "dReport", method = "bayes.notrunc.bnb",
            aggregate.by = aggregate.by, D = D, m = m,
            control = list(alpha = alpha, N.tInf.max = 5000, predPMF = TRUE))))))
  ## Every predictive PMF must hold its upper quantile inside R's support 0..N.tInf.max,
  ## or R's which.max() would return 0.
  mass <- sapply(nc@predPMF, function(p) sum(p[["bayes.notrunc.bnb"]]))
  stopifnot(all(mass > 1 - alpha / 2))
  py(paste0(tag, "_BNB_DELAY_CDF"), nc@delayCDF[["bayes.notrunc"]])
  py(paste0(tag, "_BNB_LOWER"), nc@pi[idx, 1, 1])
  py(paste0(tag, "_BNB_MEDIAN"), upperbound(nc)[idx, 1])
  py(paste0(tag, "_BNB_UPPER"), nc@pi[idx, 1, 2])
  cat("\n")
}

## The setting of the example of help(nowcast): now = 2011-06-02, D = 15 days.
case("DAILY", now = as.Date("2011-06-02"), D = 15)
## A shorter maximum delay (cases reported after 10 days are folded into delay 10), a
## moving window of 20 days and a 90% interval.
case("DAILY_WINDOW", now = as.Date("2011-06-02"), D = 10, m = 20, alpha = 0.1)
## Weekly: now = 2011-W23 (Monday 2011-06-06), D = 2 weeks (delays of 3 weeks folded).
case("WEEKLY", now = as.Date("2011-06-06"), D = 2, aggregate.by = "1 week")
## Weekly with a moving window of 3 weeks, now = 2011-W24, D = 3, 90% interval.
case("WEEKLY_WINDOW", now = as.Date("2011-06-13"), D = 3, m = 3, aggregate.by = "1 week",
     alpha = 0.1)
