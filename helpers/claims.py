"""The guide's measurable claims, and what this run found about each: one scorecard for the whole course.

Each claim has an id, the guide's words (brief, with the section they come from), the notebook that tests
it, the metric, and the guide's figure as a rule: ``at_least`` (the figure should reach ``low``),
``at_most`` (stay under ``high``), ``range`` (fall in ``[low, high]``) or ``direction`` (a paired
comparison the guide says one system wins: ``low`` = 0 on the difference "guide's winner minus the other").
A notebook records its measurement with one call::

    from helpers import claims
    claims.record("retrieval_latency", value=0.012, n=200, low=0.010, high=0.015,
                  note="hybrid search, 1,240 chunks, 2-core CPU")

The verdict is computed here from the figure and its interval (:func:`verdict`), never chosen by hand:
"holds" only when the whole interval supports the guide. Results go to ``results/claims.json`` with the
run's provenance (tier, model, profile, data fingerprint, date), one entry per claim, replaced on re-run.
``make readme`` turns that file into the scorecard of docs/results.md.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from . import env

VERDICTS = ("holds", "holds partly", "does not hold here", "not decidable at this n", "at the floor here")
# "at the floor here": one side of the comparison cannot do the task at all at this model size (its whole interval
# at or below benchmark.FLOOR), so the figure says nothing for or against the guide; the reason says which side.
KINDS = ("at_least", "at_most", "range", "direction")
RESULTS = Path(__file__).resolve().parents[1] / "results" / "claims.json"


def results_path() -> Path:
    """Where ``record`` writes: ``results/claims.json`` in the learner profile, the workspace in ci (so a
    test run never rewrites the committed scorecard)."""
    return env.workspace_dir() / "runs" / "claims.json" if env.profile() == "ci" else RESULTS


@dataclass(frozen=True)
class Claim:
    id: str
    guide: str          # the guide's words, quoted briefly
    section: str        # where in the guide
    notebook: str       # the notebook that measures it (file stem)
    metric: str         # what is measured, with its unit
    kind: str           # one of KINDS
    low: float | None = None
    high: float | None = None
    unit: str = ""      # "%" shows fractions as percentages; "ms", "x", "calls" as they are

    def figure(self) -> str:
        """The guide's figure as the scorecard shows it."""
        if self.kind == "direction":
            return "wins (paired)"
        if self.kind == "range":
            return f"{_fmt(self.low, self.unit)} to {_fmt(self.high, self.unit)}"
        return (">= " + _fmt(self.low, self.unit)) if self.kind == "at_least" else ("<= " + _fmt(self.high, self.unit))


def _fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "%":
        return f"{value:.0%}"
    if unit == "pts":
        return f"{value:+.1f} pts"
    if unit == "calls":
        return f"{value:,.0f}"
    if unit == "x":
        return f"{value:.1f}x"
    return f"{value:,.3g} {unit}".strip()


def _bench(task: str) -> Claim:
    """A row of the guide's benchmark table (``benchmark.GUIDE``): its winner beats the other, paired."""
    from .benchmark import GUIDE, GUIDE_NAMES, METRICS
    from .tasks import KNOWLEDGE_TASKS

    rag, ft = GUIDE[task]
    winner, other = ("RAG", "fine-tuning") if rag > ft else ("fine-tuning", "RAG")
    rival = "RAG" if task in KNOWLEDGE_TASKS else "the better of RAG and few-shot prompting"
    return Claim(f"benchmark_{task}", f"{winner} beats {other} on {GUIDE_NAMES[task]} (RAG {rag}, FT {ft})",
                 "Benchmark: six task types", "08_benchmark",
                 f"{METRICS[task]}, guide's winner minus the other on the same items (RAG side: {rival}), points",
                 "direction", low=0.0, unit="pts")


