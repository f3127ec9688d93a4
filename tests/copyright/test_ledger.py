"""The pure revenue-share ledger: the split rule, postings, and the in-memory journal."""

from collections import defaultdict
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from copyright.ledger import (
    BP, Journal, LedgerError, Line, Posting, SplitRule, VideoNode, WorkUse, allocate, currencies, exact_split,
    minor_units, revenue_posting, reversal, split,
)

NO_FEES = SplitRule(platform_bp=0, remix_parent_bp=0)


def error_code(excinfo) -> str:
    assert isinstance(excinfo.value, ValueError)
    return excinfo.value.code


def docstring_chain() -> VideoNode:
    ana = VideoNode("clip-1", "ana")
    ben = VideoNode("clip-2", "ben", (WorkUse("film", "studio", 5000),), ana)
    return VideoNode("clip-3", "cara", (WorkUse("song", "label", 1500),), ben)


# --- the split, by example ---------------------------------------------------------------

def test_worked_example_from_the_docstring():
    assert split(10_000, docstring_chain(), SplitRule()) == {
        "creator:ana": 34, "creator:ben": 306, "creator:cara": 6120, "platform": 2000,
        "rightsholder:label": 1200, "rightsholder:studio": 340,
    }


def test_three_equal_thirds_by_largest_remainder():
    # 33.33.. each: floors give 99, the spare unit goes to the first name on the tie.
    assert allocate(100, {"c": 1, "b": 1, "a": 1}) == {"a": 34, "b": 33, "c": 33}
    assert allocate(2, {"z": 1, "y": 1, "x": 1}) == {"x": 1, "y": 1}


def test_three_third_shares_of_a_video():
    works = tuple(WorkUse(f"w{i}", org, 3333) for i, org in enumerate("cba"))
    # 33.33 each and 0.01 for the creator: the spare unit goes to a rightsholder, the creator rounds to 0.
    assert split(100, VideoNode("v", "eve", works), NO_FEES) == {
        "rightsholder:a": 34, "rightsholder:b": 33, "rightsholder:c": 33,
    }


def test_largest_remainder_beats_name_order():
    # exact: a 0.4, b 0.6 -> b gets the unit despite sorting second
    assert allocate(1, {"a": 2, "b": 3}) == {"b": 1}


def remix_chain_of_depth_3() -> VideoNode:
    v3 = VideoNode("v3", "a", (WorkUse("w3", "r3", 5000),))
    v2 = VideoNode("v2", "b", (), v3)
    v1 = VideoNode("v1", "c", (WorkUse("w1", "r1", 2000),), v2)
    return VideoNode("v0", "d", (), v1)


def test_remix_chain_of_depth_3():
    assert split(100_000, remix_chain_of_depth_3()) == {
        "platform": 20_000,
        "creator:d": 72_000,       # 80 000 pool, 8 000 passed up
        "rightsholder:r1": 1_600,  # 20 % of v1's 8 000 pool
        "creator:c": 5_760,        # 6 400 creator pool, 640 passed up
        "creator:b": 576,          # 640 pool, 64 passed up
        "rightsholder:r3": 32,     # 50 % of v3's 64 pool
        "creator:a": 32,           # the original: keeps its creator pool
    }


def test_ancestors_beyond_max_depth_earn_nothing():
    assert split(100_000, remix_chain_of_depth_3(), SplitRule(max_depth=2)) == {
        "platform": 20_000, "creator:d": 72_000, "rightsholder:r1": 1_600, "creator:c": 5_760,
        "creator:b": 640,  # the last ancestor that earns keeps its whole creator pool
    }
    assert split(100_000, remix_chain_of_depth_3(), SplitRule(max_depth=0)) == {
        "platform": 20_000, "creator:d": 80_000,
    }


def test_one_party_in_several_roles_gets_one_amount_per_account():
    parent = VideoNode("p", "ana", (WorkUse("w1", "label", 1000),))
    child = VideoNode("c", "ana", (WorkUse("w2", "label", 1000),), parent)
    # pool 1000: label 100 + ana's own 810; parent pool 90: label 9, ana 81
    assert split(1000, child, SplitRule(platform_bp=0)) == {"creator:ana": 891, "rightsholder:label": 109}


