"""What the course wrote to disk, and how to remove it: ``summary()`` and ``reset()``.

Everything a notebook creates lives under one workspace folder (``helpers.env.workspace_dir()``,
``<repo>/.course`` unless ``COURSE_WORKSPACE`` says otherwise), split into *parts*:

=================  ==============================================================  =====================
part               what                                                            rebuilt by
=================  ==============================================================  =====================
``indexes``        versioned Chroma indexes (``helpers.index``)                    02-04, on first use
``adapters``       saved LoRA adapters (``helpers.finetune``)                      05, 06
``runs``           training logs, ci benchmark results, the smoke screenshot       05, 06, 08
``models``         the converted SmolLM2 weights (``COURSE_CACHE_DIR``), ~520 MB   any notebook, ~30 s
``failed``         partial runs of notebooks that failed under ``make course``     ``make course``
``test-workspace`` the fresh workspace ``make test`` runs the notebooks in         ``make test``
=================  ==============================================================  =====================

``test-workspace-unsloth`` is the same as ``test-workspace`` for notebook 05 run under Unsloth
(``make test-unsloth``, in ``.venv-unsloth``).

The safety rule ``reset`` follows (checked before anything is removed, on the real paths with
every symlink resolved):

1. The workspace is not a filesystem root, the home folder, the repository root, or a folder that
   contains any of them.
2. It holds only course parts: every entry at its top level is one of the parts above (or
   ``.DS_Store``). One unknown entry and ``reset`` refuses and names it; a ``COURSE_WORKSPACE``
   pointed at a folder of your own by mistake is never emptied.
3. Only paths inside the workspace are removed. A symlink is unlinked, never followed, so a link to a
   folder elsewhere leaves that folder alone; a part that resolves outside the workspace (a
   ``COURSE_CACHE_DIR`` elsewhere) is left in place and reported.

Example::

    from helpers import workspace
    workspace.summary()                    # what is there, with sizes
    workspace.reset("indexes")             # asks [y/N], then removes the indexes
    workspace.reset(keep=["models"], confirm=False)   # what `make clean-workspace` runs

From a shell: ``python -m helpers.workspace summary`` and ``python -m helpers.workspace reset [PART ...]
[--keep PART] [--yes]``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

from . import env

# Part name -> folder under the workspace. `models` is wherever env.cache_dir() points.
PARTS: dict[str, str] = {
    "indexes": "indexes",
    "adapters": "adapters",
    "runs": "runs",
    "models": "models",
    "failed": "failed",
    "cases": "cases",
    "test-workspace": "test-workspace",
    "test-workspace-unsloth": "test-workspace-unsloth",
}
HARMLESS = {".DS_Store"}  # created by file browsers, not by anyone's work


class UnsafeWorkspace(RuntimeError):
    """The workspace, or a path in it, fails the safety rule: nothing was removed."""


def format_size(n_bytes: int) -> str:
    """A human size: 0 B, 812 B, 4.1 kB, 523.4 MB, 1.2 GB."""
    size = float(n_bytes)
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{int(size)} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def size_of(path: Path) -> int:
    """Bytes under `path`, counting symlinks as links (never following them)."""
    path = Path(path)
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    if not path.is_dir():
        return 0
    total = 0
    for folder, dirs, files in os.walk(path, followlinks=False):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            try:
                total += os.lstat(os.path.join(folder, name)).st_size
            except OSError:
                pass
    return total


def _within(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_location(root: Path) -> Path:
    """Rule 1: return the resolved workspace, or raise UnsafeWorkspace for a root, home or repository folder."""
    root = Path(root).expanduser().resolve()
    protected = {"the filesystem root": Path(root.anchor), "your home folder": Path.home().resolve(),
                 "the course repository": env.REPO_ROOT.resolve()}
    for what, path in protected.items():
        if _within(path, root):
            where = "is" if path == root else "contains"
            raise UnsafeWorkspace(
                f"the course workspace {root} {where} {what}; refusing to remove anything. Point COURSE_WORKSPACE "
                f"at a folder used only by the course (the default is {env.REPO_ROOT / '.course'}).")
    return root


def parts(root: Path | None = None) -> dict[str, Path]:
    """Each part's resolved path (`models` follows COURSE_CACHE_DIR, which may lie outside the workspace)."""
    root = Path(root).resolve() if root else env.workspace_dir(create=False)
    found = {name: root / folder for name, folder in PARTS.items()}
    found["models"] = env.cache_dir() if root == env.workspace_dir(create=False) else root / PARTS["models"]
    return found


