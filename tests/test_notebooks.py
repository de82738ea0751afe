"""The committed notebooks: executed in order, no errors, no local paths, the shape of STYLE.md, badges."""

import json
import re
from pathlib import Path

import pytest

from helpers import env

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]_*_solutions.ipynb"))
LOCAL_PATH = re.compile(r"/(work|tmp|root|home|Users)/[\w.-]+")


def _cells(path):
    return json.loads(path.read_text())["cells"]


def test_there_are_notebooks():
    assert NOTEBOOKS, "notebooks/ holds no NN_name.ipynb"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_executed_in_order_without_errors(path):
    counts = []
    for cell in _cells(path):
        if cell["cell_type"] != "code" or not "".join(cell["source"]).strip():
            continue
        assert cell["execution_count"] is not None, f"{path.name}: a code cell was never executed (run `make course`)"
        counts.append(cell["execution_count"])
        for out in cell["outputs"]:
            assert out["output_type"] != "error", f"{path.name}: error output {out.get('ename')}: {out.get('evalue')}"
            assert not LOCAL_PATH.search(json.dumps(out)), f"{path.name}: an output shows a local path"
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: not executed top to bottom in one clean kernel"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_style_shape(path):
    cells = _cells(path)
    first = "".join(cells[0]["source"])
    assert first.startswith("# "), "the first cell is the title"
    for heading in ("**What you will build:**", "**What you will learn:**", "**What you need:**", "---"):
        assert heading in first, f"{path.name}: the opening cell lacks {heading!r}"
    text = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for section in ("## What we measured", "## On your own", "## Further reading"):
        assert section in text, f"{path.name}: missing section {section!r}"
    setup = "".join(cells[1]["source"])
    assert "google.colab" in setup and "NBVAL_IGNORE_OUTPUT" in setup, "the second cell is the hosted-runtime setup"
    assert f"https://github.com/{env.GITHUB_REPO}" in setup, "the setup cell clones the course's own repository"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_colab_badge_points_at_own_path(path):
    first = "".join(_cells(path)[0]["source"])
    links = re.findall(r"\]\((https://colab\.research\.google\.com/github/[^)]+)\)", first)
    own = path.relative_to(ROOT).as_posix()
    assert links == [env.colab_url(own)], f"{path.name}: badge {links}"


def test_every_checked_exercise_has_its_solution():
    for path in NOTEBOOKS:
        if any("check." in "".join(c["source"]) for c in _cells(path) if c["cell_type"] == "code"):
            text = "\n".join("".join(c["source"]) for c in _cells(path) if c["cell_type"] == "markdown")
            linked = re.findall(r"\(solutions/([\w.]+\.ipynb)\)", text)
            assert linked, f"{path.name}: a checked exercise without a link to its solution"
            assert all((ROOT / "notebooks" / "solutions" / name).is_file() for name in linked), linked


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_cells_fit_on_a_screen(path):
    for cell in _cells(path):
        if cell["cell_type"] == "code":
            lines = "".join(cell["source"]).count("\n") + 1
            assert lines <= 40, f"{path.name}: a code cell of {lines} lines (keep cells under ~40)"


FROZEN_BAR = re.compile(r"^(?P<desc>[^\n:]+):\s+\d+%\|", re.M)  # tqdm's text fallback, e.g. "benchmark:   0%|"


@pytest.mark.parametrize("path", NOTEBOOKS + SOLUTIONS, ids=lambda p: p.name)
def test_progress_bars_leave_their_finished_state(path):
    """Viewed on GitHub a saved progress bar is its text fallback, frozen where it was drawn ("0%"): every
    bar in a committed output must be followed, in the same cell, by a plain line saying what was done
    (helpers.progress.bar prints "<desc>: <n> <units> in <time>"; generation prints "generated ...")."""
    for cell in _cells(path):
        if cell["cell_type"] != "code":
            continue
        streams = ["".join(out.get("text", "")) for out in cell["outputs"] if out["output_type"] == "stream"]
        widgets = ["".join(out.get("data", {}).get("text/plain", "")) for out in cell["outputs"]
                   if out["output_type"] == "display_data"
                   and "application/vnd.jupyter.widget-view+json" in out.get("data", {})]
        plain = "\n".join(streams)
        for match in FROZEN_BAR.finditer("\n".join(streams + widgets)):
            desc = match.group("desc").strip()
            finished = re.compile(rf"^{re.escape(desc)}: \d+ .* in [\d.]+ (s|min)|^generated \d+ replies", re.M)
            assert finished.search(plain), (f"{path.name}: the progress bar '{desc}' has no finished line in its cell; "
                                            "use helpers.progress.bar and re-run the notebook")


