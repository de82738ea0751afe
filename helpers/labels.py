"""Is the grader right on *your* case? Your labels of real replies, read, saved and set against the grader.

The course grades every answer with ``evaluate.grade``; on the course's own tasks its agreement with careful
reading is measured in notebook 04. On your documents and questions it may do worse (answers phrased in ways
the aliases do not cover, say), so you check it the same way: read N replies, say Correct or Wrong, and the
report gives the grader's agreement with you, with n and an interval.

Labels live in the case folder as ``labels.jsonl``, one reply a line::

    {"id": "q0003", "system": "rag", "label": "correct", "reply": "It raises AssertionError."}

``id`` is the question's id (its ``id`` field, else ``q`` + its line number, e.g. ``q0003``), ``system`` is
``closed`` (closed-book) or ``rag``, ``label`` is ``correct`` or ``wrong``; ``reply`` (optional) is the reply
you judged: when the model's reply changes on a re-run, a label for the old reply is not applied to the new one.
Notebook 11's labeller and ``python -m helpers.case PATH --label 20`` write this file for you.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

LABELS_FILE = "labels.jsonl"
LABELS = ("correct", "wrong")
SYSTEMS = ("closed", "rag")
DEFAULT_N = 20
MIN_LABELS = 10      # fewer labelled replies than this: the agreement says too little
MIN_AGREEMENT = 0.9  # below this the grader's figures are not to be trusted on the case


@dataclass(frozen=True)
class LabelProblem:
    """One thing wrong in labels.jsonl: the line, what, and what to do."""

    line: int
    message: str
    fix: str

    def __str__(self) -> str:
        return f"{LABELS_FILE}, line {self.line}: {self.message}; {self.fix}"


class LabelError(ValueError):
    """labels.jsonl cannot be used; ``problems`` lists every reason (nothing in the file is changed)."""

    def __init__(self, problems: Sequence[LabelProblem]):
        self.problems = list(problems)
        super().__init__("\n".join(f"  - {p}" for p in self.problems))


def replies(rows: Sequence[dict]) -> list[dict]:
    """The replies of a case's answer rows (``case.answer``), one per question and system, with the grader's verdict."""
    out = []
    for row in rows:
        for system in SYSTEMS:
            out.append({"id": row["id"], "system": system, "question": row["question"], "answer": row["answer"],
                        "reply": row[system]["output"], "grader": bool(row[system]["correct"]),
                        "reason": row[system].get("reason")})
    return out


def check_file(path: Path, question_ids: set[str] | None = None) -> tuple[list[dict], list[LabelProblem]]:
    """The labels in ``path`` and every problem in them (unknown question id, a label other than correct/wrong,
    an unknown system, a duplicate, a line that is not a JSON object). A missing file is no labels, no problem."""
    path = Path(path)
    if not path.is_file():
        return [], []
    records, problems, seen = [], [], {}
    for number, line in enumerate(path.read_text(encoding="utf-8-sig").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(LabelProblem(number, f"not JSON ({err.msg})", "write one JSON object per line"))
            continue
        if not isinstance(obj, dict):
            problems.append(LabelProblem(number, "not a JSON object", 'write {"id": ..., "system": ..., "label": ...}'))
            continue
        qid, system, label = obj.get("id"), obj.get("system"), obj.get("label")
        if not isinstance(qid, str) or (question_ids is not None and qid not in question_ids):
            problems.append(LabelProblem(number, f"id {qid!r} is no question of the case",
                                         "use the question's id (its id field, else q + its line number, e.g. q0003)"))
            continue
        if system not in SYSTEMS:
            problems.append(LabelProblem(number, f"system {system!r} is unknown", f"write one of {list(SYSTEMS)}"))
            continue
        if label not in LABELS:
            problems.append(LabelProblem(number, f"label {label!r} is neither correct nor wrong",
                                         'write "correct" or "wrong"'))
            continue
        if "reply" in obj and not isinstance(obj["reply"], str):
            problems.append(LabelProblem(number, "reply must be the reply's text", "write it as a string or leave it out"))
            continue
        if (qid, system) in seen:
            problems.append(LabelProblem(number, f"a second label for {qid} ({system}); the first is on line "
                                         f"{seen[qid, system]}", "keep one of the two lines"))
            continue
        seen[qid, system] = number
        records.append({"id": qid, "system": system, "label": label} | ({"reply": obj["reply"]} if "reply" in obj else {}))
    return records, problems


def read(folder: str | Path, question_ids: set[str] | None = None) -> list[dict]:
    """The labels of a case folder (``labels.jsonl``); raises :class:`LabelError` listing every problem."""
    records, problems = check_file(Path(folder) / LABELS_FILE, question_ids)
    if problems:
        raise LabelError(problems)
    return records


def save(folder: str | Path, reply: dict, label: str) -> Path:
    """Add (or replace) the label of one reply in the case folder's labels.jsonl, keeping every other label.

    The file is rewritten whole through a temporary file, so an interrupted save loses nothing."""
    if label not in LABELS:
        raise ValueError(f"label must be one of {list(LABELS)}, got {label!r}")
    path = Path(folder) / LABELS_FILE
    records = read(folder)
    records = [r for r in records if (r["id"], r["system"]) != (reply["id"], reply["system"])]
    records.append({"id": reply["id"], "system": reply["system"], "label": label, "reply": reply["reply"]})
    tmp = path.with_suffix(".jsonl.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    os.replace(tmp, path)
    return path


def _applies(record: dict, reply: dict) -> bool:
    return record.get("reply") is None or record["reply"].strip() == reply["reply"].strip()


def matched(all_replies: Sequence[dict], records: Sequence[dict]) -> list[tuple[dict, bool]]:
    """(reply, the learner's verdict) for every labelled reply whose label still applies (same reply text)."""
    by_key = {(r["id"], r["system"]): r for r in records}
    out = []
    for reply in all_replies:
        record = by_key.get((reply["id"], reply["system"]))
        if record and _applies(record, reply):
            out.append((reply, record["label"] == "correct"))
    return out


def pick(all_replies: Sequence[dict], records: Sequence[dict] = (), n: int = DEFAULT_N, seed: int = 0) -> list[dict]:
    """`n` replies to label, not labelled yet: half of them ones the grader calls correct (as many as there are),
    the rest ones it calls wrong, shuffled so the order gives nothing away."""
    if n < 1:
        raise ValueError(f"n must be at least 1, got {n}")
    done = {(r["id"], r["system"]) for r, _ in matched(all_replies, records)}
    todo = [r for r in all_replies if (r["id"], r["system"]) not in done]
    rng = random.Random(seed)
    right = rng.sample([r for r in todo if r["grader"]], k=sum(r["grader"] for r in todo))
    wrong = rng.sample([r for r in todo if not r["grader"]], k=sum(not r["grader"] for r in todo))
    half = min(len(right), n // 2)
    chosen = right[:half] + wrong[: n - half]
    chosen += right[half : half + n - len(chosen)]
    rng.shuffle(chosen)
    return chosen


def agreement(all_replies: Sequence[dict], records: Sequence[dict]) -> dict:
    """The grader against your labels: ``stats.agreement``'s figures (n, agreement and kappa with intervals,
    the confusion counts), ``stale`` (labels whose reply has changed since), the disagreements, and
    ``warning``: a sentence when fewer than ``MIN_LABELS`` replies are labelled or the agreement is below
    ``MIN_AGREEMENT`` (None otherwise)."""
    from . import stats

    pairs = matched(all_replies, records)
    keys = {(r["id"], r["system"]) for r in all_replies}
    stale = sum(1 for r in records if (r["id"], r["system"]) in keys) - len(pairs)
    out: dict = {"n": len(pairs), "stale": stale}
    if pairs:
        out |= stats.agreement([human for _, human in pairs], [reply["grader"] for reply, _ in pairs])
        out["disagreements"] = [{"id": r["id"], "system": r["system"], "you": "correct" if h else "wrong",
                                 "grader": "correct" if r["grader"] else "wrong", "reason": r.get("reason"),
                                 "reply": r["reply"]} for r, h in pairs if h != r["grader"]]
    if len(pairs) < MIN_LABELS:
        out["warning"] = (f"the grader is unchecked on this case: {len(pairs)} replies labelled, fewer than "
                          f"{MIN_LABELS} (label {DEFAULT_N} in notebook 11 or with --label {DEFAULT_N}); every score "
                          "below rests on it")
    elif out["agreement"] < MIN_AGREEMENT:
        out["warning"] = (f"the grader agrees with your labels on only {out['agreement']:.0%} of {len(pairs)} replies "
                          f"(below {MIN_AGREEMENT:.0%}): the scores and the recommendation rest on a grader that "
                          "misjudges this case; add aliases to questions.jsonl where it missed a right answer")
    else:
        out["warning"] = None
    return out


def label_in_terminal(folder: str | Path, all_replies: Sequence[dict], n: int = DEFAULT_N,
                      ask: Callable[[str], str] | None = None, say: Callable[[str], None] = print) -> int:
    """Label `n` replies at a terminal prompt (c = correct, w = wrong, s = skip, q = stop); each answer is saved
    at once. Returns how many were labelled."""
    ask = ask or input
    todo = pick(all_replies, read(folder), n)
    say(f"Label {len(todo)} replies: is the reply a correct answer to the question? "
        "c = correct, w = wrong, s = skip, q = stop (each label is saved at once)")
    done = 0
    for i, reply in enumerate(todo, 1):
        say(f"\n[{i}/{len(todo)}] {reply['id']} ({reply['system']})\n  question: {reply['question']}\n"
            f"  gold:     {reply['answer']}\n  reply:    {reply['reply']}")
        while True:
            key = ask("  correct / wrong / skip / quit [c/w/s/q]: ").strip().lower()[:1]
            if key in ("c", "w", "s", "q"):
                break
            say("  type c, w, s or q")
        if key == "q":
            break
        if key == "s":
            continue
        save(folder, reply, "correct" if key == "c" else "wrong")
        done += 1
    return done
