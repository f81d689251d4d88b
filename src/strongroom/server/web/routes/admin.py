"""The Administration start page (administrators only)."""

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from strongroom.server.web.context import WebContext, admin_context
from strongroom.server.web.routes.common import ADMIN_PAGES
from strongroom.server.web.templating import render

router = APIRouter(include_in_schema=False, dependencies=ADMIN_PAGES)

DESCRIPTIONS = {
    "/admin/users": "Add, disable and reset users; per-user Mobile Access options "
    "and devices.",
    "/admin/groups": "Security groups and their members.",
    "/admin/feature-access": "Who may use the Mobile App.",
    "/admin/settings": "App Server URL, pin, pairing secret and the mobile and "
    "sign-in policies.",
    "/admin/bulk-mobile-access": "Turn Mobile Access on or off on many lists at once.",
    "/admin/audit": "Search, export and verify the audit log.",
    "/admin/diagnostics": "Why can a user's phone not connect or sync?",
    "/admin/api-keys": "Keys scripts use for the REST API: create, see use, revoke.",
}


@router.get("/admin")
def index(request: Request, ctx: WebContext = Depends(admin_context)) -> Response:
    """Links to every administration page."""
    return render(request, "admin/index.html", descriptions=DESCRIPTIONS)
