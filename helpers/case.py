"""Your own case: the course's decision run on a folder of your documents, questions and examples.

A case folder holds (``data/cases/README.md`` specifies each file, with an example)::

    docs/             the knowledge base: .md, .txt, .html or .pdf files, any names, any sub-folders
    questions.jsonl   {"question", "answer"} per line, optional "aliases" and "sources" (paths in docs/)
    examples.jsonl    optional: the behaviour wanted, as chat {"messages": [...]} records
    case.toml         optional: monthly_calls, update_frequency, schema (a JSON Schema file), [prices]

:func:`validate` reads everything and reports every problem at once (file, line, field, what to do)
before anything is built; :func:`run` then measures the decision, stage by stage, and writes a
report (Markdown with a plot, a JSON of the figures, the answers as JSON lines) to the workspace.

Example::

    from helpers import case
    c = case.validate("data/cases/python_reference")   # raises case.CaseError listing the problems
    report = case.run(c)                                # index, retrieve, answer, profile, costs, decide
    report["recommendation"]["recommendation"]

From a shell: ``python -m helpers.case PATH [--profile ci|learner] [--report DIR] [--no-train]``;
exit status 0 on success, 2 when the case is invalid (the problems are listed).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import random
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, fields, replace
from html.parser import HTMLParser
from pathlib import Path

from . import env

DOC_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf")
CONVERTIBLE = {".docx": "a Word file", ".doc": "a Word file", ".rtf": "an RTF file",
               ".odt": "an OpenDocument file", ".pptx": "a slide deck", ".json": "a JSON file", ".csv": "a CSV file"}
# The fewest questions with an interval worth reading: at n=20 a 95% Wilson interval on an accuracy of
# 50% is still 0.30-0.70 (stats.wilson(10, 20)); below that it says almost nothing.
MIN_QUESTIONS = 20
MIN_EXAMPLES = 20  # with TEST_SHARE, at least 6 held back to measure the adapter on
TEST_SHARE = 0.3
SPLIT_SEED = 3407
TOML_KEYS = ("name", "monthly_calls", "update_frequency", "schema", "prices")
DEFAULT_MONTHLY_CALLS = 100_000
DEFAULT_UPDATE_FREQUENCY = "monthly"
CHUNKING = {"strategy": "heading", "size": 180, "overlap": 30}  # sections first: people's documents have headings
K = 5  # chunks in the RAG prompt; recall is read at the same depth
QA_SYSTEM = "Answer the question in one short sentence."
RAG_SYSTEM = ("Answer the question in one short sentence, using only the context below. "
              "If the context does not contain the answer, say so.")
QA_MAX_NEW_TOKENS = 48
ANSWER_CHUNK = 128  # questions answered (and written to answers.jsonl) at a time by run()
CI_QUESTIONS = 20  # the ci profile answers this many questions (smoke-sized); the learner profile all of them
STAGES = ("index", "retrieve", "answer", "examples", "decide", "report")
# A free-text example's failure is a behaviour gap when the reply carries the wanted content in another form
# (token F1 with the wanted answer at least this), a knowledge gap when it does not.
CONTENT_OVERLAP = 0.5
# The adapter on your examples trains for EPOCHS passes over them, between MIN_STEPS and MAX_STEPS steps of 8
# (the ci profile: 6 steps, smoke-sized).
EPOCHS, MIN_STEPS, MAX_STEPS = 8, 16, 96


# ---------------------------------------------------------------------------------------------
# Validation: every problem at once, with its place and its fix
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One thing wrong with a case: where (file, line, field), what, and what to do."""

    file: str
    message: str
    fix: str
    line: int | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = self.file + (f":{self.line}" if self.line else "") + (f" [{self.field}]" if self.field else "")
        return f"{where}: {self.message}. {self.fix}"


