## Reference values for perron.surveillance.cusum (tests/surveillance/r_cusum.py).
##
## R 4.2.2, surveillance 1.20.3 (Debian r-cran-surveillance), MASS (glm.nb).
## Run: Rscript cusum.R
## Data: the simulation of tests/testthat/test-algo.glrnb.R of CRAN surveillance (a
## seasonal negative-binomial series, alpha = 0.2, with the log mean raised by 0.4 from
## week 100 on), drawn with R's RNG (set.seed(42)); its counts are exported here because
## Python cannot reproduce R's rnbinom stream.
suppressMessages(library(surveillance))
suppressMessages(library(MASS))
options(warn = 1)
p <- function(name, x) {
  cat(name, " <- ", sep = "")
  dput(x, control = "digits17")
}
run <- function(control) {
  res <- suppressMessages(algo.glrnb(s.ts, control = control))
  list(upperbound = as.vector(res$upperbound), alarm = as.vector(res$alarm) == 1,
       res = res)
}

## The simulation, verbatim from test-algo.glrnb.R.
S <- 1 ; t <- 1:120 ; m <- length(t)
beta <- c(1.5,0.6,0.6)
omega <- 2*pi/52
alpha <- 0.2
base <- beta[1] + beta[2] * cos(omega*t) + beta[3] * sin(omega*t)
tau <- 100
kappa <- 0.4
mu0 <- exp(base)
set.seed(42)
x <- rnbinom(length(t),mu=mu0*(exp(kappa)^(t>=tau)),size=1/alpha)
suppressWarnings(
s.ts <- create.disProg(week=t, observed=x, state=(t>=tau))
, "deprecatedWarning")
p("x", x)
p("mu0", mu0)

## (a) The published call: GLR statistic (kappa estimated), NB with alpha = 0.2.
cntrl1 <- list(range=t,c.ARL=5, mu0=mu0, alpha=alpha,
               change="intercept", ret="value", dir="inc")
r <- run(cntrl1)
p("glr_value", r$upperbound)
p("glr_alarm", r$alarm)
## ... and the number of cases that would alarm (R's brute-force search).
r <- run(modifyList(cntrl1, list(ret = "cases")))
p("glr_cases", r$upperbound)
p("glr_cases_alarm", r$alarm)

## (b) The likelihood-ratio CUSUM for a known change theta = 0.4.
cntrl2 <- modifyList(cntrl1, list(theta = 0.4))
r <- run(cntrl2)
p("lr_value", r$upperbound)
p("lr_alarm", r$alarm)
r <- run(modifyList(cntrl2, list(ret = "cases")))
p("lr_cases", r$upperbound)
p("lr_cases_alarm", r$alarm)

## Poisson (alpha = 0): GLR and LR, values and cases.
pois <- modifyList(cntrl1, list(alpha = 0))
for (ret in c("value", "cases")) {
  r <- run(modifyList(pois, list(ret = ret)))
  p(paste0("pois_glr_", ret), r$upperbound)
  p(paste0("pois_glr_", ret, "_alarm"), r$alarm)
  r <- run(modifyList(pois, list(ret = ret, theta = 0.4)))
  p(paste0("pois_lr_", ret), r$upperbound)
  p(paste0("pois_lr_", ret, "_alarm"), r$alarm)
}

## A decrease: the GLR with dir = "dec" (NB), and the LR for theta = -0.4.
r <- run(modifyList(cntrl1, list(dir = "dec", c.ARL = 2)))
p("dec_glr_value", r$upperbound)
p("dec_glr_alarm", r$alarm)
r <- run(modifyList(cntrl1, list(dir = "dec", c.ARL = 2, alpha = 0)))
p("pois_dec_glr_value", r$upperbound)
p("pois_dec_glr_alarm", r$alarm)
r <- run(modifyList(cntrl1, list(theta = -0.4, c.ARL = 2)))
p("dec_lr_value", r$upperbound)
p("dec_lr_alarm", r$alarm)
r <- run(modifyList(cntrl1, list(theta = -0.4, c.ARL = 2, ret = "cases")))
p("dec_lr_cases", r$upperbound)

## (c) mu0 estimated (mu0 = NULL): estimateGLRNbHook fits y ~ 1 + cos(2*pi/52*t) +
## sin(2*pi/52*t) on the weeks before the range (here 1:52) and predicts the range.
est <- list(range = 53:120, c.ARL = 5, change = "intercept", ret = "value", dir = "inc")
## alpha estimated too: MASS::glm.nb, alpha = 1/theta.
r <- run(est)
fit <- r$res$control$mu0Model$fitted[[1]]
p("est_nb_coef", unname(coef(fit)))
p("est_nb_alpha", r$res$control$alpha)
p("est_nb_mu0", r$res$control$mu0)
p("est_nb_value", r$upperbound)
p("est_nb_alarm", r$alarm)
## The same model fitted to convergence (glm.nb stops at a relative change of 1e-8 in
## its outer loop; theta.ml at a step of .Machine$double.eps^0.25).
data52 <- data.frame(y = x[1:52], t = 1:52)
f52 <- y ~ 1 + cos(2*pi/52*t) + sin(2*pi/52*t)
tight <- glm.nb(f52, data = data52, control = glm.control(epsilon = 1e-12, maxit = 500))
p("tight_nb_coef", unname(coef(tight)))
p("tight_nb_alpha", 1 / tight$theta)
p("tight_nb_loglik", as.numeric(logLik(tight)))
p("default_nb_loglik", as.numeric(logLik(fit)))
## alpha fixed at 0.2: glm(family = negative.binomial(theta = 5)).
r <- run(modifyList(est, list(alpha = 0.2)))
p("est_fixed_coef", unname(coef(r$res$control$mu0Model$fitted[[1]])))
p("est_fixed_mu0", r$res$control$mu0)
p("est_fixed_value", r$upperbound)
p("est_fixed_alarm", r$alarm)
tight <- glm(f52, data = data52, family = negative.binomial(theta = 5),
             control = glm.control(epsilon = 1e-15, maxit = 500))
p("tight_fixed_coef", unname(coef(tight)))
## alpha = 0: a Poisson glm.
r <- run(modifyList(est, list(alpha = 0)))
p("est_pois_coef", unname(coef(r$res$control$mu0Model$fitted[[1]])))
p("est_pois_mu0", r$res$control$mu0)
p("est_pois_value", r$upperbound)
p("est_pois_alarm", r$alarm)
tight <- glm(f52, data = data52, family = poisson(),
             control = glm.control(epsilon = 1e-15, maxit = 500))
p("tight_pois_coef", unname(coef(tight)))
## A known change with mu0 estimated (alpha estimated).
r <- run(modifyList(est, list(theta = 0.4, ret = "cases")))
p("est_lr_cases", r$upperbound)
p("est_lr_alarm", r$alarm)
