"""The monthly cost of RAG, fine-tuning, both, and the confidence-gated stack: small formulas, stated assumptions.

The defaults are the guide's 2026 figures (claim 6 of the course design):

- RAG: about $670 a month at 1M calls = vector DB $70 + embeddings $100 + LLM calls $500;
- fine-tuned: about $450-550 a month = LoRA 7B training $150 (amortised) + a self-hosted A10G $300,
  or + a hosted fine-tuned model $400.

The guide gives totals, not the units behind them. To make them functions of volume, prompt size,
retraining and GPU prices, this module fixes four assumptions (each one a field of :class:`Prices`
or a module constant, so a learner can change it):

1. The guide's RAG call reads ``GUIDE_RAG_PROMPT_TOKENS`` = 1,500 prompt tokens (system prompt, three
   retrieved chunks, the question) and writes ``GUIDE_OUTPUT_TOKENS`` = 350 tokens. LLM prices of
   $0.10 per million input tokens and $1.00 per million output tokens then give exactly the guide's
   $500 at 1M calls (1,500 x 0.10 + 350 x 1.00 = 500 dollars per million calls).
2. The hosted fine-tuned model is billed per token at the same prices (a multiplier, default 1.0,
   covers providers that charge more for fine-tuned models). The guide's $400 then corresponds to a
   ``GUIDE_FT_PROMPT_TOKENS`` = 500-token prompt: 2/3 shorter than the RAG prompt, inside the
   guide's "60-70% shorter prompts".
3. A retrain costs ``gpu_hourly_usd x training_hours``. The guide's $150 a month is one retrain a
   month of 40 GPU-hours at $3.75 an hour (ten of the guide's "under 4 hours" LoRA runs: a small
   sweep, the final run, evaluation). Only the product comes from the guide.
4. A self-hosted A10G ($300 a month) serves ``a10g_tokens_per_second`` = 1,000 tokens a second on
   average (prompt plus output, with headroom for peaks); more traffic needs more GPUs. The guide
   gives no capacity: this is ours, and it only matters above about 3M calls a month.

Example::

    from helpers import costs
    costs.monthly_costs(1_000_000)            # {'RAG': 670.0, 'FT self-hosted': 450.0, ...}
    costs.break_even_volume("RAG", "FT self-hosted").volume     # 633333.33 calls a month
"""

from __future__ import annotations

import math
import numbers
from dataclasses import asdict, dataclass, fields, replace

FREQUENCIES = ("daily", "weekly", "monthly", "quarterly", "yearly", "static")
# How many retrains a month each update frequency costs. "static" trains once; that run is spread
# over STATIC_HORIZON_MONTHS.
STATIC_HORIZON_MONTHS = 24
RETRAINS_PER_MONTH = {
    "daily": 30.0,
    "weekly": 52 / 12,
    "monthly": 1.0,
    "quarterly": 1 / 3,
    "yearly": 1 / 12,
    "static": 1 / STATIC_HORIZON_MONTHS,
}
HOSTING = ("self-hosted", "hosted")
STRATEGIES = ("RAG", "FT self-hosted", "FT hosted", "FT+RAG", "gated")
SECONDS_PER_MONTH = 730 * 3600  # 730 hours: the average month cloud providers bill by

GUIDE_VOLUME = 1_000_000
GUIDE_RAG_PROMPT_TOKENS = 1500
GUIDE_FT_PROMPT_TOKENS = 500
GUIDE_OUTPUT_TOKENS = 350
GUIDE_RETRIEVAL_SHARE = 0.3  # the gate sends 30% of queries to RAG: the middle of the guide's "60-80%" saving
GUIDE_TOTALS = {"RAG": 670.0, "FT self-hosted": 450.0, "FT hosted": 550.0}
GUIDE_PROMPT_SHRINK = (0.60, 0.70)  # the guide: fine-tuning pays off "once prompts shrink 60-70%"


