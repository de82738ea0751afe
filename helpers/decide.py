"""The guide's decision framework as code: which failure, how often knowledge changes, how much traffic.

The guide's rules (claim 1 of the course design), in the order :func:`recommend` applies them:

1. **Decide by the failure.** A *knowledge* gap (the model lacks facts) calls for RAG; a *behaviour*
   gap (wrong format, tone, reasoning style) calls for fine-tuning; both call for the hybrid:
   fine-tune for HOW to answer, retrieve WHAT to answer about.
2. **How often knowledge changes.** Daily or weekly: RAG only (facts never go into weights);
   monthly: RAG or FT+RAG; quarterly or slower: fine-tuning is a candidate; static: fine-tune.
3. **Scale.** Fine-tuning pays off at millions of calls a month once prompts shrink 60-70%.
4. **Practice.** Start with RAG; profile failures into knowledge vs behaviour before fine-tuning.

:func:`classify_failure` does the profiling of rule 4 for one failed answer, from the result dicts
of :mod:`helpers.evaluate`, so a notebook can count knowledge and behaviour failures and pass
:func:`gap_from_failures` of them to :func:`recommend`.

Example::

    from helpers import decide
    r = decide.recommend("knowledge", "weekly", 200_000)
    r.recommendation                      # 'RAG'
    r.reasons                             # the rules that led there, in plain words
"""

from __future__ import annotations

import math
import numbers
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from .costs import FREQUENCIES, GUIDE_PROMPT_SHRINK, check_frequency

GAPS = ("knowledge", "behaviour", "both", "unknown")
RECOMMENDATIONS = ("RAG", "fine-tune", "FT+RAG (hybrid)", "RAG first, then consider FT")
CHANGING = ("daily", "weekly")          # rule 2: RAG only
STABLE = ("quarterly", "yearly", "static")  # rule 2: fine-tuning is a candidate
SCALE_CALLS = 1_000_000   # rule 3: "millions of calls a month"
SCALE_SHRINK = GUIDE_PROMPT_SHRINK[0]  # rule 3: "once prompts shrink 60-70%" (the low end)
_SPELLINGS = {"behavior": "behaviour"}


@dataclass(frozen=True)
class Recommendation:
    """What to build, and the guide's rules that say so, in plain words."""

    recommendation: str
    reasons: list[str] = field(default_factory=list)
    pays_off_at_scale: bool | None = None  # rule 3: True / False, or None when the prompt shrink is unknown
    try_first: str | None = None  # beyond the guide: a cheaper step to measure before training (constrained decoding)

    def __str__(self) -> str:
        first = [f"Try first: {self.try_first}"] if self.try_first else []
        return "\n".join([f"Recommendation: {self.recommendation}", *first, *(f"- {r}" for r in self.reasons)])


CONSTRAINED_FIRST = ("constrained decoding (the format as a JSON Schema or a grammar, enforced while decoding): no "
                     "training, and every finished answer is valid by construction. Fine-tune when its answers are "
                     "valid but wrong; 05 and 08 measure both on the course's tickets and queries.")


def _check_gap(gap: str) -> str:
    gap = _SPELLINGS.get(gap, gap) if isinstance(gap, str) else gap
    if gap not in GAPS:
        raise ValueError(f"unknown gap {gap!r}; choose one of {list(GAPS)} ('behavior' is accepted too)")
    return gap


def _check_calls(monthly_calls) -> float:
    if isinstance(monthly_calls, bool) or not isinstance(monthly_calls, numbers.Real) \
            or not math.isfinite(monthly_calls) or monthly_calls <= 0:
        raise ValueError(f"monthly_calls must be a positive number of calls a month (> 0), got {monthly_calls!r}")
    return float(monthly_calls)


def _check_shrink(prompt_shrink) -> float | None:
    if prompt_shrink is None:
        return None
    if isinstance(prompt_shrink, bool) or not isinstance(prompt_shrink, numbers.Real) or not 0 <= prompt_shrink < 1:
        raise ValueError("prompt_shrink is the share by which fine-tuning shortens the prompt, from 0 up to "
                         f"(not including) 1, e.g. 0.65 for 65% shorter, or None if not measured; got {prompt_shrink!r}")
    return float(prompt_shrink)


