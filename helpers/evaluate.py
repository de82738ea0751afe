"""Deterministic metrics for every task of the course (no LLM judge).

- QA: :func:`answer_correct` and :func:`grade` (the one QA grader, ``helpers.grader``: the answer anywhere in
  the reply, no credit for echoes, hedges, negations or a rival value); :func:`exact_match` is the old strict
  rule (whole reply or at most 20 words), kept only to compare the two in notebook 04.
- JSON extraction: :func:`json_scores` (validity, exact object, per-field accuracy).
- Tone: :func:`tone_score` (the style guide's rules, read from the facts file).
- SQL: :func:`sql_execution_match` (result multisets compared on the analytics database).
- Retrieval: :func:`recall_at_k`, :func:`mrr`, :func:`ndcg_at_k`.
"""

from __future__ import annotations

import json
import math
import re
import sqlite3
from collections import Counter
from collections.abc import Sequence

# normalize lives in textnorm, the bottom of the layering, so data can use it without importing evaluate;
# evaluate.normalize stays the name the notebooks and tests use.
from .grader import REASONS, Verdict, answer_correct, exact_match, grade  # noqa: F401  (the QA grader: helpers.grader)
from .textnorm import normalize  # noqa: F401


def qa_gold(item: dict, version: int = 1) -> dict:
    """A question item's gold at corpus `version`: ``{"answer", "aliases", "others"}``; ``others`` are the
    rival values of the same fact (a live fact's answer in the other corpus version), for :func:`grade`.

    >>> qa_gold({"answer_v1": "14 days", "aliases_v1": ["14"], "answer_v2": "30 days", "aliases_v2": ["30"]}, 2)
    {'answer': '30 days', 'aliases': ['30'], 'others': ['14 days', '14']}
    """
    if not isinstance(item, dict):
        raise TypeError(f"item must be a task item (a dict), got {type(item).__name__}")
    if version not in (1, 2):
        raise ValueError(f"version must be 1 or 2, got {version!r}")
    if item.get("answer"):
        return {"answer": item["answer"], "aliases": list(item.get("aliases") or []), "others": []}
    if f"answer_v{version}" not in item:
        raise KeyError(f"item {item.get('id', '?')!r} has neither 'answer' nor 'answer_v{version}'")
    other = 3 - version
    answer = item[f"answer_v{version}"]
    others = []
    if item.get(f"answer_v{other}") and normalize(item[f"answer_v{other}"]) != normalize(answer):
        others = [item[f"answer_v{other}"], *item.get(f"aliases_v{other}", [])]
    return {"answer": answer, "aliases": list(item.get(f"aliases_v{version}") or []), "others": others}


def _first_json_object(text: str) -> dict | None:
    """The first JSON object in ``text`` (code fences and surrounding prose are ignored)."""
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", text):
        try:
            obj, _ = decoder.raw_decode(text, m.start())
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            return obj
    return None


def json_scores(pred_text: str, target: dict, schema: dict | None = None) -> dict:
    """Score a JSON-extraction prediction against the gold object.

    Returns ``{"valid", "exact", "field_accuracy"}``: ``valid`` is True when the first JSON
    object in ``pred_text`` parses and validates against the ticket schema (``schema``, by
    default :func:`helpers.data.ticket_schema`); ``exact`` when it equals ``target``;
    ``field_accuracy`` is the share of the target's fields with an equal value (strings
    compared after stripping and, for emails, lower-casing).
    """
    if not isinstance(pred_text, str):
        raise TypeError(f"pred_text must be a string, got {type(pred_text).__name__}")
    if not isinstance(target, dict) or not target:
        raise TypeError("target must be a non-empty dict")
    obj = _first_json_object(pred_text)
    if obj is None:
        return {"valid": False, "exact": False, "field_accuracy": 0.0}
    if schema is None:
        from .data import ticket_schema
        schema = ticket_schema()
    import jsonschema

    valid = jsonschema.Draft202012Validator(schema).is_valid(obj)

    def same(key: str) -> bool:
        a, b = obj.get(key), target[key]
        if isinstance(a, str) and isinstance(b, str):
            a, b = a.strip(), b.strip()
            if key == "email":
                a, b = a.lower(), b.lower()
        return a == b

    hits = sum(same(k) for k in target)
    return {"valid": valid, "exact": valid and hits == len(target) and set(obj) == set(target),
            "field_accuracy": hits / len(target)}


def _voice(voice: dict | None) -> dict:
    if voice is None:
        from .data import load_facts
        voice = load_facts(1)["brand_voice"]
    return voice


