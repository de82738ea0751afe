"""Constrained decoding (helpers.constrain, generate(schema=..., grammar=...)): bad constraints fail before any
generation with a message that says where; a constrained answer is valid unless it ran out of tokens, and a
truncated one is reported as such."""

import json

import pytest

from helpers import constrain, data, generate, tasks
from helpers.evaluate import json_scores

SELECT = 'start: "SELECT " COL " FROM " TABLE\nCOL: "id" | "name"\nTABLE: "users"\n'


def test_a_schema_typo_is_reported_with_its_path():
    bad = {"type": "object", "properties": {"plan": {"type": "strin"}}}
    with pytest.raises(constrain.ConstraintError, match=r"properties/plan/type"):
        constrain.schema_grammar(bad)


def test_a_broken_pattern_is_reported_with_its_path():
    bad = {"type": "object", "properties": {"code": {"type": "string", "pattern": "CFX-[0-9"}}}
    with pytest.raises(constrain.ConstraintError, match=r"properties/code/pattern"):
        constrain.schema_grammar(bad)


def test_a_pattern_the_engine_cannot_compile_is_reported_by_it():
    lookahead = {"type": "object", "properties": {"code": {"type": "string", "pattern": "^(?=CFX)CFX-[0-9]{4}$"}}}
    with pytest.raises(constrain.ConstraintError, match="cannot be compiled"):
        constrain.schema_grammar(lookahead)  # valid JSON Schema; llguidance's regular expressions have no look-around


def test_schema_text_that_is_not_json_is_refused():
    with pytest.raises(constrain.ConstraintError, match="not valid JSON"):
        constrain.schema_grammar("{'type': 'object'}")


def test_a_grammar_with_an_unknown_rule_is_reported_with_its_line():
    with pytest.raises(constrain.ConstraintError, match="unknown name"):
        constrain.lark_grammar("start: answer\n")
    with pytest.raises(constrain.ConstraintError, match="non-empty"):
        constrain.lark_grammar("   ")


def test_the_ticket_schema_and_a_small_grammar_compile():
    assert constrain.schema_grammar(data.ticket_schema())
    assert constrain.lark_grammar(SELECT)


def test_one_constraint_or_one_per_row_never_both():
    rows = constrain.row_grammars(3, grammar=[SELECT, None, SELECT])
    assert rows[0] == rows[2] and rows[1] is None
    assert constrain.row_grammars(2, schema=data.ticket_schema())[0] is not None
    with pytest.raises(constrain.ConstraintError, match="both a schema and a grammar"):
        constrain.row_grammars(1, schema={"type": "object"}, grammar=SELECT)
    with pytest.raises(constrain.ConstraintError, match="2 grammars for 3 conversations"):
        constrain.row_grammars(3, grammar=[SELECT, None])


def test_the_bitmask_is_read_with_token_t_at_bit_t_mod_32():
    import torch

    bitmask = torch.zeros((2, 2), dtype=torch.int32)
    bitmask[0, 0] = 1 << 3          # token 3
    bitmask[1, 1] = 1 << 0          # token 32
    allowed = constrain.allowed_mask(bitmask, vocab=70)  # a head wider than the 64 tokens of the mask
    assert allowed.shape == (2, 70)
    assert allowed[0].nonzero().flatten().tolist() == [3]
    assert allowed[1].nonzero().flatten().tolist() == [32]


def test_schema_constrained_answers_are_valid_unless_truncated(generator):
    items = data.load_task("json_extraction", "test")[:4]
    convs = [tasks.messages("json_extraction", it) for it in items]
    free = generate.generate(generator, convs, max_new_tokens=96, progress=False)
    out = generate.generate(generator, convs, max_new_tokens=96, schema=data.ticket_schema(), progress=False)
    assert free.truncated == [] and len(out.truncated) == 4
    for text, cut, item in zip(out.texts, out.truncated, items, strict=True):
        assert text.startswith('{"customer_name": ')  # the separators the training targets use
        assert json_scores(text, item["target"])["valid"] is (not cut)
        if not cut:
            assert list(json.loads(text)) == list(tasks.JSON_KEYS)


