"""The course's tasks as chat conversations: one system prompt, user message, target and score per task.

Every notebook that prompts, trains or scores a model on a task goes through here, so the base
model, the fine-tuned model and the RAG stack see the same prompts and are scored the same way.

Example::

    from helpers import data, tasks
    item = data.load_task("json_extraction", "test")[0]
    tasks.messages("json_extraction", item)                 # [system, user]
    tasks.messages("json_extraction", item, answer=True)    # [system, user, assistant]: training data
    tasks.score("json_extraction", item, model_output)      # {"valid": ..., "field_accuracy": ..., "score": ...}
"""

from __future__ import annotations

import json
from functools import lru_cache

TASKS = ("qa_static", "qa_live", "multihop", "json_extraction", "tone", "sql")
KNOWLEDGE_TASKS = ("qa_static", "qa_live", "multihop")
BEHAVIOUR_TASKS = ("json_extraction", "tone", "sql")

QA_SYSTEM = "You are the Corvasse support assistant. Answer the question in one short sentence."
JSON_SYSTEM = (
    "Extract the support ticket into one JSON object with exactly these keys: customer_name, email, phone, "
    "plan, error_code, product_area, priority, order_id. Use null for anything the ticket does not say. "
    "Reply with the JSON object only."
)
TONE_SYSTEM = "You are Corvasse Support. Reply to the customer's message."
SQL_SYSTEM = "Write one SQLite query that answers the question. Reply with the SQL only.\nTables:\n{schema}"
JSON_KEYS = ("customer_name", "email", "phone", "plan", "error_code", "product_area", "priority", "order_id")


@lru_cache(maxsize=1)
def sql_schema() -> str:
    """The analytics tables as one compact line each: ``table(column, column, ...)``."""
    from . import data

    tables = data.load_facts(1)["analytics"]["tables"]
    return "\n".join(f"{name}({', '.join(col[0] for col in spec['columns'])})" for name, spec in tables.items())


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; choose one of {list(TASKS)}")


def system_prompt(task: str) -> str:
    """The system prompt of `task` (the same for base, fine-tuned and RAG models)."""
    _check_task(task)
    if task == "json_extraction":
        return JSON_SYSTEM
    if task == "tone":
        return TONE_SYSTEM
    if task == "sql":
        return SQL_SYSTEM.format(schema=sql_schema())
    return QA_SYSTEM


def user_text(task: str, item: dict) -> str:
    """What the user says: the question, the ticket or the customer's message."""
    _check_task(task)
    key = {"json_extraction": "ticket", "tone": "message"}.get(task, "question")
    if not isinstance(item.get(key), str):
        raise ValueError(f"a {task} item needs a string {key!r}; got {item.get(key)!r} in item {item.get('id', '?')!r}")
    return item[key]


def target_text(task: str, item: dict, version: int = 1) -> str:
    """The assistant's ideal reply, used as the training target."""
    _check_task(task)
    if task == "json_extraction":
        return json.dumps({k: item["target"].get(k) for k in JSON_KEYS}, ensure_ascii=False)
    if task == "tone":
        return item["reply"]
    if task == "sql":
        return item["sql"]
    answer = item.get("answer") or item.get(f"answer_v{version}")
    sources = item.get("sources") or item.get(f"sources_v{version}") or []
    return f"{answer} [{sources[0]}]" if sources else str(answer)


def rag_system_prompt(task: str) -> str:
    """The system prompt of `task` when retrieved context comes with it (the RAG and FT+RAG systems).

    Knowledge tasks get ``rag.RAG_SYSTEM`` (answer from the context, cite the article); behaviour tasks keep
    their own instructions, since the format they ask for does not change when context is added.
    """
    from . import rag

    _check_task(task)
    return rag.RAG_SYSTEM if task in KNOWLEDGE_TASKS else system_prompt(task)


def messages(task: str, item: dict, answer: bool = False, system: str | None = None, version: int = 1,
             context=None, max_words: int = 300) -> list[dict]:
    """The conversation for `item`: [system, user], plus the assistant target when `answer` is True.

    With ``context`` (a list of ``rag.Hit``) the retrieved chunks are put in the system message the way
    ``rag.assemble_messages`` does it: ``[System] + [Retrieved context] + [User query]``. An empty list
    means retrieval found nothing: the prompt is then the plain one (no empty "Context:" block).
    """
    from . import rag

    if context:
        head = system or rag_system_prompt(task)
        system = f"{head}\n\nContext:\n{rag.format_context(context, max_words=max_words)}"
    conversation = [{"role": "system", "content": system or system_prompt(task)},
                    {"role": "user", "content": user_text(task, item)}]
    if answer:
        conversation.append({"role": "assistant", "content": target_text(task, item, version)})
    return conversation