class CaseError(ValueError):
    """The case folder is not usable yet; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"the case has {len(self.problems)} problem{'s' * (len(self.problems) != 1)}:\n{lines}")


@dataclass
class Case:
    """A validated case: its documents (as articles for ``rag.chunk_corpus``), questions, examples, settings."""

    root: Path
    name: str
    docs: list[dict]
    questions: list[dict]
    examples: list[dict] = field(default_factory=list)
    monthly_calls: float = DEFAULT_MONTHLY_CALLS
    update_frequency: str = DEFAULT_UPDATE_FREQUENCY
    schema: dict | None = None
    prices: dict = field(default_factory=dict)
    warnings: list[Problem] = field(default_factory=list)  # accepted, but worth a look (accidental aliases)

    @property
    def has_sources(self) -> bool:
        return any(q.get("sources") for q in self.questions)


class _TextFromHTML(HTMLParser):
    """Visible text of an HTML page, with its h1-h3 headings as Markdown headings (so chunks follow them)."""

    BLOCKS = {"p", "div", "li", "br", "tr", "pre", "section", "article", "table", "ul", "ol", "blockquote"}
    HIDDEN = {"script", "style", "head", "noscript", "template"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._hidden = 0
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        if tag in self.HIDDEN:
            self._hidden += 1
        if tag == "title":
            self._in_title = True
        elif tag in ("h1", "h2", "h3"):
            self.parts.append("\n\n" + "#" * int(tag[1]) + " ")
        elif tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag):
        if tag in self.HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        if tag == "title":
            self._in_title = False
        elif tag in ("h1", "h2", "h3") or tag in self.BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._hidden:
            self.parts.append(data)

    def text(self) -> str:
        text = "".join(self.parts)
        text = re.sub(r"(?m)^(#{1,3}) \s*\n+\s*", r"\1 ", text)  # a heading's text on its own line
        return re.sub(r"\n{3,}", "\n\n", text).strip()


class PDFError(ValueError):
    """A PDF that cannot be read as text (encrypted, damaged, or a scan without a text layer)."""


def _pdf_text(path: Path) -> tuple[str, str]:
    """The text layer of a PDF (pages separated by blank lines) and its title from the metadata, with pypdf."""
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(path)
        if reader.is_encrypted:
            raise PDFError("the PDF is encrypted")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = (reader.metadata.title if reader.metadata else None) or ""
    except (PdfReadError, OSError, ValueError, KeyError) as err:
        if isinstance(err, PDFError):
            raise
        raise PDFError(f"pypdf cannot read it ({type(err).__name__}: {err})") from err
    return "\n\n".join(p.strip() for p in pages if p.strip()), str(title).strip()

def read_document(path: Path, docs_root: Path) -> dict:
    """One document as an article: ``id`` (its path under docs/), ``title`` and ``text`` (Markdown-ish)."""
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        text, title = _pdf_text(path)
        title = title or path.stem
    elif suffix in (".html", ".htm"):
        parser = _TextFromHTML()
        parser.feed(path.read_text(encoding="utf-8-sig"))  # -sig: a byte-order mark (Windows editors) is dropped
        text, title = parser.text(), html.unescape(parser.title).strip()
    else:
        text, title = path.read_text(encoding="utf-8-sig").replace("\r\n", "\n").strip(), ""
    if not title:
        heading = re.search(r"(?m)^# (.+)$", text)
        title = heading.group(1).strip() if heading else next((x.strip() for x in text.splitlines() if x.strip()),
                                                               path.stem)
    return {"id": path.relative_to(docs_root).as_posix(), "title": title[:200], "text": text,
            "section": path.parent.relative_to(docs_root).as_posix(), "version": 1, "audience": "public"}


def _read_docs(root: Path, problems: list[Problem]) -> list[dict]:
    docs_root = root / "docs"
    if not docs_root.is_dir():
        problems.append(Problem("docs/", "the folder is missing", f"create {docs_root} and put the knowledge base "
                                "in it as .md, .txt, .html or .pdf files"))
        return []
    docs = []
    for path in sorted(p for p in docs_root.rglob("*") if p.is_file()):
        rel = "docs/" + path.relative_to(docs_root).as_posix()
        if any(part.startswith(".") for part in path.relative_to(docs_root).parts):
            continue  # .DS_Store, .git and other hidden files are not documents
        suffix = path.suffix.lower()
        if suffix not in DOC_SUFFIXES:
            kind = CONVERTIBLE.get(suffix, f"a {suffix or 'suffix-less'} file")
            problems.append(Problem(rel, f"unsupported file type: {kind}",
                                    f"convert it to .md, .txt, .html or .pdf (or move it out of docs/); supported: "
                                    f"{', '.join(DOC_SUFFIXES)}"))
            continue
        try:
            doc = read_document(path, docs_root)
        except UnicodeDecodeError as err:
            problems.append(Problem(rel, f"not UTF-8 text (byte {err.start})", "save it as UTF-8"))
            continue
        except PDFError as err:
            problems.append(Problem(rel, str(err), "export it again as a PDF with text, or convert it to .txt"))
            continue
        if suffix == ".pdf" and len(doc["text"].split()) < 3:
            problems.append(Problem(rel, "the PDF has no text layer (a scan?)", "run OCR on it first (e.g. "
                                    "ocrmypdf) or convert it to .txt"))
            continue
        if len(doc["text"].split()) < 3:
            problems.append(Problem(rel, "the document is empty (fewer than 3 words of text)",
                                    "fill it or remove it"))
            continue
        docs.append(doc)
    if not docs and not any(p.file.startswith("docs/") for p in problems):
        problems.append(Problem("docs/", "no documents in the folder", "add .md, .txt, .html or .pdf files"))
    return docs


def _read_jsonl(path: Path, problems: list[Problem]) -> list[tuple[int, dict]]:
    """(line number, object) for every non-blank line; a line that is not a JSON object is a problem."""
    rows = []
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        problems.append(Problem(path.name, f"not UTF-8 text (byte {err.start})", "save it as UTF-8"))
        return []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as err:
            problems.append(Problem(path.name, f"malformed JSON at column {err.colno}: {err.msg}",
                                    "write one JSON object per line (check quotes, commas and brackets)", number))
            continue
        if not isinstance(obj, dict):
            problems.append(Problem(path.name, f"a JSON {type(obj).__name__}, not an object", "write one "
                                    "{...} object per line", number))
            continue
        rows.append((number, obj))
    return rows


def _text_field(obj: dict, key: str, name: str, number: int, problems: list[Problem], required: bool = True) -> str:
    value = obj.get(key)
    if isinstance(value, bool):
        value = None
    if isinstance(value, int | float):
        value = str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    if value is None and not required:
        return ""
    what = "missing" if key not in obj else f"empty or not text ({json.dumps(value)[:40]})"
    problems.append(Problem(name, f"the {key} is {what}", f"give every line a non-empty \"{key}\" string",
                            number, key))
    return ""


def _accidental(form: str) -> str | None:
    """Why an answer or alias would match by accident: a single letter or a bare number (None when it would not)."""
    from .grader import _Seq

    seq = _Seq.of(form)
    if len(seq.toks) != 1:
        return None
    tok = seq.toks[0]
    if tok.kind == "word" and len(tok.strict) == 1:
        return "a single letter, which matches that letter wherever it stands as a word"
    if tok.kind == "num":
        return "a bare number, which matches that number wherever the reply mentions it (a count, a year, a version)"
    return None


def _read_questions(root: Path, doc_ids: set[str], problems: list[Problem],
                    warnings: list[Problem] | None = None) -> list[dict]:
    from difflib import get_close_matches

    from .evaluate import normalize

    path = root / "questions.jsonl"
    if not path.is_file():
        near = sorted(p.name for p in root.glob("question*") if p.is_file())
        hint = (f"; found {', '.join(near)}: JSON Lines is one object per line, no enclosing [ ] (a CSV or a JSON "
                "array converts in a few lines of pandas: DataFrame.to_json(orient='records', lines=True))"
                if near else " (data/cases/README.md has an example)")
        problems.append(Problem("questions.jsonl", "the file is missing", "write one {\"question\": ..., "
                                "\"answer\": ...} object per line" + hint))
        return []
    by_name: dict[str, list[str]] = {}
    for doc_id in doc_ids:
        name = doc_id.rsplit("/", 1)[-1]
        by_name.setdefault(name, []).append(doc_id)
        stem = name.rsplit(".", 1)[0]
        if stem != name:
            by_name.setdefault(stem, []).append(doc_id)  # "sort" names sort.txt when no other file has that stem
    questions, seen = [], {}
    for number, obj in _read_jsonl(path, problems):
        question = _text_field(obj, "question", path.name, number, problems)
        answer = _text_field(obj, "answer", path.name, number, problems)
        aliases = obj.get("aliases", [])
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            problems.append(Problem(path.name, "aliases must be a list of strings", "write e.g. "
                                    "\"aliases\": [\"another way to say the answer\"]", number, "aliases"))
            aliases = []
        sources = obj.get("sources", [])
        if isinstance(sources, str):
            sources = [sources]
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            problems.append(Problem(path.name, "sources must be a list of file names in docs/", "write e.g. "
                                    "\"sources\": [\"pricing.md\"]", number, "sources"))
            sources = []
        resolved = []
        for source in sources:
            name = source.removeprefix("docs/")
            if name in doc_ids:
                resolved.append(name)
            elif len(by_name.get(name, [])) == 1:
                resolved.append(by_name[name][0])
            elif len(by_name.get(name, [])) > 1:
                problems.append(Problem(path.name, f"source {source!r} could be any of {sorted(by_name[name])}",
                                        "write the file name with its extension (or its path under docs/)", number,
                                        "sources"))
            else:
                close = get_close_matches(name, sorted(doc_ids), n=1)
                hint = f"did you mean {close[0]!r}?" if close else "name a file under docs/, relative to docs/"
                problems.append(Problem(path.name, f"source {source!r} names no file in docs/", hint, number,
                                        "sources"))
        if question:
            key = normalize(question)
            if key in seen:
                problems.append(Problem(path.name, f"duplicate question (same as line {seen[key]})",
                                        "remove it or ask something else: a repeat counts one item twice", number,
                                        "question"))
                continue
            seen[key] = number
        for alias in aliases:
            why = _accidental(alias)
            if why and warnings is not None:
                warnings.append(Problem(path.name, f"alias {alias!r} is {why}",
                                        "prefer a longer form (\"3 arguments\", \"the -O option\") unless the "
                                        "bare form is really how a right reply says it", number, "aliases"))
        if question and answer:
            questions.append({"id": str(obj.get("id") or f"q{number:04d}"), "line": number, "question": question,
                              "answer": answer, "aliases": aliases, "sources": resolved})
    if not any(p.file == path.name and p.line for p in problems) and len(questions) < MIN_QUESTIONS:
        problems.append(Problem(path.name, f"{len(questions)} questions, too few for any interval",
                                f"write at least {MIN_QUESTIONS} (at {MIN_QUESTIONS} a 95% interval on an accuracy "
                                "of 50% is still 0.30-0.70); 50-100 make the comparisons decisive"))
    return questions


def as_chat(record: dict) -> dict:
    """A training record in the chat shape: ``{"messages": [...]}`` as it is; ``{"prompt", "completion"}`` (TRL's
    prompt-completion shape, as text) and ``{"instruction", "input", "output"}`` (the Alpaca shape) turned into
    a user and an assistant message. Anything else is returned unchanged (and refused by the check)."""
    if "messages" in record:
        return record
    if isinstance(record.get("prompt"), str) and isinstance(record.get("completion"), str):
        return {"messages": [{"role": "user", "content": record["prompt"]},
                             {"role": "assistant", "content": record["completion"]}]}
    if isinstance(record.get("instruction"), str) and isinstance(record.get("output"), str):
        extra = record.get("input")
        user = record["instruction"] + (f"\n\n{extra}" if isinstance(extra, str) and extra.strip() else "")
        return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": record["output"]}]}
    return record

def _read_examples(root: Path, schema: dict | None, problems: list[Problem]) -> list[dict]:
    from .finetune import check_conversation

    path = root / "examples.jsonl"
    if not path.is_file():
        return []
    validator = None
    if schema is not None:
        import jsonschema

        validator = jsonschema.Draft202012Validator(schema)
    examples = []
    for number, obj in _read_jsonl(path, problems):
        obj = as_chat(obj)
        try:
            messages = check_conversation(obj, where="record")
        except ValueError as err:
            problems.append(Problem(path.name, str(err).removeprefix("record: "), "write {\"messages\": [{\"role\": "
                                    "\"user\", ...}, {\"role\": \"assistant\", ...}]} (or {\"prompt\", \"completion\"}, or "
                                    "{\"instruction\", \"input\", \"output\"})", number, "messages"))
            continue
        if validator is not None:
            try:
                answer = json.loads(messages[-1]["content"])
            except json.JSONDecodeError:
                problems.append(Problem(path.name, "the assistant's answer is not JSON, but case.toml gives a schema",
                                        "write the answer as the JSON object the schema describes", number,
                                        "messages"))
                continue
            errors = sorted(validator.iter_errors(answer), key=lambda e: list(e.path))
            if errors:
                where = "/".join(str(p) for p in errors[0].path) or "(the root)"
                problems.append(Problem(path.name, f"the assistant's answer breaks the schema at {where}: "
                                        f"{errors[0].message}", "fix the answer or the schema", number, "messages"))
                continue
        examples.append({"id": f"e{number:04d}", "line": number, "messages": messages})
    if examples and len(examples) < MIN_EXAMPLES:
        problems.append(Problem(path.name, f"{len(examples)} examples, too few to train and hold some back",
                                f"write at least {MIN_EXAMPLES} ({TEST_SHARE:.0%} are held back to measure the "
                                "adapter on), or remove the file"))
    return examples


def _read_settings(root: Path, problems: list[Problem]) -> dict:
    from . import costs

    settings = {"monthly_calls": DEFAULT_MONTHLY_CALLS, "update_frequency": DEFAULT_UPDATE_FREQUENCY,
                "schema": None, "prices": {}, "name": None}
    path = root / "case.toml"
    if not path.is_file():
        return settings
    try:
        import tomllib  # Python 3.11+
    except ModuleNotFoundError:  # Python 3.10: the same parser as a package
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            problems.append(Problem(path.name, "reading TOML needs Python 3.11+ or the tomli package",
                                    "run `pip install tomli`, or use Python 3.11+"))
            return settings
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        line = re.search(r"line (\d+)", str(err))
        problems.append(Problem(path.name, f"not valid TOML: {err}", "fix the syntax (key = value, strings in "
                                "quotes)", int(line.group(1)) if line else None))
        return settings
    for key in sorted(set(raw) - set(TOML_KEYS)):
        problems.append(Problem(path.name, f"unknown key {key!r}", f"use only {', '.join(TOML_KEYS)}", field=key))
    calls = raw.get("monthly_calls", DEFAULT_MONTHLY_CALLS)
    if isinstance(calls, bool) or not isinstance(calls, int | float) or calls <= 0:
        problems.append(Problem(path.name, f"monthly_calls must be a positive number, got {calls!r}",
                                "write e.g. monthly_calls = 250000", field="monthly_calls"))
    else:
        settings["monthly_calls"] = float(calls)
    frequency = raw.get("update_frequency", DEFAULT_UPDATE_FREQUENCY)
    if frequency not in costs.FREQUENCIES:
        problems.append(Problem(path.name, f"update_frequency {frequency!r} is not one the course knows",
                                f"use one of {', '.join(costs.FREQUENCIES)}", field="update_frequency"))
    else:
        settings["update_frequency"] = frequency
    prices = raw.get("prices", {})
    known = [f.name for f in fields(costs.Prices)]
    if not isinstance(prices, dict):
        problems.append(Problem(path.name, "prices must be a table", "write [prices] then key = value lines",
                                field="prices"))
    else:
        for key in sorted(set(prices) - set(known)):
            problems.append(Problem(path.name, f"unknown price {key!r}", f"use only {', '.join(known)}",
                                    field=f"prices.{key}"))
        try:
            costs.Prices(**{k: v for k, v in prices.items() if k in known})
            settings["prices"] = {k: v for k, v in prices.items() if k in known}
        except (TypeError, ValueError) as err:
            problems.append(Problem(path.name, str(err), "give every price as a positive number", field="prices"))
    if "name" in raw:
        settings["name"] = str(raw["name"])
    if "schema" in raw:
        settings["schema"] = _read_schema(root, raw["schema"], problems)
    return settings


def _read_schema(root: Path, value, problems: list[Problem]) -> dict | None:
    from .constrain import ConstraintError, schema_grammar

    if not isinstance(value, str) or not (root / value).is_file():
        problems.append(Problem("case.toml", f"schema {value!r} names no file in the case folder",
                                "give the path of a JSON Schema file, relative to the case folder", field="schema"))
        return None
    try:
        schema = json.loads((root / value).read_text(encoding="utf-8-sig"))
        schema_grammar(schema)  # meta-schema check with the path inside the schema, then llguidance compiles it
    except json.JSONDecodeError as err:
        problems.append(Problem(value, f"malformed JSON at column {err.colno}: {err.msg}", "fix the schema file",
                                err.lineno))
        return None
    except ConstraintError as err:
        problems.append(Problem(value, str(err), "fix the schema (https://json-schema.org/understanding-json-schema)"))
        return None
    return schema


def slug(name: str) -> str:
    """A name usable for an index and a folder: letters, digits, '-' (at least 3 characters)."""
    out = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40]
    return out if len(out) >= 3 else f"case-{out or 'x'}"


def validate(folder: str | Path) -> Case:
    """Read a case folder and check everything; raise :class:`CaseError` listing every problem. Writes nothing."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise CaseError([Problem(str(folder), "no such folder", "give the path of a case folder (see "
                                 "data/cases/README.md)")])
    root = root.resolve()
    problems: list[Problem] = []
    docs = _read_docs(root, problems)
    settings = _read_settings(root, problems)
    warnings: list[Problem] = []
    questions = _read_questions(root, {d["id"] for d in docs}, problems, warnings)
    examples = _read_examples(root, settings["schema"], problems)
    if questions and not any(p.file == "questions.jsonl" for p in problems):  # labels name questions: those first
        from . import labels

        _, label_problems = labels.check_file(root / labels.LABELS_FILE, {q["id"] for q in questions})
        problems += [Problem(labels.LABELS_FILE, p.message, p.fix, p.line) for p in label_problems]
    if settings["schema"] is not None and not examples and not (root / "examples.jsonl").is_file():
        problems.append(Problem("case.toml", "a schema is given but there is no examples.jsonl",
                                "the schema constrains the examples' answers: add examples or remove the key",
                                field="schema"))
    if problems:
        raise CaseError(problems)
    return Case(root=root, name=settings["name"] or root.name, docs=docs, questions=questions, examples=examples,
                monthly_calls=settings["monthly_calls"], update_frequency=settings["update_frequency"],
                schema=settings["schema"], prices=settings["prices"], warnings=warnings)


