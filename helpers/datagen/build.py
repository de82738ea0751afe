"""Write everything under ``data/`` from the facts files: corpus, change log, tasks, database, data card."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
from pathlib import Path

from . import card, qa, sqlgen, tickets, tone
from .facts import apply_changes, load_facts_files
from .render import render_corpus

TASKS = ("qa_static", "qa_live", "multihop", "json_extraction", "tone", "sql")
SPLITS = ("train", "dev", "test")


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write(text)


def jsonl(items: list[dict]) -> str:
    """Items as JSON Lines: sorted keys, UTF-8 characters kept, ``\\n`` endings."""
    return "".join(json.dumps(it, sort_keys=True, ensure_ascii=False) + "\n" for it in items)


def article_date(facts: dict, aid: str, version: int) -> str:
    """Publication date: v2 articles share the release date, v1 dates spread before the docs date."""
    if version == 2:
        return facts["company"]["v2_docs_date"]
    base = dt.date.fromisoformat(facts["company"]["docs_date"])
    return (base - dt.timedelta(days=random.Random(f"date:{aid}").randint(0, 180))).isoformat()


def article_file(art: dict, version: int, date: str) -> str:
    """Front matter plus body."""
    head = ["---", f"id: {art['id']}", f"title: {art['title']}", f"section: {art['section']}", f"version: {version}",
            f"date: {date}", f"audience: {art['audience']}", "---", ""]
    return "\n".join(head) + art["body"]


def check_change_set(corpus_v1: list[dict], corpus_v2: list[dict], changes: dict) -> None:
    """Fail unless the articles whose body differs are exactly those the change set lists."""
    b1 = {a["id"]: a["body"] for a in corpus_v1}
    b2 = {a["id"]: a["body"] for a in corpus_v2}
    differ = {k for k in b2 if b1.get(k) != b2[k]} | (set(b1) - set(b2))
    declared = {a for c in changes["changes"] for a in c["articles"]}
    if differ != declared:
        raise ValueError(
            "changes_v2.json does not match the rendered corpus: articles that differ but are not listed: "
            f"{sorted(differ - declared)}; listed but unchanged: {sorted(declared - differ)}. "
            "Fix the 'articles' lists of the changes in data/facts/changes_v2.json.")


def changelog(changes: dict, corpus_v2: list[dict]) -> str:
    """The human-readable change log of v2 (generated from the change set)."""
    titles = {a["id"]: a["title"] for a in corpus_v2}
    lines = [f"# Change log: corpus v2 ({changes['date']})", "", changes["title"] + ".", "",
             "Generated from `data/facts/changes_v2.json` by `python -m helpers.datagen`; do not edit by hand.", "",
             "| id | what changed | fact path | old | new | articles |", "|---|---|---|---|---|---|"]
    for c in changes["changes"]:
        old = "(none)" if c["old"] is None else json.dumps(c["old"], ensure_ascii=False)
        new = json.dumps(c["new"], ensure_ascii=False)
        if isinstance(c["new"], dict):
            new = "(new entry)"
        arts = ", ".join(f"{a} ({titles[a]})" for a in c["articles"])
        lines.append(f"| {c['id']} | {c['description']} | `{c['path']}` | {old} | {new} | {arts} |")
    return "\n".join(lines) + "\n"


def generate(out_dir: Path | str | None = None, facts_dir: Path | str | None = None) -> dict:
    """Regenerate all data files under ``out_dir`` (default: the repo's ``data/``). Returns a summary."""
    root = Path(__file__).resolve().parents[2] / "data"
    out = Path(out_dir) if out_dir else root
    facts_dir = Path(facts_dir) if facts_dir else root / "facts"
    f1, changes = load_facts_files(facts_dir)
    f2 = apply_changes(f1, changes)
    c1, c2 = render_corpus(f1), render_corpus(f2)
    check_change_set(c1, c2, changes)
    for version, corpus, facts in ((1, c1, f1), (2, c2, f2)):
        d = out / "corpus" / f"v{version}"
        if d.exists():
            shutil.rmtree(d)
        for art in corpus:
            _write(d / f"{art['id']}.md", article_file(art, version, article_date(facts, art["id"], version)))
    _write(out / "CHANGELOG_v2.md", changelog(changes, c2))
    sets = {
        "qa_static": qa.qa_static(f1, changes, c1),
        "qa_live": qa.qa_live(f1, f2, changes, c1, c2),
        "multihop": qa.multihop(f1, changes, c1),
        "json_extraction": tickets.json_extraction(f1),
        "tone": tone.tone(f1, changes, c1),
        "sql": sqlgen.sql_task(f1),
    }
    for task, splits in sets.items():
        for split in SPLITS:
            _write(out / "tasks" / task / f"{split}.jsonl", jsonl(splits[split]))
    _write(out / "analytics" / "analytics.sql", sqlgen.dump_sql(f1))
    summary = {
        "articles": {1: len(c1), 2: len(c2)},
        "words": {1: sum(len(a["body"].split()) for a in c1), 2: sum(len(a["body"].split()) for a in c2)},
        "sizes": {t: {s: len(v[s]) for s in SPLITS} for t, v in sets.items()},
    }
    _write(out / "README.md", card.render(f1, changes, summary))
    return summary
