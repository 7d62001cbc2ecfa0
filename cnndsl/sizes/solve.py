"""The valid values of one size variable, exactly, from the conditions of cnndsl/sizes/maps.py.

Let P be a common period of every formula (expr.period). On one residue
class x = r + k*P each formula is exactly ``slope * x + g(r)``, so each
condition is linear there: `f >= 1` bounds x from below (or holds never or
always when the slope is 0), `f == g` holds for one x (or never or always).
The work is one evaluation of each formula per residue, and the answer is
exact for every x >= 1, not only inside a range.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from math import lcm

from .expr import Size, period, slope

MAX_PERIOD = 1 << 16  # residue classes examined; more is refused (E1307)


@dataclass
class Answer:
    """The valid values of one variable: rays ``{first, first + P, ...}`` and single points."""

    name: str
    modulus: int  # P, the period of the formulas
    rays: dict = field(default_factory=dict)  # residue mod P -> the first valid value of the class
    points: list = field(default_factory=list)  # valid values outside the rays

    @property
    def smallest(self) -> int | None:
        found = [*self.rays.values(), *self.points]
        return min(found) if found else None

    @property
    def period(self) -> int | None:
        """The smallest period of the values valid from some point on (None when finitely many)."""
        if not self.rays:
            return None
        residues, big = set(self.rays), self.modulus
        return next(p for p in range(1, big + 1) if big % p == 0 and all((r + p) % big in residues for r in residues))

    @property
    def residues(self) -> list[int]:
        p = self.period
        return sorted({r % p for r in self.rays}) if p else []

    @property
    def stable_from(self) -> int | None:
        """From this value on, x is valid exactly when x % period is one of the residues."""
        exceptions = [first - self.modulus for first in self.rays.values() if first - self.modulus >= 1]
        exceptions += self.points
        if not self.rays:
            return max(self.points) + 1 if self.points else 1
        return max(exceptions, default=0) + 1

    def valid(self, low: int, high: int) -> list[int]:
        """The valid values in [low, high]."""
        out = [x for x in self.points if low <= x <= high]
        for residue, first in self.rays.items():
            start = max(first, low)
            start += (residue - start) % self.modulus
            out.extend(range(start, high + 1, self.modulus))
        return sorted(out)

    def is_valid(self, x: int) -> bool:
        first = self.rays.get(x % self.modulus)
        return (first is not None and x >= first) or x in self.points

    def nearest(self, n: int) -> tuple[int | None, int | None]:
        """The largest valid value <= n and the smallest >= n."""
        below = [x for x in self.points if x <= n]
        above = [x for x in self.points if x >= n]
        for residue, first in self.rays.items():
            if first <= n:
                below.append(n - (n - residue) % self.modulus)
            above.append(max(first, n + (residue - n) % self.modulus))
        return (max(below) if below else None, min(above) if above else None)


def solve(name: str, needs: list[tuple[Size, Size | None]]) -> Answer | None:
    """The valid values of `name` given conditions `left >= 1` (right None) or `left == right`;
    None when the common period exceeds MAX_PERIOD."""
    needs = list(dict.fromkeys(needs))
    big = 1
    for left, right in needs:
        big = lcm(big, period(left), period(right) if right is not None else 1)
        if big > MAX_PERIOD:
            return None
    answer = Answer(name, big)
    lines = [_line(left, right, name) for left, right in needs]
    for residue in range(1, big + 1):
        _one_class(answer, residue % big, residue, lines)
    answer.points.sort()
    return answer


def _line(left: Size, right: Size | None, name: str):
    """(slope, the formula whose value at x minus slope*x is the offset, kind)."""
    if right is None:
        return slope(left), left, None, ">="
    return slope(left) - slope(right), left, right, "=="


def _one_class(answer: Answer, key: int, x0: int, lines) -> None:
    """The valid values of the class x = x0 + k*P, k >= 0."""
    low, point, big = 1, None, answer.modulus
    for rate, left, right, kind in lines:
        env = {answer.name: x0}
        value = left.value(env) - (right.value(env) if right is not None else 0)
        offset = value - rate * x0  # the condition on this class: rate * x + offset (>= 1 | == 0)
        if kind == ">=":
            if rate == 0:
                if offset < 1:
                    return
            else:
                low = max(low, _ceil((1 - offset) / rate))
        elif rate == 0:
            if offset != 0:
                return
        else:
            x = -offset / rate
            if x.denominator != 1 or (x.numerator - x0) % big or x < 1 or point not in (None, x.numerator):
                return
            point = x.numerator
    if point is not None:
        if point >= low:
            answer.points.append(point)
        return
    answer.rays[key] = x0 + big * max(0, -(-(low - x0) // big))


def _ceil(q: Fraction) -> int:
    return -((-q.numerator) // q.denominator)