# ---------------------------------------------------------------------------------------------
# Measuring: one function per stage, so a notebook can run them one at a time
# ---------------------------------------------------------------------------------------------

def for_profile(case: Case, log=print) -> Case:
    """The case as this profile measures it: everything (learner); in the ci profile (smoke-sized) the first
    ``CI_QUESTIONS`` questions and the first ``MIN_EXAMPLES`` examples."""
    if env.profile() != "ci" or (len(case.questions) <= CI_QUESTIONS and len(case.examples) <= MIN_EXAMPLES):
        return case
    log(f"ci profile: the first {min(CI_QUESTIONS, len(case.questions))} of {len(case.questions)} questions and "
        f"{min(MIN_EXAMPLES, len(case.examples))} of {len(case.examples)} examples (the learner profile uses all)")
    return replace(case, questions=case.questions[:CI_QUESTIONS], examples=case.examples[:MIN_EXAMPLES])

def build_index(case: Case, progress: bool = True):
    """Chunk the documents into a versioned Chroma index of the case's own (``IndexStore``: a re-run with the
    same documents reuses the version, a changed folder makes a new one, ``rollback`` serves the old one)."""
    from . import index, rag

    store = index.IndexStore(slug(f"case-{case.name}"))
    chunks = rag.chunk_corpus(case.docs, **CHUNKING)
    manifest = store.build(chunks, corpus_version=1, chunking=CHUNKING, progress=progress)
    store.promote(manifest["version"])
    return store, store.open(manifest["version"])


