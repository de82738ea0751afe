"""helpers.systems without a model or an index: system names, bootstrap, RAFT records, run's checks."""

import pytest

from helpers import rag, systems, tasks

# ---------------------------------------------------------------------------------------------
# check_system / bootstrap_ci
# ---------------------------------------------------------------------------------------------


def test_check_system():
    for name in systems.SYSTEMS:
        assert systems.check_system(name) == name
    with pytest.raises(ValueError, match=r"unknown system 'GPT'.*'base', 'RAG', 'FT', 'FT\+RAG', 'RAFT'"):
        systems.check_system("GPT")
    with pytest.raises(ValueError):
        systems.check_system("rag")  # case matters


def test_tables_agree():
    assert set(systems.USES_CONTEXT) == set(systems.MODEL_OF) == set(systems.SYSTEMS)
    assert [s for s in systems.SYSTEMS if systems.USES_CONTEXT[s]] == ["RAG", "FT+RAG", "RAFT"]
    assert systems.MODEL_OF["FT+RAG"] == "behaviour" and systems.MODEL_OF["RAFT"] == "raft"


def test_bootstrap_ci_mean_and_bounds():
    values = [1, 0, 1, 1, 0, 1, 0, 1, 1, 1]
    mean, low, high = systems.bootstrap_ci(values, n=500, seed=1)
    assert mean == 0.7
    assert low <= mean <= high
    assert 0.0 <= low < high <= 1.0
    # a narrower level gives a narrower (or equal) interval on the same resamples
    _, low80, high80 = systems.bootstrap_ci(values, n=500, level=0.8, seed=1)
    assert low <= low80 <= high80 <= high


def test_bootstrap_ci_constant_values():
    assert systems.bootstrap_ci([0.25] * 7, n=200) == (0.25, 0.25, 0.25)
    assert systems.bootstrap_ci([3.0]) == (3.0, 3.0, 3.0)


def test_bootstrap_ci_deterministic_for_a_seed():
    values = [0.1, 0.9, 0.4, 0.4, 0.7, 0.0, 1.0]
    assert systems.bootstrap_ci(values, seed=7) == systems.bootstrap_ci(values, seed=7)
    assert systems.bootstrap_ci(values, seed=7)[0] == pytest.approx(3.5 / 7)


def test_bootstrap_ci_errors():
    with pytest.raises(ValueError, match="no values"):
        systems.bootstrap_ci([])
    for level in (1.5, 0.0, 1.0, -0.1):
        with pytest.raises(ValueError, match="level"):
            systems.bootstrap_ci([1.0, 0.0], level=level)


# ---------------------------------------------------------------------------------------------
# _window
# ---------------------------------------------------------------------------------------------

LONG = " ".join(f"w{i}" for i in range(100))


def test_window_short_text_returned_whole():
    text = "Refunds take  14 days\nafter approval."
    assert systems.answer_window(text, ["14 days"], 10) == text
    assert systems.answer_window(text, ["nowhere"], 6) == text  # exactly 6 words: whole, spacing kept
    assert systems.answer_window(text, ["nowhere"], 5) == "Refunds take 14 days after"


def test_window_centred_on_needle():
    window = systems.answer_window(LONG, ["w50"], 10)
    tokens = window.split()
    assert len(tokens) == 10
    assert "w50" in tokens
    assert tokens == [f"w{i}" for i in range(45, 55)]


def test_window_needle_normalised_and_first_word_used():
    window = systems.answer_window(LONG, ["nothing here", "W70 and more"], 8)
    assert "w70" in window.split() and len(window.split()) == 8


def test_window_clamped_at_edges_and_missing_needle():
    assert systems.answer_window(LONG, ["w99"], 10).split() == [f"w{i}" for i in range(90, 100)]
    assert systems.answer_window(LONG, ["w1"], 10).split() == [f"w{i}" for i in range(10)]
    assert systems.answer_window(LONG, ["absent"], 10).split() == [f"w{i}" for i in range(10)]
    assert systems.answer_window(LONG, [], 10).split() == [f"w{i}" for i in range(10)]


