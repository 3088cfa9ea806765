## Reference values for perron.surveillance.ears (tests/surveillance/r_ears.py).
##
## R 4.2.2, surveillance 1.20.3 (Debian r-cran-surveillance). Run: Rscript ears.R
## Data: data("salmNewport") of the surveillance package (Salmonella Newport cases in
## Germany, weekly, 2004-W02 to 2014-W07, by federal state), aggregated over the states
## (aggregate(salmNewport, by = "unit")), as in tests/testthat/test-earsC.R.
suppressMessages(library(surveillance))
options(warn = 1)
p <- function(name, x) {
  cat(name, " <- ", sep = "")
  dput(x, control = "digits17")
}

data("salmNewport")
germany <- aggregate(salmNewport, by = "unit")
iso <- isoWeekYear(epoch(salmNewport))
stopifnot(all(diff(epoch(salmNewport)) == 7))
cat("## first ISO week:", iso$ISOYear[1], iso$ISOWeek[1], "\n")
p("observed", as.vector(observed(germany)))
in2011 <- which(iso$ISOYear == 2011)
p("in2011", in2011)

## The published reference (test-earsC.R): C1, alpha = 0.05, upperbound[1:4].
surv <- earsC(germany, control = list(range = in2011, method = "C1", alpha = 0.05))
cat("## published check:",
    max(surv@upperbound[1:4] - c(3.278854, 3.278854, 3.436517, 3.855617)) < 1e-6, "\n")

## Every method at two alphas over the weeks of 2011.
for (method in c("C1", "C2", "C3")) {
  for (alpha in c(0.05, 0.001)) {
    res <- earsC(germany, control = list(range = in2011, method = method, alpha = alpha))
    tag <- paste0(method, "_", sub("0.", "", format(alpha), fixed = TRUE))
    p(paste0("upperbound_", tag), as.vector(upperbound(res)))
    p(paste0("alarm_", tag), as.vector(alarms(res)))
  }
}

## R's default alpha when control has none: 0.001 for C1 and C2, 0.025 for C3; and its
## default range (every week with enough history), here for C3 with baseline 10 and
## minSigma 0.5.
res <- earsC(germany, control = list(method = "C3", baseline = 10, minSigma = 0.5))
p("default_c3_first", as.vector(res@control$range)[1])
p("default_c3_upperbound", as.vector(upperbound(res)))
p("default_c3_alarm", as.vector(alarms(res)))

## NA passes through: a baseline or a lag week holding NA gives NA.
holes <- germany
observed(holes)[c(370, 380, 381, 400), 1] <- NA
for (method in c("C1", "C2", "C3")) {
  res <- earsC(holes, control = list(range = in2011, method = method, alpha = 0.05))
  p(paste0("na_upperbound_", method), as.vector(upperbound(res)))
  p(paste0("na_alarm_", method), as.vector(alarms(res)))
}