def test_split_is_exact_when_nothing_needs_rounding():
    assert exact_split(10_000, docstring_chain())["creator:ana"] == Fraction(34)


# --- rejections --------------------------------------------------------------------------

def test_shares_over_100_percent_are_rejected():
    with pytest.raises(LedgerError) as excinfo:
        split(100, VideoNode("v", "u", (WorkUse("a", "x", 6000), WorkUse("b", "y", 4001))))
    assert error_code(excinfo) == "shares_exceed_total"
    assert excinfo.value.details == {"video_id": "v", "share_bp": 10_001}


def test_shares_over_100_percent_in_an_ancestor_are_rejected():
    with pytest.raises(LedgerError) as excinfo:
        VideoNode("child", "u", (), VideoNode("parent", "p", (WorkUse("a", "x", 9000), WorkUse("b", "y", 2000))))
    assert error_code(excinfo) == "shares_exceed_total"


def test_exactly_100_percent_leaves_the_creator_nothing():
    video = VideoNode("v", "u", (WorkUse("a", "x", 5000), WorkUse("b", "y", 5000)))
    assert split(100, video, NO_FEES) == {"rightsholder:x": 50, "rightsholder:y": 50}


@pytest.mark.parametrize("amount", [0, -1, -10_000])
def test_zero_and_negative_amounts_are_rejected(amount):
    with pytest.raises(LedgerError) as excinfo:
        split(amount, docstring_chain())
    assert error_code(excinfo) == "amount_not_positive"
    with pytest.raises(LedgerError) as excinfo:
        revenue_posting("e", "USD", amount, docstring_chain())
    assert error_code(excinfo) == "amount_not_positive"


@pytest.mark.parametrize("amount", [1.5, 100.0, "100", True])
def test_non_integer_amounts_are_rejected(amount):
    with pytest.raises(LedgerError) as excinfo:
        split(amount, docstring_chain())
    assert error_code(excinfo) == "amount_not_integer"


@pytest.mark.parametrize("make, code", [
    (lambda: WorkUse("w", "x", 10_001), "share_out_of_range"),
    (lambda: WorkUse("w", "x", -1), "share_out_of_range"),
    (lambda: WorkUse("", "x", 1), "invalid_id"),
    (lambda: VideoNode("v", "u", (WorkUse("w", "x", 1), WorkUse("w", "y", 1))), "duplicate_work"),
    (lambda: SplitRule(platform_bp=10_001), "invalid_rule"),
    (lambda: SplitRule(remix_parent_bp=-1), "invalid_rule"),
    (lambda: SplitRule(max_depth=-1), "invalid_rule"),
    (lambda: allocate(10, {"a": 0}), "invalid_weight"),
    (lambda: allocate(10, {"a": 0.5}), "invalid_weight"),
    (lambda: Line("a", 0), "invalid_line"),
    (lambda: Posting("e", "USD", ()), "posting_empty"),
    (lambda: Posting("e", "USD", (Line("a", 5), Line("b", -4))), "posting_unbalanced"),
    (lambda: Posting("e", "usd", (Line("a", 5), Line("b", -5))), "invalid_currency"),
    (lambda: revenue_posting("e", "DOLLARS", 100, docstring_chain()), "invalid_currency"),
    (lambda: revenue_posting("e", "ZZZ", 100, docstring_chain()), "invalid_currency"),  # three letters, no money
    (lambda: Posting("e", "XTS", (Line("a", 5), Line("b", -5))), "invalid_currency"),  # ISO's testing code
    (lambda: Journal().balances("HRK"), "invalid_currency"),  # withdrawn in 2023
])
def test_invalid_input_has_a_stable_code(make, code):
    with pytest.raises(LedgerError) as excinfo:
        make()
    assert error_code(excinfo) == code


def test_currencies_are_the_committed_iso_4217_list_with_their_minor_units():
    listed = currencies()
    assert len(listed) > 150 and all(len(code) == 3 and code.isupper() for code in listed)
    assert (minor_units("USD"), minor_units("EUR"), minor_units("JPY"), minor_units("KWD")) == (2, 2, 0, 3)
    assert {"ZWG", "XCG"} <= listed.keys() and not {"ZZZ", "XXX", "XAU", "BGN"} & listed.keys()