# ---------------------------------------------------------------------------------------------
# raft_records with a fake index
# ---------------------------------------------------------------------------------------------


def _chunk(cid, article, text):
    return rag.Chunk(id=cid, text=text, article_id=article, title=article, section="s", version=1)


FILLER = " ".join(f"pad{i}" for i in range(120))
GOLD_1 = f"{FILLER} Refunds are paid within 14 business days of approval. {FILLER}"
GOLD_2 = "The Team plan costs 1,428 dollars per year when billed annually."
NO_ANSWER = "This article talks about something else entirely, without the number."


class FakeIndex:
    """What raft_records needs from a course index: `.chunks` and `.search(query, k, mode)`."""

    def __init__(self):
        self.chunks = [
            _chunk("KB-1#0", "KB-1", "Refund overview with no number in it."),
            _chunk("KB-1#1", "KB-1", GOLD_1),
            _chunk("KB-2#0", "KB-2", GOLD_2),
            _chunk("KB-5#0", "KB-5", NO_ANSWER),
            *[_chunk(f"KB-D{i}#0", f"KB-D{i}", f"Distractor {i} about billing and other things.") for i in range(6)],
        ]
        self.calls = []

    def search(self, query, k, mode):
        self.calls.append((query, k, mode))
        # gold articles come back too (first); raft_records must drop them from the distractors
        gold = [c for c in self.chunks if c.article_id in ("KB-1", "KB-2")]
        others = [c for c in self.chunks if c.article_id.startswith("KB-D")]
        return [rag.Hit(c.id, c.article_id, 1.0 / rank, rank, c.text) for rank, c in enumerate(gold + others, 1)][:k]


ITEMS = [
    {"id": "q1", "question": "How long do refunds take?", "answer": "14 business days", "aliases": ["14 days"],
     "sources": ["KB-1"]},
    {"id": "q2", "question": "What does the Team plan cost per year?", "answer": "$1,428", "aliases": [],
     "sources": ["KB-2"]},
    {"id": "q3", "question": "What is the magic number?", "answer": "77", "aliases": [], "sources": ["KB-5"]},
    {"id": "q4", "question": "Where is the missing article?", "answer": "nowhere", "aliases": [],
     "sources": ["KB-404"]},
]
GOLD_TEXT = {"q1": GOLD_1, "q2": GOLD_2}
GOLD_ID = {"q1": "KB-1", "q2": "KB-2"}


def _by_id(records):
    return {r["id"]: r for r in records}


def _context_ids(system):
    """The article ids heading the context blocks of a system message (the prompt itself cites [KB-101])."""
    context = system.split("\n\nContext:\n", 1)[1]
    return [block[1:block.index("]")] for block in context.split("\n\n")]


def test_raft_records_with_gold():
    index = FakeIndex()
    records = systems.raft_records(index, {"qa_static": ITEMS}, p_gold=1.0)
    assert sorted(r["id"] for r in records) == ["q1", "q2"]  # q3 (no answer in gold) and q4 (not indexed) skipped
    assert all(r["skipped"] == 2 for r in records)
    assert all(r["task"] == "qa_static" and r["with_gold"] is True for r in records)
    per_chunk = systems.CONTEXT["max_words"] // systems.CONTEXT["k"]
    for qid, record in _by_id(records).items():
        item = next(it for it in ITEMS if it["id"] == qid)
        system, user, assistant = record["messages"]
        assert [system["role"], user["role"], assistant["role"]] == ["system", "user", "assistant"]
        assert system["content"].startswith(rag.RAG_SYSTEM + "\n\nContext:\n")
        window = systems.answer_window(GOLD_TEXT[qid], [item["answer"], *item["aliases"]], per_chunk)
        assert f"[{GOLD_ID[qid]}] {window}" in system["content"]
        assert user["content"] == item["question"]
        assert assistant["content"] == f"{item['answer']} [{GOLD_ID[qid]}]"
        # k chunks in all: the gold one and k - 1 distractors from other articles
        ids = _context_ids(system["content"])
        assert len(ids) == systems.CONTEXT["k"]
        assert ids.count(GOLD_ID[qid]) == 1
        # distractors are the best-ranked chunks of other articles (another item's gold article counts)
        assert sorted(ids) == {"q1": ["KB-1", "KB-2", "KB-D0"], "q2": ["KB-1", "KB-1", "KB-2"]}[qid]
    # the gold chunk of q1 is long: it is cut to a window around the answer, not passed whole
    q1_system = _by_id(records)["q1"]["messages"][0]["content"]
    assert "14 business days" in q1_system and FILLER not in q1_system
    # one search per kept question, with room to drop gold articles, in the shared mode
    assert {c[1:] for c in index.calls} == {(systems.CONTEXT["k"] + 6, systems.CONTEXT["mode"])}
    assert sorted(c[0] for c in index.calls) == sorted([ITEMS[0]["question"], ITEMS[1]["question"]])


