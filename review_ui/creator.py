"""The creator's own pages: their generations, and the statement of reasons for each decision
that blocked, removed or restricted one."""

from __future__ import annotations

from flask import render_template, request
from sqlalchemy import select

from app import statements
from app.api.pagination import paginate
from app.errors import ValidationFailed
from app.models import Generation, Status
from review_ui import web

bp = web.page_blueprint("creator", __name__)

PAGE_SIZE = 20
# The first that exists is rendered: the appeals group ships its own, extending the second and filling
# its `appeal_action` block per statement, so adding appeals needs no change here.
GENERATIONS_TEMPLATES = ("appeals/creator_generations.html", "creator/generations.html")


@bp.get("/me/generations")
@web.login_required()
def generations():
    s, user = web.db(), web.current_user()
    # The same listing the API's GET /generations answers: own rows, deleted ones left out.
    stmt = select(Generation).where(Generation.owner_id == user.id, Generation.status != Status.DELETED)
    try:
        rows, next_cursor = paginate(s, stmt, Generation, PAGE_SIZE, request.args.get("cursor"))
    except ValidationFailed:
        return web.error_page(400, "This page link is broken", "The page link is not one this site made.")
    items = [{"generation": gen, "statements": statements.for_generation(s, gen.id)} for gen in rows]
    return render_template(list(GENERATIONS_TEMPLATES), items=items, next_cursor=next_cursor,
                           first_page=not request.args.get("cursor"))