CLAIMS: dict[str, Claim] = {c.id: c for c in (
    Claim("routing_knowledge", "a knowledge gap (facts the model lacks) is fixed with retrieval",
          "Decision framework", "08_benchmark", "on the base model's fact-task failures the profiler labels knowledge: "
          "RAG's score minus fine-tuning's on the same items (paired), points", "at_least", low=0.0, unit="pts"),
    Claim("routing_behaviour", "a behaviour gap (format, tone, schema) is fixed with fine-tuning",
          "Decision framework", "08_benchmark", "on the base model's format-task failures the profiler labels "
          "behaviour: fine-tuning's score minus the better of RAG and few-shot prompting (paired), points",
          "at_least", low=0.0, unit="pts"),
    Claim("hybrid_keywords", "hybrid search beats pure semantic search on exact keywords (error codes, ids)",
          "Retrieval", "03_hybrid_retrieval", "hit rate, hybrid minus semantic, on exact-keyword queries (paired)",
          "at_least", low=0.0, unit="pts"),
    Claim("retrieval_latency", "retrieval adds 50-200 ms per query", "Retrieval", "03_hybrid_retrieval",
          "hybrid search latency per query, ms", "range", low=50.0, high=200.0, unit="ms"),
    Claim("start_with_rag", "start with RAG: it fixes missing knowledge without training", "Decision framework",
          "04_rag_pipeline", "answer stated (evaluate.grade), RAG minus the closed-book base model (paired)", "at_least", low=0.0,
          unit="pts"),
    Claim("retrieval_failures", "many model failures are retrieval failures", "RAG in production",
          "04_rag_pipeline", "share of wrong RAG answers whose gold document was not retrieved ('many': a third)",
          "at_least", low=1 / 3, unit="%"),
    Claim("version_indexes", "version your indexes so a bad update can be rolled back", "RAG in production",
          "04_rag_pipeline", "answer stated (v2 facts) on the live questions the update touches: the good v2 "
          "index minus a stale build promoted by mistake, before the check caught it and it was rolled back (paired)",
          "at_least", low=0.0, unit="pts"),
    Claim("lora_cheaper", "LoRA is about 10x cheaper than full fine-tuning", "Fine-tuning", "05_lora_finetune",
          "peak training memory, full fine-tune / LoRA", "at_least", low=10.0, unit="x"),
    Claim("lora_as_good", "LoRA is often as good as full fine-tuning", "Fine-tuning", "05_lora_finetune",
          "held-out score, LoRA minus full fine-tune (paired); as good = no worse than 5 points", "at_least",
          low=-5.0, unit="pts"),
    Claim("schema_vs_finetune", "beyond the guide: for a format gap, a JSON Schema enforced while decoding is as "
          "good as fine-tuning", "Beyond the guide", "05_lora_finetune",
          "held-out JSON field accuracy, base model + schema minus the fine-tuned adapter (paired); as good = no "
          "worse than 5 points", "at_least", low=-5.0, unit="pts"),
    Claim("gate_cut", "confidence-gated RAG cuts 60-80% of retrieval latency", "Speculative RAG",
          "07_speculative_rag", "share of RAG's latency overhead removed on test queries", "range", low=0.6,
          high=0.8, unit="%"),
    *(_bench(task) for task in ("qa_static", "qa_live", "json_extraction", "tone", "sql", "multihop")),
    Claim("update_frequency", "knowledge that changes weekly or faster belongs in retrieval, not in weights",
          "Decision framework", "08_benchmark", "answer stated (evaluate.grade) on changed facts, RAG on the updated index minus "
          "fine-tuned on the old facts (paired), points", "direction", low=0.0, unit="pts"),
    Claim("prompt_shrink", "fine-tuning shrinks prompts by 60-70%", "Costs", "09_costs",
          "prompt tokens saved on the behaviour tasks: the fine-tuned model's prompt vs the few-shot prompt it "
          "replaces (k chosen on dev)", "range", low=0.6, high=0.7, unit="%"),
    Claim("scale_break_even", "fine-tuning pays for itself at millions of calls a month", "Costs", "09_costs",
          "break-even volume, few-shot prompting vs self-hosted FT, measured prompts (calls a month)", "range", low=1e6,
          high=1e8, unit="calls"),
)}


def claim(claim_id: str) -> Claim:
    """The claim `claim_id`; an unknown id is an error listing the known ones."""
    if claim_id not in CLAIMS:
        raise KeyError(f"unknown claim {claim_id!r}; the course's claims are: {', '.join(CLAIMS)}")
    return CLAIMS[claim_id]


def verdict(c: Claim, value: float, low: float | None = None, high: float | None = None,
            p: float | None = None) -> tuple[str, str]:
    """(verdict, reason) for figure `value` with interval ``[low, high]`` (no interval: the figure alone).

    at_least a: holds when low >= a; does not hold when high < a; otherwise not decidable.
    at_most b: holds when high <= b; does not hold when low > b; otherwise not decidable.
    range [a, b]: holds when the interval lies inside; does not hold when it lies wholly outside; holds
    partly when the figure is inside but the interval reaches out; not decidable when the figure is outside
    but the interval still reaches in. direction: as at_least 0 on "guide's winner minus the other".
    ``p`` (a paired test's p-value against no difference, e.g. McNemar's on 0/1 scores) must also be below
    0.05 for an at_least-0 or direction claim to be decided either way, as in ``stats.paired``.
    """
    outcome, reason = _verdict(c, value, low, high)
    tests_zero = c.kind == "direction" or (c.kind == "at_least" and c.low == 0)
    if p is not None and tests_zero and outcome != "not decidable at this n" and not p < 0.05:
        return "not decidable at this n", f"{reason}, but the paired test's p={p:.2g} is not below 0.05"
    return outcome, reason + ("" if p is None or not tests_zero else f", p={p:.2g}")


