"""The hub's rules as plain functions on a database session.

They raise domain errors (:mod:`perron.protocol.errors`, :mod:`perron.hub.errors`)
and know nothing of HTTP: :mod:`.auth` (who is calling), :mod:`.studies` (who
belongs where), :mod:`.tasks` (the researcher's side), :mod:`.runs` (the station's).

Governance, in dependency order: :mod:`.roles` (roles in an organisation),
:mod:`.parties` (a request's sides and who sees what), :mod:`.documents`,
:mod:`.policies` (made on approval, signed, fetched by stations), :mod:`.tracks`
(events and their replay), :mod:`.requests` (applying, views, drafts, results) and
:mod:`.register` (the public register).
"""
