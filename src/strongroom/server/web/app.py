"""The browser UI application: `create_web_app(instance)` builds it.

`strongroom web` and `strongroom serve` run what this returns. When the REST
API package (`strongroom.server.web.api`) is installed, its `router` is
mounted here too, and any `ADMIN_LINKS` it declares join the admin menu.
"""

import importlib
import importlib.util
import logging

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from strongroom import __version__
from strongroom.server.core.instance import Instance
from strongroom.server.web import handlers
from strongroom.server.web.headers import BodySizeLimit, RefuseNulPaths, SecurityHeaders
from strongroom.server.web.routes import (
    admin,
    admin_api_keys,
    admin_audit,
    admin_mobile,
    admin_people,
    auth,
    preferences,
    records,
    vault,
)
from strongroom.server.web.templating import ADMIN_LINKS, STATIC_DIR, make_templates

log = logging.getLogger(__name__)

API_MODULE = "strongroom.server.web.api"
# Every page router of the UI, in the order they are mounted.
UI_ROUTERS = (
    auth.router,
    vault.router,
    records.router,
    preferences.router,
    admin.router,
    admin_people.router,
    admin_mobile.router,
    admin_audit.router,
    admin_api_keys.router,
)


def _include_api(app: FastAPI) -> list[tuple[str, str]]:
    """Mount the REST API when its package exists; return its admin links."""
    if importlib.util.find_spec(API_MODULE) is None:
        return []
    api = importlib.import_module(API_MODULE)
    app.include_router(api.router)
    links = getattr(api, "ADMIN_LINKS", [])
    return [(str(label), str(path)) for label, path in links]


def create_web_app(instance: Instance) -> FastAPI:
    """Build the browser UI (and the REST API, when present) for `instance`."""
    has_api = importlib.util.find_spec(API_MODULE) is not None
    app = FastAPI(
        title="Strongroom",
        version=__version__,
        # Only the REST API is described by OpenAPI (the HTML pages are not an
        # interface for programs); the API also serves its own cut at
        # /api/v1/openapi.json.
        openapi_url="/openapi.json" if has_api else None,
        docs_url=None,
        redoc_url=None,
    )
    app.state.instance = instance
    app.state.templates = make_templates()

    handlers.install(app)
    app.add_middleware(BodySizeLimit)
    app.add_middleware(RefuseNulPaths)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    for router in UI_ROUTERS:
        app.include_router(router)
    app.state.admin_links = ADMIN_LINKS + tuple(_include_api(app))
    log.info("web_app_created api=%s", has_api)
    return app