def _top_entry(path: Path, root: Path) -> str | None:
    """The name of the workspace entry that holds `path`, or None when `path` is not inside `root`."""
    return path.relative_to(root).parts[0] if path != root and _within(path, root) else None


def check_contents(root: Path) -> None:
    """Rule 2: raise UnsafeWorkspace when the workspace holds anything that is not a course part."""
    if not root.is_dir():
        return
    known = set(PARTS.values()) | HARMLESS
    cache_entry = _top_entry(env.cache_dir(), root) if root == env.workspace_dir(create=False) else None
    if cache_entry:
        known.add(cache_entry)
    unknown = sorted(p.name for p in root.iterdir() if p.name not in known)
    if unknown:
        raise UnsafeWorkspace(
            f"the course workspace {root} holds things the course did not make: {unknown}. Nothing was removed. "
            f"If they are yours, COURSE_WORKSPACE points at the wrong folder; if the course made them, add the "
            f"folder to helpers.workspace.PARTS (known: {sorted(PARTS)}).")


def summary(root: Path | None = None, print_fn: Callable[[str], None] | None = print) -> list[dict]:
    """List what the workspace holds, one row per top-level entry with its size. Returns the rows printed.

    Rows carry ``part`` (the part name, or None for an entry the course did not make), ``path``,
    ``bytes`` and ``note``. A model cache outside the workspace is listed too, marked as such.
    """
    root = Path(root).resolve() if root else env.workspace_dir(create=False)
    by_folder = {root / folder: name for name, folder in PARTS.items()} | {parts(root)["models"]: "models"}
    rows = []
    if root.is_dir():
        for path in sorted(root.iterdir()):
            part = by_folder.get(path) or next((n for p, n in by_folder.items() if _within(p, path)), None)
            note = "" if part or path.name in HARMLESS else "not made by the course: reset refuses while it is here"
            rows.append({"part": part, "path": path, "bytes": size_of(path), "note": note})
    cache = parts(root)["models"]
    if not _within(cache, root) and cache.exists():
        rows.append({"part": "models", "path": cache, "bytes": size_of(cache),
                     "note": f"outside the workspace (COURSE_CACHE_DIR={cache}): reset leaves it"})
    if print_fn:
        print_fn(f"course workspace: {root}" + ("" if root.is_dir() else " (does not exist yet)"))
        for r in rows:
            note = f"  ({r['note']})" if r["note"] else ""
            print_fn(f"  {r['part'] or r['path'].name:<16} {format_size(r['bytes']):>10}{note}")
        print_fn(f"  {'total':<16} {format_size(sum(r['bytes'] for r in rows)):>10}")
    return rows


def _remove(path: Path, root: Path) -> None:
    """Remove `path`, which must lie inside `root`; a symlink is unlinked, never followed (rule 3)."""
    if not _within(path.parent.resolve() / path.name, root) or path == root:
        raise UnsafeWorkspace(f"refusing to remove {path}: it is not inside the workspace {root}")
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _choose(what: str | Iterable[str], keep: Iterable[str]) -> list[str]:
    names = list(PARTS) if what == "all" else [what] if isinstance(what, str) else list(what)
    for name in [*names, *keep]:
        if name not in PARTS:
            raise ValueError(f"unknown workspace part {name!r}; choose 'all' or any of {sorted(PARTS)}")
    return [n for n in names if n not in set(keep)]


def reset(what: str | Iterable[str] = "all", confirm: bool = True, input_fn: Callable[[str], str] = input,
          keep: Iterable[str] = (), print_fn: Callable[[str], None] | None = print) -> list[dict]:
    """Remove the workspace (``what="all"``) or some parts of it, after asking unless ``confirm=False``.

    ``what`` is ``"all"``, a part name (``"indexes"``, ``"adapters"``, ``"runs"``, ``"models"``, ...)
    or a list of them; ``keep`` lists parts to spare. Follows the safety rule in this module's
    docstring and raises UnsafeWorkspace, removing nothing, when it is broken. Returns what was
    removed: ``[{"part", "path", "bytes"}]`` (empty when the answer was no).
    """
    keep = list(keep)
    names = _choose(what, keep)
    say = print_fn or (lambda _: None)
    root = check_location(env.workspace_dir(create=False))
    check_contents(root)
    targets, skipped = [], []
    cache = env.cache_dir()
    for name in names:
        # a cache moved elsewhere by COURSE_CACHE_DIR may have left the default one behind: both are `models`
        candidates = [root / PARTS[name]] + ([cache] if name == "models" and cache != root / PARTS[name] else [])
        for path in candidates:
            if not (path.exists() or path.is_symlink()):
                continue
            if not _within(path.parent.resolve() / path.name, root):
                skipped.append((name, path))
            elif not any(_within(path, t["path"]) for t in targets):
                targets.append({"part": name, "path": path, "bytes": size_of(path)})
    for name, path in skipped:
        if what != "all":
            raise UnsafeWorkspace(f"the {name} part is at {path}, outside the workspace {root}; remove it by hand "
                                  "if you mean to")
        say(f"left in place: {name} at {path} (outside the workspace)")
    if not targets:
        say(f"nothing to remove in {root}")
        return []
    listing = ", ".join(f"{t['part']} ({format_size(t['bytes'])})" for t in targets)
    if confirm:
        try:
            answer = input_fn(f"Remove {listing} from {root}? [y/N] ")
        except EOFError:
            answer = ""
        if answer.strip().lower() not in {"y", "yes"}:
            say("nothing removed")
            return []
    for target in targets:
        _remove(target["path"], root)
    if what == "all" and not keep and root.is_dir() and not any(root.iterdir()):
        root.rmdir()
    total = sum(t["bytes"] for t in targets)
    say(f"removed {listing}; {format_size(total)} freed" + (f" (kept: {', '.join(keep)})" if keep else ""))
    return targets