def scale_verdict(monthly_calls: float, prompt_shrink: float | None) -> tuple[bool | None, str]:
    """Rule 3 on its own: (pays off?, the reason in words). None when the shrink is not measured."""
    calls, shrink = _check_calls(monthly_calls), _check_shrink(prompt_shrink)
    volume = f"{calls:,.0f} calls a month"
    if shrink is None:
        return None, (f"Scale: at {volume}, whether fine-tuning pays for itself depends on how much shorter "
                      "its prompts are; measure the shrink (notebook 09) and ask again.")
    big, short = calls >= SCALE_CALLS, shrink >= SCALE_SHRINK
    if big and short:
        return True, (f"Scale: {volume} with {shrink:.0%} shorter prompts meets the guide's bar (millions of "
                      f"calls, 60-70% shorter prompts): fine-tuning can pay for itself.")
    missing = []
    if not big:
        missing.append(f"{volume} is below the guide's 'millions of calls' ({SCALE_CALLS:,})")
    if not short:
        missing.append(f"prompts only {shrink:.0%} shorter, below the guide's 60%")
    return False, f"Scale: {' and '.join(missing)}, so cost alone does not argue for fine-tuning."


def recommend(gap: str, update_frequency: str, monthly_calls: float, prompt_shrink: float | None = None,
              format_is_schema: bool = False) -> Recommendation:
    """The guide's recommendation for a failure type, an update frequency and a monthly volume.

    `gap`: 'knowledge', 'behaviour' (or 'behavior'), 'both', or 'unknown' (failures not profiled yet).
    `update_frequency`: how often the knowledge changes, one of ``costs.FREQUENCIES``.
    `monthly_calls`: calls a month (> 0). `prompt_shrink`: how much shorter a fine-tuned model's
    prompt is than the RAG prompt (0.65 = 65% shorter), or None if not measured.
    `format_is_schema`: the behaviour that fails is a format that can be written as a JSON Schema or a
    grammar (an object's fields, a query language), not a voice or a reasoning style. Beyond the guide:
    with a behaviour gap, ``try_first`` then names constrained decoding (``helpers.constrain``).
    """
    result = _recommend(gap, update_frequency, monthly_calls, prompt_shrink)
    if format_is_schema and _check_gap(gap) in ("behaviour", "both"):
        return Recommendation(result.recommendation, [*result.reasons, "Beyond the guide: the format can be written "
                              "as a schema or a grammar, so measure constrained decoding before training for it."],
                              result.pays_off_at_scale, try_first=CONSTRAINED_FIRST)
    return result


def _recommend(gap: str, update_frequency: str, monthly_calls: float, prompt_shrink: float | None
               ) -> Recommendation:
    gap, frequency = _check_gap(gap), check_frequency(update_frequency)
    pays, scale_reason = scale_verdict(monthly_calls, prompt_shrink)
    changing, stable = frequency in CHANGING, frequency in STABLE
    change = "Knowledge is static" if frequency == "static" else f"Knowledge changes {frequency}"
    if gap == "unknown":
        reasons = ["Failures not profiled yet: the guide says start with RAG and sort failures into knowledge "
                   "vs behaviour gaps before fine-tuning anything (decide.classify_failure does it)."]
        if changing:
            return Recommendation("RAG", [*reasons, f"{change}: the guide says RAG only."], pays)
        return Recommendation("RAG first, then consider FT", [*reasons, scale_reason], pays)
    if gap == "knowledge":
        reasons = ["Knowledge gap: the model lacks facts, and the guide's answer to missing facts is RAG."]
        if not stable:
            rule = "RAG only" if changing else "RAG or FT+RAG; with no behaviour gap, RAG"
            return Recommendation("RAG", [*reasons, f"{change}: the guide says {rule}.", scale_reason], pays)
        reasons.append(f"{change}: stable enough that the guide counts fine-tuning as a candidate.")
        if pays:
            return Recommendation("RAG first, then consider FT", [*reasons, scale_reason,
                                  "Start with RAG for quality (the guide's benchmark: RAG 78 vs FT 71 on factual "
                                  "QA over static docs), then fine-tune if the cost gap is worth it."], pays)
        return Recommendation("RAG", [*reasons, scale_reason], pays)
    if gap == "behaviour":
        reasons = ["Behaviour gap: format, tone or reasoning style is wrong, and the guide's answer is fine-tuning."]
        if stable:
            return Recommendation("fine-tune", [*reasons, f"{change}: the guide says "
                                  f"{'fine-tune' if frequency == 'static' else 'fine-tuning is a candidate'}.",
                                  scale_reason], pays)
        rule = "RAG only for the facts" if changing else "RAG or FT+RAG"
        return Recommendation("FT+RAG (hybrid)", [*reasons, f"{change}: the guide says {rule}, so keep the facts "
                              "in retrieval and train only the behaviour (retrain when the behaviour changes, "
                              "not when a fact does).", scale_reason], pays)
    reasons = ["Both gaps: the guide's hybrid stack, fine-tuning for HOW to answer and RAG for WHAT to answer about."]
    if stable:
        reasons.append(f"{change}: the facts could be trained in too, but the guide's benchmark has RAG ahead on "
                       "factual QA even over static docs (78 vs 71), so keep them in retrieval.")
    else:
        reasons.append(f"{change}: facts must come from retrieval, which the hybrid does.")
    return Recommendation("FT+RAG (hybrid)", [*reasons, scale_reason], pays)