def retrieve(index, questions: list[dict], k: int = K, progress: bool = True) -> list[dict]:
    """Per question: the top-`k` hits (hybrid search), whether the answer is in them, and recall@k / MRR
    against ``sources`` where given."""
    from . import evaluate, rag
    from .progress import bar

    rows = []
    for q in bar(questions, desc="retrieving", unit="question", disable=not progress):
        hits = index.search(q["question"], k=max(k, 10))
        row = {"id": q["id"], "hits": hits[:k],
               "answer_in_context": rag.context_has_answer(hits[:k], q["answer"], q["aliases"])}
        if q["sources"]:
            ranking = rag.article_ranking(hits)
            row["recall"] = evaluate.recall_at_k(ranking, q["sources"], k)
            row["mrr"] = evaluate.mrr(ranking, q["sources"])
        rows.append(row)
    return rows


def answer(gen, case: Case, retrieved: list[dict], progress: bool = True) -> list[dict]:
    """Closed-book and RAG answers to every question, scored (``evaluate.grade``), with token counts."""
    from . import evaluate, generate, rag

    closed_prompts = [[{"role": "system", "content": QA_SYSTEM}, {"role": "user", "content": q["question"]}]
                      for q in case.questions]
    rag_prompts = [rag.assemble_messages(q["question"], r["hits"], system=RAG_SYSTEM)
                   for q, r in zip(case.questions, retrieved, strict=True)]
    closed = generate.generate(gen, closed_prompts, max_new_tokens=QA_MAX_NEW_TOKENS, progress=progress)
    with_rag = generate.generate(gen, rag_prompts, max_new_tokens=QA_MAX_NEW_TOKENS, progress=progress)
    rows = []
    for i, q in enumerate(case.questions):
        row = {"id": q["id"], "line": q["line"], "question": q["question"], "answer": q["answer"]}
        for name, result in (("closed", closed), ("rag", with_rag)):
            text = result.texts[i].strip()
            verdict = evaluate.grade(text, q["answer"], q["aliases"], question=q["question"])
            row[name] = {"output": text, "correct": verdict.correct, "reason": verdict.reason,
                         "prompt_tokens": result.prompt_tokens[i], "new_tokens": result.new_tokens[i]}
        row |= {k: v for k, v in retrieved[i].items() if k not in ("id", "hits")}
        rows.append(row)
    return rows


def profile_failures(case: Case, rows: list[dict], example_rows: list[dict] | None = None) -> dict:
    """The closed-book failures (and the base model's failures on the examples) sorted into knowledge and
    behaviour gaps with notebook 01's classifier; the gap to pass to ``decide.recommend``."""
    from . import decide, stats

    labels = []
    by_id = {q["id"]: q for q in case.questions}
    for row in rows:
        q = by_id[row["id"]]
        failure = decide.classify_failure("qa_static", row["closed"]["correct"], row["closed"]["output"],
                                          [q["answer"], *q["aliases"]])
        labels.append({"id": row["id"], "source": "questions", "label": failure.label, "reason": failure.reason})
    for row in example_rows or []:
        if row["system"] != "base":
            continue
        if "valid" in row:
            failure = decide.classify_failure("json_extraction", {k: row[k] for k in ("valid", "exact",
                                                                                       "field_accuracy")})
        elif row["exact"]:
            failure = decide.Failure("ok", "the reply is the example's answer")
        elif not row["output"].strip():
            failure = decide.Failure("behaviour", "no reply at all: the model did not answer in the wanted form")
        elif row["score"] >= CONTENT_OVERLAP:
            failure = decide.Failure("behaviour", f"the wanted content is there (word overlap {row['score']:.2f}) "
                                                  "but not in the wanted form")
        else:
            failure = decide.Failure("knowledge", f"the reply does not carry the wanted content (word overlap "
                                                  f"{row['score']:.2f}): a wrong or missing fact, not a form")
        labels.append({"id": row["id"], "source": "examples", "label": failure.label, "reason": failure.reason})
    failed = [x for x in labels if x["label"] != "ok"]
    counts = Counter(x["label"] for x in failed)
    out = {"n": len(labels), "failures": len(failed), "counts": dict(counts), "labels": labels,
           "gap": decide.gap_from_failures(x["label"] for x in labels) or "unknown"}
    if failed:
        behaviour = counts["behaviour"] + counts["both"]
        out["behaviour_share"] = dict(zip(("value", "low", "high"), stats.wilson(behaviour, len(failed)), strict=True))
    return out


