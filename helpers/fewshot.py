"""The prompting rival of fine-tuning on the behaviour tasks: instructions, the task's own reference, and
solved examples retrieved by similarity (dynamic few-shot).

Before training a model to write a format or a voice, a practitioner writes a better prompt: the task's
instructions, the reference the format is defined by (the style guide's rules for tone, the ticket schema's
fields for JSON extraction, the tables and their columns for SQL) and the ``k`` solved examples from the
training split nearest to the new input, as earlier turns of the conversation. Notebook 08 writes one such
prompt out by hand; this module is the same ten lines, packaged.

Example::

    from helpers import fewshot, tasks
    pool = fewshot.Pool("tone")                          # the train split, embedded once
    item = data.load_task("tone", "test")[0]
    conversation = fewshot.messages("tone", item, pool.nearest(item, k=2))
    curve = fewshot.choose_k(gen, "tone", data.load_task("tone", "dev")[:20], pool=pool)   # k chosen on dev
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache

from . import tasks

TASKS = tasks.BEHAVIOUR_TASKS  # fact tasks have their rival already: retrieval (RAG)
KS = (0, 1, 2, 4)  # the k tried on dev; 0 is the instructions and the reference alone
DEFAULT_K = 2      # used only where no k was chosen on dev (a notebook opened out of order)
STYLE_GUIDE_TITLE = "Support style guide"  # the corpus article that defines the voice (tone's reference)


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise ValueError(f"few-shot prompting is the rival on the behaviour tasks {list(TASKS)}; got {task!r} "
                         "(the fact tasks' rival is retrieval: systems 'RAG')")
    return task


def style_rules(corpus: Sequence[Mapping] | None = None) -> str:
    """The rules section of the style guide article in the corpus (``STYLE_GUIDE_TITLE``), as written there."""
    from . import data

    corpus = data.load_corpus(1) if corpus is None else corpus
    guide = [a for a in corpus if str(a.get("title", "")).startswith(STYLE_GUIDE_TITLE)]
    if not guide:
        raise LookupError(f"no article titled {STYLE_GUIDE_TITLE!r}... in the corpus: the tone task's reference is "
                          "the style guide's rules; add the style guide article (data/corpus/v1/KB-190.md) back")
    text = guide[0]["text"]
    start = text.find("## The rules")
    if start < 0:
        raise LookupError(f"the style guide {guide[0].get('id', '?')} has no '## The rules' section to quote")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None].replace("## The rules", "Style guide rules:", 1).strip()


def _field_line(name: str, spec: Mapping) -> str:
    if "enum" in spec:
        values = ", ".join("null" if v is None else str(v) for v in spec["enum"])
        kind = f"one of {values}"
    else:
        kind = " or ".join(t for t in ([spec.get("type")] if isinstance(spec.get("type"), str) else spec.get("type", [])))
    return f"- {name}: {kind}; {spec.get('description', '')}".rstrip("; ")


def schema_fields(schema: Mapping | None = None) -> str:
    """The ticket schema's fields, one line each: name, type or allowed values, and its description."""
    from . import data

    schema = data.ticket_schema() if schema is None else schema
    props = schema.get("properties")
    if not props:
        raise ValueError("the JSON Schema has no 'properties' to list as the task's reference")
    return "Fields:\n" + "\n".join(_field_line(name, spec) for name, spec in props.items())


def sql_tables() -> str:
    """The analytics tables with each column's type and meaning."""
    from . import data

    tables = data.load_facts(1)["analytics"]["tables"]
    return "Columns:\n" + "\n".join(f"- {name}.{col[0]} ({col[1]}): {col[2]}" for name, spec in tables.items()
                                    for col in spec["columns"])


@cache
def reference(task: str) -> str:
    """The task's own reference: the style guide's rules (tone), the schema's fields (JSON), the columns (SQL)."""
    _check_task(task)
    return {"tone": style_rules, "json_extraction": schema_fields, "sql": sql_tables}[task]()


def system_prompt(task: str) -> str:
    """The task's instructions followed by its reference."""
    return f"{tasks.system_prompt(task)}\n\n{reference(task)}"


def messages(task: str, item: Mapping, examples: Sequence[Mapping] = ()) -> list[dict]:
    """The few-shot conversation: [system (instructions + reference)] + [user, assistant] per solved example
    + [user: the new input]."""
    turns = [{"role": "system", "content": system_prompt(task)}]
    for ex in examples:
        turns += [{"role": "user", "content": tasks.user_text(task, ex)},
                  {"role": "assistant", "content": tasks.target_text(task, ex)}]
    return turns + [{"role": "user", "content": tasks.user_text(task, dict(item))}]


