"""Unit tests of helpers.evaluate: every public metric, good and bad inputs."""

import sqlite3

import pytest

from helpers import evaluate as ev


def test_normalize_lowercases_and_strips_punctuation():
    assert ev.normalize("The Team plan: $1,428 per year!") == "team plan 1428 per year"
    assert ev.normalize("retry.backoff_ms") == "retry backoff ms"
    assert ev.normalize("99.95%") == "99.95"
    assert ev.normalize("Version 3.2.") == "version 3.2"


def test_normalize_rejects_non_strings():
    with pytest.raises(TypeError):
        ev.normalize(None)


def test_exact_match_answer_alias_and_phrase_rule():
    assert ev.exact_match("$49", "$49")
    assert ev.exact_match("49 USD", "$49", ["49 USD"])
    assert ev.exact_match("The Team plan costs $49 per month.", "$49")
    assert not ev.exact_match("$499", "$49")
    assert not ev.exact_match("It is 14 days", "30 days")
    long = "blah " * 30 + "$49"
    assert not ev.exact_match(long, "$49")
    assert ev.exact_match(long, "$49", max_words=100)


def test_exact_match_type_errors():
    with pytest.raises(TypeError):
        ev.exact_match(49, "$49")
    with pytest.raises(TypeError):
        ev.exact_match("49", "$49", "49")


TARGET = {"customer_name": "Maya Lindqvist", "email": "maya@example.com", "phone": None, "plan": "team",
          "error_code": "CFX-3021", "product_area": "workflows", "priority": "high", "order_id": None}


def test_json_scores_exact_partial_invalid():
    import json
    good = "Here you go:\n```json\n" + json.dumps(TARGET) + "\n```"
    assert ev.json_scores(good, TARGET) == {"valid": True, "exact": True, "field_accuracy": 1.0}
    partial = dict(TARGET, priority="low", plan=None)
    s = ev.json_scores(json.dumps(partial), TARGET)
    assert s["valid"] and not s["exact"] and s["field_accuracy"] == pytest.approx(6 / 8)
    bad_enum = dict(TARGET, priority="whenever")
    assert ev.json_scores(json.dumps(bad_enum), TARGET)["valid"] is False
    assert ev.json_scores("no json here", TARGET) == {"valid": False, "exact": False, "field_accuracy": 0.0}
    with pytest.raises(TypeError):
        ev.json_scores(None, TARGET)
    with pytest.raises(TypeError):
        ev.json_scores("{}", {})


ITEM = {"customer_first_name": "Maya", "needs_apology": False, "fact_answer": "3", "fact_aliases": ["3 seats"],
        "sources": ["KB-103"]}
GOOD = "Hi Maya,\n\nThe Spark plan includes 3 seats [KB-103].\n\n— Corvasse Support"


def test_tone_score_gold_is_perfect_and_each_rule_can_fail():
    s = ev.tone_score(GOOD, ITEM)
    assert s["score"] == 1.0 and s["fact"] is True
    broken = {
        "greeting": GOOD.replace("Hi Maya,", "Hello Maya,"),
        "sign_off": GOOD.replace("— Corvasse Support", "Corvasse Support"),
        "length": GOOD.replace("[KB-103].", "[KB-103]. " + "word " * 100),
        "no_exclamation": GOOD.replace("[KB-103].", "[KB-103]!"),
        "no_banned": GOOD.replace("The Spark", "Unfortunately, the Spark"),
        "apology": GOOD.replace("The Spark", "I apologise. The Spark"),
        "citation": GOOD.replace(" [KB-103]", ""),
    }
    for rule, reply in broken.items():
        s = ev.tone_score(reply, ITEM)
        assert s[rule] is False, rule
        assert s["score"] < 1.0
    assert ev.tone_score(GOOD.replace("3 seats", "5 seats"), ITEM)["fact"] is False
    fault = dict(ITEM, needs_apology=True)
    assert ev.tone_score(GOOD, fault)["apology"] is False
    assert ev.tone_score(GOOD.replace("The Spark", "I apologise. The Spark"), fault)["apology"] is True


def test_tone_score_type_errors():
    with pytest.raises(TypeError):
        ev.tone_score(None, ITEM)
    with pytest.raises(TypeError):
        ev.tone_score("Hi", {"reply": "x"})


@pytest.fixture()
def conn():
    c = sqlite3.connect(":memory:")
    c.executescript("CREATE TABLE t (a INTEGER, b TEXT); INSERT INTO t VALUES (1,'x'),(2,'y'),(3,'y');")
    yield c
    c.close()


def test_sql_execution_match(conn):
    gold = "SELECT b, COUNT(*) FROM t GROUP BY b"
    assert ev.sql_execution_match("SELECT b, COUNT(*) FROM t GROUP BY b ORDER BY b DESC", gold, conn)
    assert ev.sql_execution_match("```sql\nSELECT b, COUNT(a) FROM t GROUP BY b;\n```", gold, conn)
    assert not ev.sql_execution_match("SELECT b FROM t", gold, conn)
    assert not ev.sql_execution_match("SELEC nonsense", gold, conn)
    assert not ev.sql_execution_match("SELECT * FROM missing_table", gold, conn)
    assert not ev.sql_execution_match("DROP TABLE t", gold, conn)
    assert not ev.sql_execution_match(None, gold, conn)
    ordered = "SELECT a FROM t ORDER BY a DESC"
    assert ev.sql_execution_match("SELECT a FROM t ORDER BY a DESC", ordered, conn)
    assert not ev.sql_execution_match("SELECT a FROM t ORDER BY a", ordered, conn)
    with pytest.raises(TypeError):
        ev.sql_execution_match("SELECT 1", gold, "not a connection")


def test_retrieval_metrics():
    ranked = ["KB-1", "KB-2", "KB-3", "KB-4"]
    assert ev.recall_at_k(ranked, ["KB-2", "KB-9"], 2) == 0.5
    assert ev.recall_at_k(ranked, ["KB-4"], 3) == 0.0
    assert ev.mrr(ranked, ["KB-3"]) == pytest.approx(1 / 3)
    assert ev.mrr(ranked, ["KB-3"], k=2) == 0.0
    assert ev.mrr(ranked, ["KB-9"]) == 0.0
    assert ev.ndcg_at_k(ranked, ["KB-1"], 3) == 1.0
    assert ev.ndcg_at_k(["KB-2", "KB-1"], ["KB-1"], 2) == pytest.approx(1 / 1.5849625, rel=1e-6)
    assert ev.ndcg_at_k(ranked, ["KB-9"], 3) == 0.0


@pytest.mark.parametrize("fn", [ev.recall_at_k, ev.ndcg_at_k])
def test_retrieval_metrics_bad_input(fn):
    with pytest.raises(ValueError):
        fn(["a"], ["a"], 0)
    with pytest.raises(ValueError):
        fn(["a"], [], 1)
    with pytest.raises(TypeError):
        fn("a", ["a"], 1)


def test_sql_runs_says_whether_a_query_runs_not_whether_it_is_right():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (a INTEGER)")
    assert ev.sql_runs("SELECT a FROM t WHERE a > 3;", conn)
    assert ev.sql_runs("```sql\nSELECT COUNT(*) FROM t\n```", conn)
    assert not ev.sql_runs("SELECT b FROM t", conn)          # no such column
    assert not ev.sql_runs("DELETE FROM t", conn)            # not a query
    assert not ev.sql_runs(None, conn)