def split_examples(examples: list[dict], test_share: float = TEST_SHARE, seed: int = SPLIT_SEED
                   ) -> tuple[list[dict], list[dict]]:
    """(train, test): a seeded shuffle, `test_share` held back; the same split on every run."""
    order = list(examples)
    random.Random(seed).shuffle(order)
    n_test = max(1, round(test_share * len(order)))
    return order[n_test:], order[:n_test]


def _token_f1(pred: str, gold: str) -> float:
    from .evaluate import normalize

    p, g = normalize(pred).split(), normalize(gold).split()
    common = sum((Counter(p) & Counter(g)).values())
    if not p or not g or not common:
        return float(p == g)
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


def score_example(output: str, target: str, schema: dict | None) -> dict:
    """With a schema: ``evaluate.json_scores`` (valid, exact, field_accuracy; score = field accuracy);
    without: exact (normalised equality) and score = token F1 against the wanted answer."""
    from . import evaluate

    if schema is not None:
        scores = evaluate.json_scores(output, json.loads(target), schema)
        return scores | {"score": scores["field_accuracy"]}
    return {"exact": evaluate.normalize(output) == evaluate.normalize(target), "score": _token_f1(output, target)}


def with_context(messages: list[dict], index, k: int = K) -> list[dict]:
    """An example's prompt with retrieved context: the top-`k` chunks for its last user message, added to its
    system message (one is created when it has none), as ``rag.assemble_messages`` lays out a question's."""
    from . import rag

    query = next(m["content"] for m in reversed(messages) if m["role"] == "user")
    context = rag.format_context(index.search(query, k=k))
    if messages[0]["role"] == "system":
        return [{"role": "system", "content": f"{messages[0]['content']}\n\nContext:\n{context}"}, *messages[1:]]
    return [{"role": "system", "content": f"Use the context below where it helps.\n\nContext:\n{context}"}, *messages]


