"""Plots of federated results (matplotlib, written to files; no screen needed).

One module per kind of figure. The plots take results through the protocols in
:mod:`perron.plots.shapes` and import no analysis: a result's ``.plot()`` calls
down into them.
"""

from perron.plots.calibration import calibration_plot
from perron.plots.forest import forest_plot, glm_forest_plot
from perron.plots.overlap import overlap_plot
from perron.plots.survival import km_plot

__all__ = ["calibration_plot", "forest_plot", "glm_forest_plot", "km_plot", "overlap_plot"]
