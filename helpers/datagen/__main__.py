"""``python -m helpers.datagen [--out DIR] [--facts DIR]``: regenerate the course data."""

from __future__ import annotations

import argparse

from .build import generate


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, regenerate, print a short summary."""
    ap = argparse.ArgumentParser(prog="python -m helpers.datagen", description=__doc__)
    ap.add_argument("--out", default=None, help="output directory (default: the repository's data/)")
    ap.add_argument("--facts", default=None, help="directory with facts_v1.json and changes_v2.json (default: data/facts)")
    args = ap.parse_args(argv)
    summary = generate(args.out, args.facts)
    print(f"articles: v1={summary['articles'][1]} v2={summary['articles'][2]}; "
          f"words: v1={summary['words'][1]} v2={summary['words'][2]}")
    for task, sizes in summary["sizes"].items():
        print(f"{task:16s} " + "  ".join(f"{s}={n}" for s, n in sizes.items()))


if __name__ == "__main__":
    main()
