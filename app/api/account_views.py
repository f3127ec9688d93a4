"""Accounts: sign-up by invite, tokens, me, invites, follows."""

from __future__ import annotations

from flask import Blueprint, request

from app import accounts, notifications
from app.api.schemas import (
    FollowIn, InviteList, InviteOut, NotificationList, NotificationOut, SignUpIn, TokenIn, TokenInfo, TokenList,
    TokenOut, UserOut,
)
from app.api.spec import current_user, endpoint, session
from app.errors import NotFound
from app.models import User

bp = Blueprint("accounts", __name__)


def user_out(user: User) -> UserOut:
    return UserOut(id=user.id, email=user.email, handle=user.handle, role=user.role, is_teen=user.is_teen,
                   created_at=user.created_at)


@endpoint(bp, "/signup", "POST", summary="Create an account with an invite code", tag="accounts",
          body=SignUpIn, response=UserOut, status=201, auth=False,
          errors=("invalid_invite", "email_taken", "handle_taken", "weak_password", "invalid_email",
                  "invalid_birthdate", "below_minimum_age", "server_busy"))
def sign_up(body: SignUpIn):
    user = accounts.sign_up(session(), body.invite_code, body.email, body.password, body.birthdate, body.handle)
    return user_out(user)


@endpoint(bp, "/tokens", "POST", summary="Exchange email and password for an API token (shown once)",
          tag="accounts", body=TokenIn, response=TokenOut, status=201, auth=False,
          errors=("invalid_credentials", "too_many_login_attempts", "server_busy"))
def issue_token(body: TokenIn):
    user = accounts.check_credentials(session(), body.email, body.password, address=request.remote_addr, via="api")
    raw, token = accounts.issue_token(session(), user, body.name)
    return TokenOut(id=token.id, token=raw, prefix=token.prefix, name=token.name, created_at=token.created_at,
                    expires_at=token.expires_at)


@endpoint(bp, "/tokens", "GET", summary="My usable tokens (never their secrets)", tag="accounts",
          response=TokenList)
def my_tokens():
    tokens = accounts.list_tokens(session(), current_user())
    return TokenList(items=[TokenInfo(id=t.id, name=t.name, created_at=t.created_at, expires_at=t.expires_at,
                                      last_used_at=t.last_used_at) for t in tokens])


@endpoint(bp, "/tokens/<token_id>", "DELETE", summary="Revoke one of my tokens", tag="accounts",
          status=204, errors=("token_not_found",))
def revoke_token(token_id: str):
    if not accounts.revoke_token(session(), current_user(), token_id):
        raise NotFound("token not found", code="token_not_found")
    return "", 204


@endpoint(bp, "/users/me", "GET", summary="The calling user", tag="accounts", response=UserOut)
def me():
    return user_out(current_user())


@endpoint(bp, "/invites", "GET", summary="My invite codes", tag="accounts", response=InviteList)
def my_invites():
    invites = accounts.list_invites(session(), current_user())
    return InviteList(items=[InviteOut(code=i.code, used=i.used_by_id is not None, used_at=i.used_at)
                             for i in invites])


def _other(handle: str) -> User:
    user = accounts.user_by_handle(session(), handle)
    if user is None:
        raise NotFound("user not found", code="user_not_found")
    return user


@endpoint(bp, "/follows", "POST", summary="Follow a user (mutual follows enable `mutuals` cameos)",
          tag="accounts", body=FollowIn, status=204, errors=("user_not_found", "cannot_follow_self"))
def follow(body: FollowIn):
    accounts.follow(session(), current_user(), _other(body.handle))
    return "", 204


@endpoint(bp, "/follows/<handle>", "DELETE", summary="Unfollow a user", tag="accounts", status=204,
          errors=("user_not_found",))
def unfollow(handle: str):
    accounts.unfollow(session(), current_user(), _other(handle))
    return "", 204


@endpoint(bp, "/notifications", "GET", summary="My notifications, unread first", tag="accounts",
          response=NotificationList)
def my_notifications():
    notes = notifications.unread_first(session(), current_user().id)
    return NotificationList(items=[NotificationOut(id=n.id, kind=n.kind, payload=n.payload, created_at=n.created_at,
                                                   read=n.read_at is not None) for n in notes])


@endpoint(bp, "/notifications/<notification_id>/read", "POST", summary="Mark a notification read",
          tag="accounts", status=204, errors=("notification_not_found",))
def read_notification(notification_id: str):
    if not notifications.mark_read(session(), current_user().id, notification_id):
        raise NotFound("notification not found", code="notification_not_found")
    return "", 204