def test_raft_records_without_gold():
    records = systems.raft_records(FakeIndex(), {"qa_static": ITEMS[:2]}, p_gold=0.0)
    assert len(records) == 2 and all(r["with_gold"] is False and r["skipped"] == 0 for r in records)
    for record in records:
        system = record["messages"][0]["content"]
        ids = _context_ids(system)
        # all k are distractors: the item's own gold article is never among them (another item's may be)
        assert len(ids) == systems.CONTEXT["k"] and GOLD_ID[record["id"]] not in ids
        assert f"[{GOLD_ID[record['id']]}]" not in system
        assert sorted(ids) == {"q1": ["KB-2", "KB-D0", "KB-D1"], "q2": ["KB-1", "KB-1", "KB-D0"]}[record["id"]]
        # the target still cites the gold article: the model learns to answer from what it knows
        assert record["messages"][2]["content"].endswith(f"[{GOLD_ID[record['id']]}]")
    assert "14 business days" not in _by_id(records)["q1"]["messages"][0]["content"]


def test_raft_records_same_seed_same_records():
    a = systems.raft_records(FakeIndex(), {"qa_static": ITEMS, "multihop": ITEMS[:2]}, p_gold=0.5, seed=11)
    b = systems.raft_records(FakeIndex(), {"qa_static": ITEMS, "multihop": ITEMS[:2]}, p_gold=0.5, seed=11)
    assert a == b
    assert len(a) == 4 and {r["task"] for r in a} == {"qa_static", "multihop"}
    assert all(r["skipped"] == 2 for r in a)


def test_raft_records_k_and_max_words():
    records = systems.raft_records(FakeIndex(), {"qa_static": ITEMS[:1]}, p_gold=1.0, k=2, max_words=20)
    system = records[0]["messages"][0]["content"]
    assert len(_context_ids(system)) == 2 and "KB-1" in _context_ids(system)
    window = systems.answer_window(GOLD_1, ["14 business days", "14 days"], 10)
    assert len(window.split()) == 10 and "14" in window.split()


def test_raft_records_live_qa_versioned_keys():
    item = {"id": "L1", "question": "How long do refunds take?", "answer_v1": "14 business days",
            "aliases_v1": [], "sources_v1": ["KB-1"]}
    records = systems.raft_records(FakeIndex(), {"qa_live": [item]}, p_gold=1.0)
    assert len(records) == 1 and records[0]["messages"][2]["content"] == "14 business days [KB-1]"


def test_raft_records_errors():
    with pytest.raises(ValueError, match="json_extraction"):
        systems.raft_records(FakeIndex(), {"json_extraction": ITEMS})
    for p in (1.5, -0.1):
        with pytest.raises(ValueError, match="p_gold"):
            systems.raft_records(FakeIndex(), {"qa_static": ITEMS}, p_gold=p)