def score(task: str, item: dict, output: str, version: int = 1, conn=None) -> dict:
    """Score one model output; every result has a ``score`` in [0, 1] (the benchmark's headline metric).

    qa_*: ``evaluate.grade`` (the answer or an alias stated in the reply; ``reason`` says why not). json_extraction: field accuracy (plus validity and exactness).
    tone: the style-guide rubric (plus ``fact`` when the reply must state one). sql: execution match.
    """
    from . import data, evaluate

    _check_task(task)
    if not isinstance(output, str):
        raise TypeError(f"a model output is a string, got {type(output).__name__}")
    if task in KNOWLEDGE_TASKS:
        verdict = evaluate.grade(output, **evaluate.qa_gold(item, version), question=item.get("question"))
        return {"correct": verdict.correct, "reason": verdict.reason, "score": float(verdict.correct)}
    if task == "json_extraction":
        result = evaluate.json_scores(output, item["target"])
        return {**result, "score": result["field_accuracy"]}
    if task == "tone":
        return evaluate.tone_score(output, item)
    conn = conn or data.analytics_db()
    ok = evaluate.sql_execution_match(output, item["sql"], conn)
    return {"correct": ok, "runs": ok or evaluate.sql_runs(output, conn), "score": float(ok)}


# The tasks whose answer format can be written as a constraint for the decoder (helpers.constrain): the
# ticket JSON Schema, and a grammar of SQLite queries over the analytics database's own tables and columns.
# A tone is not a format a grammar can hold (greeting, voice, length in words), so tone has none.
CONSTRAINABLE = ("json_extraction", "sql")


def constraint(task: str) -> dict:
    """The decoding constraint of `task` as keyword arguments for ``generate.generate``: ``{"schema": ...}``
    for json_extraction, ``{"grammar": ...}`` for sql (built from the database, ``constrain.sql_grammar``)."""
    from . import data

    _check_task(task)
    if task == "json_extraction":
        return {"schema": data.ticket_schema()}
    if task == "sql":
        return {"grammar": _sql_grammar()}
    raise ValueError(f"{task!r} has no decoding constraint; the constrainable tasks are {list(CONSTRAINABLE)}")


@lru_cache(maxsize=1)
def _sql_grammar() -> str:
    from . import constrain, data

    return constrain.sql_grammar(constrain.sql_tables(data.analytics_db()))


# Enough room for each task's answer; more only lets a model ramble (and costs time on CPU).
MAX_NEW_TOKENS = {"qa_static": 32, "qa_live": 32, "multihop": 32, "json_extraction": 96, "tone": 80, "sql": 72}


def run(gen, task: str, items: list[dict], batch_size: int | None = None, system: str | None = None, version: int = 1,
        progress: bool = True, contexts=None, max_words: int = 300, sort_by_length: bool = True,
        constrained: bool = False, prompts: list[list[dict]] | None = None) -> list[dict]:
    """Generate an answer for every item and score it: one dict per item with id, output and the scores.

    ``prompts``, when given, holds one conversation per item to send instead of ``messages`` (the few-shot
    prompts of ``helpers.fewshot``); ``contexts`` and ``system`` must then be left out.

    ``constrained=True`` decodes under the task's ``constraint`` (json_extraction, sql); each row then also
    records ``truncated``: the answer ran out of tokens before it was complete.

    ``batch_size`` None uses ``generate.EVAL_BATCH_SIZE`` (the batch measured fastest for evaluation).
    ``contexts``, when given, holds one list of retrieved ``rag.Hit`` per item (the RAG systems); each
    result then also records ``prompt_tokens``.
    """
    from . import data, generate

    _check_task(task)
    if not items:
        raise ValueError(f"no {task} items to run")
    if contexts is not None and len(contexts) != len(items):
        raise ValueError(f"{len(items)} items but {len(contexts)} contexts: give one list of hits per item")
    if prompts is not None and (contexts is not None or system is not None):
        raise ValueError("give either ready prompts= or the pieces to build them (contexts=, system=), not both")
    if prompts is not None and len(prompts) != len(items):
        raise ValueError(f"{len(items)} items but {len(prompts)} prompts: give one conversation per item")
    contexts = contexts if contexts is not None else [None] * len(items)
    conn = data.analytics_db() if task == "sql" else None
    prompts = prompts or [messages(task, it, system=system, version=version, context=ctx, max_words=max_words)
                          for it, ctx in zip(items, contexts, strict=True)]
    out = generate.generate(gen, prompts, max_new_tokens=MAX_NEW_TOKENS[task],
                            batch_size=batch_size or generate.EVAL_BATCH_SIZE, progress=progress,
                            sort_by_length=sort_by_length, **(constraint(task) if constrained else {}))
    extra = [{"truncated": bool(cut)} for cut in out.truncated] if constrained else [{}] * len(items)
    return [{"id": it["id"], "task": task, "output": text, "prompt_tokens": n, "new_tokens": m, **more,
             **score(task, it, text, version=version, conn=conn)}
            for it, text, n, m, more in zip(items, out.texts, out.prompt_tokens, out.new_tokens, extra, strict=True)]
