"""Task prompts, targets and scores: one definition used by every notebook."""

import json

import pytest

from helpers import data, tasks


def test_messages_and_targets():
    item = data.load_task("json_extraction", "test")[0]
    conversation = tasks.messages("json_extraction", item, answer=True)
    assert [m["role"] for m in conversation] == ["system", "user", "assistant"]
    assert json.loads(conversation[2]["content"]) == item["target"]
    sql = data.load_task("sql", "test")[0]
    assert "workflow_runs(" in tasks.system_prompt("sql") and tasks.target_text("sql", sql) == sql["sql"]
    qa = data.load_task("qa_static", "test")[0]
    assert tasks.target_text("qa_static", qa) == f"{qa['answer']} [{qa['sources'][0]}]"
    live = data.load_task("qa_live", "test")[0]
    assert tasks.target_text("qa_live", live, version=2).startswith(live["answer_v2"])


def test_gold_targets_score_full_marks():
    conn = data.analytics_db()
    for task in tasks.TASKS:
        for item in data.load_task(task, "test")[:5]:
            result = tasks.score(task, item, tasks.target_text(task, item), conn=conn)
            assert result["score"] == 1.0, (task, item["id"], result)


def test_wrong_outputs_score_lower():
    assert tasks.score("qa_static", data.load_task("qa_static", "test")[0], "I do not know.")["score"] == 0
    json_item = data.load_task("json_extraction", "test")[0]
    assert tasks.score("json_extraction", json_item, "not json")["score"] == 0
    assert tasks.score("sql", data.load_task("sql", "test")[0], "DELETE FROM customers")["score"] == 0
    assert tasks.score("tone", data.load_task("tone", "test")[0], "Hello!!")["score"] < 0.5


def test_bad_input():
    with pytest.raises(ValueError, match="unknown task 'poetry'"):
        tasks.messages("poetry", {})
    with pytest.raises(ValueError, match="needs a string 'ticket'"):
        tasks.messages("json_extraction", {"id": "x"})
    with pytest.raises(TypeError, match="a model output is a string"):
        tasks.score("qa_static", data.load_task("qa_static", "test")[0], None)
