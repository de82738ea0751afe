"""Progress bars that leave a readable line behind.

In JupyterLab a ``tqdm.auto`` bar is a live widget. Saved in a notebook and viewed where widgets are not
rendered (GitHub, nbviewer, a text diff), the same output is a plain-text fallback frozen at the moment
it was drawn, often "0%". ``bar`` is ``tqdm.auto.tqdm`` plus one printed line when it closes (what was
done, how many, how long), so a committed notebook shows the finished state wherever it is read.
"""

from __future__ import annotations


def format_seconds(seconds: float) -> str:
    """'12.3 s', '4 min 05 s', '1 h 02 min'."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def plural(noun: str) -> str:
    """'batch' -> 'batches', 'query' -> 'queries', 'day' -> 'days', 'run' -> 'runs'."""
    if noun.endswith(("s", "x", "ch", "sh")):
        return f"{noun}es"
    if len(noun) > 1 and noun.endswith("y") and noun[-2] not in "aeiou":
        return f"{noun[:-1]}ies"
    return f"{noun}s"


def bar(iterable=None, *, desc: str, unit: str = "it", total: int | None = None, disable: bool = False, **kwargs):
    """A ``tqdm.auto`` progress bar that prints ``"<desc>: <n> <unit>s in <time>"`` when it closes
    (nothing when disabled). Use it like tqdm: ``for x in bar(items, desc="indexing", unit="batch")``."""
    from tqdm.auto import tqdm

    class _Bar(tqdm):
        _summarised = False

        def close(self):
            summarise = not self.disable and not self._summarised
            elapsed = self.format_dict.get("elapsed", 0.0) if summarise else 0.0
            super().close()
            if summarise:
                self._summarised = True
                units = unit if self.n == 1 else plural(unit)
                of = f" of {self.total}" if self.total is not None and self.n != self.total else ""
                print(f"{desc}: {self.n}{of} {units} in {format_seconds(elapsed)}", flush=True)

    return _Bar(iterable, desc=desc, unit=unit, total=total, disable=disable, **kwargs)


def hide_library_bars() -> None:
    """Switch off the progress bars of ``datasets`` (one per ``map`` pass: TRL's SFTTrainer makes four) and
    of transformers (``from_pretrained``'s "Loading weights"). With the course's local models each takes
    under a second, and saved in a notebook it stays at "0%" wherever the notebook is read. Hub downloads
    keep their own bars (huggingface_hub's), and the course's long work uses ``bar``."""
    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
