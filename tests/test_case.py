"""Your own case (helpers.case): every bad input is refused before anything is written, with the file, the line,
the field and what to do; a good case runs end to end (CLI, ci profile) and reports every figure with its n."""

import json
import shutil
from pathlib import Path

import pytest

from helpers import case

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "cases" / "python_reference"
COLOURS = ["red", "green", "blue", "yellow", "purple"]


def write_case(root: Path, n_questions: int = case.MIN_QUESTIONS, examples: int = 0, toml: str | None = None) -> Path:
    """A small valid case in a domain of its own: a paint shop's three pages and questions about them."""
    docs = root / "docs"
    (docs / "guides").mkdir(parents=True)
    (docs / "prices.md").write_text("# Prices\n\n" + "\n".join(f"A litre of {c} paint costs {10 + i} euros."
                                                              for i, c in enumerate(COLOURS)) + "\n")
    (docs / "guides" / "drying.txt").write_text("Drying times\n\n" + "\n".join(
        f"{c.title()} paint dries in {2 + i} hours." for i, c in enumerate(COLOURS)) + "\n")
    (docs / "shop.html").write_text("<html><head><title>The shop</title><script>var x = 'hidden';</script></head>"
                                    "<body><h2>Opening hours</h2><p>The shop opens at 9 and closes at 18.</p>"
                                    "</body></html>")
    lines = []
    for i in range(n_questions):
        colour = COLOURS[i % len(COLOURS)]
        if i % 2:
            lines.append({"question": f"How much is a litre of {colour} paint? ({i})",
                          "answer": f"{10 + i % len(COLOURS)} euros", "sources": ["prices.md"]})
        else:
            lines.append({"question": f"How long does {colour} paint take to dry? ({i})",
                          "answer": f"{2 + i % len(COLOURS)} hours", "aliases": ["a few hours"],
                          "sources": ["drying.txt"]})
    (root / "questions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    if examples:
        (root / "examples.jsonl").write_text("".join(json.dumps({"messages": [
            {"role": "user", "content": f"Colour code {i}?"},
            {"role": "assistant", "content": json.dumps({"colour": COLOURS[i % 5]})}]}) + "\n" for i in range(examples)))
    if toml is not None:
        (root / "case.toml").write_text(toml)
    return root


def problems(root: Path) -> list[case.Problem]:
    with pytest.raises(case.CaseError) as err:
        case.validate(root)
    return err.value.problems


def only(root: Path) -> case.Problem:
    found = problems(root)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]


def test_the_sample_case_validates():
    c = case.validate(SAMPLE)
    assert len(c.docs) == 30 and len(c.questions) == 40 and len(c.examples) == 36
    assert {Path(d["id"]).suffix for d in c.docs} == {".txt", ".md", ".html"}
    assert c.schema is not None and c.update_frequency == "monthly" and c.monthly_calls == 50_000
    assert all(q["sources"] and set(q["sources"]) <= {d["id"] for d in c.docs} for q in c.questions)


def test_a_small_case_of_another_domain_validates(tmp_path):
    c = case.validate(write_case(tmp_path))
    assert [d["id"] for d in c.docs] == ["guides/drying.txt", "prices.md", "shop.html"]
    assert c.questions[0]["sources"] == ["guides/drying.txt"]  # a bare file name found in a sub-folder
    html = c.docs[2]
    assert html["title"] == "The shop" and "## Opening hours" in html["text"] and "hidden" not in html["text"]


def test_a_missing_folder(tmp_path):
    p = only(tmp_path / "nope")
    assert "no such folder" in p.message and "data/cases/README.md" in p.fix


def test_missing_and_empty_docs(tmp_path):
    root = write_case(tmp_path)
    shutil.rmtree(root / "docs")
    found = problems(root)
    assert found[0].file == "docs/" and "missing" in found[0].message
    (root / "docs").mkdir()
    (root / "docs" / ".DS_Store").write_text("x")
    assert any(p.file == "docs/" and "no documents" in p.message for p in problems(root))


