"""Constrained decoding: every generated token must keep the answer inside a JSON Schema or a grammar.

At each step the model's scores for tokens that cannot continue a valid answer are set to -inf before
the token is picked, so a finished answer is valid by construction. The engine is llguidance (the
library behind llama.cpp's ``%llguidance`` grammars and one of vLLM's structured-output backends): a
3 MB wheel with no other dependency, where xgrammar pulls in triton (about 170 MB) on Linux.

Example::

    from helpers import constrain, data, generate, models
    gen = models.load_generator()
    out = generate.generate(gen, conversations, schema=data.ticket_schema())   # or grammar=<Lark text>
    out.texts, out.truncated          # truncated: the row hit max_new_tokens before the answer was complete

The three calls a project writes itself are in notebook 05 (``llguidance.hf.from_tokenizer``,
``LLMatcher``, the mask applied in a ``transformers.LogitsProcessor``); this module adds the checks,
caches and batching.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

# The separators of json.dumps' defaults, which the course's training targets use (tasks.target_text):
# a constraint that allowed any whitespace would let a small model pad the object with spaces and newlines.
JSON_OPTIONS = {"item_separator": ", ", "key_separator": ": ", "whitespace_flexible": False}


class ConstraintError(ValueError):
    """A schema or grammar that cannot be used, or a row that no token can continue."""


def _llguidance():
    try:
        import llguidance
        import llguidance.hf  # noqa: F401  (the tokenizer bridge, imported here so a missing extra fails early)
    except ImportError as err:  # pragma: no cover - both requirement files pin it
        raise ImportError("constrained decoding needs llguidance: pip install -r requirements.txt") from err
    return llguidance


def schema_grammar(schema: dict | str) -> str:
    """An llguidance grammar from a JSON Schema (a dict or its JSON text), checked before any generation.

    The schema is first checked against its meta-schema (``jsonschema``), so a typo such as
    ``"type": "strin"`` is reported with its path inside the schema; then llguidance compiles it.
    """
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except json.JSONDecodeError as err:
            raise ConstraintError(f"the schema is not valid JSON: {err}") from err
    if not isinstance(schema, dict):
        raise ConstraintError(f"a JSON Schema is a dict (or its JSON text), got {type(schema).__name__}")
    import jsonschema

    validator = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    try:
        validator.check_schema(schema)
    except jsonschema.SchemaError as err:
        where = "/".join(str(p) for p in err.path) or "(the root)"
        raise ConstraintError(f"invalid JSON Schema at {where}: {err.message}") from err
    llguidance = _llguidance()
    return _checked(llguidance.LLMatcher.grammar_from_json_schema(schema, defaults=dict(JSON_OPTIONS)), "schema")


def lark_grammar(text: str) -> str:
    """An llguidance grammar from Lark text (llguidance's Lark variant: ``start`` is the top rule, terminals
    in capitals may be regular expressions, ``%json {...}`` embeds a JSON Schema), checked before use."""
    if not isinstance(text, str) or not text.strip():
        raise ConstraintError("a grammar is a non-empty string in Lark syntax, with a `start:` rule")
    llguidance = _llguidance()
    return _checked(llguidance.LLMatcher.grammar_from_lark(text), "grammar")


def _checked(grammar: str, what: str) -> str:
    llguidance = _llguidance()
    is_error, messages = llguidance.LLMatcher.validate_grammar_with_warnings(grammar)
    if is_error:
        raise ConstraintError(f"the {what} cannot be compiled: {messages[0].strip()}")
    return grammar


def row_grammars(n: int, schema=None, grammar=None) -> list[str | None]:
    """One compiled grammar (or None: free) per row. ``schema`` and ``grammar`` are each one value for
    every row or a list of ``n`` (None where that row is free); a row cannot have both."""
    def per_row(value, name):
        if value is None:
            return [None] * n
        if isinstance(value, list):
            if len(value) != n:
                raise ConstraintError(f"{len(value)} {name}s for {n} conversations: give one, or one per conversation")
            return value
        return [value] * n

    schemas, grammars = per_row(schema, "schema"), per_row(grammar, "grammar")
    compiled: dict[str, str] = {}
    rows: list[str | None] = []
    for i, (s, g) in enumerate(zip(schemas, grammars, strict=True)):
        if s is not None and g is not None:
            raise ConstraintError(f"conversation {i} has both a schema and a grammar: give one")
        if s is None and g is None:
            rows.append(None)
            continue
        key = ("s" + json.dumps(s, sort_keys=True)) if s is not None else "g" + g
        if key not in compiled:
            compiled[key] = schema_grammar(s) if s is not None else lark_grammar(g)
        rows.append(compiled[key])
    return rows


_TOKENIZERS: dict = {}
_TEMPLATES: dict = {}


def tokenizer_for(hf_tokenizer, n_vocab: int, end_ids: Sequence[int]):
    """llguidance's view of a Hugging Face fast tokenizer (about a second to build, so kept per tokenizer)."""
    key = (id(hf_tokenizer), n_vocab, tuple(end_ids))
    if key not in _TOKENIZERS:
        llguidance = _llguidance()
        _TOKENIZERS[key] = (hf_tokenizer, llguidance.hf.from_tokenizer(hf_tokenizer, n_vocab=n_vocab,
                                                                           eos_token=list(end_ids) or None))
    return _TOKENIZERS[key][1]