def rules_table() -> list[dict]:
    """The recommendation for every gap x update frequency at a small and a large volume (shrink 65%)."""
    rows = []
    for gap in GAPS:
        for frequency in FREQUENCIES:
            rows.append({"gap": gap, "knowledge changes": frequency,
                         "100k calls": recommend(gap, frequency, 100_000, 0.65).recommendation,
                         "5M calls": recommend(gap, frequency, 5_000_000, 0.65).recommendation})
    return rows


# ---------------------------------------------------------------------------------------------
# Failure profiling: is a failed answer a knowledge gap or a behaviour gap?
# ---------------------------------------------------------------------------------------------

QA_TASKS = ("qa_static", "qa_live", "multihop")
TASKS = (*QA_TASKS, "json_extraction", "tone", "sql")
LABELS = ("ok", "knowledge", "behaviour", "both")
TONE_RULES = ("greeting", "sign_off", "length", "no_exclamation", "no_banned", "apology", "citation")


@dataclass(frozen=True)
class Failure:
    """The label of one answer ('ok', 'knowledge', 'behaviour' or 'both') and why."""

    label: str
    reason: str


def _flag(result, key: str, task: str) -> bool:
    """The boolean `key` of a result dict, or the result itself when it is a bool."""
    if isinstance(result, bool):
        return result
    if isinstance(result, dict) and isinstance(result.get(key), bool):
        return result[key]
    raise TypeError(f"for task {task!r} pass the bool from evaluate.{key}() or a dict with a bool {key!r}, "
                    f"got {result!r}")


def classify_failure(task: str, result, prediction: str | None = None, gold: str | Sequence[str] | None = None
                     ) -> Failure:
    """Label one evaluated answer as 'ok', a 'knowledge' gap, a 'behaviour' gap, or 'both'.

    The rule: when the *form* is wrong (no valid JSON, a brand-voice rule broken, not a SQL query, no
    answer, or the right fact buried in a rambling reply) it is a behaviour gap; when the form is right
    but the fact is wrong or missing it is a knowledge gap.

    `result` is what :mod:`helpers.evaluate` returned for `task`:

    - qa_static / qa_live / multihop: the bool of ``evaluate.answer_correct`` (or ``{"exact_match": bool}``,
      the key of the older grader);
      pass `prediction` and `gold` (the answer and its aliases) to detect empty or buried answers;
    - json_extraction: the dict of ``json_scores`` (``valid``, ``exact``, ``field_accuracy``);
    - tone: the dict of ``tone_score`` (one bool per rule, ``score``, ``fact``);
    - sql: the bool of ``sql_execution_match`` (or ``{"sql_execution_match": bool}``); pass the
      predicted SQL as `prediction` to tell "not a query" (behaviour) from "wrong rows" (knowledge).
    """
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {list(TASKS)}")
    if prediction is not None and not isinstance(prediction, str):
        raise TypeError(f"prediction must be the model's output text, got {type(prediction).__name__}")
    if task in QA_TASKS:
        return _classify_qa(task, _flag(result, "exact_match", task), prediction, gold)
    if task == "json_extraction":
        return _classify_json(result)
    if task == "tone":
        return _classify_tone(result)
    return _classify_sql(_flag(result, "sql_execution_match", task), prediction)


