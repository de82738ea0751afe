"""Collect real replies of the course's systems for the grader's labelled set (data/labels/, issue 42).

Closed-book (base), RAG, FT (the knowledge adapter) and RAFT on the three QA tasks' test split, and closed-book
and RAG on the sample case (data/cases/python_reference). Writes ``data/labels/replies.jsonl``: one reply per
line with its question, gold answer, aliases and rival values, and **no grade**: the labels are written by
reading, by the rule in data/labels/README.md, before any grader is run on them.

    .venv/bin/python scripts/make_grader_replies.py [--per-task 16]

Runs in the learner profile (the adapters the notebooks use; trained into the workspace if missing).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "data" / "labels" / "replies.jsonl"
QA_SYSTEMS = ("base", "RAG", "FT", "RAFT")


def spread(items: list[dict], n: int) -> list[dict]:
    """`n` items spread evenly over the list (not only its first items)."""
    step = max(1, len(items) // n)
    return items[::step][:n]


def course_rows(per_task: int) -> list[dict]:
    from helpers import benchmark, data, evaluate, systems
    from helpers import index as index_mod

    gens = systems.load_generators(["base", "knowledge", "raft"])
    indexes = {v: index_mod.course_index(v, progress=False) for v in (1, 2)}
    rows = []
    for task in ("qa_static", "qa_live", "multihop"):
        version = benchmark.CORPUS_VERSION.get(task, 1)
        items = spread(data.load_task(task, "test"), per_task)
        hits, _ = systems.retrieve(indexes[version], task, items)
        for system in QA_SYSTEMS:
            model = benchmark.model_for(system, task)
            out = systems.tasks.run(gens[model], task, items, version=version, progress=True,
                                    contexts=hits if systems.USES_CONTEXT[system] else None,
                                    max_words=systems.CONTEXT["max_words"])
            for item, row in zip(items, out, strict=True):
                gold = evaluate.qa_gold(item, version)
                rows.append({"id": f"{item['id']}/{system}", "source": "course", "task": task, "system": system,
                             "question": item["question"], **gold, "reply": row["output"]})
    return rows


def case_rows() -> list[dict]:
    from helpers import case, models

    c = case.validate(ROOT / "data" / "cases" / "python_reference")
    _, idx = case.build_index(c, progress=False)
    retrieved = case.retrieve(idx, c.questions, progress=False)
    gen = models.load_generator()
    answered = case.answer(gen, c, retrieved, progress=True)
    rows = []
    for q, row in zip(c.questions, answered, strict=True):
        for name, system in (("closed", "base"), ("rag", "RAG")):
            rows.append({"id": f"case-python_reference/{q['id']}/{system}", "source": "case", "task": "case",
                         "system": system, "question": q["question"], "answer": q["answer"],
                         "aliases": q["aliases"], "others": [], "reply": row[name]["output"]})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-task", type=int, default=16, help="test items per QA task (each answered by 4 systems)")
    args = parser.parse_args(argv)
    from helpers import env

    env.configure()
    rows = course_rows(args.per_task) + case_rows()
    OUT.parent.mkdir(parents=True, exist_ok=True)
    with OUT.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} replies to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