def _verdict(c: Claim, value: float, low: float | None, high: float | None) -> tuple[str, str]:
    lo, hi = (value, value) if low is None or high is None else (low, high)
    if lo > hi:
        raise ValueError(f"{c.id}: the interval [{low}, {high}] is upside down")
    shown = f"{_fmt(value, c.unit)}" + ("" if low is None else f" [{_fmt(low, c.unit)}, {_fmt(high, c.unit)}]")
    whole = "the whole interval is" if low is not None else "the figure (no interval) is"
    if c.kind in ("at_least", "direction"):
        if lo >= c.low:
            return "holds", f"{shown}: {whole} at or above {_fmt(c.low, c.unit)}"
        if hi < c.low:
            return "does not hold here", f"{shown}: {whole} below {_fmt(c.low, c.unit)}"
        return "not decidable at this n", f"{shown}: the interval straddles {_fmt(c.low, c.unit)}"
    if c.kind == "at_most":
        if hi <= c.high:
            return "holds", f"{shown}: {whole} at or below {_fmt(c.high, c.unit)}"
        if lo > c.high:
            return "does not hold here", f"{shown}: {whole} above {_fmt(c.high, c.unit)}"
        return "not decidable at this n", f"{shown}: the interval straddles {_fmt(c.high, c.unit)}"
    inside = c.low <= value <= c.high
    if lo >= c.low and hi <= c.high:
        return "holds", f"{shown}: inside the guide's {c.figure()}"
    if hi < c.low or lo > c.high:
        side = "below" if hi < c.low else "above"
        return "does not hold here", f"{shown}: wholly {side} the guide's {c.figure()}"
    if inside:
        return "holds partly", f"{shown}: inside the guide's {c.figure()}, the interval reaches beyond it"
    return "not decidable at this n", f"{shown}: outside the guide's {c.figure()}, the interval reaches into it"


def data_version() -> str:
    """The fingerprint of the course's data (the same as ``results/benchmark.json`` records)."""
    from .benchmark import data_fingerprint

    return data_fingerprint()


def provenance(model_id: str | None = None) -> dict:
    """Where a figure comes from: tier, model, profile, data fingerprint, date, device."""
    return {"tier": env.pick_tier(), "model": model_id or env.generator_id(), "profile": env.profile(),
            "data_version": data_version(), "date": time.strftime("%Y-%m-%d"),
            "device": "cuda" if env.detect_runtime().cuda else "cpu"}


def record(claim_id: str, value: float, n: int, low: float | None = None, high: float | None = None,
           p: float | None = None, note: str = "", model_id: str | None = None,
           path: str | Path | None = None, floor: str | None = None) -> dict:
    """Record this run's figure for a claim in ``results/claims.json`` (replacing an earlier one) and return
    the entry, verdict included. `n` is how many items, queries or runs the figure rests on; ``low``/``high``
    its 95% interval (both or neither). ``floor``, when a side of the comparison is at the floor (see
    ``benchmark.compare``), is the sentence that says which and why: the verdict is then "at the floor here".
    Bad input names the claim and what was wrong."""
    c = claim(claim_id)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"claim {claim_id!r}: n must be a positive count of what the figure rests on, got {n!r}")
    if (low is None) != (high is None):
        raise ValueError(f"claim {claim_id!r}: give both ends of the interval (low and high) or neither")
    for name, x in (("value", value), ("low", low), ("high", high), ("p", p)):
        if x is not None and not (isinstance(x, int | float) and math.isfinite(x)):
            raise ValueError(f"claim {claim_id!r}: {name} must be a finite number, got {x!r}")
    outcome, reason = verdict(c, float(value), low, high, p)
    if floor is not None:
        if not isinstance(floor, str) or not floor.strip():
            raise ValueError(f"claim {claim_id!r}: floor must be the sentence that names the side at the floor")
        outcome, reason = "at the floor here", f"{floor} (the figure: {reason})"
    entry = {"claim": c.id, "value": float(value), "low": low, "high": high, "n": n, "p": p, "verdict": outcome,
             "reason": reason, "note": note, **provenance(model_id)}
    target = Path(path) if path else results_path()
    results = load(target) if target.is_file() else {}
    results[c.id] = entry
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(sorted(results.items())), indent=2) + "\n")
    tmp.replace(target)
    print(f"claim {c.id}: {outcome} ({reason}; n={n})")
    return entry


