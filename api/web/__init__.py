"""The staff web application: server-rendered pages (Jinja2 + htmx) behind sessions.

``router`` gathers the pages; ``api.app`` includes it once. Sessions, CSRF and roles are in
:mod:`api.web.deps` and :mod:`api.web.sessions`; every state-changing page action writes
the audit log (:mod:`api.web.audit`).
"""

from __future__ import annotations

from fastapi import APIRouter

from api.web import (
    admin,
    assets,
    crew,
    dispatch,
    home,
    horizon,
    login,
    plan_edit,
    planner,
    planning,
    progress,
    run_sheet,
    workorder,
)

router = APIRouter()
_PAGES = (login, admin, dispatch, planning, plan_edit, horizon, crew, planner, assets)
for _module in (*_PAGES, home, progress, workorder, run_sheet):
    router.include_router(_module.router)
router.include_router(admin.account_router)  # /account/password: every signed-in user

__all__ = ["router"]
