"""helpers.workspace: reset removes only course parts inside the workspace, asks first, and reports sizes."""

from pathlib import Path

import pytest

from helpers import env, workspace


@pytest.fixture
def ws(tmp_path, monkeypatch):
    """A workspace with every usual part, beside a sentinel folder that must survive every test."""
    root = tmp_path / "ws"
    for rel, size in {"indexes/help-centre/v001.json": 100, "adapters/json/adapter.safetensors": 2000,
                      "runs/20260101/log.txt": 30, "models/SmolLM2/model.safetensors": 5000,
                      "failed/05_lora_finetune.ipynb": 10}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
    outside = tmp_path / "mine"
    outside.mkdir()
    (outside / "sentinel.txt").write_text("keep me")
    monkeypatch.setenv("COURSE_WORKSPACE", str(root))
    monkeypatch.delenv("COURSE_CACHE_DIR", raising=False)
    return root, outside


def no_input(prompt):
    raise AssertionError("confirm=False must not ask")


def test_summary_lists_parts_with_sizes(ws):
    root, _ = ws
    lines = []
    rows = workspace.summary(print_fn=lines.append)
    assert {r["part"]: r["bytes"] for r in rows} == {"adapters": 2000, "failed": 10, "indexes": 100, "models": 5000,
                                                     "runs": 30}
    assert lines[0] == f"course workspace: {root}" and "7.1 kB" in lines[-1]


def test_reset_all_removes_everything_and_reports_sizes(ws):
    root, outside = ws
    lines = []
    removed = workspace.reset(confirm=False, input_fn=no_input, print_fn=lines.append)
    assert sorted(r["part"] for r in removed) == ["adapters", "failed", "indexes", "models", "runs"]
    assert sum(r["bytes"] for r in removed) == 7140 and "7.1 kB freed" in lines[-1]
    assert not root.exists(), "an emptied workspace folder is removed too"
    assert (outside / "sentinel.txt").read_text() == "keep me"


def test_answer_no_keeps_everything(ws):
    root, _ = ws
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    asked = []
    for answer in ("", "n", "no", "nope", "Y es"):
        removed = workspace.reset(input_fn=lambda prompt, a=answer: asked.append(prompt) or a, print_fn=None)
        assert removed == []
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert "[y/N]" in asked[0] and "models (5.0 kB)" in asked[0], "the question names each part and its size"


def test_answer_yes_removes_one_part(ws):
    root, _ = ws
    removed = workspace.reset("indexes", input_fn=lambda prompt: " YES ", print_fn=None)
    assert [r["part"] for r in removed] == ["indexes"]
    assert not (root / "indexes").exists() and (root / "adapters").exists() and (root / "models").exists()


def test_non_interactive_stdin_counts_as_no(ws):
    root, _ = ws

    def closed(prompt):
        raise EOFError

    assert workspace.reset(input_fn=closed, print_fn=None) == [] and (root / "models").exists()


def test_keep_spares_the_model_cache(ws):
    root, _ = ws
    removed = workspace.reset(keep=["models"], confirm=False, print_fn=None)
    assert "models" not in {r["part"] for r in removed}
    assert sorted(p.name for p in root.iterdir()) == ["models"]


def test_unknown_part_is_a_teaching_error(ws):
    with pytest.raises(ValueError, match="unknown workspace part 'index'.*indexes"):
        workspace.reset("index", confirm=False)
    with pytest.raises(ValueError, match="unknown workspace part"):
        workspace.reset(keep=["everything"], confirm=False)


def test_refuses_a_folder_with_things_the_course_did_not_make(ws):
    root, _ = ws
    (root / "thesis.tex").write_text("years of work")
    with pytest.raises(workspace.UnsafeWorkspace, match=r"thesis\.tex"):
        workspace.reset(confirm=False, print_fn=None)
    with pytest.raises(workspace.UnsafeWorkspace):
        workspace.reset("indexes", confirm=False, print_fn=None)
    assert (root / "thesis.tex").exists() and (root / "indexes").exists()
    rows = workspace.summary(print_fn=None)
    assert [r["note"] for r in rows if r["part"] is None] == ["not made by the course: reset refuses while it is here"]


@pytest.mark.parametrize("where", ["root", "home", "repo", "repo-parent"])
def test_refuses_root_home_and_repository(where, monkeypatch, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    target = {"root": Path("/"), "home": home, "repo": env.REPO_ROOT, "repo-parent": env.REPO_ROOT.parent}[where]
    monkeypatch.setenv("COURSE_WORKSPACE", str(target))
    with pytest.raises(workspace.UnsafeWorkspace, match="refusing to remove anything"):
        workspace.reset(confirm=False, print_fn=None)


def test_a_workspace_symlinked_to_home_is_refused(monkeypatch, tmp_path):
    home = tmp_path / "home"
    (home / "indexes").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    (tmp_path / "ws-link").symlink_to(home)
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path / "ws-link"))
    with pytest.raises(workspace.UnsafeWorkspace, match="home folder"):
        workspace.reset(confirm=False, print_fn=None)
    assert (home / "indexes").is_dir()


