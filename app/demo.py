"""A small demo world: people, cameos, follows and generations that show each gate at work."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from sqlalchemy import select

from app import accounts, appeals, domains, generations, orchestrator
from app.models import Role, User
from app.runtime import Runtime

DEMO_PASSWORD = "greenlight-demo"

PEOPLE = [
    ("admin@demo.test", "admin", Role.ADMIN, date(1985, 3, 1)),
    ("reviewer@demo.test", "rita_reviewer", Role.REVIEWER, date(1990, 6, 2)),
    ("senior@demo.test", "sam_senior", Role.SENIOR_REVIEWER, date(1982, 2, 7)),
    ("rights@demo.test", "rights_team", Role.RIGHTSHOLDER, date(1980, 1, 3)),
    ("alice@demo.test", "alice", Role.CREATOR, date(1995, 4, 4)),
    ("bob@demo.test", "bob", Role.CREATOR, date(1998, 5, 5)),
    ("tess@demo.test", "tess", Role.CREATOR, date(2010, 7, 6)),
]


def seed(rt: Runtime, echo: Callable[[str], None] = print) -> bool:
    """Create the demo world once; False (and nothing written) if it is already there."""
    with rt.db.transaction() as s:
        if s.scalar(select(User.id).where(User.email == "alice@demo.test")):
            echo("demo data already seeded")
            return False
        users = {handle: accounts.create_user(s, email, DEMO_PASSWORD, role=role, birthdate=bd, handle=handle)
                 for email, handle, role, bd in PEOPLE}
        accounts.follow(s, users["alice"], users["bob"])
        accounts.follow(s, users["bob"], users["alice"])
        named: dict[str, str] = {}
        for domain in domains.domains():
            if domain.demo is not None:
                named |= domain.demo(s, users)
        ids = {h: u.id for h, u in users.items()}
        cameos = (named["alice_cameo"], named["bob_cameo"])

    requests = [
        ("alice", "a green cube sliding down a ramp", []),
        ("alice", "a red ball bouncing at night", []),
        ("bob", "me and alice dancing on the beach at sunset", list(cameos)),
        ("tess", "bob juggling oranges", [cameos[1]]),            # not a mutual: blocked
        ("alice", "Angela Merkel reading a book", []),           # public figure: blocked
        ("bob", "Garfield eating lasagna", []),                  # copyrighted character: blocked
        ("alice", "a knight covered in blood after a duel", []),  # violence: age-restricted, hidden from teens
        ("bob", "a man with a swastika tattoo", []),             # needs a human look: review
    ]
    made = {}
    for handle, prompt, cameo_ids in requests:
        with rt.db.transaction() as s:
            owner = s.get(User, ids[handle])
            gid = made[prompt] = orchestrator.submit_and_gate(rt, s, owner, prompt, cameo_ids, None)
            status = generations.status_of(s, gid)
        echo(f"  @{handle:<6} {status:<10} {prompt}")
    with rt.db.transaction() as s:
        # A case of each kind the gates leave for people: the held request above, and an appeal.
        if generations.status_of(s, made["Garfield eating lasagna"]) == "blocked":
            appeal = appeals.file(s, s.get(User, ids["bob"]), "It's my own orange cat, not the cartoon.",
                                  generation_id=made["Garfield eating lasagna"])
            echo(f"  @bob    appealed   the Garfield block (case {appeal.id})")

    with rt.db.transaction() as s:
        for handle in ("alice", "rita_reviewer"):
            raw, _ = accounts.issue_token(s, s.get(User, ids[handle]), "demo")
            echo(f"token for @{handle}: {raw}")
    echo(f"demo users: {', '.join(e for e, *_ in PEOPLE)} (password {DEMO_PASSWORD!r})")
    echo("pages: /login, then /review (reviewers), /portal (rights_team), /me/generations, /me/cameo")
    return True
