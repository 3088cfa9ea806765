"""The hub: relays signed tasks and sealed partials between researchers and stations.

Modules in dependency order (the architecture):

- :mod:`perron.hub.settings`: configuration (TOML file, ``PERRON_DATABASE_URL``).
- :mod:`perron.hub.errors`: the two hub-only errors (``NotFound``, ``Conflict``).
- :mod:`perron.hub.db`: the SQLAlchemy tables and the engine factory.
- :mod:`perron.hub.migrate`: Alembic migrations, run at start and checked in tests.
- :mod:`perron.hub.notify`: wakes long-polls when a task or a result arrives.
- :mod:`perron.hub.services`: the rules (authentication, studies, tasks, runs; and
  governance: roles, data requests, tracks, documents, policies, the public
  register), as functions on a database session that raise domain errors.
- :mod:`perron.hub.api`: the FastAPI routes, schemas, the one error handler and the
  register page.
- :mod:`perron.hub.app`: ``create_app(settings)`` and ``serve(settings)``.
- :mod:`perron.hub.admin` and :mod:`perron.hub.cli`: administration.

Security assumptions: the hub authenticates every principal with a bearer token
(only SHA-256 hashes of tokens are stored) and authorises every request by study,
organisation and role. It never sees row-level data or a plaintext partial: a task is
signed by the researcher (the hub checks the signature against the researcher's
registered key before relaying it) and a partial is sealed by the station for the
researcher, so the hub stores ciphertext it cannot read. A hub that lies about public
keys is outside this model (see :mod:`perron.crypto`).

Governance (docs/hub-governance.md): the hub stores data requests, the events of
each holder's track (the state is replayed, never stored) and the policies of
approved tracks with their approvers' signatures. A holder's users see only their
own part of a request and their own track. A station trusts the policy signers its
holder configured, not the hub: the hub relays policies, it cannot make one valid.
"""
