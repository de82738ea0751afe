"""The learner's labels (helpers.labels): read with file, line and fix; saved without losing any; picked half
grader-correct; agreement with n, interval and a warning; the terminal labeller and the notebook's widget."""

import json

import pytest

from helpers import case, labels, widgets


def rows(n=12):
    """Answer rows as case.answer writes them: the grader says correct on even questions (closed) and on every
    third (rag)."""
    return [{"id": f"q{i:04d}", "question": f"Question {i}?", "answer": f"answer {i}",
             "closed": {"output": f"closed reply {i}", "correct": i % 2 == 0, "reason": "found" if i % 2 == 0 else "not found"},
             "rag": {"output": f"rag reply {i}", "correct": i % 3 == 0, "reason": "found" if i % 3 == 0 else "not found"}}
            for i in range(1, n + 1)]


def write(folder, lines):
    (folder / labels.LABELS_FILE).write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))


def test_replies_flatten_both_systems():
    replies = labels.replies(rows(3))
    assert [(r["id"], r["system"]) for r in replies][:2] == [("q0001", "closed"), ("q0001", "rag")]
    assert len(replies) == 6 and replies[1]["grader"] is False and replies[1]["reason"] == "not found"


def test_bad_label_files_are_refused_with_line_and_fix(tmp_path):
    write(tmp_path, [{"id": "q0001", "system": "rag", "label": "correct"},
                     {"id": "q9999", "system": "rag", "label": "correct"},
                     {"id": "q0002", "system": "rag", "label": "maybe"},
                     {"id": "q0003", "system": "both", "label": "wrong"},
                     {"id": "q0001", "system": "rag", "label": "wrong"},
                     "not json", "[1, 2]"])
    before = (tmp_path / labels.LABELS_FILE).read_text()
    with pytest.raises(labels.LabelError) as err:
        labels.read(tmp_path, {f"q{i:04d}" for i in range(1, 5)})
    found = {p.line: p for p in err.value.problems}
    assert sorted(found) == [2, 3, 4, 5, 6, 7]
    assert "no question of the case" in found[2].message and "q0003" in found[2].fix
    assert "neither correct nor wrong" in found[3].message and 'write "correct" or "wrong"' in found[3].fix
    assert "system 'both'" in found[4].message
    assert "second label" in found[5].message and "line 1" in found[5].message
    assert "not JSON" in found[6].message and "not a JSON object" in found[7].message
    with pytest.raises(labels.LabelError):
        labels.save(tmp_path, labels.replies(rows(1))[0], "correct")
    assert (tmp_path / labels.LABELS_FILE).read_text() == before  # nothing of the earlier labels is lost


def test_case_validation_refuses_a_bad_labels_file(tmp_path):
    from tests.test_case import only, write_case

    root = write_case(tmp_path)
    write(root, [{"id": "q0001", "system": "rag", "label": "yes"}])
    p = only(root)
    assert (p.file, p.line) == ("labels.jsonl", 1) and "neither correct nor wrong" in p.message


def test_save_replaces_one_label_and_keeps_the_others(tmp_path):
    replies = labels.replies(rows(3))
    labels.save(tmp_path, replies[0], "correct")
    labels.save(tmp_path, replies[1], "wrong")
    labels.save(tmp_path, replies[0], "wrong")
    saved = labels.read(tmp_path)
    assert [(r["id"], r["system"], r["label"]) for r in saved] == [("q0001", "rag", "wrong"), ("q0001", "closed", "wrong")]
    with pytest.raises(ValueError, match="label must be one of"):
        labels.save(tmp_path, replies[0], "yes")


def test_pick_takes_half_grader_correct_and_skips_labelled():
    replies = labels.replies(rows(12))
    chosen = labels.pick(replies, n=10)
    assert len(chosen) == 10 and sum(r["grader"] for r in chosen) == 5
    done = [{"id": r["id"], "system": r["system"], "label": "correct", "reply": r["reply"]} for r in chosen]
    again = labels.pick(replies, done, n=10)
    assert not {(r["id"], r["system"]) for r in again} & {(r["id"], r["system"]) for r in chosen}
    assert labels.pick(replies, n=10) == chosen  # the same seed picks the same replies
    with pytest.raises(ValueError, match="at least 1"):
        labels.pick(replies, n=0)


def test_agreement_warns_when_too_few_or_too_low():
    replies = labels.replies(rows(12))
    agree = [{"id": r["id"], "system": r["system"], "label": "correct" if r["grader"] else "wrong"} for r in replies]
    few = labels.agreement(replies, agree[:5])
    assert few["n"] == 5 and "unchecked" in few["warning"]
    good = labels.agreement(replies, agree)
    assert good["agreement"] == 1.0 and good["warning"] is None and good["disagreements"] == []
    flipped = [dict(a, label="wrong" if a["label"] == "correct" else "correct") if i % 3 == 0 else a
               for i, a in enumerate(agree)]
    low = labels.agreement(replies, flipped)
    assert low["agreement"] < labels.MIN_AGREEMENT and "misjudges" in low["warning"] and low["disagreements"]
    # a label written for an older reply is not applied to a new one
    stale = [dict(agree[0], reply="an older reply")] + agree[1:12]
    assert labels.agreement(replies, stale)["stale"] == 1


def test_terminal_labeller_saves_each_answer(tmp_path):
    replies = labels.replies(rows(6))
    keys = iter(["c", "?", "w", "s", "q"])
    said = []
    assert labels.label_in_terminal(tmp_path, replies, n=6, ask=lambda _: next(keys), say=said.append) == 2
    assert len(labels.read(tmp_path)) == 2 and any("type c, w, s or q" in s for s in said)


def test_widget_labeller_saves_clicks_and_reports_agreement(tmp_path):
    replies = labels.replies(rows(12))
    box = widgets.labeller(tmp_path, replies, n=4)
    assert "1 of 4" in box.card.value
    for name in ("correct", "wrong", "skip", "correct"):
        box.buttons[name].click()
    assert len(labels.read(tmp_path)) == 3
    assert all(b.disabled for b in box.buttons.values()) and "agrees with you" in box.summary.value
    assert "unchecked" in box.summary.value  # 3 labels: fewer than MIN_LABELS
    again = widgets.labeller(tmp_path, replies, n=4)  # a re-run continues: new replies, the old labels kept
    assert not {(r["id"], r["system"]) for r in again.todo} & {(r["id"], r["system"]) for r in box.todo[:4]
                                                                  if r is not box.todo[2]}


def test_validator_warns_of_accidental_aliases_and_takes_a_stem(tmp_path):
    from tests.test_case import write_case

    root = write_case(tmp_path)
    lines = [json.loads(x) for x in (root / "questions.jsonl").read_text().splitlines()]
    lines[0]["aliases"] = ["2", "x", "-x", "2 hours"]
    lines[1]["sources"] = ["prices"]            # the stem of prices.md
    (root / "questions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    c = case.validate(root)
    assert c.questions[1]["sources"] == ["prices.md"]
    warned = [(w.line, w.field, w.message) for w in c.warnings]
    assert [(line, f) for line, f, _ in warned] == [(1, "aliases"), (1, "aliases")]
    assert "bare number" in warned[0][2] and "single letter" in warned[1][2]
    (root / "docs" / "prices.txt").write_text("The prices again, as plain text.\n")
    from tests.test_case import only

    p = only(root)
    assert "could be any of" in p.message and "extension" in p.fix
