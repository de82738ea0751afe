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


def _notebook(path, stamps):
    import nbformat

    nb = nbformat.v4.new_notebook()
    for start, end in stamps:
        cell = nbformat.v4.new_code_cell("x = 1")
        if start:
            cell.metadata["execution"] = {"iopub.execute_input": start, "shell.execute_reply": end}
        nb.cells.append(cell)
    nbformat.write(nb, path)
    return path


def test_executed_times_span_first_cell_to_last(tmp_path):
    path = _notebook(tmp_path / "a.ipynb", [("2026-12-03T10:00:00.000Z", "2026-12-03T10:00:05.000Z"),
                                            (None, None),
                                            ("2026-12-03T10:00:06.000Z", "2026-12-03T10:01:36.500Z")])
    times = run_course.executed_times(path)
    assert times["seconds"] == 96.5 and times["date"] == "2026-12-03 10:00"
    assert [s[1] for s in times["slowest"]] == [90.5, 5.0]
    assert run_course.executed_times(_notebook(tmp_path / "b.ipynb", [(None, None)])) is None


def documented_seconds(table_text: str) -> dict[str, float]:
    """The CPU time a course-map style table gives each notebook: the first '~N s' or '~N min' after its link."""
    import re

    found = {}
    for line in table_text.splitlines():
        row = re.match(r"\| \[(\d\d_\w+)\]\([^)]*\.ipynb\) \|(.*)", line)
        if row:
            time = re.search(r"~([\d.]+) (s|min)\b", row.group(2))
            if time:
                found[row.group(1)] = _seconds(time.group(1), time.group(2))
    return found


def test_documented_seconds_parses_both_tables():
    text = ("| [05_lora](notebooks/05_lora.ipynb) | what, 3 passes | ~24.5 min (training: 3 min) | n |\n"
            "| [09_costs](../notebooks/09_costs.ipynb) | ~10 s | not measured yet |\n| 10 | ~3 min |\n")
    assert documented_seconds(text) == {"05_lora": 1470.0, "09_costs": 10.0}


def _seconds(amount: str, unit: str) -> float:
    return float(amount) * (60 if unit in ("min", "minutes") else 1)


def _agrees(documented: float, actual: float) -> bool:
    """A rounded time stated in prose agrees with a measured one: within 10%, or 15 s for short notebooks."""
    return abs(documented - actual) <= max(15, 0.1 * actual)


def test_readme_and_workshop_cpu_times_are_those_of_the_committed_outputs():
    """The README's course map and the workshop guide give each notebook the time its committed outputs took
    (within rounding), so re-running the course without updating them fails here."""
    measured = {p.stem: run_course.executed_times(p) for p in sorted(NB.glob("[0-9][0-9]_*.ipynb"))}
    for doc in (ROOT / "README.md", ROOT / "docs" / "workshop.md"):
        documented = documented_seconds(doc.read_text())
        assert set(documented) == set(measured), f"{doc.name}: a notebook without a CPU time, or one too many"
        for name, seconds in documented.items():
            actual = measured[name]["seconds"]
            assert _agrees(seconds, actual), (
                f"{doc.name} gives {name} ~{seconds:.0f} s but its committed outputs took {actual:.0f} s "
                f"(run {measured[name]['date']}): update the time (`python scripts/run_course.py --times`)")


def test_each_notebook_states_its_own_cpu_time_and_no_unmeasured_t4_time():
    """A notebook's introduction says how long it takes: the CPU time of its committed outputs, and no T4
    figure while no GPU run has measured one (the README's T4 column says so)."""
    import re

    import nbformat

    readme = (ROOT / "README.md").read_text()
    for path in sorted(NB.glob("[0-9][0-9]_*.ipynb")):
        intro = nbformat.read(path, as_version=4).cells[0].source
        said = re.search(r"Time: about ([\d.]+) (minutes|seconds) on a 2-core CPU", intro)
        assert said, f"{path.name}: its introduction gives no 'Time: about N minutes on a 2-core CPU'"
        actual = run_course.executed_times(path)["seconds"]
        assert _agrees(_seconds(said.group(1), said.group(2)), actual), (
            f"{path.name} says about {said.group(1)} {said.group(2)}, its committed outputs took {actual:.0f} s")
        row = next(line for line in readme.splitlines() if line.startswith(f"| [{path.stem}]"))
        if row.rstrip(" |").endswith("not yet measured"):
            assert "not yet measured on a Colab T4" in intro and not re.search(r"about [\d.]+ on a Colab T4", intro), (
                f"{path.name} gives a Colab T4 time, but none has been measured (README course map)")