def main(argv: list[str] | None = None) -> int:
    """The command line: ``python -m helpers.workspace summary|reset [PART ...] [--keep PART] [--yes]``."""
    parser = argparse.ArgumentParser(prog="python -m helpers.workspace",
                                     description="List or remove what the course wrote to its workspace.")
    parser.add_argument("command", choices=["summary", "reset"])
    parser.add_argument("parts", nargs="*", help=f"parts to remove (default: all): {', '.join(PARTS)}")
    parser.add_argument("--keep", action="append", default=[], metavar="PART", help="a part to spare (repeatable)")
    parser.add_argument("--yes", action="store_true", help="remove without asking")
    args = parser.parse_args(argv)
    try:
        if args.command == "summary":
            summary()
        else:
            reset(args.parts if args.parts and args.parts != ["all"] else "all", confirm=not args.yes, keep=args.keep)
    except (UnsafeWorkspace, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())


# What a notebook builds again when its workspace is empty (a fresh Colab runtime without KEEP_ON_DRIVE): the
# things it needs from earlier notebooks and builds itself when they are missing. Each is built by the notebook
# named, whose first cell gives its time.
REBUILT = {"index v1": "the v1 help-centre index (02)", "index v2": "the v2 index (04)",
           "behaviour": "the behaviour adapter (05)", "knowledge": "the knowledge adapter (05)",
           "raft": "the RAFT adapter (06)"}
FRESH_RUNTIME = {
    "00_setup": (), "01_decide": (), "02_rag_chroma": (), "03_hybrid_retrieval": ("index v1",),
    "04_rag_pipeline": (), "05_lora_finetune": (), "06_hybrid_stack": ("index v1", "behaviour"),
    "07_speculative_rag": ("index v1", "behaviour", "raft"),
    "08_benchmark": ("index v1", "index v2", "behaviour", "knowledge", "raft"), "09_costs": ("index v1",),
    "10_security": ("index v1",), "11_your_case": (),
}
FRESH_RUNTIME_MARK = "**On a fresh Colab runtime:**"


def fresh_runtime_note(notebook: str) -> str:
    """The line of a notebook's first cell that says what a fresh Colab runtime costs it: the install, the tier
    model's download, and what it rebuilds (``FRESH_RUNTIME``); ``scripts/sync_setup_cells.py`` writes it."""
    if notebook not in FRESH_RUNTIME:
        raise KeyError(f"no fresh-runtime entry for {notebook!r}; add it to env.FRESH_RUNTIME")
    items = [REBUILT[key] for key in FRESH_RUNTIME[notebook]]
    listed = ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)
    rebuilt = ("; it also rebuilds " + listed + ", in the time those notebooks state, unless "
               "`KEEP_ON_DRIVE = True` kept them on Google Drive ([docs/colab.md](../docs/colab.md))") if items else \
        "; it needs nothing from earlier notebooks"
    from . import memplan

    size = {t: memplan.weights_gib(memplan.model_sizes(env.TIERS[t]["generator"]), t, "bf16") for t in ("t4", "a100")}
    return (f"{FRESH_RUNTIME_MARK} the setup cell installs the GPU stack (about 3 minutes) and the first model "
            f"load downloads the tier's model in 16 bits (t4: {size['t4']:.1f} GiB, a100: {size['a100']:.1f} GiB)"
            f"{rebuilt}.")