# ---------------------------------------------------------------------------------------------
# run: the checks before any model is touched
# ---------------------------------------------------------------------------------------------

QA = [{"id": "q1", "question": "How long do refunds take?", "answer": "14 business days", "aliases": [],
       "sources": ["KB-1"]}]


def test_run_needs_the_model():
    with pytest.raises(KeyError, match="behaviour"):
        systems.run("FT", {"base": object()}, "qa_static", QA)
    with pytest.raises(KeyError, match="raft"):
        systems.run("RAFT", {"base": object(), "behaviour": object()}, "qa_static", QA, contexts=[[]])
    with pytest.raises(KeyError, match="'base'"):
        systems.run("base", {}, "qa_static", QA)


def test_run_context_systems_need_contexts():
    for name in ("RAG", "FT+RAG", "RAFT"):
        with pytest.raises(ValueError, match="contexts="):
            systems.run(name, {"base": object(), "behaviour": object(), "raft": object()}, "qa_static", QA)


def test_run_unknown_system():
    with pytest.raises(ValueError, match="unknown system"):
        systems.run("nope", {"base": object()}, "qa_static", QA)


def test_run_dispatch(monkeypatch):
    """Which generator and which contexts reach tasks.run, with tasks.run replaced by a recorder."""
    calls = []

    def fake_run(gen, task, items, version, progress, contexts, max_words, constrained):
        calls.append({"gen": gen, "task": task, "contexts": contexts, "max_words": max_words,
                      "constrained": constrained})
        return [{"id": it["id"], "score": 1.0} for it in items]

    monkeypatch.setattr(tasks, "run", fake_run)
    gens = {"base": "BASE", "behaviour": "BEH", "raft": "RAFT"}
    ctx = [[rag.Hit("KB-1#0", "KB-1", 1.0, 1, "text")]]
    rows = systems.run("FT", gens, "qa_static", QA, contexts=ctx, progress=False)
    assert rows == [{"id": "q1", "score": 1.0, "system": "FT"}]
    assert calls[-1]["gen"] == "BEH" and calls[-1]["contexts"] is None  # FT ignores contexts
    systems.run("RAFT", gens, "qa_static", QA, contexts=ctx, progress=False)
    assert calls[-1]["gen"] == "RAFT" and calls[-1]["contexts"] is ctx
    assert calls[-1]["max_words"] == systems.CONTEXT["max_words"]
    assert systems.run("RAG", gens, "qa_static", QA, contexts=ctx)[0]["system"] == "RAG"
    assert calls[-1]["gen"] == "BASE" and calls[-1]["constrained"] is False
    tickets = [{"id": "t1", "ticket": "Hi"}]
    systems.run("FT+schema", gens, "json_extraction", tickets, progress=False)
    assert calls[-1]["gen"] == "BEH" and calls[-1]["constrained"] is True and calls[-1]["contexts"] is None
    systems.run("base+schema", gens, "sql", [{"id": "s1", "question": "?"}], progress=False)
    assert calls[-1]["gen"] == "BASE" and calls[-1]["constrained"] is True
    with pytest.raises(ValueError, match="has none"):
        systems.run("FT+schema", gens, "tone", [{"id": "m1", "message": "Hi"}], progress=False)


def test_few_shot_runs_the_base_model_on_its_own_prompts(monkeypatch):
    from helpers import fewshot

    seen = {}

    def fake_run(gen, task, items, version, progress, prompts):
        seen.update(gen=gen, prompts=prompts)
        return [{"id": it["id"], "score": 1.0} for it in items]

    monkeypatch.setattr(tasks, "run", fake_run)
    monkeypatch.setattr(fewshot, "prompts", lambda task, items, k, pool: [[{"role": "user", "content": f"k={k}"}]
                                                                          for _ in items])
    gens = {"base": "BASE"}
    rows = systems.run("few-shot", gens, "tone", [{"id": "m1", "message": "Hi"}], progress=False, k=3)
    assert rows == [{"id": "m1", "score": 1.0, "system": "few-shot", "k": 3}]
    assert seen["gen"] == "BASE" and seen["prompts"][0][0]["content"] == "k=3"
    systems.run("few-shot", gens, "sql", [{"id": "s1", "question": "?"}], progress=False)
    assert seen["prompts"][0][0]["content"] == f"k={fewshot.DEFAULT_K}"
    monkeypatch.undo()
    with pytest.raises(ValueError, match="rival is retrieval"):
        systems.run("few-shot", gens, "qa_static", QA, progress=False)


