from app.kit.cache import RebuiltOnChange


def test_rebuilds_only_when_the_stamp_changes():
    rows, builds = ["a"], []

    def build(source):
        builds.append(list(source))
        return tuple(source)

    cache = RebuiltOnChange(lambda source: len(source), build)
    assert cache.get(rows) == ("a",) and cache.get(rows) == ("a",)
    assert len(builds) == 1
    rows.append("b")
    assert cache.get(rows) == ("a", "b") and len(builds) == 2