def tone_score(reply: str, item: dict, voice: dict | None = None) -> dict:
    """Check a reply against the brand-voice rules of the style guide.

    ``item`` is a ``tone`` task item (uses ``customer_first_name``, ``needs_apology``,
    ``fact_answer``, ``fact_aliases``, ``sources``). The rules come from
    ``facts["brand_voice"]`` (pass ``voice`` to override). Returns one boolean per rule
    (greeting, sign_off, length, no_exclamation, no_banned, apology, citation), ``score``:
    the share of rules passed, in [0, 1], and ``fact``: whether the reply states the gold
    fact (None when the item has none; not part of ``score``).
    """
    if not isinstance(reply, str):
        raise TypeError(f"reply must be a string, got {type(reply).__name__}")
    if not isinstance(item, dict) or "customer_first_name" not in item:
        raise TypeError("item must be a tone task item (a dict with customer_first_name)")
    v = _voice(voice)
    lines = [ln.strip() for ln in reply.strip().splitlines() if ln.strip()]
    first = item["customer_first_name"]
    lowered = reply.lower()
    apologies = lowered.count(v["apology_phrase"].lower())
    rules = {
        "greeting": bool(lines) and lines[0] == v["greeting"].format(first_name=first),
        "sign_off": bool(lines) and lines[-1] == v["sign_off"],
        "length": len(reply.split()) <= v["max_words"],
        "no_exclamation": "!" not in reply if v.get("no_exclamation", True) else True,
        "no_banned": not any(re.search(r"\b" + re.escape(p.lower()) + r"\b", lowered) for p in v["banned_phrases"]),
        "apology": apologies == 1 if item.get("needs_apology") else apologies == 0,
        "citation": True,
    }
    fact = None
    if item.get("fact_answer"):
        cites = [v["citation_format"].format(article_id=s) for s in item.get("sources", [])]
        rules["citation"] = any(c in reply for c in cites)
        body = "\n".join(lines[1:-1]) if len(lines) > 2 else reply
        fact = answer_correct(body, item["fact_answer"], item.get("fact_aliases", []))
    score = sum(rules.values()) / len(rules)
    return {**rules, "score": score, "fact": fact}


def _rows(conn: sqlite3.Connection, sql: str) -> list[tuple]:
    return [tuple(round(x, 6) if isinstance(x, float) else x for x in row) for row in conn.execute(sql).fetchall()]


def _first_select(pred_sql) -> str | None:
    """The first statement of a model's SQL (code fences and a leading "sql" dropped) if it is a SELECT or
    WITH query, else None."""
    if not isinstance(pred_sql, str):
        return None
    pred = pred_sql.strip().strip("`")
    pred = re.sub(r"^sql\s", "", pred, flags=re.I).strip()
    pred = pred.split(";")[0].strip()
    return pred if re.match(r"(?is)^(select|with)\b", pred) else None


def sql_runs(pred_sql: str, conn: sqlite3.Connection) -> bool:
    """True when the first statement of ``pred_sql`` is a SELECT / WITH query that runs on ``conn`` without
    an error (whatever it returns): the SQL counterpart of a JSON answer that follows its schema."""
    pred = _first_select(pred_sql)
    if pred is None:
        return False
    try:
        _rows(conn, pred)
    except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError):
        return False
    return True


def sql_execution_match(pred_sql: str, gold_sql: str, conn: sqlite3.Connection) -> bool:
    """True when ``pred_sql`` returns the same rows as ``gold_sql`` on ``conn``.

    Rows are compared as multisets (order-insensitive) unless the gold query has an
    ORDER BY, then in order. Floats are rounded to 6 decimals. A prediction that fails
    to execute (or is not a string) gives False; it never raises. Only the first
    statement of the prediction is run, and only SELECT / WITH queries are accepted.
    """
    if not isinstance(gold_sql, str) or not isinstance(conn, sqlite3.Connection):
        raise TypeError("gold_sql must be a string and conn a sqlite3.Connection")
    pred = _first_select(pred_sql)
    if pred is None:
        return False
    gold = _rows(conn, gold_sql)
    try:
        got = _rows(conn, pred)
    except (sqlite3.Error, sqlite3.Warning, ValueError, OverflowError):
        return False
    if re.search(r"(?i)\border\s+by\b", gold_sql):
        return got == gold
    return Counter(got) == Counter(gold)


def _check_ids(retrieved_ids: Sequence[str], gold_ids: Sequence[str], k: int | None = None) -> None:
    if isinstance(retrieved_ids, str) or isinstance(gold_ids, str):
        raise TypeError("retrieved_ids and gold_ids must be lists of ids, not a single string")
    if k is not None and (not isinstance(k, int) or k < 1):
        raise ValueError(f"k must be a positive integer, got {k!r}")
    if not gold_ids:
        raise ValueError("gold_ids is empty: every item needs at least one gold source")


def recall_at_k(retrieved_ids: Sequence[str], gold_ids: Sequence[str], k: int) -> float:
    """Share of the gold ids found among the first ``k`` retrieved ids (duplicates ignored)."""
    _check_ids(retrieved_ids, gold_ids, k)
    gold = set(gold_ids)
    return len(gold & set(list(retrieved_ids)[:k])) / len(gold)


def mrr(retrieved_ids: Sequence[str], gold_ids: Sequence[str], k: int | None = None) -> float:
    """Reciprocal rank of the first gold id in the ranking (0 if absent, or beyond ``k``)."""
    _check_ids(retrieved_ids, gold_ids, k)
    gold = set(gold_ids)
    for rank, rid in enumerate(list(retrieved_ids)[:k] if k else retrieved_ids, 1):
        if rid in gold:
            return 1.0 / rank
    return 0.0


def ndcg_at_k(retrieved_ids: Sequence[str], gold_ids: Sequence[str], k: int) -> float:
    """Binary-relevance nDCG@k: DCG of the ranking over the DCG of an ideal ranking."""
    _check_ids(retrieved_ids, gold_ids, k)
    gold = set(gold_ids)
    seen: set[str] = set()
    dcg = 0.0
    for rank, rid in enumerate(list(retrieved_ids)[:k], 1):
        if rid in gold and rid not in seen:
            dcg += 1.0 / math.log2(rank + 1)
        seen.add(rid)
    ideal = sum(1.0 / math.log2(r + 1) for r in range(1, min(len(gold), k) + 1))
    return dcg / ideal
