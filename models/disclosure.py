"""Small-number suppression for published aggregates (the culture evidence report, issue 21). Pure.

A count under 5 can point at a person ("the 2 anonymous posts from the night team"), so it is never shown
(*primary* suppression). Hiding it is not enough when a total is published beside it: the hidden cell is the
total minus the others. So in every *line* (cells whose sum is a published total, the total included) one
hidden cell never stands alone: the smallest visible cell of that line is hidden too (*secondary*
suppression), and the check is repeated until no line gives a hidden value away, because hiding a cell in one
line can leave another line with a single hidden cell (a table with row and column totals).

Zero is under 5 and is hidden too: if zeros were shown, two hidden cells of a line summing to 2 could only be
1 and 1. One pattern still pins values: when every hidden cell of a line is primary and their sum is 4 per
cell, each must be 4, so one more cell is hidden. (A sum of 0 pins them all at zero, which names nobody.)
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

K = TypeVar("K", bound=Hashable)

#: Counts below this are hidden.
SUPPRESS_BELOW = 5
#: Why a cell is hidden: under the threshold, or to protect another hidden cell.
Reason = Literal["small", "secondary"]


@dataclass(frozen=True)
class Line(Generic[K]):
    """Cells that add up to a published total: ``sum(members) == total``. The total is a cell of its own (it
    may be hidden too, and may be a member of another line: a grand total, a period total)."""

    members: tuple[K, ...]
    total: K


def suppress(
    values: Mapping[K, int], lines: Iterable[Line[K]] = (), *, below: int = SUPPRESS_BELOW
) -> dict[K, Reason]:
    """Which cells to hide, and why: every cell under ``below`` ("small"), then, line by line until nothing
    changes, the smallest visible member of any line whose hidden cells could be worked out ("secondary").

    ``values`` holds every cell that is published or derivable (a part and its complement both, even if the
    complement is never printed); its order breaks ties, so the result is deterministic. Cells of a line
    missing from ``values`` are a programming error (KeyError).
    """
    order = {k: i for i, k in enumerate(values)}
    hidden: dict[K, Reason] = {k: "small" for k, v in values.items() if v < below}
    todo: Sequence[Line[K]] = list(lines)
    changed = True
    while changed:
        changed = False
        for line in todo:
            if not _exposed(line, values, hidden, below):
                continue
            visible = [k for k in line.members if k not in hidden]
            if not visible and line.total not in hidden:
                visible = [line.total]
            if not visible:
                continue
            pick = min(visible, key=lambda k: (values[k], order[k]))
            hidden[pick] = "secondary"
            changed = True
    return hidden


def _exposed(line: Line[K], values: Mapping[K, int], hidden: Mapping[K, Reason], below: int) -> bool:
    """Whether a reader could work out a hidden cell of this line from what is shown."""
    cells = [*line.members, line.total]
    shut = [k for k in cells if k in hidden]
    if len(shut) == 1:
        return True  # the total minus the visible members (or the members' sum, for a hidden total)
    if len(shut) < 2 or line.total in hidden or any(hidden[k] != "small" for k in shut):
        return False
    pinned = sum(values[k] for k in shut)
    return pinned > 0 and pinned == (below - 1) * len(shut)


def shown(value: int | float | None, reason: Reason | Literal["derived"] | None, fmt: str = "{}") -> str:
    """How a cell reads on the page: "<5" for a small count, "[c]" for one hidden to protect another (or a
    rate worked out from a hidden count), the formatted value otherwise, "–" for a value that does not exist
    (a median of nothing)."""
    if reason == "small":
        return f"<{SUPPRESS_BELOW}"
    if reason is not None:
        return "[c]"
    return "–" if value is None else fmt.format(value)