def test_an_unsupported_file_type_is_named_with_the_fix(tmp_path):
    root = write_case(tmp_path)
    (root / "docs" / "manual.docx").write_bytes(b"PK")
    p = only(root)
    assert p.file == "docs/manual.docx" and "a Word file" in p.message and ".md, .txt, .html or .pdf" in p.fix


def pdf_bytes(text: str | None) -> bytes:
    """A one-page PDF that shows `text` in Helvetica (None: a page with no text layer, as a scan has)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text else b"0 0 1 rg 72 72 200 200 re f"
    objects = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
               b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
               b"/Resources << /Font << /F1 5 0 R >> >> >>",
               b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
               b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_pdf_is_read_with_its_text_and_a_scan_or_a_broken_one_is_refused(tmp_path):
    root = write_case(tmp_path)
    (root / "docs" / "catalogue.pdf").write_bytes(pdf_bytes("Purple paint is sold in tins of five litres."))
    doc = next(d for d in case.validate(root).docs if d["id"] == "catalogue.pdf")
    assert "Purple paint is sold in tins of five litres." in doc["text"] and doc["title"] == "catalogue"
    (root / "docs" / "scan.pdf").write_bytes(pdf_bytes(None))
    (root / "docs" / "broken.pdf").write_bytes(b"%PDF-1.4 and then nothing")
    found = {p.file: p for p in problems(root)}
    assert set(found) == {"docs/scan.pdf", "docs/broken.pdf"}
    assert "no text layer" in found["docs/scan.pdf"].message and "OCR" in found["docs/scan.pdf"].fix
    assert "pypdf cannot read it" in found["docs/broken.pdf"].message


def test_an_empty_document_and_one_that_is_not_utf8(tmp_path):
    root = write_case(tmp_path)
    (root / "docs" / "blank.md").write_text("  \n")
    (root / "docs" / "latin.txt").write_bytes("Caf\xe9 cr\xe8me".encode("latin-1"))
    found = {p.file: p for p in problems(root)}
    assert "empty" in found["docs/blank.md"].message and "UTF-8" in found["docs/latin.txt"].fix


def test_malformed_json_is_reported_at_its_line(tmp_path):
    root = write_case(tmp_path)
    lines = (root / "questions.jsonl").read_text().splitlines()
    lines[4] = lines[4].rstrip("}")
    (root / "questions.jsonl").write_text("\n".join(lines) + "\n")
    p = only(root)
    assert (p.file, p.line) == ("questions.jsonl", 5) and "malformed JSON" in p.message and "one JSON object" in p.fix
    assert "questions.jsonl:5" in str(p)


def test_a_question_without_an_answer_names_the_field(tmp_path):
    root = write_case(tmp_path, n_questions=case.MIN_QUESTIONS + 1)
    rows = [json.loads(x) for x in (root / "questions.jsonl").read_text().splitlines()]
    del rows[2]["answer"]
    rows[3]["answer"] = "  "
    (root / "questions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    found = problems(root)
    assert [(p.line, p.field) for p in found] == [(3, "answer"), (4, "answer")]
    assert "missing" in found[0].message and "empty" in found[1].message


def test_a_source_naming_no_file_suggests_the_closest(tmp_path):
    root = write_case(tmp_path)
    rows = [json.loads(x) for x in (root / "questions.jsonl").read_text().splitlines()]
    rows[1]["sources"] = ["price.md"]
    (root / "questions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    p = only(root)
    assert (p.line, p.field) == (2, "sources") and "'price.md' names no file" in p.message
    assert "did you mean 'prices.md'" in p.fix


def test_duplicate_questions_name_the_first_line(tmp_path):
    root = write_case(tmp_path)
    rows = [json.loads(x) for x in (root / "questions.jsonl").read_text().splitlines()]
    rows.append(dict(rows[0], question=rows[0]["question"].upper() + "  "))
    (root / "questions.jsonl").write_text("".join(json.dumps(x) + "\n" for x in rows))
    p = only(root)
    assert p.line == len(rows) and "same as line 1" in p.message


def test_too_few_questions_says_how_many_are_needed(tmp_path):
    p = only(write_case(tmp_path, n_questions=7))
    assert "7 questions" in p.message and f"at least {case.MIN_QUESTIONS}" in p.fix


def test_examples_are_checked_line_by_line_and_against_the_schema(tmp_path):
    schema = {"type": "object", "properties": {"colour": {"enum": COLOURS}}, "required": ["colour"]}
    root = write_case(tmp_path, examples=case.MIN_EXAMPLES + 2, toml='schema = "answer.schema.json"\n')
    (root / "answer.schema.json").write_text(json.dumps(schema))
    assert case.validate(root).schema == schema
    rows = (root / "examples.jsonl").read_text().splitlines()
    rows[0] = json.dumps({"messages": [{"role": "user", "content": "hi"}]})
    rows[1] = json.dumps({"messages": [{"role": "user", "content": "x"},
                                       {"role": "assistant", "content": '{"colour": "pink"}'}]})
    (root / "examples.jsonl").write_text("\n".join(rows) + "\n")
    found = problems(root)
    assert [(p.file, p.line) for p in found] == [("examples.jsonl", 1), ("examples.jsonl", 2)]
    assert "at least a user and an assistant" in found[0].message and "breaks the schema at colour" in found[1].message


def test_too_few_examples(tmp_path):
    p = only(write_case(tmp_path, examples=5))
    assert "5 examples" in p.message and f"at least {case.MIN_EXAMPLES}" in p.fix


def test_case_toml_problems(tmp_path):
    root = write_case(tmp_path, toml='monthly_calls = "lots"\nupdate_frequency = "hourly"\ncolour = 1\n'
                                     '[prices]\ngpu_hourly_usd = -2\n')
    found = {p.field: p for p in problems(root)}
    assert set(found) == {"colour", "monthly_calls", "update_frequency", "prices"}
    assert "daily, weekly" in found["update_frequency"].fix and "positive" in found["monthly_calls"].message
    (root / "case.toml").write_text("monthly_calls = 10\nupdate_frequency = monthly\n")
    p = only(root)
    assert p.file == "case.toml" and p.line == 2 and "not valid TOML" in p.message


def test_a_schema_typo_is_reported_with_its_path(tmp_path):
    root = write_case(tmp_path, examples=case.MIN_EXAMPLES, toml='schema = "s.json"\n')
    (root / "s.json").write_text(json.dumps({"type": "object", "properties": {"colour": {"type": "strin"}}}))
    p = only(root)
    assert p.file == "s.json" and "properties/colour/type" in p.message


def test_every_problem_is_listed_at_once_and_the_cli_exits_2_writing_nothing(tmp_path, monkeypatch, capsys):
    root = write_case(tmp_path / "case", n_questions=3)
    (root / "docs" / "slides.pptx").write_bytes(b"PK")  # a slide deck: not a format the case reads
    workspace = tmp_path / "workspace"
    monkeypatch.setenv("COURSE_WORKSPACE", str(workspace))
    assert case.main([str(root)]) == 2
    err = capsys.readouterr().err
    assert "2 problems" in err and "docs/slides.pptx" in err and "3 questions" in err
    assert not workspace.exists()


def test_the_split_holds_back_the_same_examples_every_time():
    examples = [{"id": f"e{i}"} for i in range(30)]
    train, test = case.split_examples(examples)
    assert len(test) == 9 and not {x["id"] for x in train} & {x["id"] for x in test}
    assert case.split_examples(examples) == (train, test)


def test_example_scores():
    assert case.score_example("the answer is blue", "blue", None) == {"exact": False, "score": pytest.approx(0.5)}  # 1 of 3 words ("the" is dropped)
    assert case.score_example("Blue.", "blue", None)["exact"]
    schema = {"type": "object", "properties": {"colour": {"enum": COLOURS}}}
    scored = case.score_example('{"colour": "red"}', '{"colour": "blue"}', schema)
    assert scored["valid"] and scored["score"] == 0.0


@pytest.mark.slow
def test_the_cli_runs_a_case_end_to_end_in_the_ci_profile(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path / "workspace"))
    root = write_case(tmp_path / "paint-shop")
    keys = iter(["c", "w", "x", "c", "s"] + ["c", "w"] * 10)  # "x" is refused and asked again; "s" skips
    monkeypatch.setattr("builtins.input", lambda prompt="": next(keys))
    assert case.main([str(root), "--profile", "ci", "--report", str(tmp_path / "report"), "--label", "12"]) == 0
    out = capsys.readouterr().out
    assert "Recommendation:" in out and "type c, w, s or q" in out
    saved = (root / "labels.jsonl").read_text().splitlines()
    assert len(saved) == 11  # 12 asked, one skipped
    grader = json.loads((tmp_path / "report" / "report.json").read_text())["grader"]
    assert grader["n"] == 11 and grader["agreement_low"] <= grader["agreement"] <= grader["agreement_high"]
    assert "Is the grader right on this case?" in (tmp_path / "report" / "report.md").read_text()
    figures = json.loads((tmp_path / "report" / "report.json").read_text())
    assert figures["recommendation"]["recommendation"]
    s = figures["scores"]
    for key in ("closed_book", "rag", "answer_in_context", "recall@5", "MRR"):
        assert s[key]["n"] == case.MIN_QUESTIONS and s[key]["low"] <= s[key]["value"] <= s[key]["high"]
    assert s["rag_vs_closed"]["n"] == case.MIN_QUESTIONS and "p" in s["rag_vs_closed"]
    assert figures["costs"]["prompt_shrink"]["n"] == case.MIN_QUESTIONS
    assert s["recall@5"]["value"] == 1.0  # three documents: every source is in the top five
    report = (tmp_path / "report" / "report.md").read_text()
    assert "## Recommendation" in report and "(n=20" in report and (tmp_path / "report" / "scores.png").is_file()
    rows = (tmp_path / "report" / "answers.jsonl").read_text().splitlines()
    assert all(p.is_file() for p in (tmp_path / "report").iterdir()), "the report folder holds the report's files only"
    assert len(rows) == case.MIN_QUESTIONS
    # a re-run with the same documents reuses the index version instead of indexing again (the index stage of run)
    store, again = case.build_index(case.validate(root), progress=False)
    assert again.manifest["version"] == figures["index"]["version"] and len(store.versions()) == 1


def test_files_people_actually_have_bom_crlf_and_other_example_shapes(tmp_path):
    root = write_case(tmp_path)
    text = (root / "questions.jsonl").read_text()
    (root / "questions.jsonl").write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())  # Excel-style
    (root / "examples.jsonl").write_text("".join(
        json.dumps({"prompt": f"Colour {i}?", "completion": COLOURS[i % 5]} if i % 2 else
                   {"instruction": "Name the colour.", "input": f"code {i}", "output": COLOURS[i % 5]}) + "\n"
        for i in range(case.MIN_EXAMPLES)))
    c = case.validate(root)
    assert len(c.questions) == case.MIN_QUESTIONS and len(c.examples) == case.MIN_EXAMPLES
    assert c.examples[0]["messages"] == [{"role": "user", "content": "Name the colour.\n\ncode 0"},
                                         {"role": "assistant", "content": "red"}]
    assert c.examples[1]["messages"][0] == {"role": "user", "content": "Colour 1?"}


def test_a_questions_file_in_another_shape_gets_a_hint(tmp_path):
    root = write_case(tmp_path)
    (root / "questions.jsonl").rename(root / "questions.csv")
    p = only(root)
    assert "questions.csv" in p.fix and "to_json(orient='records', lines=True)" in p.fix


def test_an_example_with_context_keeps_its_turns_and_adds_the_retrieved_chunks():
    from helpers.rag import Hit

    class Index:
        def search(self, query, k):
            self.query = query
            return [Hit("prices.md#000", "prices.md", 1.0, 1, "Prices\nA litre of red paint costs 10 euros.")]

    index = Index()
    plain = [{"role": "user", "content": "Price of red?"}]
    with_system = [{"role": "system", "content": "Answer in JSON."}, *plain]
    out = case.with_context(with_system, index)
    assert index.query == "Price of red?" and out[1:] == plain
    assert out[0]["content"].startswith("Answer in JSON.\n\nContext:\n[prices.md] Prices")
    assert case.with_context(plain, index)[0]["role"] == "system" and case.with_context(plain, index)[1:] == plain


# ------------------------------------------------------------------ the recommendation follows the measurements

def _answer_rows(closed_right: int, rag_right: int, n: int = 40) -> list[dict]:
    return [{"id": f"q{i:04d}", "closed": {"correct": i < closed_right}, "rag": {"correct": i < rag_right}}
            for i in range(n)]


def test_the_sample_cases_situation_does_not_recommend_what_it_measured_below():
    """On the sample case FT+RAG scored far below FT on the held-back examples while the guide's rules alone
    said FT+RAG: the recommendation must follow the measurement and show the rule as contradicted."""
    from helpers import decide

    example_rows = []
    for i in range(11):
        for system, score in (("base", 0.0), ("FT", 0.5 if i % 4 else 0.25), ("FT+RAG", 0.0 if i % 3 else 0.15)):
            example_rows.append({"id": f"e{i}", "system": system, "score": score})
    rules = decide.recommend("both", "monthly", 50_000, 0.96)
    assert rules.recommendation == "FT+RAG (hybrid)"
    decision = case.measured_recommendation(case.measured_choices(_answer_rows(3, 4), example_rows), rules)
    assert "FT+RAG" not in decision["recommendation"].split(" (")[0]
    assert decision["recommendation"].startswith("a fine-tune for the behaviour")
    assert decision["contradicted"] and "FT+RAG" in decision["contradicted"][0]
    assert any("contradict" in r for r in decision["reasons"]) and decision["rules"] == "FT+RAG (hybrid)"


def test_a_measured_tie_goes_to_the_cheaper_system_and_a_clear_win_to_the_winner():
    from helpers import decide

    rules = decide.recommend("knowledge", "weekly", 50_000)
    tie = case.measured_recommendation(case.measured_choices(_answer_rows(3, 4), []), rules)
    assert tie["measured"][0]["system"] == "base" and "not significantly below" in tie["reasons"][0]
    assert tie["contradicted"] == []
    win = case.measured_recommendation(case.measured_choices(_answer_rows(2, 30), []), rules)
    assert win["recommendation"] == "RAG" and win["measured"][0]["best"] == "RAG"


def test_example_failures_are_profiled_by_their_content():
    c = case.validate(SAMPLE)
    rows = [{"id": "e1", "system": "base", "output": "The finally clause runs first, always.", "exact": False,
             "score": 0.8},
            {"id": "e2", "system": "base", "output": "Python is a programming language.", "exact": False, "score": 0.1},
            {"id": "e3", "system": "base", "output": "  ", "exact": False, "score": 0.0}]
    labels = {x["id"]: x["label"] for x in case.profile_failures(c, [], rows)["labels"]}
    assert labels == {"e1": "behaviour", "e2": "knowledge", "e3": "behaviour"}


def test_training_length_follows_the_examples(monkeypatch):
    monkeypatch.setenv("COURSE_PROFILE", "learner")
    steps = [case.training_recipe(n).max_steps for n in (4, 25, 60, 500)]
    assert steps == [case.MIN_STEPS, 25, 60, case.MAX_STEPS]
