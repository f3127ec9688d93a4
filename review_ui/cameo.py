"""The cameo owner's page: my cameo, every video it appears in, and what I can do about them
(delete a video, change who may use the cameo, revoke consent, delete the cameo). Every
destructive action goes through a confirmation page that says exactly what will happen, computed
by the likeness domain (app.interfaces.CameoOwnerPage), never guessed here."""

from __future__ import annotations

from flask import flash, get_flashed_messages, redirect, render_template, request, url_for

from app import domains
from app.errors import GreenlightError
from app.interfaces import CameoOwnerPage
from review_ui import web

bp = web.page_blueprint("cameo", __name__)

# The overview's groups, in the order the page shows them, with their headings.
GROUPS = (
    ("published", "Published"),
    ("drafts", "Drafts"),
    ("held", "Held for review"),
    ("in_flight", "In flight (queued or rendering)"),
    ("blocked", "Blocked attempts"),
)
# What revoking does to each kind of video, as the confirmation and the result say it.
ACTIONS = (
    ("unpublished", "Unpublished", "taken down from public view and returned to their creator's drafts"),
    ("deleted", "Removed", "drafts deleted, with their video files"),
    ("blocked", "Blocked", "requests waiting or held for review, refused before they are made"),
    ("rendering", "Stopped", "videos being made now, refused by the consent check when their render ends"),
)
PERMISSIONS = (
    ("only_me", "Only me"),
    ("approved", "People I approve"),
    ("mutuals", "People I follow who follow me"),
    ("everyone", "Everyone"),
)


def _service():
    return domains.service(CameoOwnerPage)


def _appearances(overview: dict | None) -> dict[str, dict]:
    """Every generation the overview shows, by id (to name the ids of a preview)."""
    if not overview:
        return {}
    return {gen["id"]: gen for group in overview["appearances"].values() for gen in group}


def _named(ids: list[str], known: dict[str, dict]) -> list[dict]:
    return [known.get(gid) or {"id": gid, "prompt": None, "creator_handle": None, "status": None} for gid in ids]


def _outcome(result: dict, known: dict[str, dict]) -> list[dict]:
    """The preview (or what was done) as rows for the templates: one per action, with its videos."""
    return [{"key": key, "title": title, "explains": explains, "count": result["counts"].get(key, 0),
             "videos": _named(result.get(key, []), known)} for key, title, explains in ACTIONS]


def _no_cameo():
    return redirect(url_for("cameo.overview"))


@bp.get("/me/cameo")
@web.login_required()
def overview():
    service = _service()
    data = service.overview(web.db(), web.current_user())
    return render_template("cameo/overview.html", data=data, groups=GROUPS, permissions=PERMISSIONS,
                           can_set_permission=hasattr(service, "set_permission"),
                           messages=get_flashed_messages(with_categories=True))


@bp.post("/me/cameo/permission")
@web.login_required()
def set_permission():
    service = _service()
    if not hasattr(service, "set_permission"):
        return web.error_page(404, "Page not found", "Changing who may use a cameo is not offered here.")
    try:
        cameo = service.set_permission(web.db(), web.current_user(), request.form.get("permission", ""))
    except GreenlightError as exc:
        flash(f"The permission was not changed: {exc.message}.", "error")
    else:
        label = dict(PERMISSIONS).get(cameo["permission"], cameo["permission"])
        flash(f"Who may use your cameo: {label}.", "ok")
    return redirect(url_for("cameo.overview"))


@bp.get("/me/cameo/videos/<generation_id>/delete")
@web.login_required()
def delete_video_confirm(generation_id: str):
    gen = _appearances(_service().overview(web.db(), web.current_user())).get(generation_id)
    if gen is None or not gen["may_delete"]:
        return web.error_page(404, "Video not found", "No video of yours, or with your cameo in it, has that id.")
    return render_template("cameo/delete_video.html", gen=gen)


@bp.post("/me/cameo/videos/<generation_id>/delete")
@web.login_required()
def delete_video(generation_id: str):
    s, user = web.db(), web.current_user()
    gen = _appearances(_service().overview(s, user)).get(generation_id)
    if gen is None or not gen["may_delete"]:
        return web.error_page(404, "Video not found", "No video of yours, or with your cameo in it, has that id.")
    try:
        _service().delete_video(s, user, generation_id)
    except GreenlightError as exc:
        return web.error_page(exc.status, "The video was not deleted", exc.message)
    flash(f"The video “{gen['prompt']}” by @{gen['creator_handle']} was deleted.", "ok")
    return redirect(url_for("cameo.overview"))


@bp.get("/me/cameo/revoke")
@web.login_required()
def revoke_confirm():
    s, user = web.db(), web.current_user()
    data = _service().overview(s, user)
    if data is None:
        return _no_cameo()
    preview = _service().revocation_preview(s, user)
    return render_template("cameo/revoke.html", data=data, actions=_outcome(preview, _appearances(data)),
                           done=False)


@bp.post("/me/cameo/revoke")
@web.login_required()
def revoke():
    s, user = web.db(), web.current_user()
    data = _service().overview(s, user)
    if data is None:
        return _no_cameo()
    known = _appearances(data)  # named before the revocation deletes some of them
    result = _service().revoke(s, user)
    return render_template("cameo/revoke.html", data=_service().overview(s, user),
                           actions=_outcome(result, known), done=True)


@bp.get("/me/cameo/delete")
@web.login_required()
def delete_cameo_confirm():
    s, user = web.db(), web.current_user()
    data = _service().overview(s, user)
    if data is None:
        return _no_cameo()
    preview = _service().revocation_preview(s, user)
    return render_template("cameo/delete_cameo.html", data=data, actions=_outcome(preview, _appearances(data)),
                           done=False, erased=None)


@bp.post("/me/cameo/delete")
@web.login_required()
def delete_cameo():
    s, user = web.db(), web.current_user()
    data = _service().overview(s, user)
    if data is None:
        return _no_cameo()
    known = _appearances(data)
    result = _service().delete_cameo(s, user)
    return render_template("cameo/delete_cameo.html", data=_service().overview(s, user),
                           actions=_outcome(result, known), done=True, erased=result.get("erased"))
