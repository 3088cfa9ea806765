"""The hub's web application: :func:`create_app` builds it, :func:`serve` runs it.

OpenAPI documentation is served at ``/docs`` and ``/openapi.json``. Every other
endpoint except ``POST /api/auth/token``, the public register (``GET
/api/register``, ``GET /register``) and the reads of the catalogue's public
descriptions (``GET /api/catalogue...``) needs a bearer token.
"""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import PackageNotFoundError, version
from types import FrameType

import anyio.to_thread
import uvicorn
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from perron.hub.api import errors
from perron.hub.api.deps import Hub
from perron.hub.api.routes import (
    admin,
    auth,
    catalogue,
    me,
    organisations,
    register,
    requests,
    station,
    stream,
    studies,
    surveillance,
    tasks,
)
from perron.hub.api.schemas import MAX_PAYLOAD
from perron.hub.db.session import create_hub_engine, session_factory
from perron.hub.migrate import upgrade
from perron.hub.notify import Channels
from perron.hub.services.auth import make_hasher
from perron.hub.settings import Settings
from perron.hub.wakeups import PostgresWakeups
from perron.web import create_ui

#: Where the web interface is served (docs/ui.md).
UI_PATH = "/ui"

DESCRIPTION = """\
The Perron hub relays tasks signed by researchers to stations, and partials sealed by
stations back to the researchers. It never sees row-level data or a plaintext partial.

Send `Authorization: Bearer <token>`: users get a token from `POST /api/auth/token`,
stations are given one by the hub admin (`perron hub admin create-station`).

Governance (data requests, the study route per holder, signed study policies) is
described in docs/hub-governance.md; the public register (`GET /api/register`,
`GET /register`) needs no token. Neither does reading the dataset catalogue's public
descriptions (`GET /api/catalogue...`, docs/catalogue.md).
"""


def _version() -> str:
    try:
        return version("perron")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0+unknown"


def create_app(settings: Settings) -> FastAPI:
    """The hub's FastAPI application on ``settings.database_url``.

    The database must already be migrated (:func:`perron.hub.migrate.upgrade`;
    :func:`serve` does it). The engine is disposed, and waiting long-polls are
    released, when the application shuts down.

    Examples
    --------
    >>> from fastapi.testclient import TestClient
    >>> from perron.hub.migrate import upgrade
    >>> url = "sqlite:///:memory:"
    >>> upgrade(url)
    >>> with TestClient(create_app(Settings(database_url=url))) as client:
    ...     client.get("/api/me").status_code
    401
    """
    engine = create_hub_engine(settings.database_url)
    hasher = make_hasher(settings)
    hub = Hub(
        settings=settings,
        engine=engine,
        sessions=session_factory(engine),
        notifier=Channels(),
        hasher=hasher,
        dummy_hash=hasher.hash(secrets.token_hex(16)),
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # Each waiting long-poll holds a worker thread; make room for many stations.
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, settings.worker_threads)
        # On PostgreSQL, other hub workers (or hub processes) may share the database:
        # their changes wake the long-polls here, and ours theirs.
        wakeups = None
        if settings.postgresql:
            wakeups = PostgresWakeups(
                settings.database_url, hub.notifier.receive, hub.notifier.wake_all
            ).start()
            hub.notifier.attach(wakeups.publish)
        try:
            yield
        finally:
            hub.notifier.close()
            if wakeups is not None:
                hub.notifier.attach(None)
                wakeups.close()
            engine.dispose()

    app = FastAPI(
        title="Perron hub",
        version=_version(),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.hub = hub
    errors.install(app)
    # The routes of a round first: a request is matched against the routes in order.
    for module in (station, tasks, stream, studies, auth, me, organisations, requests, register):
        app.include_router(module.router)
    app.include_router(admin.router)  # hub admins only
    app.include_router(catalogue.router)  # public reads, like the register
    app.include_router(surveillance.router)  # standing surveillance jobs of a study
    # The web interface calls this same application's JSON API, in process.
    app.mount(UI_PATH, create_ui(app, base=UI_PATH), name="ui")

    @app.get("/", include_in_schema=False)
    def _home() -> RedirectResponse:
        return RedirectResponse(f"{UI_PATH}/")

    return app


class _Server(uvicorn.Server):
    """Uvicorn, releasing waiting long-polls as soon as a shutdown is asked for.

    Uvicorn waits for open requests before it shuts the application down; without
    this a waiting long-poll would hold a SIGTERM up for as long as its wait.
    """

    def __init__(self, config: uvicorn.Config, notifier: Channels) -> None:
        super().__init__(config)
        self._notifier = notifier

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # In a signal handler: take no lock here, let a thread wake the waiters.
        threading.Thread(target=self._notifier.close, daemon=True).start()
        super().handle_exit(sig, frame)


#: How a hub worker process learns its settings from the process that started it.
SETTINGS_ENV = "PERRON_HUB_SETTINGS"
#: Seconds a stopping worker of several gives open requests (long-polls) to finish.
GRACEFUL_SECONDS = 3


def worker_app() -> FastAPI:
    """The application of one of several hub workers, on the settings :func:`serve`
    left in ``PERRON_HUB_SETTINGS`` (uvicorn imports this in each worker process)."""
    text = os.environ.get(SETTINGS_ENV)
    if text is None:
        raise RuntimeError(f"{SETTINGS_ENV} is not set; start the hub with `perron hub start`.")
    return create_app(Settings(**json.loads(text)))


def serve(settings: Settings) -> None:
    """Migrate the database, then serve the hub on ``settings.host:settings.port``.

    With ``settings.workers`` above 1, that many worker processes share the port
    (uvicorn's supervisor restarts one that dies) over one PostgreSQL database.

    Blocks until the process is stopped (Ctrl-C or SIGTERM); waiting long-polls then
    answer at once (204 or the current task state) so the hub stops promptly; with
    several workers, within :data:`GRACEFUL_SECONDS`.
    """
    upgrade(settings.database_url)
    options = {
        "host": settings.host,
        "port": settings.port,
        "log_level": "info",
        "access_log": settings.access_log,
        # A station's answer comes over its WebSocket (routes.stream): room for the
        # largest sealed partial the HTTP route accepts, and the message around it.
        "ws_max_size": MAX_PAYLOAD + 2**16,
    }
    if settings.workers > 1:
        os.environ[SETTINGS_ENV] = json.dumps(dataclasses.asdict(settings))
        uvicorn.run(
            f"{__name__}:worker_app",
            factory=True,
            workers=settings.workers,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
            **options,  # type: ignore[arg-type]
        )
        return
    app = create_app(settings)
    config = uvicorn.Config(app, **options)  # type: ignore[arg-type]
    _Server(config, app.state.hub.notifier).run()
