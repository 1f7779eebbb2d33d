"""create_app: the one place the HTTP application is assembled."""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI
from starlette.middleware import Middleware

from citylink import __version__
from citylink.api import errors
from citylink.api.deps import PrincipalCache
from citylink.api.middleware import BodySizeLimit, CorrelationId
from citylink.api.routes import (
    agencies,
    audit,
    board,
    cameras,
    cap,
    dead_letters,
    emission_zones,
    events,
    grants,
    incidents,
    linkage,
    live_video,
    lpr,
    responder,
    routing,
    sensors,
    session,
    statistics,
    stream,
    traffic,
    trips,
    units,
    video,
)
from citylink.runtime.platform import Platform
from citylink.settings import Settings
from citylink.web import router as web

log = logging.getLogger(__name__)

API_PREFIX = "/api/v1"
ROUTERS: tuple[APIRouter, ...] = (events.router, incidents.router, cameras.router, grants.router, video.router,
                                  stream.router, agencies.router, audit.router, session.router, board.router,
                                  responder.router, dead_letters.router, routing.router, units.router, traffic.router,
                                  lpr.router, trips.router, emission_zones.router,
                                  statistics.router, sensors.router, linkage.router, cap.router)


def create_app(settings: Settings, *, platform_factory: Callable[[Settings], Platform] = Platform.open) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        platform = platform_factory(settings)
        boot = platform.bootstrap()
        if boot.created:
            log.warning("created the default agencies; their API keys are in %s (mode 0600)", boot.keys_file)
        await platform.start()
        # Everything built at start-up lives as long as the server: keep it out of the collector's full passes,
        # which otherwise pause intake for ~100 ms now and then.
        gc.collect()
        gc.freeze()
        app.state.platform = platform
        app.state.principals = PrincipalCache()
        try:
            yield
        finally:
            await platform.stop()

    # Order matters: the outermost middleware is listed first.
    middleware = [Middleware(CorrelationId), Middleware(BodySizeLimit, max_bytes=settings.max_body_bytes)]
    app = FastAPI(title="citylink", version=__version__, lifespan=lifespan, middleware=middleware,
                  description="Smart city integration platform: events in, the right cameras out, audited video "
                              "grants. Authenticate with `Authorization: Bearer <agency API key>`.")
    for router in ROUTERS:
        app.include_router(router, prefix=API_PREFIX)
    app.include_router(video.jwks_router)
    app.include_router(live_video.router)
    app.include_router(linkage.protocol_router)
    app.include_router(web.router)
    app.router.routes.extend(web.static_mounts())
    errors.install(app)

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
