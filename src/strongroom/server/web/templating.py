"""Jinja2 templates and the one `render` every page goes through."""

import datetime
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import jinja2
from fastapi import Request
from fastapi.templating import Jinja2Templates
from starlette.responses import Response

WEB_DIR = Path(__file__).resolve().parent
TEMPLATE_DIR = WEB_DIR / "templates"
STATIC_DIR = WEB_DIR / "static"
# The REST API engineer may ship HTML admin pages (API keys) with templates
# of their own; they extend this site's base layout.
API_TEMPLATE_DIR = WEB_DIR / "api" / "templates"

# The administration menu; the app factory appends links other packages add
# after these.
ADMIN_LINKS: tuple[tuple[str, str], ...] = (
    ("Users", "/admin/users"),
    ("Security Groups", "/admin/groups"),
    ("Feature Access", "/admin/feature-access"),
    ("System Settings", "/admin/settings"),
    ("Mobile Access bulk processing", "/admin/bulk-mobile-access"),
    ("Auditing", "/admin/audit"),
    ("Mobile diagnostics", "/admin/diagnostics"),
    ("API keys", "/admin/api-keys"),
)


def _when(value: datetime.datetime | datetime.date | None) -> str:
    if value is None:
        return "never"
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return value.isoformat()


def _evidence(value: Any) -> str:
    """A troubleshooter evidence value as one readable line."""
    if isinstance(value, str | int | float | bool) or value is None:
        return str(value)
    if isinstance(value, list | tuple) and all(
        isinstance(v, str | int | float) for v in value
    ):
        return ", ".join(str(v) for v in value) or "(none)"
    return json.dumps(value, default=str, sort_keys=True)


def make_templates() -> Jinja2Templates:
    """The template set: this package's templates, then the API's if present."""
    loaders: list[jinja2.BaseLoader] = [jinja2.FileSystemLoader(TEMPLATE_DIR)]
    if API_TEMPLATE_DIR.is_dir():
        loaders.append(jinja2.FileSystemLoader(API_TEMPLATE_DIR))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["evidence"] = _evidence
    return Jinja2Templates(env=env)


def render(
    request: Request,
    template: str,
    *,
    status_code: int = 200,
    headers: Mapping[str, str] | None = None,
    **context: Any,
) -> Response:
    """Render `template` with what every page needs (user, CSRF token, menu)."""
    ctx = getattr(request.state, "ctx", None)
    base: dict[str, Any] = {
        "ctx": ctx,
        "csrf_token": ctx.csrf_token if ctx is not None else "",
        "admin_links": getattr(request.app.state, "admin_links", ADMIN_LINKS),
        "errors": {},
        "flash": ctx.flash if ctx is not None else None,
        "flash_secret": ctx.flash_secret if ctx is not None else None,
        "path": request.url.path,
    }
    base.update(context)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(
        request, template, base, status_code=status_code, headers=headers
    )