# --- postings and the journal, by example ------------------------------------------------

def test_revenue_posting_debits_the_video_and_credits_each_payee():
    posting = revenue_posting("pay-1", "USD", 10_000, docstring_chain())
    assert posting.lines[0] == Line("revenue:clip-3", -10_000)
    assert {line.account: line.amount for line in posting.lines[1:]} == split(10_000, docstring_chain())
    assert posting.reverses is None


def test_reversal_nets_to_zero():
    journal = Journal()
    original = journal.post(revenue_posting("pay-1", "USD", 10_000, docstring_chain()))
    journal.post(reversal(original, "refund-1"))
    balances = journal.balances("USD")
    assert set(balances) == {line.account for line in original.lines}
    assert set(balances.values()) == {0}
    assert journal.postings[1].reverses == "pay-1"


def test_currencies_have_separate_books():
    journal = Journal()
    journal.post(revenue_posting("pay-usd", "USD", 1000, docstring_chain()))
    journal.post(revenue_posting("pay-eur", "EUR", 500, docstring_chain()))
    assert journal.currencies() == ("EUR", "USD")
    assert journal.balances("USD")["revenue:clip-3"] == -1000
    assert journal.balances("EUR")["revenue:clip-3"] == -500
    assert journal.balances("JPY") == {}


def test_the_same_event_twice_is_a_no_op():
    journal = Journal()
    first = journal.post(revenue_posting("pay-1", "USD", 10_000, docstring_chain()))
    shuffled = Posting("pay-1", "USD", tuple(reversed(first.lines)))  # a store may return lines reordered
    assert journal.post(shuffled) is first
    assert journal.post(revenue_posting("pay-1", "USD", 10_000, docstring_chain())) is first
    assert journal.postings == (first,)


@pytest.mark.parametrize("other", [
    revenue_posting("pay-1", "USD", 10_001, docstring_chain()),
    revenue_posting("pay-1", "EUR", 10_000, docstring_chain()),
])
def test_the_same_event_id_with_other_content_conflicts(other):
    journal = Journal()
    journal.post(revenue_posting("pay-1", "USD", 10_000, docstring_chain()))
    with pytest.raises(LedgerError) as excinfo:
        journal.post(other)
    assert error_code(excinfo) == "event_id_conflict"
    assert len(journal.postings) == 1


def test_reversal_rules():
    journal = Journal()
    original = revenue_posting("pay-1", "USD", 100, docstring_chain())
    with pytest.raises(LedgerError) as excinfo:
        journal.post(reversal(original, "refund-1"))
    assert error_code(excinfo) == "unknown_reversed_event"

    journal.post(original)
    partial = Posting("refund-1", "USD", (Line("revenue:clip-3", 1), Line("platform", -1)), reverses="pay-1")
    with pytest.raises(LedgerError) as excinfo:
        journal.post(partial)
    assert error_code(excinfo) == "reversal_mismatch"

    journal.post(reversal(original, "refund-1"))
    with pytest.raises(LedgerError) as excinfo:
        journal.post(reversal(original, "refund-2"))
    assert error_code(excinfo) == "already_reversed"
    assert journal.post(reversal(original, "refund-1")) is journal.get("refund-1")  # replay is fine
    assert journal.post(original) is journal.get("pay-1")
    assert [p.event_id for p in journal.postings] == ["pay-1", "refund-1"]


def test_postings_cannot_be_changed_from_outside():
    journal = Journal()
    journal.post(revenue_posting("pay-1", "USD", 100, docstring_chain()))
    assert isinstance(journal.postings, tuple)
    with pytest.raises(AttributeError):
        journal.postings[0].lines = ()


# --- properties --------------------------------------------------------------------------

PARTIES = st.sampled_from(["ana", "ben", "cara", "dev"])  # few names, so roles and parties collide
AMOUNTS = st.integers(min_value=1, max_value=10**12)
CURRENCIES = st.sampled_from(["USD", "EUR", "JPY"])
RULES = st.builds(SplitRule, platform_bp=st.integers(0, BP), remix_parent_bp=st.integers(0, BP),
                  max_depth=st.integers(0, 7))


