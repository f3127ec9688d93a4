import itertools

import pytest

from app.errors import IllegalTransition
from app.models import Status
from app.states import IN_FLIGHT, TERMINAL, TRANSITIONS, can_transition, check_transition

S = Status

# The documented lifecycle, written out independently of the table under test.
LEGAL = {
    # The gate decides a submitted request in one transaction; `gating` is only left by older rows.
    (S.SUBMITTED, S.BLOCKED), (S.SUBMITTED, S.IN_REVIEW), (S.SUBMITTED, S.QUEUED),
    (S.SUBMITTED, S.FAILED), (S.SUBMITTED, S.DELETED),
    (S.GATING, S.BLOCKED), (S.GATING, S.IN_REVIEW), (S.GATING, S.QUEUED), (S.GATING, S.FAILED),
    (S.IN_REVIEW, S.QUEUED), (S.IN_REVIEW, S.DRAFT), (S.IN_REVIEW, S.BLOCKED), (S.IN_REVIEW, S.DELETED),
    (S.QUEUED, S.RENDERING), (S.QUEUED, S.BLOCKED), (S.QUEUED, S.FAILED), (S.QUEUED, S.DELETED),
    (S.RENDERING, S.SCANNING), (S.RENDERING, S.FAILED),
    (S.SCANNING, S.DRAFT), (S.SCANNING, S.IN_REVIEW), (S.SCANNING, S.BLOCKED), (S.SCANNING, S.FAILED),
    (S.DRAFT, S.PUBLISHED), (S.DRAFT, S.BLOCKED), (S.DRAFT, S.DELETED),
    (S.PUBLISHED, S.DRAFT), (S.PUBLISHED, S.BLOCKED), (S.PUBLISHED, S.DELETED),
    (S.BLOCKED, S.DELETED), (S.BLOCKED, S.QUEUED), (S.BLOCKED, S.DRAFT),  # the last two: an appeal overturned
    (S.FAILED, S.SUBMITTED), (S.FAILED, S.DELETED),
}


@pytest.mark.parametrize("pair", sorted(LEGAL))
def test_legal_transitions(pair):
    assert can_transition(*pair)
    check_transition(*pair)


@pytest.mark.parametrize("pair", sorted(set(itertools.product(Status, Status)) - LEGAL))
def test_illegal_transitions_raise(pair):
    assert not can_transition(*pair)
    with pytest.raises(IllegalTransition) as exc:
        check_transition(*pair)
    assert exc.value.code == "illegal_transition" and exc.value.status == 409


def test_every_status_has_an_entry_and_deleted_is_the_only_terminal_state():
    assert set(TRANSITIONS) == set(Status)
    assert TERMINAL == {S.DELETED}
    assert IN_FLIGHT == {S.SUBMITTED, S.GATING, S.QUEUED, S.RENDERING, S.SCANNING}


def test_nothing_reaches_rendering_without_passing_the_gates():
    # Only `queued` leads to rendering, and only the gate (from submitted, or gating in older
    # rows), a human review or a human's decision on an appeal (blocked -> queued) leads to queued.
    assert {a for a, b in LEGAL if b == S.RENDERING} == {S.QUEUED}
    assert {a for a, b in LEGAL if b == S.QUEUED} == {S.SUBMITTED, S.GATING, S.IN_REVIEW, S.BLOCKED}
