"""Plots the notebooks share: grouped bars with confidence intervals, and threshold sweeps.

Example::

    from helpers import plots
    plots.grouped_bars(table, group="task", hue="system", value="score", title="accuracy")
"""

from __future__ import annotations

from collections.abc import Sequence


def grouped_bars(table, group: str, hue: str, value: str = "score", title: str = "", ylabel: str | None = None,
                 ylim: tuple[float, float] = (0, 1), ax=None, hue_order: Sequence[str] | None = None):
    """Bars of `value` per `group` (x axis) and `hue` (colours), with error bars from ``<value>_low`` /
    ``<value>_high`` when the table has them. `table` is a pandas DataFrame or a list of dicts."""
    import matplotlib.pyplot as plt
    import pandas as pd

    df = pd.DataFrame(table)
    for column in (group, hue, value):
        if column not in df.columns:
            raise KeyError(f"the table has no column {column!r}; it has {list(df.columns)}")
    groups = list(dict.fromkeys(df[group]))
    hues = list(hue_order or dict.fromkeys(df[hue]))
    if ax is None:
        _, ax = plt.subplots(figsize=(max(5, 1.3 * len(groups) * max(1, len(hues)) / 2), 3))
    width = 0.8 / max(1, len(hues))
    has_ci = f"{value}_low" in df.columns and f"{value}_high" in df.columns
    for j, h in enumerate(hues):
        sub = df[df[hue] == h].set_index(group).reindex(groups)
        xs = [i - 0.4 + width * (j + 0.5) for i in range(len(groups))]
        err = None
        if has_ci:
            err = [(sub[value] - sub[f"{value}_low"]).clip(lower=0).fillna(0).tolist(),
                   (sub[f"{value}_high"] - sub[value]).clip(lower=0).fillna(0).tolist()]
        ax.bar(xs, sub[value].fillna(0).tolist(), width, yerr=err, capsize=2, label=str(h))
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels([str(g) for g in groups])
    ax.set_ylim(*ylim)
    ax.set_ylabel(ylabel or value)
    ax.set_title(title)
    ax.legend(fontsize=8, ncol=min(len(hues), 5))
    return ax
