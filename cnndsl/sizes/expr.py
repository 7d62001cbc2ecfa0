"""Size formulas: exact integer functions of one size variable, and products of them.

A spatial size along one axis is a :class:`Size`, ``a * atom + c``, where the
atom is the variable itself or :class:`Floor` ``(inner) // d`` of another
Size. Every layer's size map (floor or ceil of an affine map, a product, a
constant) keeps that form, and :func:`floordiv` keeps it short by the
identities ``(x // s + b) // t == (x + b*s) // (s*t)`` and
``(g*y + r) // (g*t) == (y + r // g) // t``, so a chain of strided layers
prints as ``(H - 1) // 32 + 1``. Formulas print as Python expressions in
the variables. A :class:`Poly` is a sum of products of Sizes: an element
count, MACs or bytes.

Exactness (docs/sizes.md): for every integer x, ``f(x + period(f)) == f(x) +
slope(f) * period(f)``, so ``f(x) - slope(f) * x`` repeats with that period.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import gcd


@dataclass(frozen=True, slots=True)
class Floor:
    inner: Size
    d: int


@dataclass(frozen=True, slots=True)
class Size:
    """``a * atom + c``; atom None (a constant), a variable's name, or a Floor."""

    a: int
    atom: object
    c: int

    def __str__(self) -> str:
        return text(self)

    def value(self, env: dict) -> int:
        """The size at `env` ({variable: int})."""
        if self.atom is None:
            return self.c
        return self.a * atom_value(self.atom, env) + self.c

    @property
    def variables(self) -> frozenset:
        atom = self.atom
        while type(atom) is Floor:
            atom = atom.inner.atom
        return frozenset() if atom is None else frozenset((atom,))


def atom_value(atom, env: dict) -> int:
    if type(atom) is Floor:
        return atom.inner.value(env) // atom.d
    return env[atom]


def constant(n: int) -> Size:
    return Size(0, None, n)


def variable(name: str) -> Size:
    return Size(1, name, 0)


def add(e: Size, k: int) -> Size:
    return Size(e.a, e.atom, e.c + k)


def mul(e: Size, m: int) -> Size:
    if e.atom is None or m == 0:
        return constant(e.c * m)
    return Size(e.a * m, e.atom, e.c * m)


def floordiv(e: Size, d: int) -> Size:
    """``e // d`` for a positive whole d, simplified."""
    if d == 1:
        return e
    if e.atom is None:
        return constant(e.c // d)
    q = -(-e.c // d)  # c = q*d + r with r in (-d, 0]
    r = e.c - q * d
    g = gcd(e.a, d)
    a, d, r = e.a // g, d // g, r // g
    if d == 1:
        return Size(a, e.atom, r + q)
    if r <= -d:
        return add(floordiv(Size(a, e.atom, r), d), q)
    if a == 1 and type(e.atom) is Floor:  # (y // s + r) // d == (y + r*s) // (s*d)
        inner = e.atom
        return add(floordiv(add(inner.inner, r * inner.d), inner.d * d), q)
    return Size(1, Floor(Size(a, e.atom, r), d), q)


def ceildiv(e: Size, d: int) -> Size:
    return floordiv(add(e, d - 1), d)


def scaled(e: Size, scale: Fraction) -> Size:
    """``floor(e * scale)`` for a positive rational scale."""
    return floordiv(mul(e, scale.numerator), scale.denominator)


def slope(e: Size) -> Fraction:
    """How fast the size grows with its variable (0 for a constant)."""
    if e.atom is None:
        return Fraction(0)
    if type(e.atom) is Floor:
        return e.a * slope(e.atom.inner) / e.atom.d
    return Fraction(e.a)


def period(e: Size) -> int:
    """A P with ``e(x + P) == e(x) + slope(e) * P`` for every integer x."""
    if type(e.atom) is not Floor:
        return 1
    inner = e.atom.inner
    p = period(inner)
    step = slope(inner) * p  # a whole number: inner(x + p) == inner(x) + step
    return p * e.atom.d // gcd(int(step), e.atom.d)


def text(e: Size) -> str:
    if e.atom is None:
        return str(e.c)
    atom = e.atom if type(e.atom) is str else f"{_wrapped(e.atom.inner)} // {e.atom.d}"
    head = atom if e.a == 1 else (f"{e.a} * ({atom})" if type(e.atom) is Floor else f"{e.a} * {atom}")
    if e.c == 0:
        return head
    return f"{head} + {e.c}" if e.c > 0 else f"{head} - {-e.c}"


def _wrapped(e: Size) -> str:
    body = text(e)
    return body if e.c == 0 and e.a == 1 and type(e.atom) is str else f"({body})"


@dataclass(frozen=True)
class Poly:
    """A sum of products of Sizes with whole coefficients: {(factor, ...): coefficient}."""

    terms: tuple  # ((factors tuple of Size, coefficient), ...), sorted, constants as ((), c)

    @staticmethod
    def of(value) -> Poly:
        if isinstance(value, Poly):
            return value
        if isinstance(value, Size):
            if value.atom is None:
                return Poly.of(value.c)
            g = gcd(value.a, value.c)  # 2 * H + 2 is the factor H + 1 twice
            return Poly((((Size(value.a // g, value.atom, value.c // g),), g),))
        return Poly(((((), int(value)),)) if value else ())

    def __add__(self, other) -> Poly:
        other = Poly.of(other)
        sums: dict = dict(self.terms)
        for factors, coef in other.terms:
            sums[factors] = sums.get(factors, 0) + coef
        return Poly(tuple(sorted(((f, c) for f, c in sums.items() if c), key=_term_key)))

    def __mul__(self, other) -> Poly:
        other = Poly.of(other)
        out = Poly(())
        for fa, ca in self.terms:
            for fb, cb in other.terms:
                out = out + Poly(((tuple(sorted(fa + fb, key=str)), ca * cb),))
        return out

    def times(self, k: int) -> Poly:
        return Poly(tuple((f, c * k) for f, c in self.terms if c * k))

    @property
    def constant(self) -> int | None:
        """The value when the Poly has no variable, else None."""
        if not self.terms:
            return 0
        if len(self.terms) == 1 and not self.terms[0][0]:
            return self.terms[0][1]
        return None

    def value(self, env: dict) -> int:
        total = 0
        for factors, coef in self.terms:
            for factor in factors:
                coef *= factor.value(env)
            total += coef
        return total

    def __str__(self) -> str:
        if not self.terms:
            return "0"
        parts = []
        for factors, coef in self.terms:
            product = len(factors) > 1 or coef != 1
            items = ([str(coef)] if coef != 1 or not factors else []) + [_factor(f, product) for f in factors]
            parts.append(" * ".join(items))
        return " + ".join(parts).replace("+ -", "- ")


def _factor(e: Size, product: bool) -> str:
    body = text(e)
    return f"({body})" if product and (e.c != 0 or e.a != 1 or type(e.atom) is not str) else body


def _term_key(term) -> tuple:
    factors, _ = term
    return (-len(factors), [str(f) for f in factors])