class Pool:
    """The solved examples of one task (its train split, or ``items``), embedded once for nearest-neighbour search."""

    def __init__(self, task: str, items: Sequence[Mapping] | None = None, embedder=None):
        from . import data

        self.task = _check_task(task)
        if items is None:
            try:
                items = data.load_task(task, "train")
            except FileNotFoundError as err:
                raise FileNotFoundError(f"few-shot {task} needs solved examples: no train split ({err})") from err
        self.items = [dict(it) for it in items]
        if not self.items:
            raise ValueError(f"few-shot {task} needs solved examples to retrieve from; the pool is empty")
        self._embedder = embedder
        self._vectors = None

    def _encode(self, texts: Sequence[str]):
        if self._embedder is None:
            from . import models

            self._embedder = models.load_embedder()
        return self._embedder.encode(list(texts), normalize_embeddings=True, convert_to_numpy=True,
                                     show_progress_bar=False)

    @property
    def vectors(self):
        if self._vectors is None:
            self._vectors = self._encode([tasks.user_text(self.task, it) for it in self.items])
        return self._vectors

    def nearest(self, item: Mapping, k: int, exclude_same: str | None = None) -> list[dict]:
        """The `k` solved examples whose input is most similar to `item`'s (cosine), most similar last (nearest
        the new input in the prompt); an example with `item`'s own id is never returned, nor, with
        ``exclude_same`` (a field such as the SQL items' ``family``: the question template), one that shares
        that field's value with `item`."""
        return self.nearest_many([item], k, exclude_same)[0]

    def nearest_many(self, items: Sequence[Mapping], k: int, exclude_same: str | None = None) -> list[list[dict]]:
        import numpy as np

        if isinstance(k, bool) or not isinstance(k, int) or k < 0:
            raise ValueError(f"k is the number of solved examples, an integer >= 0; got {k!r}")
        if k > len(self.items):
            raise ValueError(f"k={k} but the {self.task} pool holds {len(self.items)} solved examples; "
                             f"choose k <= {len(self.items)}")
        if k == 0:
            return [[] for _ in items]
        queries = self._encode([tasks.user_text(self.task, dict(it)) for it in items])
        sims = queries @ self.vectors.T
        out = []
        if exclude_same and any(exclude_same not in it for it in [*items, *self.items]):
            raise KeyError(f"exclude_same={exclude_same!r}: not every item and example has that field")
        for it, row in zip(items, sims, strict=True):
            order = [i for i in np.argsort(-row, kind="stable") if self.items[i].get("id") != it.get("id")
                     and not (exclude_same and self.items[i][exclude_same] == it[exclude_same])]
            out.append([self.items[i] for i in order[:k]][::-1])
        return out


def prompts(task: str, items: Sequence[Mapping], k: int, pool: Pool | None = None, exclude_same: str | None = None
            ) -> list[list[dict]]:
    """One few-shot conversation per item, with its `k` nearest solved examples (``Pool.nearest``)."""
    pool = pool or Pool(task)
    return [messages(task, it, ex) for it, ex in zip(items, pool.nearest_many(items, k, exclude_same), strict=True)]


def choose_k(gen, task: str, items: Sequence[Mapping], ks: Sequence[int] = KS, pool: Pool | None = None,
             progress: bool = True) -> dict:
    """Score every k of `ks` on `items` (a dev split: never the test items) and pick the best; a tie within
    one point goes to the smaller k (a shorter prompt). Returns ``{"k": ..., "curve": [{k, n, score, low,
    high, prompt_tokens}, ...]}``."""
    from .progress import bar
    from .stats import bootstrap_ci

    if not items:
        raise ValueError(f"choose k on some {task} dev items; got none")
    if not ks:
        raise ValueError("give at least one k to try")
    pool = pool or Pool(task)
    curve = []
    for k in bar(list(ks), desc=f"few-shot {task}: k", disable=not progress):
        rows = tasks.run(gen, task, list(items), progress=False, prompts=prompts(task, items, k, pool))
        mean, low, high = bootstrap_ci([r["score"] for r in rows])
        curve.append({"k": k, "n": len(rows), "score": mean, "low": low, "high": high,
                      "prompt_tokens": sum(r["prompt_tokens"] for r in rows) / len(rows)})
    top = max(c["score"] for c in curve)
    best = min((c for c in curve if c["score"] >= top - 0.01), key=lambda c: c["k"])
    return {"task": task, "k": best["k"], "curve": curve}

