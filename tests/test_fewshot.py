"""helpers.fewshot without a model: the reference of each task, the conversation, nearest examples, errors."""

import numpy as np
import pytest

from helpers import data, fewshot, tasks


class WordEmbedder:
    """A stand-in for the sentence embedder: bag of words over a fixed vocabulary, normalised."""

    def __init__(self):
        self.vocab = {}
        self.calls = 0

    def encode(self, texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False):
        self.calls += 1
        rows = []
        for text in texts:
            vec = np.zeros(512)
            for word in text.lower().split():
                vec[hash(word) % 512] += 1
            rows.append(vec / (np.linalg.norm(vec) or 1))
        return np.array(rows)


def items(n, prefix="m"):
    return [{"id": f"{prefix}{i}", "customer_first_name": "Ana", "message": f"topic{i} plan seats",
             "reply": f"Hi Ana,\n\nreply {i}\n\n— Corvasse Support"} for i in range(n)]


def test_reference_of_each_task_comes_from_the_course_data():
    tone = fewshot.reference("tone")
    assert tone.startswith("Style guide rules:") and "— Corvasse Support" in tone and "I apologise" in tone
    assert "Example" not in tone  # only the rules section is quoted
    json_ref = fewshot.reference("json_extraction")
    for key in tasks.JSON_KEYS:
        assert f"- {key}:" in json_ref
    assert "one of spark, team, business, enterprise, null" in json_ref
    sql = fewshot.reference("sql")
    assert "- customers.customer_id (INTEGER)" in sql


def test_fact_tasks_have_no_few_shot_system():
    with pytest.raises(ValueError, match="rival is retrieval"):
        fewshot.reference("qa_static")
    with pytest.raises(ValueError, match="behaviour tasks"):
        fewshot.Pool("multihop", items=items(3), embedder=WordEmbedder())


def test_missing_style_guide_is_a_clear_error():
    corpus = [a for a in data.load_corpus(1) if not a["title"].startswith(fewshot.STYLE_GUIDE_TITLE)]
    with pytest.raises(LookupError, match="style guide"):
        fewshot.style_rules(corpus)
    broken = [{"id": "KB-9", "title": "Support style guide: draft", "text": "# draft\nno rules yet"}]
    with pytest.raises(LookupError, match="KB-9 has no '## The rules' section"):
        fewshot.style_rules(broken)


def test_schema_without_properties_is_refused():
    with pytest.raises(ValueError, match="no 'properties'"):
        fewshot.schema_fields({"type": "object"})


def test_messages_are_system_then_example_turns_then_the_input():
    pool = items(2)
    conv = fewshot.messages("tone", {"id": "new", "customer_first_name": "Bo", "message": "hello"}, pool)
    assert [t["role"] for t in conv] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert conv[0]["content"] == tasks.system_prompt("tone") + "\n\n" + fewshot.reference("tone")
    assert conv[1]["content"] == pool[0]["message"] and conv[2]["content"] == pool[0]["reply"]
    assert conv[-1]["content"] == "hello"
    assert fewshot.messages("tone", {"message": "hi"})[1:] == [{"role": "user", "content": "hi"}]


def test_nearest_examples_are_the_most_similar_most_similar_last():
    pool = fewshot.Pool("tone", items=items(6), embedder=WordEmbedder())
    query = {"id": "q", "message": "topic3 plan seats"}
    got = pool.nearest(query, 2)
    assert got[-1]["id"] == "m3" and len(got) == 2
    assert pool.nearest(query, 0) == []


def test_nearest_never_returns_the_item_itself_and_embeds_the_pool_once():
    embedder = WordEmbedder()
    pool = fewshot.Pool("tone", items=items(4), embedder=embedder)
    got = pool.nearest_many(items(4), 3)
    assert all(it["id"] not in {g["id"] for g in ex} for it, ex in zip(items(4), got, strict=True))
    pool.nearest(items(1)[0], 1)
    assert embedder.calls == 3  # the pool once, then one call per batch of queries


def test_k_larger_than_the_pool_or_not_a_count_is_refused():
    pool = fewshot.Pool("tone", items=items(3), embedder=WordEmbedder())
    with pytest.raises(ValueError, match="k=4 but the tone pool holds 3 solved examples"):
        pool.nearest(items(1)[0], 4)
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="integer >= 0"):
            pool.nearest(items(1)[0], bad)


def test_empty_pool_is_refused():
    with pytest.raises(ValueError, match="pool is empty"):
        fewshot.Pool("sql", items=[], embedder=WordEmbedder())


def test_the_default_pool_is_the_train_split():
    pool = fewshot.Pool("sql", embedder=WordEmbedder())
    assert {it["split"] for it in pool.items} == {"train"}


def test_choose_k_picks_the_best_and_the_smaller_k_on_a_tie(monkeypatch):
    scored = {0: 0.2, 1: 0.6, 2: 0.605, 4: 0.5}

    def fake_run(gen, task, its, progress=False, prompts=None):
        k = (len(prompts[0]) - 2) // 2
        return [{"score": scored[k], "prompt_tokens": 10 * (k + 1)} for _ in its]

    monkeypatch.setattr(tasks, "run", fake_run)
    pool = fewshot.Pool("tone", items=items(6), embedder=WordEmbedder())
    choice = fewshot.choose_k(None, "tone", items(3, "d"), pool=pool, progress=False)
    assert choice["k"] == 1  # 2 is within a point of 1: the shorter prompt wins
    assert [c["k"] for c in choice["curve"]] == list(fewshot.KS)
    assert choice["curve"][2]["prompt_tokens"] == 30
    with pytest.raises(ValueError, match="dev items"):
        fewshot.choose_k(None, "tone", [], pool=pool)
    with pytest.raises(ValueError, match="at least one k"):
        fewshot.choose_k(None, "tone", items(2), ks=(), pool=pool)


def test_examples_of_the_same_template_can_be_left_out():
    pool_items = [{**it, "family": "a" if i < 3 else "b"} for i, it in enumerate(items(6))]
    pool = fewshot.Pool("tone", items=pool_items, embedder=WordEmbedder())
    query = {"id": "q", "message": "topic1 plan seats", "family": "a"}
    assert pool.nearest(query, 1)[0]["id"] == "m1"
    kept = pool.nearest(query, 3, exclude_same="family")
    assert {ex["family"] for ex in kept} == {"b"}
    with pytest.raises(KeyError, match="not every item and example has that field"):
        pool.nearest({"id": "q", "message": "x"}, 1, exclude_same="family")
    shots = fewshot.prompts("tone", [query], 2, pool, exclude_same="family")
    assert len(shots[0]) == 6
