"""Load and validate the course data: the help-centre corpus, the facts and the task sets.

The data lives in ``data/`` at the repository root (set ``COURSE_DATA_DIR`` to use
another copy). Every loader validates what it reads and raises :class:`DataError`
naming the file, the line and the field at fault::

    from helpers import data
    docs = data.load_corpus(version=1)           # list of article records
    test = data.load_task("qa_static", "test")   # list of task items
    conn = data.analytics_db()                   # in-memory SQLite analytics database
"""

from __future__ import annotations

import copy
import json
import sqlite3
from functools import lru_cache
from pathlib import Path

from . import env

TASKS = ("qa_static", "qa_live", "multihop", "json_extraction", "tone", "sql")
SPLITS = ("train", "dev", "test")
VERSIONS = (1, 2)

_COMMON = {"id": str, "task": str, "split": str}
FIELDS: dict[str, dict[str, type | tuple]] = {
    "qa_static": {"question": str, "answer": str, "aliases": list, "sources": list, "fact_id": str},
    "qa_live": {"question": str, "answer_v1": str, "aliases_v1": list, "sources_v1": list, "answer_v2": str,
                "aliases_v2": list, "sources_v2": list, "fact_id": str, "change_id": str},
    "multihop": {"question": str, "answer": str, "aliases": list, "sources": list, "fact_id": str},
    "json_extraction": {"ticket": str, "target": dict},
    "tone": {"message": str, "customer_first_name": str, "reply": str, "needs_apology": bool,
             "fact_answer": (str, type(None)), "fact_aliases": list, "sources": list},
    "sql": {"question": str, "sql": str},
}
QUESTION_FIELD = {"qa_static": "question", "qa_live": "question", "multihop": "question", "json_extraction": "ticket",
                  "tone": "message", "sql": "question"}


class DataError(ValueError):
    """A data file is missing or malformed; the message says which file, line and field, and what to do."""


def data_dir() -> Path:
    """The data directory: ``$COURSE_DATA_DIR`` if set, else ``<repo>/data`` (see ``helpers.env``)."""
    return env.data_dir()


def _check_choice(name: str, value: object, choices: tuple) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {list(choices)}")


def _fix_hint() -> str:
    return "regenerate the data with `python -m helpers.datagen` (or restore the file from git)"


# ------------------------------------------------------------------- facts

def load_facts(version: int = 1) -> dict:
    """The structured facts of corpus ``version`` (v2 = v1 with the change set applied)."""
    _check_choice("version", version, VERSIONS)
    return copy.deepcopy(_facts(str(data_dir()), version))


@lru_cache(maxsize=8)
def _facts(root: str, version: int) -> dict:
    from .datagen.facts import apply_changes, load_facts_files

    try:
        f1, changes = load_facts_files(Path(root) / "facts")
    except FileNotFoundError as e:
        raise DataError(f"{e.filename}: file not found; {_fix_hint()}") from None
    except json.JSONDecodeError as e:
        raise DataError(f"{root}/facts: invalid JSON at line {e.lineno}: {e.msg}; fix the hand-written facts file") from None
    return f1 if version == 1 else apply_changes(f1, changes)


def load_changes() -> list[dict]:
    """The v2 change set: a list of ``{id, path, old, new, description, articles}``."""
    path = data_dir() / "facts" / "changes_v2.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))["changes"]
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; {_fix_hint()}") from None


def ticket_schema() -> dict:
    """The JSON Schema of the ``json_extraction`` targets."""
    path = data_dir() / "schemas" / "ticket.schema.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found; restore data/schemas/ticket.schema.json from git") from None


def heldout_tickets() -> list[dict]:
    """32 support tickets written by hand apart from the ticket generator (``data/heldout/tickets.jsonl``):
    other phrasings, other products' wording, and values at the edges of the schema (two emails, a plan name
    that is not a plan id, no phone). They are for measurement only: nothing is trained, tuned or prompted
    with them. Each item has ``ticket``, ``target`` (valid under the ticket schema) and ``edge`` (what is
    unusual about it, or empty)."""
    path = data_dir() / "heldout" / "tickets.jsonl"
    rows = _read_jsonl(path)
    import jsonschema

    validator = jsonschema.Draft202012Validator(ticket_schema())
    for n, item in rows:
        if not isinstance(item.get("ticket"), str) or not isinstance(item.get("target"), dict):
            raise DataError(f"{path}:{n}: a held-out ticket needs a string 'ticket' and a 'target' object")
        error = next(iter(validator.iter_errors(item["target"])), None)
        if error is not None:
            raise DataError(f"{path}:{n}: target does not follow the ticket schema: {error.message}")
    return [item for _n, item in rows]