@dataclass(frozen=True)
class Prices:
    """Unit prices in US dollars, defaulting to the guide's 2026 figures (see the module docstring).

    Every field must be a positive number; ``Prices(gpu_hourly_usd=2.0)`` changes one and keeps the rest.
    """

    vector_db_monthly_usd: float = 70.0          # guide: vector DB $70 / month (a managed tier; flat)
    embedding_usd_per_1k_queries: float = 0.10   # guide: embeddings $100 at 1M calls, linear in volume
    llm_input_usd_per_mtok: float = 0.10         # with the output price: the guide's LLM $500 at 1M calls
    llm_output_usd_per_mtok: float = 1.00        # (assumption 1: 1,500 prompt + 350 output tokens a call)
    hosted_ft_multiplier: float = 1.0            # hosted fine-tuned model price / base price (assumption 2)
    gpu_hourly_usd: float = 3.75                 # training GPU; x training_hours = the guide's $150 a retrain
    training_hours: float = 40.0                 # GPU-hours per retrain (assumption 3)
    a10g_monthly_usd: float = 300.0              # guide: self-hosted A10G $300 / month (about $0.41 an hour)
    a10g_tokens_per_second: float = 1000.0       # served tokens a second per A10G (assumption 4)

    def __post_init__(self):
        for f in fields(self):
            _positive(getattr(self, f.name), f"prices.{f.name}")

    def table(self) -> list[dict]:
        """The prices as rows (name, value, where it comes from), for a notebook table."""
        return [{"price": name, "value": value, "source": PRICE_SOURCES[name]} for name, value in asdict(self).items()]


PRICE_SOURCES = {
    "vector_db_monthly_usd": "guide: vector DB $70 a month",
    "embedding_usd_per_1k_queries": "guide: embeddings $100 at 1M calls",
    "llm_input_usd_per_mtok": "derived: guide's LLM $500 at 1M calls of 1,500 + 350 tokens",
    "llm_output_usd_per_mtok": "derived: guide's LLM $500 at 1M calls of 1,500 + 350 tokens",
    "hosted_ft_multiplier": "assumption: hosted fine-tune billed like the base model",
    "gpu_hourly_usd": "assumption: x training_hours = guide's LoRA training $150",
    "training_hours": "assumption: ten 4-hour LoRA runs per retrain",
    "a10g_monthly_usd": "guide: self-hosted A10G $300 a month",
    "a10g_tokens_per_second": "assumption: capacity of one A10G (guide gives none)",
}


# ---------------------------------------------------------------------------------------------
# Input checks: errors that name the argument and the valid range
# ---------------------------------------------------------------------------------------------

def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number (> 0), got {value!r}")
    return float(value)


PRICES = Prices()  # the guide's defaults


def check_frequency(update_frequency: str) -> str:
    """Return `update_frequency` if it is one of FREQUENCIES, else raise a ValueError listing them."""
    if update_frequency not in FREQUENCIES:
        raise ValueError(f"unknown update_frequency {update_frequency!r}; choose one of {list(FREQUENCIES)}")
    return update_frequency


def _check_share(share, name: str = "retrieval_share") -> float:
    if isinstance(share, bool) or not isinstance(share, numbers.Real) or not 0 <= share <= 1:
        raise ValueError(f"{name} must be a number between 0 and 1 (a share of queries), got {share!r}")
    return float(share)


def _check_hosting(hosting: str) -> str:
    if hosting not in HOSTING:
        raise ValueError(f"unknown hosting {hosting!r}; choose one of {list(HOSTING)}")
    return hosting


def _check_prices(prices) -> Prices:
    if prices is None:
        return PRICES
    if not isinstance(prices, Prices):
        raise TypeError(f"prices must be a costs.Prices, got {type(prices).__name__}")
    return prices


# ---------------------------------------------------------------------------------------------
# Building blocks
# ---------------------------------------------------------------------------------------------

def llm_call_usd(prompt_tokens: float, output_tokens: float, prices: Prices | None = None,
                 multiplier: float = 1.0) -> float:
    """Dollars for one LLM call: (prompt x input price + output x output price) / 1M x multiplier."""
    prices = _check_prices(prices)
    prompt_tokens = _positive(prompt_tokens, "prompt_tokens")
    output_tokens = _positive(output_tokens, "output_tokens")
    per_mtok = prompt_tokens * prices.llm_input_usd_per_mtok + output_tokens * prices.llm_output_usd_per_mtok
    return per_mtok / 1e6 * _positive(multiplier, "multiplier")


def embedding_usd(volume: float, prices: Prices | None = None) -> float:
    """Dollars a month to embed `volume` queries: volume / 1,000 x price per 1,000 queries."""
    prices = _check_prices(prices)
    return _positive(volume, "volume") / 1000 * prices.embedding_usd_per_1k_queries


def training_monthly_usd(update_frequency: str = "monthly", prices: Prices | None = None) -> float:
    """Dollars a month for retraining: GPU price x GPU-hours per retrain x retrains a month."""
    prices = _check_prices(prices)
    retrains = RETRAINS_PER_MONTH[check_frequency(update_frequency)]
    return prices.gpu_hourly_usd * prices.training_hours * retrains


