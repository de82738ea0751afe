"""Comparing two systems that answered the same items: paired statistics in one place.

When RAG and FT answer the same 60 questions, their two intervals can overlap while one is better on
almost every item: what decides is the per-item difference. ``paired`` gives the mean of
``b - a`` over the items with its percentile-bootstrap interval (resampling items, as
``bootstrap_ci`` below) and, when every score is 0 or 1, McNemar's exact test: of the items where
the two disagree, are the wins split like a fair coin? (McNemar 1947; the exact form is a two-sided
binomial test on the discordant pairs.)

Example::

    result = stats.paired(rag_scores, ft_scores)        # b - a: FT minus RAG
    result["diff"], result["low"], result["high"], result["p"], result["decided"]
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

ALPHA = 0.05  # a difference is "decided" when its 95% interval excludes 0 (and McNemar's p < 0.05 on 0/1 scores)


def _scores(values: Sequence[float], name: str) -> list[float]:
    out = []
    for i, v in enumerate(values):
        if v is None:
            raise ValueError(f"{name}[{i}] is None: drop the items a metric does not apply to from both systems")
        out.append(float(v))
    return out


def is_binary(values: Sequence[float]) -> bool:
    """True when every score is 0 or 1 (exact match, execution match)."""
    return all(v in (0, 1) for v in values)


def mcnemar_exact(a: Sequence[float], b: Sequence[float]) -> dict:
    """McNemar's exact test on paired 0/1 scores: ``a_only`` items only `a` got right, ``b_only`` only `b`,
    and the two-sided p-value of a split that uneven under a fair coin (1.0 when they never disagree)."""
    a, b = _scores(a, "a"), _scores(b, "b")
    if len(a) != len(b):
        raise ValueError(f"paired scores need the same items: {len(a)} vs {len(b)}")
    if not (is_binary(a) and is_binary(b)):
        raise ValueError("McNemar's test needs 0/1 scores; use paired() for graded scores (bootstrap interval)")
    a_only = sum(1 for x, y in zip(a, b, strict=True) if x == 1 and y == 0)
    b_only = sum(1 for x, y in zip(a, b, strict=True) if x == 0 and y == 1)
    n = a_only + b_only
    tail = sum(comb(n, k) for k in range(min(a_only, b_only) + 1)) / 2**n if n else 1.0
    return {"a_only": a_only, "b_only": b_only, "p": min(1.0, 2 * tail)}


def paired(a: Sequence[float], b: Sequence[float], level: float = 0.95, n_boot: int = 2000, seed: int = 0) -> dict:
    """`b` minus `a` on the same items: ``diff`` (mean), its bootstrap interval ``low``/``high``, ``n``,
    and on 0/1 scores McNemar's ``p`` (with ``a_only``/``b_only``). ``decided`` is True when the interval
    excludes 0 and, on 0/1 scores, p < 1 - level as well; ``better`` names 'a', 'b' or None."""
    a, b = _scores(a, "a"), _scores(b, "b")
    if len(a) != len(b):
        raise ValueError(f"paired scores need the same items in the same order: {len(a)} vs {len(b)} scores")
    if not a:
        raise ValueError("no items to compare")
    diff, low, high = bootstrap_ci([y - x for x, y in zip(a, b, strict=True)], n=n_boot, level=level, seed=seed)
    out = {"n": len(a), "diff": diff, "low": low, "high": high, "test": "paired bootstrap"}
    decided = low > 0 or high < 0
    if is_binary(a) and is_binary(b):
        test = mcnemar_exact(a, b)
        out |= test | {"test": "paired bootstrap + McNemar exact"}
        decided = decided and test["p"] < 1 - level
    out["decided"] = decided
    out["better"] = ("b" if diff > 0 else "a") if decided else None
    return out


def wilson(successes: int, n: int, level: float = 0.95) -> tuple[float, float, float]:
    """A proportion and its Wilson score interval: unlike a bootstrap, it does not collapse to a point when
    every item (or none) succeeds, e.g. 36 of 36 gives [0.90, 1.00], not [1.00, 1.00]."""
    from statistics import NormalDist

    if not isinstance(n, int) or n < 1 or not 0 <= successes <= n:
        raise ValueError(f"need 0 <= successes <= n and n >= 1, got {successes} of {n}")
    if not 0 < level < 1:
        raise ValueError(f"level is a probability in (0, 1), got {level}")
    z = NormalDist().inv_cdf(1 - (1 - level) / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * ((p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5) / (1 + z * z / n)
    low = 0.0 if successes == 0 else max(0.0, centre - half)  # exact ends: rounding left 1e-17 above 0 at 0 of n
    high = 1.0 if successes == n else min(1.0, centre + half)
    return p, low, high


def bootstrap_stat(items: Sequence, statistic, n_boot: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """``statistic(items)`` and its percentile-bootstrap interval, resampling the items: for figures that are
    not a mean of per-item values (a ratio of two means, a break-even volume computed from them).

    A statistic may return None where it is undefined (a ratio whose denominator is 0 in that resample):
    such resamples are left out of the interval, and when every one is, the interval is (None, None)."""
    import random

    items = list(items)
    if not items:
        raise ValueError("no items to bootstrap")
    if not 0 < level < 1:
        raise ValueError(f"level is a probability in (0, 1), got {level}")
    rng = random.Random(seed)
    draws = sorted(d for d in (statistic(rng.choices(items, k=len(items))) for _ in range(n_boot)) if d is not None)
    if not draws:
        return statistic(items), None, None
    tail = (1 - level) / 2
    return statistic(items), draws[int(tail * (len(draws) - 1))], draws[int((1 - tail) * (len(draws) - 1))]


def aligned(rows: Sequence[dict], system_a: str, system_b: str, key: str = "id", metric: str = "score",
            **where) -> tuple[list[float], list[float]]:
    """The scores of two systems on the items both answered, in the same order, from result rows
    (``{"system", key, metric, ...}``); ``where`` filters rows first (e.g. ``task="sql"``)."""
    picked = [r for r in rows if all(r.get(k) == v for k, v in where.items())]
    by_system: dict[str, dict] = {system_a: {}, system_b: {}}
    for r in picked:
        if r.get("system") in by_system and r.get(metric) is not None:
            if key not in r:
                raise KeyError(f"result rows need an item key {key!r} to pair the systems")
            by_system[r["system"]][r[key]] = float(r[metric])
    common = [k for k in by_system[system_a] if k in by_system[system_b]]
    if not common:
        raise ValueError(f"{system_a!r} and {system_b!r} share no scored items{' for ' + str(where) if where else ''}")
    return [by_system[system_a][k] for k in common], [by_system[system_b][k] for k in common]


def bootstrap_ci(values: Sequence[float], n: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float, float]:
    """Mean of `values` and its percentile-bootstrap confidence interval (resampling items)."""
    if not values:
        raise ValueError("no values to bootstrap")
    values = [float(v) for v in values]
    return bootstrap_stat(values, lambda sample: sum(sample) / len(sample), n_boot=n, level=level, seed=seed)


def cohen_kappa(a: Sequence[bool], b: Sequence[bool]) -> float | None:
    """Cohen's kappa of two raters' yes/no verdicts on the same items: agreement beyond what their rates of
    "yes" alone would give by chance, (p_o - p_e) / (1 - p_e) (Cohen 1960). 1 is perfect agreement, 0 chance.
    None when chance agreement is already 1 (both raters said the same thing on every item)."""
    if len(a) != len(b):
        raise ValueError(f"the two raters judged {len(a)} and {len(b)} items; pass verdicts on the same items")
    if not a:
        raise ValueError("no items: kappa needs at least one verdict from each rater")
    n = len(a)
    observed = sum(bool(x) == bool(y) for x, y in zip(a, b, strict=True)) / n
    pa, pb = sum(map(bool, a)) / n, sum(map(bool, b)) / n
    chance = pa * pb + (1 - pa) * (1 - pb)
    return None if chance == 1 else (observed - chance) / (1 - chance)


def agreement(reference: Sequence[bool], rater: Sequence[bool], level: float = 0.95, seed: int = 0) -> dict:
    """How a rater (a grader) agrees with a reference (careful human reading) on the same items: ``n``,
    ``agreement`` with its Wilson interval, ``kappa`` with its bootstrap interval (resampling items), and the
    confusion counts ``both_correct``, ``both_wrong``, ``missed`` (reference correct, rater wrong) and
    ``false_credit`` (reference wrong, rater correct)."""
    pairs = [(bool(x), bool(y)) for x, y in zip(reference, rater, strict=True)]
    if not pairs:
        raise ValueError("no items: agreement needs verdicts from both raters")
    hits = sum(x == y for x, y in pairs)
    share, low, high = wilson(hits, len(pairs), level)
    kappa, k_low, k_high = bootstrap_stat(pairs, lambda s: cohen_kappa([x for x, _ in s], [y for _, y in s]),
                                          level=level, seed=seed)
    return {"n": len(pairs), "agreement": share, "agreement_low": low, "agreement_high": high,
            "kappa": kappa, "kappa_low": k_low, "kappa_high": k_high,
            "both_correct": sum(x and y for x, y in pairs), "both_wrong": sum(not x and not y for x, y in pairs),
            "missed": sum(x and not y for x, y in pairs), "false_credit": sum(y and not x for x, y in pairs)}
