"""The FAIR catalogue: dataset metadata that stations publish and the hub aggregates.

A data holder describes each dataset it offers (title, description, contact, themes,
coding systems, population, ages, period, legal basis, access rights, conditions of
use as DUO terms, a link to its quality report) and its station publishes the
description to the hub, with the numbers of records and of individuals rounded and
suppressed by the holder's disclosure rules. The hub searches the descriptions and
exports them as HealthDCAT-AP (DCAT-AP 3 with the health extension), in Turtle and
JSON-LD, valid against the DCAT-AP 3 SHACL shapes and Perron's health shapes.

This package is pure: no station, client, hub or algorithm code. The hub imports
only the modules that need nothing of :mod:`perron.privacy`.

The modules, in dependency order:

- :mod:`.vocabulary`: the namespaces and the controlled terms (EU data themes,
  access rights and legislation, GDPR legal bases in DPV, DUO terms, coding systems);
- :mod:`.metadata`: :class:`~.metadata.DatasetMetadata`, validated, and a published
  count (:class:`~.metadata.PublishedCount`);
- :mod:`.counts`: a count through the holder's disclosure rules (stations only; the
  one module that imports :mod:`perron.privacy`);
- :mod:`.search`: text, theme, coding system and holder search over descriptions;
- :mod:`.dcat`: the HealthDCAT-AP graph, serialised as Turtle or JSON-LD;
- :mod:`.shacl`: validation of a graph against the shipped SHACL shapes.
"""
