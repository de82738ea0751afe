"""Checks of the shipped course data through the loaders in helpers.data."""

import json
import shutil
from pathlib import Path

import pytest

from helpers import data
from helpers.evaluate import exact_match, normalize, sql_execution_match, tone_score

MIN = {  # minimum sizes per split from the task design
    "qa_static": {"test": 100, "dev": 25, "train": 200},
    "qa_live": {"test": 60, "dev": 15, "train": 40},
    "multihop": {"test": 60, "dev": 15, "train": 90},
    "json_extraction": {"test": 100, "dev": 40, "train": 400},
    "tone": {"test": 100, "dev": 40, "train": 400},
    "sql": {"test": 100, "dev": 40, "train": 300},
}


@pytest.fixture(scope="module")
def tasks():
    return {t: {s: data.load_task(t, s) for s in data.SPLITS} for t in data.TASKS}


@pytest.fixture(scope="module")
def texts():
    return {v: {a["id"]: normalize(a["text"]) for a in data.load_corpus(v)} for v in data.VERSIONS}


def _contains(text_norm: str, answer: str) -> bool:
    return f" {normalize(answer)} " in f" {text_norm} "


def test_corpus_size_and_front_matter():
    v1, v2 = data.load_corpus(1), data.load_corpus(2)
    assert len(v1) >= 50 and len(v2) >= len(v1)
    assert sum(len(a["text"].split()) for a in v1) >= 25_000
    for a in v1 + v2:
        assert a["title"] and a["section"] and a["date"][:2] == "20"
    audiences = {a["audience"] for a in v1}
    assert "internal" in audiences and any(x.startswith("plan:") for x in audiences)
    assert all(a2["date"] > a1["date"] for a1, a2 in zip(v1, v2, strict=False) if a1["id"] == a2["id"])


def test_exact_keywords_appear_in_one_article_only():
    facts = data.load_facts(1)
    corpus = data.load_corpus(1)
    keywords = [c for c in facts["error_codes"]] + [p["sku_annual"] for p in facts["plans"].values()]
    keywords += [e["setting"] for e in facts["error_codes"].values()]
    for kw in keywords:
        hits = [a["id"] for a in corpus if kw in a["text"]]
        assert len(hits) == 1, (kw, hits)


@pytest.mark.parametrize("task", data.TASKS)
def test_sizes_meet_minimums(tasks, task):
    for split, n in MIN[task].items():
        assert len(tasks[task][split]) >= n, (task, split)


def test_qa_static_test_facts_distinct_and_trained(tasks):
    test = tasks["qa_static"]["test"]
    assert len({it["fact_id"] for it in test}) == len(test)
    train_facts = [it["fact_id"] for it in tasks["qa_static"]["train"]]
    for it in test:
        assert train_facts.count(it["fact_id"]) >= 2, it["fact_id"]


@pytest.mark.parametrize("task", ["qa_static", "qa_live", "multihop", "tone", "sql", "json_extraction"])
def test_no_test_question_in_train(tasks, task):
    field = data.QUESTION_FIELD[task]
    train = {normalize(it[field]) for it in tasks[task]["train"]}
    for split in ("test", "dev"):
        assert not [it["id"] for it in tasks[task][split] if normalize(it[field]) in train]


def test_qa_answers_appear_in_their_sources(tasks, texts):
    for split in data.SPLITS:
        for it in tasks["qa_static"][split]:
            for s in it["sources"]:
                assert _contains(texts[1][s], it["answer"]), (it["id"], s)
                assert _contains(texts[2][s], it["answer"]), (it["id"], s)
        for it in tasks["multihop"][split]:
            assert len(it["sources"]) >= 2
            assert any(_contains(texts[1][s], it["answer"]) for s in it["sources"]), it["id"]


def test_live_answers_differ_and_follow_the_docs(tasks, texts):
    change_ids = {c["id"] for c in data.load_changes()}
    for split in data.SPLITS:
        for it in tasks["qa_live"][split]:
            assert it["change_id"] in change_ids
            assert normalize(it["answer_v1"]) != normalize(it["answer_v2"])
            assert any(_contains(texts[1][s], it["answer_v1"]) for s in it["sources_v1"]), it["id"]
            assert any(_contains(texts[2][s], it["answer_v2"]) for s in it["sources_v2"]), it["id"]
            assert not exact_match(it["answer_v1"], it["answer_v2"], it["aliases_v2"])


