"""helpers.plots.grouped_bars on the Agg backend: ticks, bars per hue, error bars, legend order."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
from matplotlib.container import BarContainer  # noqa: E402

from helpers import plots  # noqa: E402

TABLE = [
    {"task": t, "system": s, "score": sc, "score_low": sc - 0.1, "score_high": sc + 0.1}
    for t, scores in {"qa_static": (0.2, 0.6, 0.5), "tone": (0.3, 0.4, 0.8)}.items()
    for s, sc in zip(("base", "RAG", "FT"), scores, strict=True)
]


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def bars(ax):
    return [c for c in ax.containers if isinstance(c, BarContainer)]


def legend_labels(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_ticks_and_bars_per_hue():
    ax = plots.grouped_bars(TABLE, group="task", hue="system", title="accuracy")
    assert isinstance(ax, matplotlib.axes.Axes)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["qa_static", "tone"]
    containers = bars(ax)
    assert len(containers) == 3
    assert [len(c.patches) for c in containers] == [2, 2, 2]
    heights = [[round(p.get_height(), 6) for p in c.patches] for c in containers]
    assert heights == [[0.2, 0.3], [0.6, 0.4], [0.5, 0.8]]
    assert ax.get_title() == "accuracy" and ax.get_ylabel() == "score"
    assert ax.get_ylim() == (0, 1)
    assert legend_labels(ax) == ["base", "RAG", "FT"]


def test_error_bars_when_the_interval_columns_exist():
    ax = plots.grouped_bars(TABLE, group="task", hue="system")
    assert all(c.errorbar is not None for c in bars(ax))
    # the error bar spans score_low .. score_high: the first base bar is 0.2 -> 0.1 .. 0.3
    segments = bars(ax)[0].errorbar.lines[2][0].get_segments()
    assert [round(float(y), 6) for y in (segments[0][0][1], segments[0][1][1])] == [0.1, 0.3]


def test_no_error_bars_without_the_interval_columns():
    plain = [{k: v for k, v in row.items() if k in ("task", "system", "score")} for row in TABLE]
    ax = plots.grouped_bars(plain, group="task", hue="system")
    assert len(bars(ax)) == 3 and all(c.errorbar is None for c in bars(ax))
    # only one of the two interval columns is not enough
    half = [{**row, "score_low": 0.0} for row in plain]
    ax = plots.grouped_bars(half, group="task", hue="system")
    assert all(c.errorbar is None for c in bars(ax))


def test_dataframe_input_and_custom_value():
    import pandas as pd

    df = pd.DataFrame(TABLE).rename(columns={"score": "acc"})
    ax = plots.grouped_bars(df, group="system", hue="task", value="acc", ylabel="accuracy", ylim=(0, 2))
    assert [t.get_text() for t in ax.get_xticklabels()] == ["base", "RAG", "FT"]
    assert len(bars(ax)) == 2 and all(c.errorbar is None for c in bars(ax))  # no acc_low / acc_high
    assert ax.get_ylabel() == "accuracy" and ax.get_ylim() == (0, 2)


@pytest.mark.parametrize(("kwargs", "missing"),
                         [({"group": "dataset"}, "dataset"), ({"hue": "model"}, "model"),
                          ({"value": "latency"}, "latency")])
def test_missing_column(kwargs, missing):
    args = {"group": "task", "hue": "system", **kwargs}
    with pytest.raises(KeyError, match=f"no column '{missing}'"):
        plots.grouped_bars(TABLE, **args)


def test_hue_order_sets_the_legend_order():
    ax = plots.grouped_bars(TABLE, group="task", hue="system", hue_order=["FT", "base", "RAG"])
    assert legend_labels(ax) == ["FT", "base", "RAG"]
    heights = [[round(p.get_height(), 6) for p in c.patches] for c in bars(ax)]
    assert heights == [[0.5, 0.8], [0.2, 0.3], [0.6, 0.4]]


def test_draws_on_a_given_axes():
    fig, given = plt.subplots()
    ax = plots.grouped_bars(TABLE, group="task", hue="system", ax=given)
    assert ax is given and ax.figure is fig