def matcher(ll_tokenizer, grammar: str):
    """A fresh matcher for `grammar`: a copy of one compiled per tokenizer and grammar."""
    llguidance = _llguidance()
    key = (id(ll_tokenizer), grammar)
    if key not in _TEMPLATES:
        template = llguidance.LLMatcher(ll_tokenizer, grammar, log_level=0)
        if template.is_error():
            raise ConstraintError(f"the constraint cannot be used with this tokenizer: {template.get_error()}")
        _TEMPLATES[key] = template
    return _TEMPLATES[key].deep_copy()


def clear_cache() -> None:
    """Forget the compiled matchers (the next ``matcher`` call compiles again; ``make bench`` times that)."""
    _TEMPLATES.clear()


def allowed_mask(bitmask, vocab: int):
    """Booleans (rows x vocab) from llguidance's bitmask (rows x words of 32 bits, token t = bit t % 32 of
    word t // 32)."""
    import torch

    bits = (bitmask.unsqueeze(-1) >> torch.arange(32, dtype=torch.int32)) & 1
    allowed = bits.reshape(bitmask.shape[0], -1).bool()
    if allowed.shape[1] < vocab:  # the model's head may be wider than the tokenizer: those ids are never allowed
        allowed = torch.cat([allowed, allowed.new_zeros((allowed.shape[0], vocab - allowed.shape[1]))], dim=1)
    return allowed[:, :vocab]


def logits_processor(hf_tokenizer, grammars: Sequence[str | None], n_vocab: int, end_ids: Sequence[int]):
    """A ``transformers.LogitsProcessor`` that keeps row i of a batch inside ``grammars[i]`` (None: free).

    It feeds each row's matcher the token picked at the step before, then masks every token that cannot
    continue. Once a row's answer is complete only an end token is allowed. A row that no token can
    continue raises ``ConstraintError`` at once (never a loop of masked steps). After ``generate`` call
    ``finish(sequences)``: it feeds the last token and returns, per row, whether the answer was cut short
    by ``max_new_tokens`` (True) or is complete (False; None for a free row).
    """
    import llguidance.torch as lltorch
    import torch
    from transformers import LogitsProcessor

    ll_tokenizer = tokenizer_for(hf_tokenizer, n_vocab, end_ids) if any(grammars) else None
    ends = set(end_ids)

    class Constrained(LogitsProcessor):
        def __init__(self):
            self.matchers = [matcher(ll_tokenizer, g) if g is not None else None for g in grammars]
            self.ended = [m is None for m in self.matchers]
            self.steps = 0

        def _feed(self, tokens) -> None:
            for i, m in enumerate(self.matchers):
                if self.ended[i]:
                    continue
                token = int(tokens[i])
                if not m.consume_token(token):
                    raise ConstraintError(f"conversation {i}: token {token} was not allowed: {m.get_error()}")
                if token in ends:  # a complete answer stays masked (only an end token) until the row ends
                    self.ended[i] = True

        def __call__(self, input_ids, scores):
            if self.steps:
                self._feed(input_ids[:, -1])
            self.steps += 1
            bitmask = torch.full(lltorch.get_bitmask_shape(len(self.matchers), ll_tokenizer.vocab_size), -1,
                                 dtype=torch.int32)
            for i, m in enumerate(self.matchers):
                if self.ended[i]:
                    continue
                lltorch.fill_next_token_bitmask(m, bitmask, i)
                if m.is_error():
                    raise ConstraintError(f"conversation {i}: {m.get_error()}")
                if not bool(bitmask[i].any()):
                    raise ConstraintError(f"conversation {i}: no token can continue the answer under its constraint "
                                          "(the grammar admits text this tokenizer cannot write)")
            allowed = allowed_mask(bitmask, scores.shape[-1]).to(scores.device)
            return scores.masked_fill(~allowed, float("-inf"))

        def finish(self, sequences) -> list[bool | None]:
            if self.steps:
                self._feed(sequences[:, -1])
            return [None if m is None else not m.is_accepting() for m in self.matchers]

    return Constrained()