# ------------------------------------------------------------------- corpus

def _parse_article(path: Path, version: int) -> dict:
    text = path.read_text(encoding="utf-8")
    lines = text.split("\n")
    if not lines or lines[0] != "---" or "---" not in lines[1:]:
        raise DataError(f"{path}:1: missing front matter (a block between '---' lines); {_fix_hint()}")
    end = lines.index("---", 1)
    meta: dict[str, str] = {}
    for n, line in enumerate(lines[1:end], start=2):
        key, sep, value = line.partition(": ")
        if not sep:
            raise DataError(f"{path}:{n}: front-matter line {line!r} is not 'key: value'; {_fix_hint()}")
        meta[key.strip()] = value.strip()
    for n_key in ("id", "title", "section", "version", "date", "audience"):
        if not meta.get(n_key):
            raise DataError(f"{path}:{end + 1}: front matter has no field {n_key!r}; {_fix_hint()}")
    if meta["id"] != path.stem:
        raise DataError(f"{path}:2: field 'id' is {meta['id']!r} but the file is named {path.name}; rename one of them")
    if meta["version"] != str(version):
        raise DataError(f"{path}: field 'version' is {meta['version']!r}, expected {version}; {_fix_hint()}")
    if not (meta["audience"] in ("public", "internal") or meta["audience"].startswith("plan:")):
        raise DataError(f"{path}: field 'audience' is {meta['audience']!r}; use public, internal or plan:<plan id>")
    return {"id": meta["id"], "title": meta["title"], "section": meta["section"], "version": version,
            "date": meta["date"], "audience": meta["audience"], "text": "\n".join(lines[end + 1:]).lstrip("\n"),
            "path": str(path)}


@lru_cache(maxsize=8)
def _corpus(root: str, version: int) -> tuple[dict, ...]:
    d = Path(root) / "corpus" / f"v{version}"
    files = sorted(d.glob("*.md"))
    if not files:
        raise DataError(f"{d}: no articles found; {_fix_hint()}")
    return tuple(_parse_article(p, version) for p in files)


def load_corpus(version: int = 1) -> list[dict]:
    """Articles of corpus ``version``: records with id, title, section, version, date, audience, text, path."""
    _check_choice("version", version, VERSIONS)
    return [dict(a) for a in _corpus(str(data_dir()), version)]


def read_corpus_folder(folder: str | Path, version: int) -> list[dict]:
    """Articles from any folder of front-matter markdown files (for example a fresh export to index).

    A missing folder is an error; an empty one gives an empty list (indexing then refuses it);
    a file that is not UTF-8 text is an error naming it; files other than ``*.md`` are ignored
    with a warning that lists them.
    """
    import warnings

    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"corpus folder {folder} does not exist; check the path (or the export that fills it)")
    articles = []
    for path in sorted(folder.glob("*.md")):
        try:
            articles.append(_parse_article(path, version))
        except UnicodeDecodeError as exc:
            raise DataError(f"{path}: not UTF-8 text (byte {exc.start}); re-export it as UTF-8 or remove it") from None
    ignored = sorted(p.name for p in folder.iterdir() if p.is_file() and p.suffix != ".md")
    if ignored:
        warnings.warn(f"ignored {len(ignored)} non-markdown file(s) in {folder.name}: {ignored[:5]}", stacklevel=2)
    return articles


def corpus_ids(version: int = 1) -> set[str]:
    """The article ids of corpus ``version``."""
    _check_choice("version", version, VERSIONS)
    return {a["id"] for a in _corpus(str(data_dir()), version)}


# ------------------------------------------------------------------- tasks

def _read_jsonl(path: Path) -> list[tuple[int, dict]]:
    if not path.exists():
        raise DataError(f"{path}: file not found; {_fix_hint()}")
    out = []
    for n, line in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise DataError(f"{path}:{n}: invalid JSON ({e.msg}); {_fix_hint()}") from None
        if not isinstance(obj, dict):
            raise DataError(f"{path}:{n}: each line must be a JSON object; {_fix_hint()}")
        out.append((n, obj))
    return out