def test_v2_differs_exactly_where_the_change_set_says():
    def bodies(v):
        return {a["id"]: a["text"] for a in data.load_corpus(v)}
    b1, b2 = bodies(1), bodies(2)
    changed = {k for k in b2 if b1.get(k) != b2[k]}
    changes = data.load_changes()
    assert changed == {a for c in changes for a in c["articles"]}
    assert len(changes) >= 15 and len(changed) >= 10
    facts1, facts2 = data.load_facts(1), data.load_facts(2)
    from helpers.datagen.facts import get_path
    for c in changes:
        assert get_path(facts1, c["path"]) == c["old"] and get_path(facts2, c["path"]) == c["new"]


def test_gold_sql_executes_and_returns_rows(tasks):
    conn = data.analytics_db()
    for split in data.SPLITS:
        for it in tasks["sql"][split]:
            rows = conn.execute(it["sql"]).fetchall()
            assert rows and rows[0] != (0,), it["id"]
            assert sql_execution_match(it["sql"], it["sql"], conn)
    for table in data.load_facts(1)["analytics"]["tables"]:
        assert conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] >= 200


def test_gold_tone_replies_score_one_and_broken_lower(tasks):
    for split in data.SPLITS:
        for it in tasks["tone"][split]:
            s = tone_score(it["reply"], it)
            assert s["score"] == 1.0, (it["id"], s)
            assert s["fact"] in (None, True)
    it = tasks["tone"]["test"][0]
    assert tone_score(it["reply"].replace(".", "!"), it)["score"] < 1.0
    assert tone_score(it["reply"].replace("— Corvasse Support", "Cheers"), it)["score"] < 1.0


def test_json_targets_validate_and_use_every_field(tasks):
    import jsonschema
    validator = jsonschema.Draft202012Validator(data.ticket_schema())
    items = [it for s in data.SPLITS for it in tasks["json_extraction"][s]]
    for it in items:
        validator.validate(it["target"])
    for field in data.ticket_schema()["required"]:
        values = [it["target"][field] for it in items]
        assert len(set(map(str, values))) > 1, field


def test_dataset_loader_returns_dataset():
    ds = data.load_task_dataset("qa_static", "dev")
    assert len(ds) == len(data.load_task("qa_static", "dev")) and "question" in ds.column_names
    ds = data.load_task_dataset("json_extraction", "dev")
    assert isinstance(json.loads(ds[0]["target"]), dict)


def test_unknown_names_raise_value_error():
    with pytest.raises(ValueError, match="qa_static"):
        data.load_task("qa", "test")
    with pytest.raises(ValueError, match="train"):
        data.load_task("qa_static", "validation")
    with pytest.raises(ValueError, match="version"):
        data.load_corpus(3)


@pytest.fixture()
def data_copy(tmp_path, monkeypatch):
    root = Path(data.__file__).resolve().parents[1] / "data"
    dst = tmp_path / "data"
    shutil.copytree(root, dst)
    monkeypatch.setenv("COURSE_DATA_DIR", str(dst))
    return dst


def _rewrite_line(path: Path, lineno: int, edit) -> None:
    lines = path.read_text(encoding="utf-8").split("\n")
    obj = json.loads(lines[lineno - 1])
    edit(obj)
    lines[lineno - 1] = json.dumps(obj, sort_keys=True, ensure_ascii=False)
    path.write_text("\n".join(lines), encoding="utf-8")


@pytest.mark.parametrize("task, split, edit, field", [
    ("qa_static", "test", lambda o: o.pop("answer"), "answer"),
    ("qa_static", "dev", lambda o: o.update(sources=["KB-999"]), "sources"),
    ("qa_live", "test", lambda o: o.update(sources_v2=["KB-998"]), "sources_v2"),
    ("json_extraction", "test", lambda o: o["target"].update(priority="someday"), "target.priority"),
    ("tone", "train", lambda o: o.update(needs_apology="yes"), "needs_apology"),
    ("multihop", "test", lambda o: o.update(sources=o["sources"][:1]), "sources"),
])
def test_corrupt_file_raises_data_error_naming_file_line_field(data_copy, task, split, edit, field):
    path = data_copy / "tasks" / task / f"{split}.jsonl"
    _rewrite_line(path, 3, edit)
    with pytest.raises(data.DataError) as err:
        data.load_task(task, split)
    msg = str(err.value)
    assert f"{split}.jsonl:3" in msg and repr(field) in msg