def test_too_few_tokens_is_truncated_and_not_valid(generator):
    item = data.load_task("json_extraction", "test")[0]
    out = generate.generate(generator, [tasks.messages("json_extraction", item)], max_new_tokens=6,
                            schema=data.ticket_schema(), progress=False)
    assert out.truncated == [True]
    assert tasks.score("json_extraction", item, out.texts[0])["valid"] is False


def test_a_grammar_row_and_a_free_row_in_one_batch(generator):
    prompts = ["Write SQL listing user names.", "Say hello in French, then explain why in a long paragraph."]
    out = generate.generate(generator, prompts, max_new_tokens=20, grammar=[SELECT, None], progress=False,
                            logprobs=True)
    assert out.texts[0] in {"SELECT id FROM users", "SELECT name FROM users"}
    assert out.truncated == [False, None]
    assert out.new_tokens[1] == 20 and not out.texts[1].startswith("SELECT")
    assert all(lp > float("-inf") for lp in out.logprobs[0])  # picked tokens were allowed ones


def test_a_token_outside_the_grammar_is_an_error_not_a_silent_pass(generator):
    import torch

    tokenizer = generator.tokenizer
    vocab = len(tokenizer)
    guide = constrain.logits_processor(tokenizer, [constrain.lark_grammar(SELECT)], vocab, [tokenizer.eos_token_id])
    scores = guide(torch.zeros((1, 1), dtype=torch.long), torch.zeros((1, vocab)))
    allowed = torch.isfinite(scores[0]).nonzero().flatten().tolist()
    assert allowed and all(tokenizer.decode([t]) and "SELECT".startswith(tokenizer.decode([t]).strip()) for t in allowed)
    wrong = tokenizer.encode("DELETE", add_special_tokens=False)[0]
    with pytest.raises(constrain.ConstraintError, match="not allowed"):
        guide(torch.tensor([[0, wrong]]), torch.zeros((1, vocab)))


def test_a_row_no_token_can_continue_ends_with_an_error_not_a_hang(generator, monkeypatch):
    """When the matcher leaves no token allowed for a row (a grammar this tokenizer cannot write), the row
    stops with a ConstraintError at that step instead of generating masked (-inf) steps until max_new_tokens."""
    import llguidance.torch as lltorch
    import torch

    tokenizer = generator.tokenizer
    vocab = len(tokenizer)
    guide = constrain.logits_processor(tokenizer, [None, constrain.lark_grammar(SELECT)], vocab,
                                       [tokenizer.eos_token_id])

    def nothing_allowed(matcher, bitmask, row):  # what llguidance writes for a dead end: every bit 0
        bitmask[row] = 0

    monkeypatch.setattr(lltorch, "fill_next_token_bitmask", nothing_allowed)
    with pytest.raises(constrain.ConstraintError, match="conversation 1: no token can continue"):
        guide(torch.zeros((2, 1), dtype=torch.long), torch.zeros((2, vocab)))


def test_the_sql_grammar_admits_every_course_query_and_no_other_table(generator):
    conn = data.analytics_db()
    grammar = constrain.lark_grammar(constrain.sql_grammar(constrain.sql_tables(conn)))
    ll_tokenizer = constrain.tokenizer_for(generator.tokenizer, len(generator.tokenizer),
                                           [generator.tokenizer.eos_token_id])

    def admitted(sql: str) -> bool:
        m = constrain.matcher(ll_tokenizer, grammar)
        return m.consume_tokens(generator.tokenizer.encode(sql, add_special_tokens=False)) and m.is_accepting()

    gold = [it["sql"] for split in ("train", "dev", "test") for it in data.load_task("sql", split)]
    assert [q for q in gold if not admitted(q)] == []
    for wrong in ("SELECT plan FROM users", "SELECT colour FROM customers", "DELETE FROM customers",
                  "SELECT * FROM customers WHERE plan = 'team'; DROP TABLE customers"):
        assert not admitted(wrong), wrong


def test_sql_tables_reads_the_database_and_an_empty_one_is_refused():
    tables = constrain.sql_tables(data.analytics_db())
    assert "customer_id" in tables["customers"] and "mrr_usd" in tables["subscriptions"]
    with pytest.raises(constrain.ConstraintError, match="at least one table"):
        constrain.sql_grammar({})
