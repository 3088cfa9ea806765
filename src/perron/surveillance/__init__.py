"""Outbreak surveillance on pooled weekly series: detection and nowcasting.

Modules, in dependency order:

- :mod:`perron.surveillance.weeks` - ISO 8601 weeks (:class:`~perron.surveillance.weeks.IsoWeek`);
- :mod:`perron.surveillance.series` - a weekly count series and a method's
  :class:`~perron.surveillance.series.Detection`;
- :mod:`perron.surveillance.farrington` - Farrington flexible (R ``farringtonFlexible``);
- :mod:`perron.surveillance.ears` - EARS C1, C2, C3 (R ``earsC``);
- :mod:`perron.surveillance.cusum` - the negative-binomial CUSUM and GLR (R ``algo.glrnb``);
- :mod:`perron.surveillance.nowcast` - reporting-delay nowcasts (R ``nowcast``);
- :mod:`perron.surveillance.synthetic` - holders' case records with a planted outbreak.

The package is pure numerics on pooled counts: it never sees a station's records (the
federated weekly counts are :mod:`perron.algorithms.surveillance`). Its functions are
imported from their modules, so that ``import perron`` does not load statsmodels. See
docs/surveillance.md.
"""
