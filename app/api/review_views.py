"""Review queue: what the gates could not decide."""

from __future__ import annotations

from flask import Blueprint
from sqlalchemy import select

from app import orchestrator, runtime
from app.api.pagination import paginate
from app.api.schemas import ReviewDecisionIn, ReviewItemOut, ReviewItemPage, ReviewQuery
from app.api.spec import current_user, endpoint, session
from app.models import REVIEW_ROLES, ReviewItem
from app.stage import Decision

bp = Blueprint("review", __name__)
ROLES = {r.value for r in REVIEW_ROLES}


def item_out(item: ReviewItem) -> ReviewItemOut:
    return ReviewItemOut(id=item.id, generation_id=item.generation_id, phase=item.phase, queue=item.queue,
                         status=item.status, reasons=item.reasons, prompt=item.generation.prompt,
                         decision=item.decision, created_at=item.created_at)


@endpoint(bp, "/review/items", "GET", summary="Review items, newest first", tag="review", query=ReviewQuery,
          response=ReviewItemPage, roles=ROLES)
def list_items(query: ReviewQuery):
    stmt = select(ReviewItem).where(ReviewItem.status == query.status)
    rows, cursor = paginate(session(), stmt, ReviewItem, query.limit, query.cursor)
    return ReviewItemPage(items=[item_out(i) for i in rows], next_cursor=cursor)


@endpoint(bp, "/review/items/<item_id>/decision", "POST", summary="Allow or block a held generation",
          tag="review", body=ReviewDecisionIn, response=ReviewItemOut, roles=ROLES,
          errors=("review_item_not_found", "review_item_decided"))
def decide(item_id: str, body: ReviewDecisionIn):
    item = orchestrator.decide_review(runtime.current(), session(), item_id, current_user(),
                                     Decision(body.decision), body.note)
    return item_out(item)
