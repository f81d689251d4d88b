"""The App Server application: the mobile API (pair, sync, logout) and health.

Stateless apart from the database, so several can serve the same devices
behind a load balancer. It needs the database and the instance key, nothing
else: no web session, no file but its TLS certificate.
"""

import functools
import logging
import threading

import anyio
import anyio.to_thread
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from strongroom import __version__
from strongroom.protocol.errors import ErrorResponse
from strongroom.protocol.schemas import (
    HealthResponse,
    LogoutRequest,
    LogoutResponse,
    PairRequest,
    PairResponse,
    SyncRequest,
    SyncResponse,
)
from strongroom.server.appserver.errors import (
    BodyLimitMiddleware,
    install_error_handlers,
)
from strongroom.server.core.errors import (
    SchemaBehind,
    ServiceUnavailable,
    ValidationError,
)
from strongroom.server.core.instance import Instance
from strongroom.server.core.schema import current_revisions, head_revisions
from strongroom.server.mobile import devices, pairing, sync
from strongroom.server.settings import service as system_settings
from strongroom.server.settings.models import SystemSetting

log = logging.getLogger(__name__)

# Large enough for a full queue of audit events (500 of a few hundred bytes).
MAX_BODY_BYTES = 512 * 1024
# Worker threads for syncs and logouts (SQLite: one writer, so few), and for
# pairings (Argon2id, 64 MiB each).
SQLITE_SLOTS = 4
PG_SLOTS = 12
PAIR_SLOTS = 4

