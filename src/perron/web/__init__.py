"""The web interface: pages for every persona of the study route, served by the hub.

The pages talk to the hub only through its JSON API (:mod:`perron.web.hubapi`, over
the hub's own ASGI application, in process): every page sees exactly what the
API lets its user see, with the same authentication and role checks. Nothing here
imports the hub (import-linter holds that), so no page can read the database
around the API.

Mounted at ``/ui`` by :func:`perron.hub.app.create_app`; docs/ui.md walks through it.
"""

from perron.web.app import create_ui

__all__ = ["create_ui"]
