"""Small-number suppression (models/disclosure.py): primary, secondary, tables with margins, pinned sums."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from models.disclosure import Line, shown, suppress


def test_primary_only_without_totals() -> None:
    assert suppress({"a": 3, "b": 0, "c": 5, "d": 120}) == {"a": "small", "b": "small"}


def test_nothing_hidden_when_every_cell_is_large() -> None:
    assert suppress({"a": 5, "b": 9, "t": 14}, [Line(("a", "b"), "t")]) == {}


def test_secondary_hides_the_next_smallest_cell_of_a_line_with_a_total() -> None:
    # weeks 2, 7, 30 and the period total 39: hiding only the 2 would leave it as 39 - 7 - 30.
    values = {"w1": 2, "w2": 30, "w3": 7, "total": 39}
    hidden = suppress(values, [Line(("w1", "w2", "w3"), "total")])
    assert hidden == {"w1": "small", "w3": "secondary"}


def test_a_hidden_total_is_protected_too() -> None:
    # members 2 and 2 are small, so the total 4 is hidden; two hidden members and a hidden total: nothing
    # can be worked out.
    values = {"a": 2, "b": 2, "t": 4}
    assert suppress(values, [Line(("a", "b"), "t")]) == {"a": "small", "b": "small", "t": "small"}


def test_pinned_sum_of_small_cells_hides_one_more() -> None:
    # 4 + 4 = total - the rest: with both shown as "<5" a reader knows each is 4.
    values = {"a": 4, "b": 4, "c": 11, "d": 20, "t": 39}
    hidden = suppress(values, [Line(("a", "b", "c", "d"), "t")])
    assert hidden == {"a": "small", "b": "small", "c": "secondary"}
    # 3 + 4 is not pinned (3+4 or 4+3): nothing more.
    values = {"a": 3, "b": 4, "c": 11, "d": 20, "t": 38}
    assert suppress(values, [Line(("a", "b", "c", "d"), "t")]) == {"a": "small", "b": "small"}


def test_two_way_table_with_margins_cascades_until_every_line_is_safe() -> None:
    # rows r1, r2; columns c1, c2, c3; margins r*, *c and the grand total.
    grid = {
        ("r1", "c1"): 3,
        ("r1", "c2"): 10,
        ("r1", "c3"): 12,
        ("r2", "c1"): 8,
        ("r2", "c2"): 9,
        ("r2", "c3"): 20,
    }
    values: dict[tuple[str, str], int] = dict(grid)
    for r in ("r1", "r2"):
        values[(r, "*")] = sum(v for (rr, _), v in grid.items() if rr == r)
    for c in ("c1", "c2", "c3"):
        values[("*", c)] = sum(v for (_, cc), v in grid.items() if cc == c)
    values[("*", "*")] = sum(grid.values())
    lines = [Line(tuple((r, c) for c in ("c1", "c2", "c3")), (r, "*")) for r in ("r1", "r2", "*")]
    lines += [Line(tuple((r, c) for r in ("r1", "r2")), ("*", c)) for c in ("c1", "c2", "c3", "*")]
    hidden = suppress(values, lines)
    assert hidden[("r1", "c1")] == "small"
    # row r1 hides its next smallest (10, c2); column c1 hides r2's 8; column c2 then has r1 hidden alone,
    # so r2's 9 goes: a rectangle of four hidden cells, no line with a single one.
    assert set(hidden) == {("r1", "c1"), ("r1", "c2"), ("r2", "c1"), ("r2", "c2")}
    _assert_safe(values, lines, hidden)


def test_shown() -> None:
    assert shown(None, "small") == "<5"
    assert shown(None, "secondary") == "[c]"
    assert shown(None, "derived") == "[c]"
    assert shown(12, None) == "12"
    assert shown(0.256, None, "{:.0%}") == "26%"
    assert shown(None, None) == "–"


def _assert_safe(values, lines, hidden) -> None:  # type: ignore[no-untyped-def]
    for line in lines:
        cells = [*line.members, line.total]
        shut = [k for k in cells if k in hidden]
        assert len(shut) != 1, (line, shut)
        if len(shut) >= 2 and line.total not in hidden and all(hidden[k] == "small" for k in shut):
            total = sum(values[k] for k in shut)
            assert total == 0 or total != 4 * len(shut)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.lists(st.integers(0, 30), min_size=1, max_size=5), min_size=1, max_size=5).filter(
        lambda rows: len({len(r) for r in rows}) == 1
    )
)
def test_random_tables_never_leave_a_line_exposed(rows: list[list[int]]) -> None:
    """Whatever the table, after suppression every line has 0 or 2+ hidden cells, every small cell is hidden,
    and no line of small cells is pinned at 4 each (unless a whole line is hidden and nothing is left)."""
    n_rows, n_cols = len(rows), len(rows[0])
    values: dict[tuple[int, int], int] = {}
    for r, c in itertools.product(range(n_rows), range(n_cols)):
        values[(r, c)] = rows[r][c]
    for r in range(n_rows):
        values[(r, -1)] = sum(rows[r])
    for c in range(n_cols):
        values[(-1, c)] = sum(rows[r][c] for r in range(n_rows))
    values[(-1, -1)] = sum(map(sum, rows))
    lines = [Line(tuple((r, c) for c in range(n_cols)), (r, -1)) for r in [*range(n_rows), -1]]
    lines += [Line(tuple((r, c) for r in range(n_rows)), (-1, c)) for c in [*range(n_cols), -1]]
    hidden = suppress(values, lines)
    assert all(k in hidden for k, v in values.items() if v < 5)
    for line in lines:
        cells = [*line.members, line.total]
        if all(k in hidden for k in cells):
            continue
        shut = [k for k in cells if k in hidden]
        assert len(shut) != 1, (rows, line, hidden)
