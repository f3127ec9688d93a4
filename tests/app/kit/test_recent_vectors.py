"""The per-text memory the text models share (app/kit/recent_vectors.py)."""

import numpy as np

from app.kit.recent_vectors import RecentVectors, forget_all_recent


class Counting:
    def __init__(self):
        self.calls: list[list[str]] = []

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        return np.array([[len(t), ord(t[0])] for t in texts], dtype=np.float32)


def test_each_distinct_text_is_computed_once_and_rows_keep_the_callers_order():
    memory, compute = RecentVectors(capacity=10), Counting()
    first = memory.rows(["bb", "a", "bb"], compute)
    assert compute.calls == [["bb", "a"]]
    np.testing.assert_array_equal(first, [[2, ord("b")], [1, ord("a")], [2, ord("b")]])
    again = memory.rows(["a", "ccc"], compute)
    assert compute.calls[-1] == ["ccc"]
    np.testing.assert_array_equal(again, [[1, ord("a")], [3, ord("c")]])


def test_the_least_recently_used_text_is_dropped_first():
    memory, compute = RecentVectors(capacity=2), Counting()
    memory.rows(["a"], compute)
    memory.rows(["b"], compute)
    memory.rows(["a"], compute)        # a is now the most recent
    memory.rows(["c"], compute)        # drops b
    assert len(memory) == 2
    memory.rows(["a", "b"], compute)
    assert compute.calls[-1] == ["b"]


def test_bulk_calls_bypass_the_memory():
    memory, compute = RecentVectors(capacity=100, batch_limit=3), Counting()
    texts = ["a", "b", "c", "d"]
    memory.rows(texts, compute)
    memory.rows(texts, compute)
    assert compute.calls == [texts, texts] and len(memory) == 0


def test_forgetting_empties_every_memory():
    one, two, compute = RecentVectors(), RecentVectors(), Counting()
    one.rows(["a"], compute)
    two.rows(["b"], compute)
    forget_all_recent()
    assert len(one) == len(two) == 0
    one.rows(["a"], compute)
    assert compute.calls[-1] == ["a"]