def gpus_needed(volume: float, tokens_per_call: float, prices: Prices | None = None) -> int:
    """Self-hosted A10Gs needed: ceil(volume x tokens per call / tokens one GPU serves a month)."""
    prices = _check_prices(prices)
    tokens = _positive(volume, "volume") * _positive(tokens_per_call, "tokens_per_call")
    return max(1, math.ceil(tokens / (prices.a10g_tokens_per_second * SECONDS_PER_MONTH)))


def serving_usd(volume: float, prompt_tokens: float, output_tokens: float, hosting: str = "self-hosted",
                prices: Prices | None = None) -> float:
    """Dollars a month to serve the fine-tuned model: GPUs x A10G price, or per-token hosted calls."""
    prices = _check_prices(prices)
    if _check_hosting(hosting) == "self-hosted":
        return gpus_needed(volume, prompt_tokens + output_tokens, prices) * prices.a10g_monthly_usd
    return _positive(volume, "volume") * llm_call_usd(prompt_tokens, output_tokens, prices,
                                                      prices.hosted_ft_multiplier)


# ---------------------------------------------------------------------------------------------
# The strategies, each as a breakdown (component -> dollars a month); totals are their sums
# ---------------------------------------------------------------------------------------------

def rag_breakdown(volume: float, prompt_tokens: float = GUIDE_RAG_PROMPT_TOKENS,
                  output_tokens: float = GUIDE_OUTPUT_TOKENS, prices: Prices | None = None) -> dict[str, float]:
    """RAG a month: vector DB (flat) + embeddings (per query) + LLM calls (volume x call price)."""
    prices = _check_prices(prices)
    return {
        "vector DB": prices.vector_db_monthly_usd,
        "embeddings": embedding_usd(volume, prices),
        "LLM calls": volume * llm_call_usd(prompt_tokens, output_tokens, prices),
    }


def ft_breakdown(volume: float, prompt_tokens: float = GUIDE_FT_PROMPT_TOKENS,
                 output_tokens: float = GUIDE_OUTPUT_TOKENS, update_frequency: str = "monthly",
                 hosting: str = "self-hosted", prices: Prices | None = None) -> dict[str, float]:
    """Fine-tuned a month: training (amortised over retrains) + serving (self-hosted GPUs or hosted calls)."""
    prices = _check_prices(prices)
    return {
        "training": training_monthly_usd(update_frequency, prices),
        f"serving ({hosting})": serving_usd(volume, prompt_tokens, output_tokens, hosting, prices),
    }


def hybrid_breakdown(volume: float, prompt_tokens: float = GUIDE_RAG_PROMPT_TOKENS,
                     output_tokens: float = GUIDE_OUTPUT_TOKENS, update_frequency: str = "monthly",
                     hosting: str = "self-hosted", prices: Prices | None = None) -> dict[str, float]:
    """FT+RAG a month: the fine-tuned model reads the RAG prompt, plus the vector DB and embeddings."""
    prices = _check_prices(prices)
    rag = rag_breakdown(volume, prompt_tokens, output_tokens, prices)
    return {"vector DB": rag["vector DB"], "embeddings": rag["embeddings"],
            **ft_breakdown(volume, prompt_tokens, output_tokens, update_frequency, hosting, prices)}


def gated_breakdown(volume: float, retrieval_share: float = GUIDE_RETRIEVAL_SHARE,
                    ft_prompt_tokens: float = GUIDE_FT_PROMPT_TOKENS,
                    rag_prompt_tokens: float = GUIDE_RAG_PROMPT_TOKENS, output_tokens: float = GUIDE_OUTPUT_TOKENS,
                    update_frequency: str = "monthly", hosting: str = "self-hosted",
                    prices: Prices | None = None) -> dict[str, float]:
    """The confidence-gated stack a month: the fine-tuned model answers every query first; the share
    `retrieval_share` it is unsure about also goes through RAG (vector DB + embeddings + an LLM call)."""
    prices = _check_prices(prices)
    share = _check_share(retrieval_share)
    rag = rag_breakdown(volume, rag_prompt_tokens, output_tokens, prices)
    return {**ft_breakdown(volume, ft_prompt_tokens, output_tokens, update_frequency, hosting, prices),
            "vector DB": rag["vector DB"],
            "RAG fallback (embeddings + LLM)": share * (rag["embeddings"] + rag["LLM calls"])}


def total(breakdown: dict[str, float]) -> float:
    """The sum of a breakdown's components."""
    return float(sum(breakdown.values()))