def run_examples(gen, case: Case, test: list[dict], system: str, progress: bool = True, index=None) -> list[dict]:
    """`gen` on the held-back examples (and again under the schema, as ``<system>+schema``, when there is one);
    with an `index`, once more with retrieved context in the prompt, as ``<system>+RAG``."""
    from . import generate

    prompts = [ex["messages"][:-1] for ex in test]
    targets = [ex["messages"][-1]["content"] for ex in test]
    longest = max(len(gen.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in targets)
    max_new = min(384, longest + 32)
    runs = [(system, prompts, {})]
    if case.schema is not None:
        runs.append((f"{system}+schema", prompts, {"schema": case.schema}))
    if index is not None:
        runs.append((f"{system}+RAG", [with_context(p, index) for p in prompts], {}))
    rows = []
    for name, conversations, extra in runs:
        result = generate.generate(gen, conversations, max_new_tokens=max_new, progress=progress, **extra)
        for i, ex in enumerate(test):
            row = {"id": ex["id"], "system": name, "output": result.texts[i].strip(), "new_tokens": result.new_tokens[i]}
            row |= score_example(row["output"], targets[i], case.schema)
            if extra:
                row["truncated"] = bool(result.truncated[i])
            rows.append(row)
    return rows


def _proportion(values: list[bool]) -> dict:
    from . import stats

    value, low, high = stats.wilson(sum(bool(v) for v in values), len(values))
    return {"value": value, "low": low, "high": high, "n": len(values)}


def _mean(values: list[float]) -> dict:
    from . import stats

    value, low, high = stats.bootstrap_ci(list(values))
    return {"value": value, "low": low, "high": high, "n": len(values)}


def _paired(a: list[float], b: list[float], a_name: str, b_name: str) -> dict:
    from . import stats

    return {"a": a_name, "b": b_name} | stats.paired(a, b)


def measure_costs(case: Case, rows: list[dict]) -> dict:
    """The cost break-even (``costs.break_even_volume``, RAG vs a self-hosted fine-tune) from the tokens this
    case's prompts measured: RAG prompts with context, fine-tuned prompts without, answers as generated."""
    from statistics import mean

    from . import costs, stats

    rag_tokens = [r["rag"]["prompt_tokens"] for r in rows]
    ft_tokens = [r["closed"]["prompt_tokens"] for r in rows]
    out_tokens = [r["rag"]["new_tokens"] for r in rows]
    workload = costs.Workload(rag_prompt_tokens=mean(rag_tokens), ft_prompt_tokens=mean(ft_tokens),
                              output_tokens=max(1.0, mean(out_tokens)), update_frequency=case.update_frequency)
    prices = costs.Prices(**case.prices)
    pairs = list(zip(rag_tokens, ft_tokens, strict=True))
    shrink = stats.bootstrap_stat(pairs, lambda s: 1 - mean(f for _, f in s) / mean(r for r, _ in s))
    be = costs.break_even_volume("RAG", "FT self-hosted", workload, prices)
    monthly = costs.monthly_costs(case.monthly_calls, workload, prices)
    return {"rag_prompt_tokens": _mean(rag_tokens), "ft_prompt_tokens": _mean(ft_tokens),
            "output_tokens": _mean(out_tokens),
            "prompt_shrink": {"value": shrink[0], "low": shrink[1], "high": shrink[2], "n": len(pairs)},
            "break_even": {"volume": be.volume, "cheaper_below": be.cheaper_below, "reason": be.reason},
            "monthly_usd_at_volume": {k: round(v, 2) for k, v in monthly.items()}}


def recommend(case: Case, profile: dict, cost: dict):
    """``decide.recommend`` fed only with measured inputs (and the two the learner states in case.toml)."""
    from . import decide

    return decide.recommend(profile["gap"], case.update_frequency, case.monthly_calls,
                            prompt_shrink=cost["prompt_shrink"]["value"], format_is_schema=case.schema is not None)


def measured_choices(rows: list[dict], example_rows: list[dict]) -> list[dict]:
    """``decide.measured_choice`` on each measurement of the case: closed-book vs RAG on the questions, and the
    systems that answered the held-back examples (paired on the same items)."""
    from . import decide

    choices = [decide.measured_choice({"base": [float(r["closed"]["correct"]) for r in rows],
                                       "RAG": [float(r["rag"]["correct"]) for r in rows]}, f"the {len(rows)} questions")]
    by_system: dict[str, dict] = {}
    for r in example_rows:
        by_system.setdefault(r["system"], {})[r["id"]] = float(r["score"])
    if by_system:
        ids = sorted(set.intersection(*(set(v) for v in by_system.values())))
        choices.append(decide.measured_choice({s: [v[i] for i in ids] for s, v in by_system.items()},
                                              f"the {len(ids)} held-back examples"))
    return choices


def measured_recommendation(choices: list[dict], rec) -> dict:
    """What to build, from the measurements (``measured_choices``): the cheapest system not significantly below
    the best on each; the guide's rules (`rec`) beside it, marked contradicted where a measurement says so."""
    from . import decide

    questions, examples = choices[0]["system"], (choices[1]["system"] if len(choices) > 1 else None)
    knowledge = "RAG" if questions == "RAG" else None
    if examples is None:
        pick = knowledge or "the base model as it is (RAG did not measure better on your questions)"
    elif examples in ("FT+RAG", "base+RAG"):
        pick = "FT+RAG (hybrid)" if examples == "FT+RAG" else "RAG"
    else:
        behaviour = {"base": None, "base+schema": "the answers' schema enforced while decoding",
                     "FT": "a fine-tune for the behaviour", "FT+schema": "a fine-tune, with the schema enforced"}[examples]
        parts = [p for p in (knowledge and "RAG for the questions", behaviour) if p]
        pick = " and ".join(parts) if parts else "the base model as it is (nothing measured better)"
        if knowledge and examples.startswith("FT") and "FT+RAG" in choices[1]["means"]:
            pick += " (measured apart: the adapter with retrieved context fell short here; train it with context, as RAFT does in notebook 06, before combining)"
    against = decide.contradicted(rec.recommendation, choices)
    rules = f"The guide's rules alone say {rec.recommendation}" + (
        f", but the measurements contradict it: {'; '.join(against)}." if against else ".")
    return {"recommendation": pick, "reasons": [c["reason"] + "." for c in choices] + [rules, *rec.reasons],
            "try_first": None if len(choices) > 1 and "base+schema" in choices[1]["means"] else rec.try_first,
            "rules": rec.recommendation, "contradicted": against, "measured": choices,
            "pays_off_at_scale": rec.pays_off_at_scale}


def _summaries(rows: list[dict], example_rows: list[dict]) -> dict:
    closed = [r["closed"]["correct"] for r in rows]
    rag_ = [r["rag"]["correct"] for r in rows]
    out = {"closed_book": _proportion(closed), "rag": _proportion(rag_),
           "rag_vs_closed": _paired([float(x) for x in closed], [float(x) for x in rag_], "closed-book", "RAG"),
           "answer_in_context": _proportion([r["answer_in_context"] for r in rows])}
    with_sources = [r for r in rows if "recall" in r]
    if with_sources:
        out[f"recall@{K}"] = _mean([r["recall"] for r in with_sources])
        out["MRR"] = _mean([r["mrr"] for r in with_sources])
    systems = list(dict.fromkeys(r["system"] for r in example_rows))
    if systems:
        scores = {s: [r for r in example_rows if r["system"] == s] for s in systems}
        out["examples"] = {s: {"score": _mean([r["score"] for r in v])} | (
            {"valid": _proportion([r["valid"] for r in v])} if "valid" in v[0] else
            {"exact": _proportion([r["exact"] for r in v])}) | (
            {"truncated": sum(r["truncated"] for r in v)} if "truncated" in v[0] else {}) for s, v in scores.items()}
        comparisons = []
        for a, b in (("base", "FT"), ("base", "base+schema"), ("FT", "FT+schema"), ("FT", "base+schema"),
                     ("base", "base+RAG"), ("FT", "FT+RAG")):
            if a in scores and b in scores:
                comparisons.append(_paired([r["score"] for r in scores[a]], [r["score"] for r in scores[b]], a, b))
        out["example_comparisons"] = comparisons
    return out


def training_recipe(n_train: int):
    """The behaviour recipe (``systems.behaviour_recipe``) with a length that follows the examples: ``EPOCHS``
    passes over `n_train` examples in batches of 8, at least ``MIN_STEPS`` and at most ``MAX_STEPS`` steps
    (learner profile); the ci profile keeps its smoke-sized steps."""
    import math

    from . import systems

    recipe = systems.behaviour_recipe()
    if env.profile() == "ci":
        return recipe
    steps = min(MAX_STEPS, max(MIN_STEPS, math.ceil(EPOCHS * n_train / recipe.batch_size)))
    return replace(recipe, max_steps=steps)


def examples_stage(gen, case: Case, train: bool = True, output_dir: Path | None = None, progress: bool = True,
                   index=None) -> tuple[list[dict], dict | None]:
    """The held-back examples answered by `gen` (and under the schema); with `train`, a LoRA adapter trained on
    the rest with the course's behaviour recipe (``systems.behaviour_recipe``) and measured on the same items.
    With the case's `index`, the best model of the two (the adapter when trained) also answers with retrieved
    context (``FT+RAG`` or ``base+RAG``): whether your documents help the behaviour too."""
    from . import finetune, models

    if not case.examples:
        return [], None
    train_set, test_set = split_examples(case.examples)
    rows = run_examples(gen, case, test_set, "base", progress, index=None if train else index)
    if not train:
        return rows, None
    ft_gen = models.load_generator()
    result = finetune.train(ft_gen, [{"messages": ex["messages"]} for ex in train_set], training_recipe(len(train_set)),
                            output_dir=output_dir)
    training = {"steps": result.recipe.max_steps, "seconds": round(result.seconds, 1), "losses": result.losses,
                "backend": result.backend, "train": len(train_set), "test": len(test_set)}
    rows += run_examples(ft_gen, case, test_set, "FT", progress, index=index)
    del ft_gen, result
    env.release_memory()
    return rows, training


def check_grader(case: Case, rows: list[dict]) -> dict:
    """The grader against the learner's labels in the case folder (``labels.agreement``): n, agreement and
    kappa with intervals, the disagreements, and a warning when the check is too small or fails."""
    from . import labels

    # validate() checked the ids against every question; the ci profile answers only some of them
    return labels.agreement(labels.replies(rows), labels.read(case.root))


def assemble(case: Case, store, idx, rows: list[dict], example_rows: list[dict], training: dict | None = None,
             seconds: dict | None = None, grader: dict | None = None) -> tuple[dict, list[dict]]:
    """The report's figures from the stages' outputs (costs, failure profile, recommendation included) and the
    failure labels, one per answer. ``grader`` is :func:`check_grader`'s result (computed here when None)."""
    grader = grader if grader is not None else check_grader(case, rows)
    cost = measure_costs(case, rows)
    failure_profile = profile_failures(case, rows, example_rows)
    rec = recommend(case, failure_profile, cost)
    decision = measured_recommendation(measured_choices(rows, example_rows), rec)
    figures = {
        "case": case.name, "date": time.strftime("%Y-%m-%d"), "course_profile": env.profile(),
        "model": env.generator_id(),
        "counts": {"documents": len(case.docs), "chunks": idx.count(), "questions": len(case.questions),
                   "questions_with_sources": sum(bool(q["sources"]) for q in case.questions),
                   "examples": len(case.examples)},
        "index": {"name": store.name, "version": idx.manifest["version"]},
        "scores": _summaries(rows, example_rows), "training": training,
        "profile": {k: v for k, v in failure_profile.items() if k != "labels"}, "costs": cost,
        "inputs": {"gap": failure_profile["gap"], "update_frequency": case.update_frequency,
                   "monthly_calls": case.monthly_calls, "prompt_shrink": cost["prompt_shrink"]["value"],
                   "format_is_schema": case.schema is not None},
        "recommendation": decision, "seconds": seconds if seconds is not None else {},
        "grader": grader,
        "warnings": ([grader["warning"]] if grader.get("warning") else []) + [str(w) for w in case.warnings],
    }
    return figures, failure_profile["labels"]


def run(case: Case | str | Path, report_dir: str | Path | None = None, train: bool | None = None,
        progress: bool = True, gen=None, log=print, label: int = 0, ask=None) -> dict:
    """The whole decision on a case: index, retrieve, answer, examples (train an adapter when `train`, default:
    whenever the case has examples), decide (costs, failure profile, recommendation), report. Returns the
    report's figures; writes the report to `report_dir` (default ``<workspace>/cases/<name>``).

    ``label`` > 0: after answering, ask for that many labels at the terminal (``labels.label_in_terminal``,
    answers read with `ask`), saved to the case's labels.jsonl; the report then checks the grader against them."""
    from . import models

    case = case if isinstance(case, Case) else validate(case)
    case = for_profile(case, log)
    report_dir = Path(report_dir) if report_dir else env.workspace_dir() / "cases" / slug(case.name)
    report_dir.mkdir(parents=True, exist_ok=True)
    train = bool(case.examples) if train is None else train and bool(case.examples)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def stage(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 1)
        clock = now
        log(f"[{len(seconds)}/{len(STAGES)}] {name}: {seconds[name]:.1f} s")

    store, idx = build_index(case, progress)
    stage("index")
    retrieved = retrieve(idx, case.questions, progress=progress)
    stage("retrieve")
    gen = gen or models.load_generator()
    rows = []
    with open(report_dir / "answers.jsonl", "w", encoding="utf-8") as handle:
        for lo in range(0, len(case.questions), ANSWER_CHUNK):  # written as answered, a chunk at a time
            part = replace(case, questions=case.questions[lo : lo + ANSWER_CHUNK])
            for row in answer(gen, part, retrieved[lo : lo + ANSWER_CHUNK], progress):
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                rows.append(row)
            handle.flush()
    stage("answer")
    if label:
        from . import labels as human

        human.label_in_terminal(case.root, human.replies(rows), label, ask=ask, say=log)
    example_rows, training = examples_stage(gen, case, train, None, progress, index=idx)  # trainer scratch: runs/ in the workspace
    stage("examples")
    figures, labels = assemble(case, store, idx, rows, example_rows, training, seconds)
    stage("decide")
    write_report(figures, labels, example_rows, report_dir)
    stage("report")
    figures["report_dir"] = str(report_dir)
    return figures


# ---------------------------------------------------------------------------------------------
# The report
# ---------------------------------------------------------------------------------------------

def fmt(figure: dict, percent: bool = True) -> str:
    """A figure as 'value [low, high] (n=N)'."""
    f = (lambda x: f"{100 * x:.0f}%") if percent else (lambda x: f"{x:.2f}")
    return f"{f(figure['value'])} [{f(figure['low'])}, {f(figure['high'])}] (n={figure['n']})"


def fmt_diff(comparison: dict) -> str:
    """A paired comparison as 'b - a: +d [low, high], n, p'."""
    p = f", McNemar p={comparison['p']:.3g}" if "p" in comparison else ""
    return (f"{comparison['b']} - {comparison['a']}: {100 * comparison['diff']:+.1f} pts "
            f"[{100 * comparison['low']:+.1f}, {100 * comparison['high']:+.1f}] (n={comparison['n']}{p})")


def plot(figures: dict, path: Path | None = None):
    """Accuracy of closed-book and RAG answers (and the examples' systems), with 95% intervals."""
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from .plots import grouped_bars

    s = figures["scores"]
    table = [{"measure": "questions", "system": name, "score": s[key]["value"], "score_low": s[key]["low"],
              "score_high": s[key]["high"]} for name, key in (("closed-book", "closed_book"), ("RAG", "rag"))]
    for name, fig in s.get("examples", {}).items():
        table.append({"measure": "examples", "system": name, "score": fig["score"]["value"],
                      "score_low": fig["score"]["low"], "score_high": fig["score"]["high"]})
    ax = grouped_bars(table, group="measure", hue="system", title=f"{figures['case']}: scores with 95% intervals")
    if path is not None:
        ax.figure.savefig(path, dpi=110, bbox_inches="tight")
        plt.close(ax.figure)
    return ax


def markdown(figures: dict) -> str:
    """The report as Markdown: recommendation first, then every figure with its n and interval."""
    s, rec, cost = figures["scores"], figures["recommendation"], figures["costs"]
    lines = [f"# Your case: {figures['case']}", "",
             f"Measured on {figures['date']} with {figures['model']} ({figures['course_profile']} profile): "
             f"{figures['counts']['documents']} documents ({figures['counts']['chunks']} chunks), "
             f"{figures['counts']['questions']} questions, {figures['counts']['examples']} examples.", "",
             f"## Recommendation: {rec['recommendation']}", ""]
    lines += [f"> **Warning:** {w}" for w in figures.get("warnings", [])[:1]] + ([""] if figures.get("warnings") else [])
    if rec.get("try_first"):
        lines += [f"Try first: {rec['try_first']}", ""]
    lines += [f"- {reason}" for reason in rec["reasons"]] + ["", "Inputs, each measured on this case:", "",
              "| input | value | from |", "|---|---|---|"]
    p = figures["profile"]
    share = f", behaviour share {fmt(p['behaviour_share'] | {'n': p['failures']})}" if "behaviour_share" in p else ""
    lines += [f"| gap | {p['gap']} | {p['failures']} failures of {p['n']} answers{share} |",
              f"| prompt shrink | {fmt(cost['prompt_shrink'])} | prompt tokens, RAG vs no context |",
              f"| update frequency | {figures['inputs']['update_frequency']} | case.toml |",
              f"| monthly calls | {figures['inputs']['monthly_calls']:,.0f} | case.toml |",
              f"| format is a schema | {figures['inputs']['format_is_schema']} | case.toml |", "",
              "## Questions", "", "![scores](scores.png)", "", "| measure | value |", "|---|---|",
              f"| closed-book accuracy | {fmt(s['closed_book'])} |", f"| RAG accuracy | {fmt(s['rag'])} |",
              f"| answer in the top {K} chunks | {fmt(s['answer_in_context'])} |"]
    for key in (f"recall@{K}", "MRR"):
        if key in s:
            lines.append(f"| {key} (questions with sources) | {fmt(s[key], percent=False)} |")
    lines += ["", f"Paired: {fmt_diff(s['rag_vs_closed'])}.", ""]
    lines += grader_lines(figures.get("grader") or {"n": 0})
    if len(figures.get("warnings", [])) > 1:
        lines += ["## Warnings", ""] + [f"- {w}" for w in figures["warnings"]] + [""]
    if "examples" in s:
        lines += ["## Examples (held back from training)", "", "| system | score | valid / exact | truncated |",
                  "|---|---|---|---|"]
        for name, fig in s["examples"].items():
            second = fig.get("valid") or fig.get("exact")
            lines.append(f"| {name} | {fmt(fig['score'], percent=False)} | {fmt(second)} | "
                         f"{fig.get('truncated', '-')} |")
        lines += [""] + [f"- {fmt_diff(c)}" for c in s["example_comparisons"]] + [""]
        if figures["training"]:
            t = figures["training"]
            lines += [f"Adapter: {t['steps']} steps on {t['train']} examples ({t['backend']}, {t['seconds']} s).", ""]
    be = cost["break_even"]
    lines += ["## Costs", "", f"RAG prompts {fmt(cost['rag_prompt_tokens'], percent=False)} tokens, prompts without "
              f"context {fmt(cost['ft_prompt_tokens'], percent=False)}, answers {fmt(cost['output_tokens'], percent=False)}.",
              "", "Break-even, RAG vs a self-hosted fine-tune: " + (f"{be['volume']:,.0f} calls a month (below it "
              f"{be['cheaper_below']} is cheaper)." if be["volume"] else be["reason"] + "."), "",
              "Monthly cost at this case's volume: " + ", ".join(f"{k} ${v:,.0f}" for k, v in
                                                                 cost["monthly_usd_at_volume"].items()) + ".", "",
              "## Time", "", ", ".join(f"{k} {v:.0f} s" for k, v in figures["seconds"].items()) + ".", ""]
    return "\n".join(lines)


def grader_lines(grader: dict) -> list[str]:
    """The report's section on the grader checked against your labels (Markdown lines)."""
    lines = ["## Is the grader right on this case?", ""]
    if grader["n"]:
        lines.append(f"On {grader['n']} replies you labelled, the grader agreed with you on "
                     f"{fmt({'value': grader['agreement'], 'low': grader['agreement_low'], 'high': grader['agreement_high'], 'n': grader['n']})}"
                     + (f", Cohen's kappa {grader['kappa']:.2f} [{grader['kappa_low']:.2f}, {grader['kappa_high']:.2f}]"
                        if grader.get("kappa") is not None and grader.get("kappa_low") is not None else "")
                     + f"; it missed {grader['missed']} right replies and credited {grader['false_credit']} wrong ones.")
        if grader.get("stale"):
            lines.append(f"{grader['stale']} earlier labels were left out: their replies have changed since.")
        lines.append("")
        for d in grader.get("disagreements", [])[:10]:
            lines.append(f"- {d['id']} ({d['system']}): you {d['you']}, grader {d['grader']} ({d['reason']}): "
                         f"{d['reply'][:160]!r}")
        lines.append("")
    if grader.get("warning"):
        lines += [f"> **Warning:** {grader['warning']}.", ""]
    return lines


def write_report(figures: dict, labels: list[dict], example_rows: list[dict], report_dir: str | Path,
                 answers: list[dict] | None = None) -> Path:
    """report.md, report.json, scores.png, failures.jsonl and examples.jsonl (and answers.jsonl when `answers`
    are given) in `report_dir`; returns the path of report.md."""
    report_dir = Path(report_dir)
    report_dir.mkdir(parents=True, exist_ok=True)
    plot(figures, report_dir / "scores.png")
    files = [("failures.jsonl", labels), ("examples.jsonl", example_rows)] + ([("answers.jsonl", answers)] if answers
                                                                            is not None else [])
    for name, rows in files:
        with open(report_dir / name, "w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    (report_dir / "report.md").write_text(markdown(figures), encoding="utf-8")
    (report_dir / "report.json").write_text(json.dumps(figures, indent=2, default=str), encoding="utf-8")
    return report_dir / "report.md"


def summary(figures: dict) -> str:
    """A few lines for a terminal: the recommendation and the figures behind it."""
    s, rec = figures["scores"], figures["recommendation"]
    lines = [f"Recommendation: {rec['recommendation']}" + (f" (try first: {rec['try_first']})"
                                                           if rec.get("try_first") else ""),
             f"  closed-book {fmt(s['closed_book'])}, RAG {fmt(s['rag'])}", f"  {fmt_diff(s['rag_vs_closed'])}",
             f"  answer in the top {K} chunks {fmt(s['answer_in_context'])}"
             + (f", recall@{K} {fmt(s[f'recall@{K}'], percent=False)}" if f"recall@{K}" in s else ""),
             f"  gap: {figures['profile']['gap']} ({figures['profile']['failures']} failures)",
             f"  prompt shrink {fmt(figures['costs']['prompt_shrink'])}"]
    lines += [f"  {fmt_diff(c)}" for c in s.get("example_comparisons", [])]
    grader = figures.get("grader") or {"n": 0}
    if grader["n"]:
        lines.append(f"  grader vs your labels: {grader['agreement']:.0%} agreement (n={grader['n']})")
    lines += [f"  WARNING: {w}" for w in figures.get("warnings", [])[:1]]
    return "\n".join(lines + [f"Report: {figures.get('report_dir', '')}/report.md"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m helpers.case", description="Run the course's decision "
                                     "(RAG, fine-tuning or both) on your own case folder.")
    parser.add_argument("path", help="the case folder (docs/, questions.jsonl, optional examples.jsonl and case.toml)")
    parser.add_argument("--profile", choices=["ci", "learner"], help="smoke-sized (ci) or full (learner, default)")
    parser.add_argument("--report", help="where to write the report (default: <workspace>/cases/<name>)")
    parser.add_argument("--no-train", action="store_true", help="do not train an adapter on the examples")
    parser.add_argument("--label", type=int, default=0, metavar="N", help="after answering, label N replies at the "
                        "prompt (saved to labels.jsonl in the case folder) so the report checks the grader")
    args = parser.parse_args(argv)
    if args.profile:
        os.environ["COURSE_PROFILE"] = args.profile
    try:
        case = validate(args.path)
    except CaseError as err:
        print(f"{args.path}: {err}", file=sys.stderr)
        return 2
    print(f"{case.name}: {len(case.docs)} documents, {len(case.questions)} questions, {len(case.examples)} examples")
    for warning in case.warnings:
        print(f"warning: {warning}")
    env.configure()
    figures = run(case, args.report, train=not args.no_train, label=args.label)
    print(summary(figures))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