def _norm(text: str) -> str:
    from .textnorm import normalize
    return normalize(text)


def _validate(task: str, split: str, path: Path, rows: list[tuple[int, dict]], root: str) -> None:
    spec = {**_COMMON, **FIELDS[task]}
    seen: dict[str, int] = {}
    validator = None
    if task == "json_extraction":
        import jsonschema
        validator = jsonschema.Draft202012Validator(ticket_schema())
    for n, item in rows:
        where = f"{path}:{n}"
        for field, typ in spec.items():
            if field not in item:
                raise DataError(f"{where}: field {field!r} is missing; {_fix_hint()}")
            if not isinstance(item[field], typ) or (typ is str and not item[field]):
                raise DataError(f"{where}: field {field!r} should be a non-empty {getattr(typ, '__name__', typ)}, "
                                f"got {item[field]!r}; {_fix_hint()}")
        if item["task"] != task or item["split"] != split:
            raise DataError(f"{where}: field 'task'/'split' is {item['task']!r}/{item['split']!r}, "
                            f"expected {task!r}/{split!r}; the line is in the wrong file")
        if item["id"] in seen:
            raise DataError(f"{where}: field 'id' {item['id']!r} duplicates line {seen[item['id']]}; ids must be unique")
        seen[item["id"]] = n
        for field, version in (("sources", 1), ("sources_v1", 1), ("sources_v2", 2)):
            if field in item:
                ids = set(a["id"] for a in _corpus(root, version))
                if task == "multihop" and len(item[field]) < 2:
                    raise DataError(f"{where}: field {field!r} must list at least 2 articles for multihop")
                if task != "tone" and not item[field]:
                    raise DataError(f"{where}: field {field!r} is empty; every question needs a gold source")
                missing = [s for s in item[field] if s not in ids]
                if missing:
                    raise DataError(f"{where}: field {field!r} names {missing}, not in corpus v{version}; "
                                    f"{_fix_hint()}")
        if validator is not None:
            errors = sorted(validator.iter_errors(item["target"]), key=lambda e: list(e.path))
            if errors:
                e = errors[0]
                field = "target." + ".".join(str(p) for p in e.path) if e.path else "target"
                raise DataError(f"{where}: field {field!r} fails the ticket schema: {e.message}; "
                                "fix the item or data/schemas/ticket.schema.json")
    if split != "train":
        train_path = path.with_name("train.jsonl")
        qf = QUESTION_FIELD[task]
        train = {_norm(it[qf]): n for n, it in _read_jsonl(train_path) if isinstance(it.get(qf), str)}
        for n, item in rows:
            hit = train.get(_norm(item[qf]))
            if hit is not None:
                raise DataError(f"{path}:{n}: field {qf!r} leaks into the train split ({train_path}:{hit}) "
                                "after normalisation; remove or reword one of them")


def load_task(task: str, split: str) -> list[dict]:
    """Validated items of one task split (see ``TASKS`` and ``SPLITS``)."""
    _check_choice("task", task, TASKS)
    _check_choice("split", split, SPLITS)
    root = data_dir()
    path = root / "tasks" / task / f"{split}.jsonl"
    rows = _read_jsonl(path)
    _validate(task, split, path, rows, str(root))
    return [item for _n, item in rows]


def load_task_dataset(task: str, split: str):
    """The split as a Hugging Face ``datasets.Dataset`` (nested fields kept as JSON-compatible objects)."""
    items = load_task(task, split)
    import datasets

    if task == "json_extraction":
        items = [{**it, "target": json.dumps(it["target"], sort_keys=True, ensure_ascii=False)} for it in items]
    return datasets.Dataset.from_list(items)


def analytics_db(path: str | Path | None = None) -> sqlite3.Connection:
    """A SQLite connection to the analytics database built from ``analytics/analytics.sql``.

    ``path=None`` builds it in memory; a path writes a database file there (replacing it).
    """
    dump = data_dir() / "analytics" / "analytics.sql"
    if not dump.exists():
        raise DataError(f"{dump}: file not found; {_fix_hint()}")
    target = ":memory:"
    if path is not None:
        target = str(path)
        Path(target).unlink(missing_ok=True)
    conn = sqlite3.connect(target)
    conn.executescript(dump.read_text(encoding="utf-8"))
    return conn