def rag_monthly(volume: float, **kwargs) -> float:
    """Total of :func:`rag_breakdown`."""
    return total(rag_breakdown(volume, **kwargs))


def ft_monthly(volume: float, **kwargs) -> float:
    """Total of :func:`ft_breakdown`."""
    return total(ft_breakdown(volume, **kwargs))


def hybrid_monthly(volume: float, **kwargs) -> float:
    """Total of :func:`hybrid_breakdown`."""
    return total(hybrid_breakdown(volume, **kwargs))


def gated_monthly(volume: float, **kwargs) -> float:
    """Total of :func:`gated_breakdown`."""
    return total(gated_breakdown(volume, **kwargs))


# ---------------------------------------------------------------------------------------------
# One workload, every strategy
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Workload:
    """What the application does: tokens per query for each pipeline, retraining, the gate's retrieval share.

    The defaults are the guide's assumed sizes; notebook 09 replaces the prompt tokens with measured ones.
    """

    rag_prompt_tokens: float = GUIDE_RAG_PROMPT_TOKENS
    ft_prompt_tokens: float = GUIDE_FT_PROMPT_TOKENS
    output_tokens: float = GUIDE_OUTPUT_TOKENS
    update_frequency: str = "monthly"
    retrieval_share: float = GUIDE_RETRIEVAL_SHARE
    hybrid_hosting: str = "self-hosted"

    def __post_init__(self):
        for name in ("rag_prompt_tokens", "ft_prompt_tokens", "output_tokens"):
            _positive(getattr(self, name), name)
        check_frequency(self.update_frequency)
        _check_share(self.retrieval_share)
        _check_hosting(self.hybrid_hosting)

    @property
    def prompt_shrink(self) -> float:
        """How much shorter the fine-tuned prompt is than the RAG prompt: 1 - FT / RAG."""
        return 1 - self.ft_prompt_tokens / self.rag_prompt_tokens


def _workload(workload: Workload | None, overrides: dict) -> Workload:
    workload = workload or Workload()
    if not isinstance(workload, Workload):
        raise TypeError(f"workload must be a costs.Workload, got {type(workload).__name__}")
    return replace(workload, **overrides) if overrides else workload


def breakdowns(volume: float, workload: Workload | None = None, prices: Prices | None = None,
               **overrides) -> dict[str, dict[str, float]]:
    """Every strategy's breakdown at `volume` calls a month (keyword overrides change the workload)."""
    w, p = _workload(workload, overrides), _check_prices(prices)
    f = w.update_frequency
    return {
        "RAG": rag_breakdown(volume, w.rag_prompt_tokens, w.output_tokens, p),
        "FT self-hosted": ft_breakdown(volume, w.ft_prompt_tokens, w.output_tokens, f, "self-hosted", p),
        "FT hosted": ft_breakdown(volume, w.ft_prompt_tokens, w.output_tokens, f, "hosted", p),
        "FT+RAG": hybrid_breakdown(volume, w.rag_prompt_tokens, w.output_tokens, f, w.hybrid_hosting, p),
        "gated": gated_breakdown(volume, w.retrieval_share, w.ft_prompt_tokens, w.rag_prompt_tokens,
                                 w.output_tokens, f, w.hybrid_hosting, p),
    }


def monthly_costs(volume: float, workload: Workload | None = None, prices: Prices | None = None,
                  **overrides) -> dict[str, float]:
    """Every strategy's monthly total at `volume` calls a month."""
    return {name: total(parts) for name, parts in breakdowns(volume, workload, prices, **overrides).items()}


def cost_table(volumes, workload: Workload | None = None, prices: Prices | None = None, **overrides):
    """A pandas DataFrame of monthly totals: one row per volume, one column per strategy."""
    import pandas as pd

    volumes = list(volumes)
    if not volumes:
        raise ValueError("volumes is empty: give at least one monthly volume")
    rows = [monthly_costs(v, workload, prices, **overrides) for v in volumes]
    table = pd.DataFrame(rows, index=pd.Index(volumes, name="calls / month"))
    return table[list(STRATEGIES)]


def log_volumes(low: float = 1e4, high: float = 1e8, points: int = 81) -> list[float]:
    """Volumes evenly spaced on a log scale from `low` to `high` (for a cost-vs-volume plot)."""
    low, high = _positive(low, "low"), _positive(high, "high")
    if high <= low or points < 2:
        raise ValueError(f"need low < high and at least 2 points, got low={low}, high={high}, points={points}")
    step = (math.log10(high) - math.log10(low)) / (points - 1)
    return [10 ** (math.log10(low) + i * step) for i in range(points)]


