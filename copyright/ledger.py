"""Revenue-share ledger core: the split rule, balanced postings and an append-only journal.

Pure: standard library only (no database, no Flask, no `app` imports). `Journal` is the
in-memory reference model the DB-backed ledger is tested against.

Money
-----
Integer minor units (cents) plus a currency code; never floats. A currency is an active
ISO 4217 code from `copyright/data/iso4217.json` (with its minor-unit exponent, e.g. JPY 0,
USD 2, KWD 3): three letters alone ("ZZZ") are not money. Each currency has its own books, and
a posting holds exactly one currency, so amounts in different currencies are never added
together.

Accounts
--------
    revenue:<video_id>        where a video's revenue comes from; its balance is minus the
                              video's gross revenue
    platform                  the platform fee
    creator:<party>           a creator's share (the video's own creator or a remix ancestor's)
    rightsholder:<party>      a rightsholder's share for the works it owns

`VideoNode.creator_account` and `WorkUse.rightsholder_account` hold the party id (user id,
rightsholder org id); the ledger account names above are built from them.

The split rule
--------------
A revenue of A minor units on video V0, whose remix ancestry is V0 -> V1 (parent) -> V2 ...:

1. The platform takes its fee first: A x platform_bp / 10000. What is left is V0's pool P0.
2. For each video Vk of the chain, starting at V0 with pool P0:
   a. each work w used in Vk pays its rightsholder Pk x w.share_bp / 10000 (the works of
      one video total at most 10000 bp, else "shares_exceed_total");
   b. the rest of the pool is Vk's creator pool Ck = Pk - (what Vk's works took);
   c. if Vk has a parent that is within max_depth (V1 .. V{max_depth} earn), the parent's
      pool is P(k+1) = Ck x remix_parent_bp / 10000 and Vk's creator keeps Ck - P(k+1);
      otherwise Vk's creator keeps all of Ck.
   So each ancestor's pool is remix_parent_bp of its child's creator pool: it decays
   geometrically up the chain, and an ancestor's works earn their share_bp of that
   ancestor's pool (the same rule as the video's own works, one level up). Ancestors beyond
   max_depth, and their works, earn nothing; max_depth = 0 turns remix sharing off.
3. Shares are computed exactly (fractions), summed per account (a party paid twice, e.g. a
   creator remixing their own video, gets one amount) and rounded once by the largest-
   remainder method: every account gets the floor of its exact share, and the units left
   over (fewer than the number of accounts) go one each to the largest fractional
   remainders, ties broken by account name ascending. The result sums exactly to A;
   accounts that end with 0 are left out.

Worked example (default rule: platform_bp=2000, remix_parent_bp=1000, max_depth=5),
A = 10000 (100.00 USD):

    V0 "clip-3" by cara, uses "song" owned by label at 1500 bp
    V1 "clip-2" by ben,  uses "film" owned by studio at 5000 bp   (V0's parent)
    V2 "clip-1" by ana,  no works                                 (V1's parent)

    platform              10000 x 20 %                 = 2000    P0 = 8000
    rightsholder:label     8000 x 15 %                 = 1200    C0 = 6800
                           V1's pool: 6800 x 10 %      =  680
    creator:cara           6800 - 680                  = 6120
    rightsholder:studio     680 x 50 %                 =  340    C1 =  340
                           V2's pool:  340 x 10 %      =   34
    creator:ben             340 - 34                   =  306
    creator:ana            34 (no parent: keeps C2)    =   34
                                                  total = 10000

Postings
--------
A line adds its signed amount to its account's balance, and the lines of a posting sum to
zero. A revenue posting takes A out of `revenue:<video_id>` (one line of -A) and gives each
payee its share (positive lines). Nothing is edited or deleted: a correction is
`reversal(original, new_event_id)`, the exact negation of the original, naming it in
`reverses`; a posting can be reversed once.

The journal is idempotent by event id (the external event's id, e.g. the payment
provider's): posting an event id again with the same content (currency, `reverses`, and
the same lines in any order) returns the stored posting and changes nothing; the same id
with other content raises "event_id_conflict".

Errors are `LedgerError` (a `ValueError`) with a stable `code`: amount_not_positive,
amount_not_integer, share_out_of_range, shares_exceed_total, duplicate_work, invalid_rule,
invalid_weight, invalid_id, invalid_currency, invalid_line, posting_empty,
posting_unbalanced, event_id_conflict, unknown_reversed_event, already_reversed,
reversal_mismatch.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from pathlib import Path

BP = 10_000  # basis points in a whole
PLATFORM_ACCOUNT = "platform"
_ISO_4217 = Path(__file__).parent / "data" / "iso4217.json"


class LedgerError(ValueError):
    """A rejected amount, share, rule or posting; `code` is stable, `details` machine-readable."""

    def __init__(self, code: str, message: str, **details: object) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


def creator_account(party: str) -> str:
    return f"creator:{party}"


def rightsholder_account(party: str) -> str:
    return f"rightsholder:{party}"


def revenue_account(video_id: str) -> str:
    return f"revenue:{video_id}"


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # True is not 1 cent


def _check_id(value: object, what: str) -> None:
    if not isinstance(value, str) or not value:
        raise LedgerError("invalid_id", f"{what} must be a non-empty string", field=what)


def _check_amount(amount: object) -> None:
    if not _is_int(amount):
        raise LedgerError("amount_not_integer", "amounts are integer minor units", amount=repr(amount))
    if amount <= 0:
        raise LedgerError("amount_not_positive", "the amount must be positive", amount=amount)


@cache
def currencies() -> dict[str, int]:
    """Every accepted ISO 4217 code and its minor-unit exponent (committed data, not a pattern)."""
    listed = json.loads(_ISO_4217.read_text(encoding="utf-8"))["currencies"]
    return {code: int(entry["minor_units"]) for code, entry in listed.items()}


def minor_units(currency: str) -> int:
    """The exponent of the currency's minor unit: 100 cents make a dollar, so USD is 2."""
    _check_currency(currency)
    return currencies()[currency]


