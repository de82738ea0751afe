"""Write the pictures of committed notebook outputs to docs/img (`make screenshots` runs it).

A code cell whose metadata holds ``"readme_image": "NAME.png"`` has its first PNG output written to
``docs/img/NAME.png``, byte for byte as the committed notebook holds it, so docs/results.md shows what the
learner-profile run drew (tests/test_readme_images.py checks that they still match). The widget
screenshots in the same folder come from the browser tests (``COURSE_SCREENSHOTS=docs/img``).
"""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
IMAGES = ROOT / "docs" / "img"


def tagged_images(notebooks_dir: Path = ROOT / "notebooks") -> dict[str, tuple[Path, bytes]]:
    """``{file name: (notebook, PNG bytes)}`` for every cell tagged ``readme_image``; a tagged cell without a
    PNG output, or a name used twice, is an error that names the notebook and cell."""
    found: dict[str, tuple[Path, bytes]] = {}
    for notebook in sorted(notebooks_dir.glob("[0-9][0-9]_*.ipynb")):
        for i, cell in enumerate(json.loads(notebook.read_text())["cells"]):
            name = cell.get("metadata", {}).get("readme_image")
            if not name:
                continue
            if not name.endswith(".png") or "/" in name:
                raise ValueError(f"{notebook.name} cell {i}: readme_image must be a file name ending in .png, got {name!r}")
            pngs = [out["data"]["image/png"] for out in cell.get("outputs", []) if "image/png" in out.get("data", {})]
            if not pngs:
                raise ValueError(f"{notebook.name} cell {i} is tagged readme_image={name!r} but has no PNG output: "
                                 "run the notebook (make course) first")
            if name in found:
                raise ValueError(f"{name} is tagged in both {found[name][0].name} and {notebook.name}")
            data = pngs[0] if isinstance(pngs[0], str) else "".join(pngs[0])
            found[name] = (notebook, base64.b64decode(data))
    return found


def main() -> int:
    IMAGES.mkdir(parents=True, exist_ok=True)
    for name, (notebook, png) in tagged_images().items():
        (IMAGES / name).write_bytes(png)
        print(f"{IMAGES.relative_to(ROOT) / name}: from {notebook.name} ({len(png) // 1024} KiB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