def _classify_qa(task: str, correct: bool, prediction: str | None, gold) -> Failure:
    from . import evaluate

    if correct:
        return Failure("ok", "the answer matches the gold answer")
    if prediction is not None and not prediction.strip():
        return Failure("behaviour", "no answer at all: the model did not respond in the expected form")
    if prediction is not None and gold:
        golds = [gold] if isinstance(gold, str) else list(gold)
        words = len(evaluate.normalize(prediction).split())
        if any(evaluate.exact_match(prediction, g, max_words=max(words, 1)) for g in golds):
            return Failure("behaviour", f"the right fact is in the reply ({words} words) but buried: not stated "
                           "as the answer (hedged, negated, echoed or lost): the form is wrong, not the knowledge")
    return Failure("knowledge", "the reply does not state the gold fact: a wrong or missing fact")


def _classify_json(result) -> Failure:
    if not isinstance(result, dict) or not {"valid", "exact", "field_accuracy"} <= set(result):
        raise TypeError(f"for task 'json_extraction' pass the dict from evaluate.json_scores(), got {result!r}")
    if result["exact"]:
        return Failure("ok", "the JSON is valid and every field is right")
    if not result["valid"]:
        return Failure("behaviour", "no JSON object that fits the ticket schema: a format failure")
    return Failure("knowledge", f"valid JSON, but only {result['field_accuracy']:.0%} of the fields are right: "
                   "the form is right, the facts are not")


def _classify_tone(result) -> Failure:
    if not isinstance(result, dict) or not set(TONE_RULES) <= set(result) or "fact" not in result:
        raise TypeError(f"for task 'tone' pass the dict from evaluate.tone_score(), got {result!r}")
    broken = [rule for rule in TONE_RULES if not result[rule]]
    wrong_fact = result["fact"] is False
    if broken and wrong_fact:
        return Failure("both", f"brand-voice rules broken ({', '.join(broken)}) and the fact is wrong or missing")
    if broken:
        return Failure("behaviour", f"brand-voice rules broken: {', '.join(broken)}")
    if wrong_fact:
        return Failure("knowledge", "the reply follows the brand voice but states a wrong fact or none")
    return Failure("ok", "every brand-voice rule holds" + (" and the fact is right" if result["fact"] else ""))


def _classify_sql(correct: bool, prediction: str | None) -> Failure:
    import re

    if correct:
        return Failure("ok", "the query returns the gold rows")
    if prediction is not None:
        text = re.sub(r"^sql\s", "", prediction.strip().strip("`"), flags=re.I).strip()
        if not re.match(r"(?is)^(select|with)\b", text):
            return Failure("behaviour", "the reply is not a SQL query (SELECT or WITH): a format failure")
    return Failure("knowledge", "a query of the right form that returns the wrong rows: the schema or the "
                   "facts behind it are wrong")


def gap_from_failures(labels: Iterable[str | Failure], min_share: float = 0.25) -> str | None:
    """The gap to pass to :func:`recommend`, from many labels: 'knowledge', 'behaviour' or 'both'.

    'both' labels count for each side. A side is present when at least `min_share` of the failures
    show it; when both sides are present the gap is 'both'. Returns None when nothing failed.
    """
    if not 0 < min_share <= 1:
        raise ValueError(f"min_share must be in (0, 1], got {min_share!r}")
    counts = Counter(x.label if isinstance(x, Failure) else x for x in labels)
    unknown = set(counts) - set(LABELS)
    if unknown:
        raise ValueError(f"unknown labels {sorted(unknown)}; labels are {list(LABELS)}")
    failures = counts["knowledge"] + counts["behaviour"] + counts["both"]
    if failures == 0:
        return None
    knowledge = (counts["knowledge"] + counts["both"]) / failures
    behaviour = (counts["behaviour"] + counts["both"]) / failures
    if knowledge >= min_share and behaviour >= min_share:
        return "both"
    return "knowledge" if knowledge >= behaviour else "behaviour"