def _check_currency(currency: object) -> None:
    if not isinstance(currency, str) or currency not in currencies():
        raise LedgerError("invalid_currency", "a currency is an active ISO 4217 code", currency=repr(currency))


# --- what a video is made of -------------------------------------------------------------

@dataclass(frozen=True)
class WorkUse:
    """A work used in a video, and the revenue share its rightsholder's policy grants."""

    work_id: str
    rightsholder_account: str  # rightsholder party id; the account is rightsholder:<id>
    share_bp: int

    def __post_init__(self) -> None:
        _check_id(self.work_id, "work_id")
        _check_id(self.rightsholder_account, "rightsholder_account")
        if not _is_int(self.share_bp) or not 0 <= self.share_bp <= BP:
            raise LedgerError("share_out_of_range", "share_bp must be an integer from 0 to 10000",
                              work_id=self.work_id, share_bp=repr(self.share_bp))


@dataclass(frozen=True)
class VideoNode:
    """A published video, the works it uses and the video it remixes (None for an original)."""

    video_id: str
    creator_account: str  # creator party id; the account is creator:<id>
    works: tuple[WorkUse, ...] = ()
    parent: VideoNode | None = None

    def __post_init__(self) -> None:
        _check_id(self.video_id, "video_id")
        _check_id(self.creator_account, "creator_account")
        object.__setattr__(self, "works", tuple(self.works))  # a list would make the node unhashable
        if not all(isinstance(w, WorkUse) for w in self.works):
            raise TypeError("works must be WorkUse instances")
        if self.parent is not None and not isinstance(self.parent, VideoNode):
            raise TypeError("parent must be a VideoNode or None")
        ids = [w.work_id for w in self.works]
        if len(set(ids)) != len(ids):  # a work listed twice would be paid twice
            raise LedgerError("duplicate_work", "a work is listed more than once",
                              video_id=self.video_id, work_ids=sorted(ids))
        if self.works_bp > BP:
            raise LedgerError("shares_exceed_total", "the works' revenue shares add up to more than 100 %",
                              video_id=self.video_id, share_bp=self.works_bp)

    @property
    def works_bp(self) -> int:
        return sum(w.share_bp for w in self.works)