STATUS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Strongroom App Server</title></head>
<body><h1>Strongroom App Server</h1><p>Status OK</p></body></html>
"""


def _errors(*statuses: int) -> dict[int | str, dict[str, object]]:
    return {status: {"model": ErrorResponse} for status in statuses}


def _refuse_unstorable_text(body: BaseModel) -> None:
    """Refuse NUL characters and lone surrogates in any string of a body.

    PostgreSQL text cannot hold NUL, and a lone surrogate (valid in JSON) is
    not UTF-8; no field of the protocol needs either. Refused here, they never
    reach a query or a hash function, where they would be a 500.
    """

    def walk(value: object, path: str) -> None:
        if isinstance(value, str):
            if "\x00" in value:
                raise ValidationError(path, f"{path} must not contain NUL characters")
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                raise ValidationError(path, f"{path} is not valid UTF-8 text") from None
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{path}.{key}" if path else str(key))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{path}.{index}")

    walk(body.model_dump(), "")


def _client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


class _InstanceId:
    """The instance id, read once: it never changes for an installation."""

    def __init__(self, instance: Instance) -> None:
        self._instance = instance
        self._value: str | None = None
        self._lock = threading.Lock()

    def get(self) -> str | None:
        with self._lock:
            if self._value is None:
                with self._instance.db.engine.connect() as conn:
                    stored = conn.execute(
                        select(SystemSetting.value).where(
                            SystemSetting.key == system_settings.INSTANCE_ID
                        )
                    ).scalar_one_or_none()
                self._value = None if stored is None else str(stored)
            return self._value

    @property
    def cached(self) -> str | None:
        return self._value


def _database_reason(exc: Exception) -> str:
    """Say why the database failed without naming hosts or credentials."""
    if isinstance(exc, SchemaBehind):
        return "schema behind: run `strongroom db upgrade`"
    cause = exc.__cause__ if exc.__cause__ is not None else exc
    text = str(getattr(cause, "orig", cause)).lower()
    for needle, reason in (
        ("refused", "connection refused"),
        ("timeout", "connection timed out"),
        ("timed out", "connection timed out"),
        ("authentication", "authentication failed"),
        ("does not exist", "database does not exist"),
        ("unable to open", "cannot open the database file"),
        ("could not translate host", "host name does not resolve"),
    ):
        if needle in text:
            return f"unreachable: {reason}"
    return "unreachable: the database did not answer"


def create_appserver_app(instance: Instance) -> FastAPI:
    """Build the App Server for an opened instance."""
    app = FastAPI(
        title="Strongroom App Server",
        version=__version__,
        summary="The mobile API: pairing, delta sync, offline audit upload.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.add_middleware(BodyLimitMiddleware, limit=MAX_BODY_BYTES)
    install_error_handlers(app)
    instance_id = _InstanceId(instance)
    heads = head_revisions()  # read once: the migrations ship with the code
    # Blocking work runs in worker threads, but not in as many as requests
    # arrive: SQLite has one writer, PostgreSQL a pool of connections, and a
    # crowd of threads fighting for them only stretches every transaction.
    # Pairing has a small pool of its own: each Argon2 check takes 64 MiB and
    # a fraction of a second, and a flood of them must not starve syncs.
    sync_slots = anyio.CapacityLimiter(
        SQLITE_SLOTS if instance.db.is_sqlite else PG_SLOTS
    )
    pair_slots = anyio.CapacityLimiter(PAIR_SLOTS)

    # HEAD too: load balancers and uptime monitors often check with it.
    @app.api_route(
        "/",
        methods=["GET", "HEAD"],
        response_class=HTMLResponse,
        include_in_schema=False,
    )
    def status_page() -> HTMLResponse:
        """A page a person can open on a phone to test reachability."""
        return HTMLResponse(STATUS_PAGE)

    @app.get(
        "/health",
        response_model=HealthResponse,
        responses={503: {"model": HealthResponse}},
        summary="Version, instance id and whether the database answers",
    )
    def health() -> JSONResponse:
        """200 when the database answers at the current schema, else 503."""
        try:
            instance.db.ping()
            if current_revisions(instance.db) != heads:
                raise SchemaBehind("the database schema is not this version's")
            current = instance_id.get()
            body = HealthResponse(
                status="ok",
                version=__version__,
                instance_id=current,
                database="ok" if current else "not initialised: run `strongroom init`",
            )
            status = 200 if current else 503
        except (ServiceUnavailable, SchemaBehind, SQLAlchemyError) as exc:
            reason = _database_reason(exc)
            log.warning("health_degraded reason=%s", reason)
            body = HealthResponse(
                status="degraded",
                version=__version__,
                instance_id=instance_id.cached,
                database=reason,
            )
            status = 503
        if status != 200:
            body = body.model_copy(update={"status": "degraded"})
        return JSONResponse(body.model_dump(mode="json"), status_code=status)

    # Left out of the schema: one operation per path keeps its id unique.
    app.head("/health", include_in_schema=False)(health)

    @app.post(
        "/v1/pair",
        response_model=PairResponse,
        responses=_errors(401, 403, 404, 413, 422, 426, 429, 503),
        summary="Pair a device: prove the QR token and the master password",
    )
    async def pair(body: PairRequest, request: Request) -> PairResponse:
        """Register the device and return its first credential."""
        _refuse_unstorable_text(body)
        call = functools.partial(pairing.pair, instance, body, ip=_client_ip(request))
        return await anyio.to_thread.run_sync(call, limiter=pair_slots)

    @app.post(
        "/v1/sync",
        response_model=SyncResponse,
        responses=_errors(401, 409, 410, 413, 422, 426, 503),
        summary="Upload audit events, receive changes since the cursor",
    )
    async def sync_device(body: SyncRequest, request: Request) -> Response:
        """One delta sync; the reply carries the next credential and cursor."""
        _refuse_unstorable_text(body)

        def work() -> bytes:
            reply = sync.sync(instance, body, ip=_client_ip(request))
            # Serialised once, in the worker: a first sync of a large vault is
            # big, and validating it again against the response model would
            # double the work.
            return reply.model_dump_json().encode("utf-8")

        content = await anyio.to_thread.run_sync(work, limiter=sync_slots)
        return Response(content, media_type="application/json")

    @app.post(
        "/v1/logout",
        response_model=LogoutResponse,
        responses=_errors(401, 410, 413, 422, 426, 503),
        summary="The device revokes itself",
    )
    async def logout(body: LogoutRequest, request: Request) -> LogoutResponse:
        """Revoke the calling device (the user signed out of the app)."""
        _refuse_unstorable_text(body)
        call = functools.partial(
            devices.logout,
            instance.db,
            body.device_id,
            body.device_credential,
            body.protocol_version,
            _client_ip(request),
        )
        return await anyio.to_thread.run_sync(call, limiter=sync_slots)

    return app