def sql_grammar(tables: dict[str, Sequence[str]]) -> str:
    """Lark text for SQLite SELECT queries over `tables` ({table: [column, ...]}) and nothing else.

    It admits SELECT [DISTINCT] columns or aggregates (COUNT, SUM, AVG, MIN, MAX, with AS aliases) FROM a
    table, JOINs ... ON, WHERE with AND/OR, comparisons, LIKE, IN, IS [NOT] NULL and BETWEEN, GROUP BY,
    HAVING, ORDER BY ... [DESC|ASC] and LIMIT, with single spaces as the course's queries are written. It
    does not admit sub-queries, CASE, arithmetic or other functions, and it cannot check that a column
    belongs to the table its alias names (that needs the query's context, which a context-free grammar
    does not keep): a column of any listed table is allowed after any alias. Build it from a database
    with ``sql_tables(conn)``.
    """
    if not tables or any(not cols for cols in tables.values()):
        raise ConstraintError("sql_grammar needs at least one table, each with its columns")

    def alternatives(names) -> str:
        return " | ".join(json.dumps(n) for n in sorted(set(names), key=lambda n: (-len(n), n)))

    columns = [c for cols in tables.values() for c in cols]
    return "\n".join([
        'start: query ";"?',
        'query: "SELECT " distinct items " FROM " source joins where group having order limit',
        'distinct: ("DISTINCT ")?',
        'items: item (", " item)*',
        'item: (expr | "*") (" AS " NAME)?',
        'expr: column | aggregate',
        'aggregate: AGG "(" ("*" | distinct column) ")"',
        'AGG: "COUNT" | "SUM" | "AVG" | "MIN" | "MAX"',
        'column: (NAME ".")? COLUMN',
        'source: TABLE (" " NAME)?',
        'joins: (" JOIN " source " ON " column " = " column)*',
        'where: (" WHERE " condition)?',
        'condition: test ((" AND " | " OR ") test)*',
        'test: expr COMPARE value | expr " LIKE " STRING | expr " IN (" value (", " value)* ")"'
        ' | expr " IS " ("NOT ")? "NULL" | expr " BETWEEN " value " AND " value | "(" condition ")"',
        'COMPARE: " = " | " != " | " <> " | " < " | " > " | " <= " | " >= "',
        'value: STRING | NUMBER | column',
        'group: (" GROUP BY " column (", " column)*)?',
        'having: (" HAVING " aggregate COMPARE value)?',
        'order: (" ORDER BY " key (", " key)*)?',
        'key: (expr | NAME) (" DESC" | " ASC")?',
        'limit: (" LIMIT " INT)?',
        f"TABLE: {alternatives(tables)}",
        f"COLUMN: {alternatives(columns)}",
        "NAME: /[a-z][a-z0-9_]{0,15}/",
        "STRING: /'[^'\\n]{0,60}'/",
        "NUMBER: /-?[0-9]{1,9}(\\.[0-9]{1,4})?/",
        "INT: /[0-9]{1,6}/",
    ]) + "\n"


def sql_tables(conn) -> dict[str, list[str]]:
    """{table: [column, ...]} of a SQLite database, read from the database itself."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
    return {n: [r[1] for r in conn.execute(f"PRAGMA table_info('{n}')")] for n in names}