# ---------------------------------------------------------------------------------------------
# Break-even
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class BreakEven:
    """Where two strategies cost the same. `volume` is None when they never cross below `max_volume`."""

    a: str
    b: str
    volume: float | None
    cheaper_below: str
    cheaper_above: str | None
    reason: str


def _gpu_tokens(strategy: str, w: Workload) -> float | None:
    """Tokens per call a self-hosted GPU serves for `strategy` (None: no self-hosted GPU, no steps)."""
    if strategy == "FT self-hosted" or (strategy == "gated" and w.hybrid_hosting == "self-hosted"):
        return w.ft_prompt_tokens + w.output_tokens
    if strategy == "FT+RAG" and w.hybrid_hosting == "self-hosted":
        return w.rag_prompt_tokens + w.output_tokens
    return None


def _check_strategy(name: str) -> str:
    if name not in STRATEGIES:
        raise ValueError(f"unknown strategy {name!r}; choose one of {list(STRATEGIES)}")
    return name


def break_even_volume(a: str = "RAG", b: str = "FT self-hosted", workload: Workload | None = None,
                      prices: Prices | None = None, max_volume: float = 1e9, **overrides) -> BreakEven:
    """The smallest monthly volume at which the cheaper of `a` and `b` changes, solved exactly.

    Every strategy costs fixed + per-call x volume, plus a step of one A10G price each time a
    self-hosted GPU fills up. Between two steps the difference of two strategies is a straight
    line, so each stretch is solved in closed form (no scanning over volumes); a crossing can also
    happen at a step. Returns ``volume=None`` with a reason when the lines do not cross up to
    `max_volume`.
    """
    _check_strategy(a), _check_strategy(b)
    if a == b:
        raise ValueError(f"compare two different strategies, got {a!r} twice")
    w, p = _workload(workload, overrides), _check_prices(prices)
    max_volume = _positive(max_volume, "max_volume")

    def diff(volume: float) -> float:
        costs = monthly_costs(volume, w, p)
        return costs[a] - costs[b]

    capacity = p.a10g_tokens_per_second * SECONDS_PER_MONTH
    steps = {0.0, max_volume}
    for tokens in filter(None, (_gpu_tokens(a, w), _gpu_tokens(b, w))):
        per_gpu = capacity / tokens  # calls a month one GPU serves
        steps.update(k * per_gpu for k in range(1, math.floor(max_volume / per_gpu) + 1))
    bounds = sorted(steps)
    start_sign = None
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        # Inside (lo, hi] every GPU count is fixed, so the difference is a line: read it at two inner points.
        x1, x2 = lo + (hi - lo) / 4, lo + 3 * (hi - lo) / 4
        d1, d2 = diff(x1), diff(x2)
        slope = (d2 - d1) / (x2 - x1)
        at_lo, at_hi = d1 - slope * (x1 - lo), d1 + slope * (hi - x1)
        if start_sign is None:
            start_sign = _sign(at_lo) or _sign(slope) or 1
        elif _sign(at_lo) == -start_sign:
            return _crossing(a, b, lo, start_sign, "at a GPU step")  # the difference jumped across zero
        if _sign(at_hi) == -start_sign:
            return _crossing(a, b, lo - at_lo / slope, start_sign, "")
    low_costs, high_costs = monthly_costs(1.0, w, p), monthly_costs(max_volume, w, p)
    cheaper = a if start_sign < 0 else b
    other = b if cheaper == a else a
    reason = (f"{cheaper} stays cheaper than {other} at every volume up to {max_volume:,.0f} calls a month "
              f"(${low_costs[cheaper]:,.0f} vs ${low_costs[other]:,.0f} at 1 call, "
              f"${high_costs[cheaper]:,.0f} vs ${high_costs[other]:,.0f} at {max_volume:,.0f})")
    return BreakEven(a, b, None, cheaper, None, reason)


def _sign(x: float, tolerance: float = 1e-6) -> int:
    """+1, -1, or 0 within a millionth of a dollar (float noise of equal costs counts as equal)."""
    x = float(x)
    return (x > tolerance) - (x < -tolerance)


def _crossing(a: str, b: str, volume: float, start_sign: float, how: str) -> BreakEven:
    below, above = (a, b) if start_sign < 0 else (b, a)
    how = f" ({how})" if how else ""
    reason = f"{below} is cheaper below {volume:,.0f} calls a month, {above} above{how}"
    return BreakEven(a, b, volume, below, above, reason)