@st.composite
def work_sets(draw) -> tuple[WorkUse, ...]:
    left, works = BP, []
    for i in range(draw(st.integers(0, 4))):
        share = draw(st.integers(0, left))
        left -= share
        works.append(WorkUse(f"w{i}", draw(PARTIES), share))
    return tuple(draw(st.permutations(works)))


@st.composite
def videos(draw) -> VideoNode:
    node = None
    for depth in range(draw(st.integers(0, SplitRule().max_depth + 2)), -1, -1):  # oldest first
        node = VideoNode(f"v{depth}", draw(PARTIES), draw(work_sets()), node)
    return node


def expected_accounts(video: VideoNode) -> set[str]:
    accounts, node = {"platform"}, video
    while node is not None:
        accounts.add(f"creator:{node.creator_account}")
        accounts |= {f"rightsholder:{w.rightsholder_account}" for w in node.works}
        node = node.parent
    return accounts


@given(AMOUNTS, videos(), RULES)
def test_split_sums_exactly_and_stays_within_a_unit_of_the_exact_share(amount, video, rule):
    result = split(amount, video, rule)
    exact = exact_split(amount, video, rule)
    assert sum(result.values()) == amount
    assert sum(exact.values()) == amount
    assert all(units > 0 for units in result.values())
    assert set(result) <= set(exact) <= expected_accounts(video)
    assert all(abs(result.get(account, 0) - share) < 1 for account, share in exact.items())
    assert split(amount, video, rule) == result  # deterministic


@given(st.integers(1, 10**6), st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 50), min_size=1))
def test_allocate_sums_exactly_whatever_the_weights(amount, weights):
    if not any(weights.values()):
        weights = {**weights, "x": 1}
    result = allocate(amount, weights)
    assert sum(result.values()) == amount
    assert all(units > 0 and weights[account] > 0 for account, units in result.items())
    assert allocate(amount, dict(reversed(weights.items()))) == result  # mapping order is irrelevant


@st.composite
def event_streams(draw) -> tuple[list[Posting], set[int]]:
    """Revenue postings, then reversals of some of them; returns the postings and which were reversed."""
    events = draw(st.lists(st.tuples(CURRENCIES, AMOUNTS, videos(), RULES), min_size=1, max_size=6))
    revenue = [revenue_posting(f"pay-{i}", *event) for i, event in enumerate(events)]
    undone = draw(st.sets(st.integers(0, len(revenue) - 1)))
    return revenue + [reversal(revenue[i], f"refund-{i}") for i in sorted(undone)], undone


def sum_of_lines(postings, currency: str) -> dict[str, int]:
    totals: dict[str, int] = defaultdict(int)
    for posting in postings:
        if posting.currency == currency:
            for line in posting.lines:
                totals[line.account] += line.amount
    return dict(totals)


def journal_of(postings) -> Journal:
    journal = Journal()
    for posting in postings:
        journal.post(posting)
    return journal


@given(event_streams())
def test_books_balance_and_balances_are_the_sums_of_lines(stream):
    postings, _ = stream
    journal = journal_of(postings)
    assert journal.postings == tuple(postings)
    for currency in ("USD", "EUR", "JPY"):
        balances = journal.balances(currency)
        assert sum(balances.values()) == 0
        assert balances == sum_of_lines(journal.postings, currency)


@given(event_streams(), st.data())
def test_replaying_events_changes_nothing(stream, data):
    postings, _ = stream
    journal = journal_of(postings)
    before = (journal.postings, {c: journal.balances(c) for c in journal.currencies()})
    for posting in data.draw(st.permutations(postings)):
        assert journal.post(posting) is journal.get(posting.event_id)
    assert (journal.postings, {c: journal.balances(c) for c in journal.currencies()}) == before


@given(event_streams())
def test_reversed_events_stay_reversed_when_replayed(stream):
    postings, undone = stream
    journal = journal_of(postings)
    for i in undone:  # the original revenue event is redelivered after its reversal
        journal.post(postings[i])
    kept = [posting for i, posting in enumerate(postings[: len(postings) - len(undone)]) if i not in undone]
    for currency in journal.currencies():
        nonzero = {account: units for account, units in journal.balances(currency).items() if units}
        assert nonzero == {a: u for a, u in sum_of_lines(kept, currency).items() if u}