def test_symlinked_part_is_unlinked_not_followed(ws):
    root, outside = ws
    (root / "adapters" / "stolen").symlink_to(outside)  # a link inside a part
    (root / "runs").rename(root / "runs-real")
    (root / "runs-real").rename(outside / "runs")
    (root / "runs").symlink_to(outside / "runs")  # a whole part that is a link to elsewhere
    removed = workspace.reset(["adapters", "runs"], confirm=False, print_fn=None)
    assert {r["part"] for r in removed} == {"adapters", "runs"}
    assert not (root / "runs").exists() and not (root / "runs").is_symlink()
    assert (outside / "sentinel.txt").read_text() == "keep me"
    assert (outside / "runs" / "20260101" / "log.txt").is_file(), "the link's target survives"


def test_model_cache_outside_the_workspace_is_left_alone(ws, tmp_path, monkeypatch):
    root, _ = ws
    cache = tmp_path / "shared-cache"
    (cache / "SmolLM2").mkdir(parents=True)
    monkeypatch.setenv("COURSE_CACHE_DIR", str(cache))
    lines = []
    removed = workspace.reset(confirm=False, print_fn=lines.append)
    assert "models" in {r["part"] for r in removed}, "the workspace's own models folder is still a course part"
    assert (cache / "SmolLM2").is_dir() and any("left in place: models" in line for line in lines)
    (root / "models").mkdir(parents=True)
    rows = {r["path"]: r for r in workspace.summary(print_fn=None)}
    assert rows[root / "models"]["part"] == "models" and rows[root / "models"]["note"] == ""
    assert rows[cache]["part"] == "models" and rows[cache]["note"].startswith("outside the workspace")
    with pytest.raises(workspace.UnsafeWorkspace, match="outside the workspace"):
        workspace.reset("models", confirm=False, print_fn=None)


def test_cache_symlink_escaping_the_workspace(ws, monkeypatch):
    root, outside = ws
    import shutil

    shutil.rmtree(root / "models")
    (root / "models").symlink_to(outside)  # COURSE_CACHE_DIR inside the workspace, resolving outside it
    monkeypatch.setenv("COURSE_CACHE_DIR", str(root / "models"))
    with pytest.raises(workspace.UnsafeWorkspace, match="outside the workspace"):
        workspace.reset("models", confirm=False, print_fn=None)
    workspace.reset(confirm=False, print_fn=None)
    assert (outside / "sentinel.txt").read_text() == "keep me"


def test_missing_workspace_is_nothing_to_remove(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_WORKSPACE", str(tmp_path / "never-made"))
    monkeypatch.delenv("COURSE_CACHE_DIR", raising=False)  # the cache inside the workspace (the default)
    lines = []
    assert workspace.reset(confirm=False, print_fn=lines.append) == []
    assert lines == [f"nothing to remove in {tmp_path / 'never-made'}"]
    assert not (tmp_path / "never-made").exists()


def test_format_size():
    assert [workspace.format_size(n) for n in (0, 812, 4100, 523_400_000, 1_234_000_000, 5 * 10**12)] == \
        ["0 B", "812 B", "4.1 kB", "523.4 MB", "1.2 GB", "5000.0 GB"]


def test_command_line(ws, capsys):
    root, _ = ws
    (root / "notes.txt").write_text("mine")
    assert workspace.main(["reset", "--yes"]) == 1
    assert "notes.txt" in capsys.readouterr().err and (root / "indexes").exists()
    (root / "notes.txt").unlink()
    assert workspace.main(["summary"]) == 0 and "indexes" in capsys.readouterr().out
    assert workspace.main(["reset", "indexes", "runs", "--yes"]) == 0
    assert sorted(p.name for p in root.iterdir()) == ["adapters", "failed", "models"]
    assert workspace.main(["reset", "--keep", "models", "--yes"]) == 0
    assert sorted(p.name for p in root.iterdir()) == ["models"]
    assert workspace.main(["reset", "modles", "--yes"]) == 1 and "unknown workspace part" in capsys.readouterr().err


def test_every_notebook_says_what_a_fresh_runtime_rebuilds():
    from pathlib import Path

    from helpers import workspace

    notebooks = {p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb")}
    assert set(workspace.FRESH_RUNTIME) == notebooks
    note = workspace.fresh_runtime_note("08_benchmark")
    assert note.startswith(workspace.FRESH_RUNTIME_MARK) and "the RAFT adapter (06)" in note and "KEEP_ON_DRIVE" in note
    assert "needs nothing from earlier notebooks" in workspace.fresh_runtime_note("02_rag_chroma")
    assert "(t4: 2.3 GiB, a100: 14.2 GiB)" in note
    with pytest.raises(KeyError, match="no fresh-runtime entry"):
        workspace.fresh_runtime_note("12_more")