@dataclass(frozen=True)
class SplitRule:
    """The constants of the split rule described in the module docstring."""

    platform_bp: int = 2000      # platform fee, taken first from the gross amount
    remix_parent_bp: int = 1000  # part of a video's creator pool that becomes its parent's pool
    max_depth: int = 5           # how many ancestors (parent = 1) earn; 0 turns remix sharing off

    def __post_init__(self) -> None:
        for name in ("platform_bp", "remix_parent_bp"):
            value = getattr(self, name)
            if not _is_int(value) or not 0 <= value <= BP:
                raise LedgerError("invalid_rule", f"{name} must be an integer from 0 to 10000",
                                  field=name, value=repr(value))
        if not _is_int(self.max_depth) or self.max_depth < 0:
            raise LedgerError("invalid_rule", "max_depth must be a non-negative integer",
                              field="max_depth", value=repr(self.max_depth))


# --- the split ---------------------------------------------------------------------------

def _lineage(video: VideoNode, max_depth: int) -> list[VideoNode]:
    """The video and at most max_depth ancestors, child first."""
    chain = [video]
    while chain[-1].parent is not None and len(chain) <= max_depth:
        chain.append(chain[-1].parent)
    return chain


def exact_split(amount: int, video: VideoNode, rule: SplitRule = SplitRule()) -> dict[str, Fraction]:
    """Every payee's exact (unrounded) share; the values sum to `amount`. Zero shares are left out."""
    _check_amount(amount)
    shares: dict[str, Fraction] = {}

    def pay(account: str, value: Fraction) -> None:
        if value:
            shares[account] = shares.get(account, Fraction(0)) + value

    fee = Fraction(amount * rule.platform_bp, BP)
    pay(PLATFORM_ACCOUNT, fee)
    pool = amount - fee
    chain = _lineage(video, rule.max_depth)
    for depth, node in enumerate(chain):
        for work in node.works:
            pay(rightsholder_account(work.rightsholder_account), pool * Fraction(work.share_bp, BP))
        creator_pool = pool * Fraction(BP - node.works_bp, BP)
        has_parent = depth + 1 < len(chain)
        passed_up = creator_pool * Fraction(rule.remix_parent_bp, BP) if has_parent else Fraction(0)
        pay(creator_account(node.creator_account), creator_pool - passed_up)
        pool = passed_up
    return shares


def allocate(amount: int, weights: Mapping[str, int | Fraction]) -> dict[str, int]:
    """Split `amount` units in proportion to `weights` by largest remainder.

    Sums exactly to `amount`; each account is within one unit of its exact share; ties go
    to the account name that sorts first, so the result never depends on mapping order.
    Accounts that end with 0 are left out; the result is ordered by account name.
    """
    _check_amount(amount)
    for account, weight in weights.items():
        if not isinstance(weight, (int, Fraction)) or isinstance(weight, bool) or weight < 0:
            raise LedgerError("invalid_weight", "weights are non-negative integers or fractions",
                              account=account, weight=repr(weight))
    total = sum(weights.values(), Fraction(0))
    if total == 0:
        raise LedgerError("invalid_weight", "at least one weight must be positive")
    exact = {account: amount * Fraction(weight) / total for account, weight in weights.items()}
    result = {account: math.floor(share) for account, share in exact.items()}
    leftover = amount - sum(result.values())  # < number of non-zero remainders
    by_remainder = sorted(exact, key=lambda account: (result[account] - exact[account], account))
    for account in by_remainder[:leftover]:
        result[account] += 1
    return {account: result[account] for account in sorted(result) if result[account] > 0}


def split(amount: int, video: VideoNode, rule: SplitRule = SplitRule()) -> dict[str, int]:
    """Account -> minor units for a revenue of `amount` on `video` (see the module docstring)."""
    return allocate(amount, exact_split(amount, video, rule))


# --- postings ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Line:
    """One signed movement: `amount` is added to `account`'s balance."""

    account: str
    amount: int

    def __post_init__(self) -> None:
        _check_id(self.account, "account")
        if not _is_int(self.amount) or self.amount == 0:
            raise LedgerError("invalid_line", "a line's amount is a non-zero integer",
                              account=self.account, amount=repr(self.amount))