def classify_result(task: str, item: dict, row: dict, version: int = 1) -> Failure:
    """:func:`classify_failure` for one row of ``helpers.tasks.run`` (its output and scores) and its item."""
    if not isinstance(row, dict) or "output" not in row:
        raise TypeError(f"pass a result row of helpers.tasks.run (a dict with 'output'), got {row!r}")
    if task in QA_TASKS:
        answer = item.get("answer") or item.get(f"answer_v{version}")
        aliases = item.get("aliases") if "answer" in item else item.get(f"aliases_v{version}", [])
        return classify_failure(task, bool(row["correct"]), row["output"], [answer, *(aliases or [])])
    if task == "sql":
        return classify_failure(task, bool(row["correct"]), row["output"])
    return classify_failure(task, row)


# ---------------------------------------------------------------------------------------------
# The recommendation that follows the measurements
# ---------------------------------------------------------------------------------------------

# Cheapest first: no context and no training; a constraint; a longer prompt; retrieval; training; both.
COST_ORDER = ("base", "base+schema", "few-shot", "RAG", "base+RAG", "FT", "FT+schema", "FT+RAG", "RAFT")
# The systems each of the guide's recommendations builds (what a measurement can contradict).
RULE_SYSTEMS = {"RAG": ("RAG",), "RAG first, then consider FT": ("RAG",), "fine-tune": ("FT", "FT+schema"),
                "FT+RAG (hybrid)": ("FT+RAG",)}


def measured_choice(scores, what: str) -> dict:
    """The cheapest system (``COST_ORDER``) whose score is not significantly below the best measured one.

    ``scores``: system -> per-item scores on the same items, in the same order. "Significantly below" is
    ``stats.paired``'s decision (the interval of the difference excludes 0 and, on 0/1 scores, McNemar's
    p < 0.05) with the system behind. Returns ``system``, ``best``, ``means``, ``vs_best`` (each system's
    paired difference from the best), ``what`` (what was measured), ``n`` and ``reason`` in words.

    >>> measured_choice({"FT": [1, 1, 0, 1], "FT+RAG": [0, 0, 0, 0]}, "4 examples")["system"]
    'FT'
    """
    from . import stats

    if not scores:
        raise ValueError("no measured systems: give {system: per-item scores}")
    lengths = {len(v) for v in scores.values()}
    if len(lengths) != 1 or 0 in lengths:
        raise ValueError(f"every system needs scores on the same items (got lengths {sorted(lengths)})")
    n = lengths.pop()
    ordered = [s for s in COST_ORDER if s in scores] + sorted(s for s in scores if s not in COST_ORDER)
    means = {s: sum(map(float, scores[s])) / n for s in ordered}
    best = max(ordered, key=lambda s: (means[s], -ordered.index(s)))  # a tie goes to the cheaper system
    vs_best = {}
    for system in ordered:
        if system != best:
            test = stats.paired([float(x) for x in scores[best]], [float(x) for x in scores[system]])
            vs_best[system] = {"diff": test["diff"], "low": test["low"], "high": test["high"], "p": test.get("p"),
                               "below": bool(test["decided"] and test["diff"] < 0)}
    pick = next(s for s in ordered if s == best or not vs_best[s]["below"])
    out = {"system": pick, "best": best, "means": means, "vs_best": vs_best, "what": what, "n": n}
    if pick == best:
        out["reason"] = f"{best} scores highest on {what} ({means[best]:.2f}, n={n})"
    else:
        t = vs_best[pick]
        p = "" if t["p"] is None else f", McNemar p={t['p']:.2g}"
        out["reason"] = (f"{pick} ({means[pick]:.2f}) is not significantly below the best, {best} ({means[best]:.2f}), "
                         f"on {what} (difference {t['diff']:+.2f} [{t['low']:+.2f}, {t['high']:+.2f}]{p}, n={n}), "
                         "and costs less")
    return out


def contradicted(recommendation: str, choices) -> list[str]:
    """Where a system that the guide's `recommendation` builds was measured (``measured_choice`` results) and
    came out significantly below the best: the rule is contradicted there. Empty when nothing contradicts it."""
    out = []
    for choice in choices:
        for system in RULE_SYSTEMS.get(recommendation, ()):
            test = choice["vs_best"].get(system)
            if test and test["below"]:
                out.append(f"{system} ({choice['means'][system]:.2f}) is significantly below {choice['best']} "
                           f"({choice['means'][choice['best']]:.2f}) on {choice['what']} (difference "
                           f"{test['diff']:+.2f} [{test['low']:+.2f}, {test['high']:+.2f}])")
    return out