# The library calls a learner will write in their own project, written and run in the notebook that teaches them
# (issue 31). Code cells only: a call named in prose does not count.
TAUGHT = {
    "02_rag_chroma.ipynb": ["chromadb.PersistentClient(", "get_or_create_collection(", ".add(", ".query(", "where="],
    "03_hybrid_retrieval.ipynb": ["bm25s.tokenize(", ".index(", ".retrieve("],
    "04_rag_pipeline.ipynb": ["ChromaVectorStore(", "VectorStoreIndex.from_vector_store(", "BM25Retriever.from_defaults(",
                              "QueryFusionRetriever(", 'mode="reciprocal_rerank"', "RetrieverQueryEngine"],
    "05_lora_finetune.ipynb": ["Dataset.from_list(", "FastLanguageModel.from_pretrained(", "FastLanguageModel.get_peft_model(",
                               "SFTTrainer(", "SFTConfig(", "train_on_responses_only(", "LoraConfig(",
                               "PeftModel.from_pretrained(", "save_pretrained(", "trainer.train()",
                               "llguidance.hf.from_tokenizer(", "LLMatcher.grammar_from_json_schema(",
                               "llguidance.LLMatcher(", "fill_next_token_bitmask(", "logits_processor="],
    "06_hybrid_stack.ipynb": ["rag.Hit(", "tasks.messages("],
    "07_speculative_rag.ipynb": ["output_scores=True", "return_dict_in_generate=True", "compute_transition_scores("],
    "11_your_case.ipynb": ["chromadb.EphemeralClient(", ".upsert(", "query_embeddings=", "case.validate(",
                           "case.build_index(", "case.examples_stage(", "case.assemble("],
}


@pytest.mark.parametrize("name", sorted(TAUGHT))
def test_library_calls_are_written_in_the_notebook_that_teaches_them(name):
    code = "\n".join("".join(c["source"]) for c in _cells(ROOT / "notebooks" / name) if c["cell_type"] == "code")
    missing = [call for call in TAUGHT[name] if call not in code]
    assert not missing, f"{name}: no code cell writes {missing}"


def test_the_recipe_written_out_shows_its_training_loss():
    """05's section 2: the branch of this machine's backend ran, and its output has the loss of each step."""
    outputs = [json.dumps(c["outputs"]) for c in _cells(ROOT / "notebooks" / "05_lora_finetune.ipynb")
               if c["cell_type"] == "code" and 'print("loss per step:"' in "".join(c["source"])]
    assert len(outputs) == 1 and re.search(r"loss per step: \[\d+\.\d+(, \d+\.\d+)+\]", outputs[0]), outputs


def test_the_schema_written_out_gives_the_packaged_answer():
    """05's section 9: the logits processor written by hand and generate(schema=...) wrote the same answer."""
    outputs = [json.dumps(c["outputs"]) for c in _cells(ROOT / "notebooks" / "05_lora_finetune.ipynb")
               if c["cell_type"] == "code" and "class FollowSchema" in "".join(c["source"])]
    assert len(outputs) == 1 and "the same answer: True" in outputs[0], outputs


def test_setup_cells_come_from_one_place(monkeypatch):
    """Every notebook's setup cell is env.setup_cell (scripts/sync_setup_cells.py writes it): the repository URL
    lives in env.GITHUB_REPO alone, and changing it changes every cell."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("sync_setup_cells", ROOT / "scripts" / "sync_setup_cells.py")
    sync = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(sync)
    assert sync.main(["--check"]) == 0, "run `python scripts/sync_setup_cells.py`"
    monkeypatch.setattr(env, "GITHUB_REPO", "someone/fork")
    cell = "".join(_cells(NOTEBOOKS[0])[1]["source"])
    assert "https://github.com/someone/fork" in sync.synced(cell, solutions=False)


def test_09_prints_the_guides_prompt_shrink_range():
    """The committed 'What we measured' line of 09 names the guide's 60%-70%, not an interval computed later."""
    from helpers import costs

    low, high = costs.GUIDE_PROMPT_SHRINK
    lines = [line for cell in _cells(ROOT / "notebooks" / "09_costs.ipynb") if cell["cell_type"] == "code"
             for out in cell.get("outputs", []) for line in "".join(out.get("text", "")).splitlines()
             if line.startswith(("mean prompt tokens:", "behaviour tasks, the prompt fine-tuning replaces:"))]
    assert len(lines) == 2, f"09 prints the RAG and the few-shot shrink lines once each, got {lines}"
    assert all(f"(guide: {low:.0%}-{high:.0%};" in line for line in lines), lines
