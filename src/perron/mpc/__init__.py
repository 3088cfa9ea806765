"""Vertical analyses on MPyC: two data holders and a helper party.

Holder 0 (e.g. a hospital, with the outcome) and holder 1 (e.g. an insurer) hold
different columns of the same linked cohort; a helper party with no data makes
the honest majority that Shamir secret sharing needs (3 parties, threshold 1).
The modules, in dependency order:

- :mod:`perron.mpc.sigmoid` - the separable Fourier series for the logistic function
- :mod:`perron.mpc.spec` - the public model description every party gets
- :mod:`perron.mpc.local` - what a holder computes on its own rows (validation, whitening)
- :mod:`perron.mpc.fixed` - fixed-point numbers on MPyC shares; the security model
- :mod:`perron.mpc.regression` - linear and logistic regression on shares
- :mod:`perron.mpc.party` - one party as a process (``python -m perron.mpc.party``)
- :mod:`perron.mpc.result` - :class:`VerticalResult`
- :mod:`perron.mpc.runner` - :func:`fit_vertical`: three processes on loopback
- :mod:`perron.demos.mpc` - hospital + insurer recalibrate a risk model

Importing this package does not import MPyC (which reads ``sys.argv`` when
imported); only the party processes do. See docs/mpc.md.
"""

from perron.mpc.result import VerticalResult
from perron.mpc.runner import fit_vertical
from perron.mpc.sigmoid import FourierSigmoid
from perron.mpc.spec import VerticalSpec

__all__ = ["FourierSigmoid", "VerticalResult", "VerticalSpec", "fit_vertical"]