def load(path: str | Path | None = None) -> dict[str, dict]:
    """The recorded results by claim id (``results_path()`` by default; none recorded yet: empty); an entry
    with an unknown claim or verdict is an error naming it."""
    target = Path(path) if path else results_path()
    if path is None and not target.is_file():
        return {}
    return load_dict(json.loads(target.read_text()), str(target))


def load_dict(results: Mapping[str, dict], where: str = "claims results") -> dict[str, dict]:
    """`results` checked: every id a known claim, every verdict one of :data:`VERDICTS`."""
    for claim_id, entry in results.items():
        claim(claim_id)
        if entry.get("verdict") not in VERDICTS:
            raise ValueError(f"{where}: claim {claim_id!r} has verdict {entry.get('verdict')!r}, not one of {VERDICTS}")
    return dict(results)


def scorecard(results: Mapping[str, dict] | None = None) -> list[dict]:
    """One row per claim, in the module's order: the guide's figure, this run's, the verdict and where."""
    results = load() if results is None else results
    current = data_version()
    rows = []
    for c in CLAIMS.values():
        r = results.get(c.id)
        row = {"claim": c.id, "guide": c.guide, "section": c.section, "notebook": c.notebook, "metric": c.metric,
               "guide figure": c.figure()}
        if r is None:
            row |= {"this run": "not measured yet", "n": None, "verdict": "not measured yet", "stale": False}
        else:
            interval = "" if r["low"] is None else f" [{_fmt(r['low'], c.unit)}, {_fmt(r['high'], c.unit)}]"
            row |= {"this run": _fmt(r["value"], c.unit) + interval, "n": r["n"], "verdict": r["verdict"],
                    "reason": r["reason"], "stale": r.get("data_version") != current, "profile": r.get("profile"),
                    "model": r.get("model")}
        rows.append(row)
    return rows


VERDICT_COLOURS = {"holds": "#2a7", "holds partly": "#8c4", "does not hold here": "#c55", "at the floor here": "#888",
                   "not decidable at this n": "#999"}


def plot_scorecard(results: Mapping[str, dict] | None = None, columns: int = 4):
    """One small panel per claim: the guide's figure (shaded: where the claim holds) and this run's figure
    with its 95% interval, coloured by verdict. Claims not measured yet are drawn empty. Returns the figure."""
    import matplotlib.pyplot as plt

    results = load() if results is None else results
    rows = -(-len(CLAIMS) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(3.2 * columns, 1.35 * rows), squeeze=False)
    for ax, c in zip(axes.flat, CLAIMS.values(), strict=False):
        r = results.get(c.id)
        scale = 100 if c.unit == "%" else 1
        values = [v for v in ((r or {}).get("value"), (r or {}).get("low"), (r or {}).get("high"), c.low, c.high)
                  if v is not None]
        lo, hi = (min(values) * scale, max(values) * scale) if values else (0, 1)
        pad = (hi - lo) * 0.25 or abs(hi) * 0.25 or 1
        left, right = lo - pad, hi + pad
        if c.kind == "range":
            ax.axvspan(c.low * scale, c.high * scale, color="#cde", lw=0)
        elif c.kind in ("at_least", "direction"):
            ax.axvspan(c.low * scale, right, color="#cde", lw=0)
        else:
            ax.axvspan(left, c.high * scale, color="#cde", lw=0)
        if r is not None:
            colour = VERDICT_COLOURS[r["verdict"]]
            x = r["value"] * scale
            err = None if r["low"] is None else [[x - r["low"] * scale], [r["high"] * scale - x]]
            ax.errorbar([x], [0], xerr=err, fmt="o", color=colour, capsize=3)
            ax.set_xlabel(f"{r['verdict']} (n={r['n']:,})", fontsize=7, color=colour)
        else:
            ax.set_xlabel("not measured yet", fontsize=7, color="#999")
        if c.unit == "calls":
            ax.set_xscale("log")
            left, right = lo / 3, hi * 3
        ax.set_xlim(left, right)
        ax.set_yticks([])
        ax.tick_params(axis="x", labelsize=7)
        ax.set_title(f"{c.id} ({c.notebook[:2]})", fontsize=8)
    for ax in list(axes.flat)[len(CLAIMS):]:
        ax.axis("off")
    fig.suptitle("The guide's claims: shaded where the claim holds; dot and bar: this run, 95% interval", fontsize=9)
    fig.tight_layout()
    return fig
