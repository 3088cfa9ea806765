"""The hub's rules as plain functions on a database session.

They raise domain errors (:mod:`perron.protocol.errors`, :mod:`perron.hub.errors`)
and know nothing of HTTP: :mod:`.auth` (who is calling), :mod:`.studies` (who
belongs where), :mod:`.tasks` (the researcher's side), :mod:`.runs` (the station's).
"""