def test_tasks_run_takes_ready_prompts_but_not_both():
    items = [{"id": "m1", "message": "Hi", "customer_first_name": "A"}]
    with pytest.raises(ValueError, match="either ready prompts= or the pieces"):
        tasks.run(None, "tone", items, prompts=[[]], contexts=[[]])
    with pytest.raises(ValueError, match="1 items but 2 prompts"):
        tasks.run(None, "tone", items, prompts=[[], []])


# ---------------------------------------------------------------------------------------------
# tasks.messages with retrieved context
# ---------------------------------------------------------------------------------------------


def test_messages_with_context():
    hits = [rag.Hit("KB-1#1", "KB-1", 0.9, 1, "Refunds are paid within 14 business days."),
            rag.Hit("KB-7#0", "KB-7", 0.5, 2, "Invoices are emailed monthly.")]
    conversation = tasks.messages("qa_static", QA[0], context=hits)
    system = conversation[0]["content"]
    assert system == (f"{rag.RAG_SYSTEM}\n\nContext:\n[KB-1] Refunds are paid within 14 business days.\n\n"
                      "[KB-7] Invoices are emailed monthly.")
    assert conversation[1] == {"role": "user", "content": QA[0]["question"]}
    assert len(conversation) == 2
    # a custom system prompt is kept as the head; max_words cuts the context
    short = tasks.messages("qa_static", QA[0], context=hits, system="Be brief.", max_words=3)[0]["content"]
    assert short == "Be brief.\n\nContext:\n[KB-1] Refunds are paid"


def test_messages_with_empty_context_is_plain():
    assert tasks.messages("qa_static", QA[0], context=[]) == tasks.messages("qa_static", QA[0])
    assert tasks.messages("qa_static", QA[0], context=[])[0]["content"] == tasks.QA_SYSTEM
    assert "Context:" not in tasks.messages("qa_static", QA[0], context=None)[0]["content"]


def test_raft_recipe_feeds_one_conversation_at_a_time_on_cpu_only(monkeypatch):
    from helpers import env

    monkeypatch.setattr(env, "detect_runtime", lambda: env.Runtime())
    cpu = systems.raft_recipe()
    assert cpu.micro_batch() == 1 and cpu.batch_size == 4  # the same update, a quarter of the activations
    monkeypatch.setattr(env, "detect_runtime", lambda: env.Runtime(cuda=True, gpu_name="Tesla T4", vram_gb=15))
    assert systems.raft_recipe().micro_batch(on_gpu=True) == 4


def test_adapter_recipes_split_their_batch_on_cpu_only(monkeypatch):
    """On CPU the behaviour and knowledge recipes feed micro-batches (memory under 3 GB above start in 05);
    a GPU takes each batch whole."""
    from helpers import env

    monkeypatch.setattr(env, "detect_runtime", lambda: env.Runtime())
    behaviour, knowledge = systems.behaviour_recipe(), systems.knowledge_recipe(100)
    assert (behaviour.batch_size, behaviour.micro_batch()) == (8, 1)
    assert (knowledge.batch_size, knowledge.micro_batch()) == (16, 8)
    monkeypatch.setattr(env, "detect_runtime", lambda: env.Runtime(cuda=True, gpu_name="Tesla T4", vram_gb=15))
    assert systems.behaviour_recipe().micro_batch(on_gpu=True) == 8
    assert systems.knowledge_recipe(100).micro_batch(on_gpu=True) == 16