def test_leak_into_train_is_detected(data_copy):
    test_q = data.load_task("sql", "test")[0]["question"]
    _rewrite_line(data_copy / "tasks" / "sql" / "train.jsonl", 5, lambda o: o.update(question=test_q.upper() + " "))
    with pytest.raises(data.DataError, match="leaks into the train split"):
        data.load_task("sql", "test")


def test_duplicate_ids_and_bad_front_matter_detected(data_copy):
    path = data_copy / "tasks" / "sql" / "dev.jsonl"
    _rewrite_line(path, 2, lambda o: o.update(id="sql-dev-0001"))
    with pytest.raises(data.DataError, match="dev.jsonl:2: field 'id'"):
        data.load_task("sql", "dev")
    art = data_copy / "corpus" / "v1" / "KB-101.md"
    art.write_text(art.read_text(encoding="utf-8").replace("audience: public", "audience public"), encoding="utf-8")
    with pytest.raises(data.DataError, match="KB-101.md:7"):
        data.load_corpus(1)


def test_data_dir_env_override_and_small_loaders(data_copy):
    assert data.data_dir() == data_copy.resolve()
    assert "KB-101" in data.corpus_ids(1) and "KB-159" in data.corpus_ids(2) - data.corpus_ids(1)
    assert data.load_facts(2)["plans"]["team"]["price_monthly_usd"] == 55
    assert data.ticket_schema()["required"]
    (data_copy / "analytics" / "analytics.sql").unlink()
    with pytest.raises(data.DataError, match="analytics.sql"):
        data.analytics_db()


def test_analytics_db_to_file(tmp_path):
    conn = data.analytics_db(tmp_path / "a.db")
    assert conn.execute("SELECT COUNT(*) FROM customers").fetchone()[0] > 0
    conn.close()
    assert (tmp_path / "a.db").stat().st_size > 0


def test_read_corpus_folder_bad_input(tmp_path):
    course_data = data
    with pytest.raises(FileNotFoundError, match="does not exist"):
        course_data.read_corpus_folder(tmp_path / "missing", 1)
    assert course_data.read_corpus_folder(tmp_path, 1) == []
    src = course_data.data_dir() / "corpus" / "v1" / "KB-101.md"
    shutil.copy(src, tmp_path / "KB-101.md")
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\r\n")
    with pytest.warns(UserWarning, match="ignored 1 non-markdown"):
        assert [a["id"] for a in course_data.read_corpus_folder(tmp_path, 1)] == ["KB-101"]
    (tmp_path / "KB-999.md").write_bytes(b"---\nid: KB-999\n\xff\xfe binary")
    with pytest.raises(course_data.DataError, match="KB-999.md: not UTF-8"):
        course_data.read_corpus_folder(tmp_path, 1)


def test_the_heldout_tickets_follow_the_schema_and_are_not_generated_ones():
    held = data.heldout_tickets()
    assert len(held) >= 30 and len({t["id"] for t in held}) == len(held)
    generated = {it["ticket"] for split in ("train", "dev", "test") for it in data.load_task("json_extraction", split)}
    assert not generated & {t["ticket"] for t in held}
    assert sum(t["target"]["plan"] is None and "plan" in t["edge"] for t in held) >= 3  # names that are no plan id
    assert sum("two emails" in t["edge"] for t in held) >= 2


def test_a_heldout_target_outside_the_schema_is_refused(tmp_path, monkeypatch):
    shutil.copytree(data.data_dir() / "schemas", tmp_path / "schemas")
    (tmp_path / "heldout").mkdir()
    bad = {"id": "x", "ticket": "Hi", "target": {"plan": "gold"}}
    (tmp_path / "heldout" / "tickets.jsonl").write_text(json.dumps(bad) + "\n")
    monkeypatch.setenv("COURSE_DATA_DIR", str(tmp_path))
    with pytest.raises(data.DataError, match="tickets.jsonl:1: target does not follow the ticket schema"):
        data.heldout_tickets()