@dataclass(frozen=True)
class Posting:
    """A balanced journal entry in one currency; `reverses` names the posting it cancels."""

    event_id: str
    currency: str
    lines: tuple[Line, ...]
    reverses: str | None = None

    def __post_init__(self) -> None:
        _check_id(self.event_id, "event_id")
        _check_currency(self.currency)
        object.__setattr__(self, "lines", tuple(self.lines))
        if not self.lines:
            raise LedgerError("posting_empty", "a posting needs lines", event_id=self.event_id)
        if not all(isinstance(line, Line) for line in self.lines):
            raise TypeError("lines must be Line instances")
        if self.reverses is not None:
            _check_id(self.reverses, "reverses")
        total = sum(line.amount for line in self.lines)
        if total != 0:
            raise LedgerError("posting_unbalanced", "a posting's lines must sum to zero",
                              event_id=self.event_id, total=total)

    def same_content(self, other: Posting) -> bool:
        """Same currency, same `reverses`, same lines in any order (a store may reorder them)."""
        return (self.currency == other.currency and self.reverses == other.reverses
                and Counter(self.lines) == Counter(other.lines))


def revenue_posting(event_id: str, currency: str, amount: int, video: VideoNode,
                    rule: SplitRule = SplitRule()) -> Posting:
    """Revenue of `amount` on `video`: -amount from revenue:<video_id>, each payee's share in."""
    _check_currency(currency)
    payees = split(amount, video, rule)
    lines = (Line(revenue_account(video.video_id), -amount),
             *(Line(account, share) for account, share in payees.items()))
    return Posting(event_id, currency, lines)


def reversal(posting: Posting, event_id: str) -> Posting:
    """The correction that cancels `posting`: every line negated, under a new event id."""
    lines = tuple(Line(line.account, -line.amount) for line in posting.lines)
    return Posting(event_id, posting.currency, lines, reverses=posting.event_id)


# --- the journal -------------------------------------------------------------------------

class Journal:
    """In-memory, append-only journal: the reference model for the DB-backed ledger."""

    def __init__(self) -> None:
        self._postings: list[Posting] = []
        self._by_id: dict[str, Posting] = {}
        self._reversed: set[str] = set()  # event ids already cancelled by a stored reversal
        self._balances: dict[str, dict[str, int]] = {}  # currency -> account -> balance

    @property
    def postings(self) -> tuple[Posting, ...]:
        return tuple(self._postings)

    def get(self, event_id: str) -> Posting | None:
        return self._by_id.get(event_id)

    def currencies(self) -> tuple[str, ...]:
        return tuple(sorted(self._balances))

    def balances(self, currency: str) -> dict[str, int]:
        """Every account with a line in `currency` (zero balances included), ordered by name."""
        _check_currency(currency)
        books = self._balances.get(currency, {})
        return {account: books[account] for account in sorted(books)}

    def post(self, posting: Posting) -> Posting:
        """Append `posting`, or return the stored one when its event id was already posted."""
        if not isinstance(posting, Posting):
            raise TypeError("post() takes a Posting")
        existing = self._by_id.get(posting.event_id)
        if existing is not None:
            if existing.same_content(posting):
                return existing  # a redelivered event: nothing changes
            raise LedgerError("event_id_conflict", "this event id was posted with other content",
                              event_id=posting.event_id)
        if posting.reverses is not None:
            self._check_reversal(posting)
            self._reversed.add(posting.reverses)
        self._postings.append(posting)
        self._by_id[posting.event_id] = posting
        books = self._balances.setdefault(posting.currency, {})
        for line in posting.lines:
            books[line.account] = books.get(line.account, 0) + line.amount
        return posting

    def _check_reversal(self, posting: Posting) -> None:
        original = self._by_id.get(posting.reverses)
        if original is None:
            raise LedgerError("unknown_reversed_event", "the reversed event was never posted",
                              event_id=posting.event_id, reverses=posting.reverses)
        if posting.reverses in self._reversed:  # a second one would take the shares back twice
            raise LedgerError("already_reversed", "that event is already reversed",
                              event_id=posting.event_id, reverses=posting.reverses)
        if not posting.same_content(reversal(original, posting.event_id)):
            raise LedgerError("reversal_mismatch", "a reversal must negate every line of the original",
                              event_id=posting.event_id, reverses=posting.reverses)
