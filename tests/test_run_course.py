"""scripts/run_course.py: the note about indexes left by an earlier run."""

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("run_course", ROOT / "scripts" / "run_course.py")
run_course = importlib.util.module_from_spec(spec)
spec.loader.exec_module(run_course)

NB = ROOT / "notebooks"


def test_no_note_in_an_empty_workspace(tmp_path):
    assert run_course.earlier_indexes([NB / "02_rag_chroma.ipynb"], tmp_path) is None
    (tmp_path / "indexes").mkdir()
    assert run_course.earlier_indexes([NB / "02_rag_chroma.ipynb"], tmp_path) is None


def test_note_when_indexes_are_left_and_an_index_notebook_runs(tmp_path):
    (tmp_path / "indexes" / "course").mkdir(parents=True)
    note = run_course.earlier_indexes([NB / "00_setup.ipynb", NB / "04_rag_pipeline.ipynb"], tmp_path)
    assert note and str(tmp_path / "indexes") in note and "make clean-workspace" in note
    # notebooks that only read indexes are not affected
    assert run_course.earlier_indexes([NB / "05_lora_finetune.ipynb"], tmp_path) is None
