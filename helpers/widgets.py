"""Interactive views for JupyterLab: the cost explorer (notebook 09) and the decision wizard (notebook 01).

Both return an ipywidgets box that also carries its parts, so code (and the tests) can drive it
without a browser: ``box.controls`` (the sliders and dropdowns by name), ``box.summary`` (an HTML
widget with the text result) and ``box.update()`` (recompute now). Sliders have bounds, so a value
out of range is clamped to the nearest valid one instead of reaching the formulas.

Example::

    from helpers import widgets
    explorer = widgets.cost_explorer(rag_prompt_tokens=700, ft_prompt_tokens=60)
    explorer                                   # shows the sliders, the plot and the break-even text
    explorer.controls["training_hours"].value = 8
    explorer.summary.value                     # the updated break-even text
"""

from __future__ import annotations

import dataclasses
import html
import io

from . import costs, decide

# Slider bounds: what the explorer accepts (values outside are clamped by the sliders).
VOLUME_LOG10 = (3, 9)           # 1,000 to 1,000,000,000 calls a month
PROMPT_TOKENS = (1, 16_000)
OUTPUT_TOKENS = (1, 4_000)
GPU_HOURLY = (0.10, 20.0)
TRAINING_HOURS = (0.5, 200.0)
PLOT_VOLUMES = (1e4, 1e8)
COLOURS = {"RAG": "#1f77b4", "FT self-hosted": "#2ca02c", "FT hosted": "#98df8a", "FT+RAG": "#ff7f0e",
           "gated": "#9467bd"}
PAIRS = (("RAG", "FT self-hosted"), ("RAG", "FT hosted"), ("RAG", "FT+RAG"), ("RAG", "gated"))


def plot_costs(table, ax=None, volume: float | None = None, break_even: float | None = None,
               title: str = "Monthly cost by volume"):
    """Draw a cost table (rows: volumes, columns: strategies) on log-log axes; mark a volume and a break-even."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7, 4))
    for name in table.columns:
        ax.plot(table.index, table[name], label=name, color=COLOURS.get(name), lw=2)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("calls per month")
    ax.set_ylabel("US dollars per month")
    ax.set_title(title)
    if volume is not None:
        ax.axvline(volume, color="#555", ls=":", lw=1)
    if break_even is not None:
        ax.axvline(break_even, color="#c00", ls="--", lw=1, label=f"break-even {break_even:,.0f}")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def explorer_summary(volume: float, workload: costs.Workload, prices: costs.Prices) -> str:
    """The explorer's text as HTML: costs at `volume`, then each break-even against RAG."""
    totals = costs.monthly_costs(volume, workload, prices)
    cheapest = min(totals, key=totals.get)
    lines = [f"<b>At {volume:,.0f} calls a month</b> (FT prompt {workload.prompt_shrink:.0%} shorter than RAG's): "
             + " · ".join(f"{name} ${value:,.0f}" for name, value in totals.items())
             + f". Cheapest: <b>{html.escape(cheapest)}</b>."]
    for a, b in PAIRS:
        result = costs.break_even_volume(a, b, workload, prices)
        if result.volume is None:
            lines.append(f"{a} vs {b}: no break-even. {html.escape(result.reason)}.")
        else:
            lines.append(f"{a} vs {b}: break-even at <b>{result.volume:,.0f}</b> calls a month "
                         f"({html.escape(result.cheaper_below)} cheaper below).")
    return "<br>".join(lines)


def _png(table, volume: float, break_even: float | None) -> bytes:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4), dpi=80)
    plot_costs(table, fig.add_subplot(), volume=volume, break_even=break_even,
               title="Monthly cost by volume (dotted: your volume)")
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def cost_explorer(workload: costs.Workload | None = None, prices: costs.Prices | None = None,
                  volume: float = costs.GUIDE_VOLUME, **overrides):
    """Sliders over the cost model (volume, prompt tokens, retraining, GPU price and hours, the gate's
    retrieval share) that redraw the cost plot and the break-even text. Keyword overrides set the
    starting workload, e.g. ``cost_explorer(rag_prompt_tokens=700, ft_prompt_tokens=60)``."""
    import ipywidgets as w

    start = costs._workload(workload, overrides)
    prices = costs._check_prices(prices)
    # descriptions get room for their whole text ("retrain (knowledge changes)" is the longest); the plot
    # sits beside the controls on a wide screen and wraps below them on a narrow one (row wrap)
    style, layout = {"description_width": "200px"}, w.Layout(width="560px")

    def slider(kind, value, bounds, description, **kwargs):
        return kind(value=_clamp(value, bounds), min=bounds[0], max=bounds[1], description=description,
                    continuous_update=False, style=style, layout=layout, **kwargs)

    controls = {
        "volume": w.FloatLogSlider(value=_clamp(volume, (10 ** VOLUME_LOG10[0], 10 ** VOLUME_LOG10[1])), base=10,
                                   min=VOLUME_LOG10[0], max=VOLUME_LOG10[1], step=0.05, readout_format=",.0f",
                                   description="calls / month", continuous_update=False, style=style, layout=layout),
        "rag_prompt_tokens": slider(w.IntSlider, round(start.rag_prompt_tokens), PROMPT_TOKENS, "RAG prompt tokens"),
        "ft_prompt_tokens": slider(w.IntSlider, round(start.ft_prompt_tokens), PROMPT_TOKENS, "FT prompt tokens"),
        "output_tokens": slider(w.IntSlider, round(start.output_tokens), OUTPUT_TOKENS, "output tokens"),
        "update_frequency": w.Dropdown(options=list(costs.FREQUENCIES), value=start.update_frequency,
                                       description="retrain (knowledge changes)", style=style, layout=layout),
        "gpu_hourly_usd": slider(w.FloatSlider, prices.gpu_hourly_usd, GPU_HOURLY, "training GPU $ / hour",
                                 step=0.05),
        "training_hours": slider(w.FloatSlider, prices.training_hours, TRAINING_HOURS, "GPU-hours per retrain",
                                 step=0.5),
        "retrieval_share": slider(w.FloatSlider, start.retrieval_share, (0.0, 1.0), "gate: share to RAG",
                                  step=0.05),
    }
    summary, plot = w.HTML(), w.Image(format="png")

    def update(_change=None):
        c = {name: control.value for name, control in controls.items()}
        workload_now = costs.Workload(c["rag_prompt_tokens"], c["ft_prompt_tokens"], c["output_tokens"],
                                      c["update_frequency"], c["retrieval_share"], start.hybrid_hosting)
        prices_now = dataclasses.replace(prices, gpu_hourly_usd=c["gpu_hourly_usd"], training_hours=c["training_hours"])
        summary.value = explorer_summary(c["volume"], workload_now, prices_now)
        low, high = min(PLOT_VOLUMES[0], c["volume"] / 3), max(PLOT_VOLUMES[1], c["volume"] * 3)
        table = costs.cost_table(costs.log_volumes(low, high, points=61), workload_now, prices_now)
        main = costs.break_even_volume("RAG", "FT self-hosted", workload_now, prices_now)
        plot.value = _png(table, c["volume"], main.volume)

    for control in controls.values():
        control.observe(update, names="value")
    update()
    panel = w.HBox([w.VBox(list(controls.values()), layout=w.Layout(min_width="570px")), plot],
                   layout=w.Layout(flex_flow="row wrap", align_items="flex-start"))
    box = w.VBox([panel, summary])
    box.controls, box.summary, box.plot, box.update = controls, summary, plot, update
    return box


def decision_wizard(gap: str = "unknown", update_frequency: str = "monthly", monthly_calls: float = 100_000,
                    prompt_shrink: float | None = None, format_is_schema: bool = False):
    """Dropdowns and sliders over :func:`helpers.decide.recommend`; the recommendation and its reasons
    update as you change the answers."""
    import ipywidgets as w

    style, layout = {"description_width": "220px"}, w.Layout(width="560px")
    calls_bounds = (10 ** VOLUME_LOG10[0], 10 ** VOLUME_LOG10[1])
    controls = {
        "gap": w.Dropdown(options=list(decide.GAPS), value=decide._check_gap(gap), style=style, layout=layout,
                          description="what fails (the gap)"),
        "update_frequency": w.Dropdown(options=list(costs.FREQUENCIES), value=costs.check_frequency(update_frequency),
                                       description="how often knowledge changes", style=style, layout=layout),
        "monthly_calls": w.FloatLogSlider(value=_clamp(monthly_calls, calls_bounds), base=10, min=VOLUME_LOG10[0],
                                          max=VOLUME_LOG10[1], step=0.1, readout_format=",.0f",
                                          description="calls a month", continuous_update=False, style=style,
                                          layout=layout),
        "shrink_measured": w.Checkbox(value=prompt_shrink is not None, description="prompt shrink measured",
                                      style=style, layout=layout),
        "prompt_shrink": w.FloatSlider(value=_clamp(prompt_shrink if prompt_shrink is not None else 0.65,
                                                    (0.0, 0.95)), min=0.0, max=0.95, step=0.05,
                                       readout_format=".0%", description="FT prompt shorter by",
                                       continuous_update=False, style=style, layout=layout),
        "format_is_schema": w.Checkbox(value=format_is_schema, description="the format fits a JSON Schema or grammar",
                                       style=style, layout=layout),
    }
    summary = w.HTML()

    def update(_change=None):
        c = {name: control.value for name, control in controls.items()}
        controls["prompt_shrink"].disabled = not c["shrink_measured"]
        result = decide.recommend(c["gap"], c["update_frequency"], c["monthly_calls"],
                                  c["prompt_shrink"] if c["shrink_measured"] else None,
                                  format_is_schema=c["format_is_schema"])
        items = "".join(f"<li>{html.escape(reason)}</li>" for reason in result.reasons)
        first = f"<br>Try first: {html.escape(result.try_first)}" if result.try_first else ""
        summary.value = f"<b>Recommendation: {html.escape(result.recommendation)}</b>{first}<ul>{items}</ul>"
        box.result = result

    box = w.VBox([*controls.values(), summary])
    for control in controls.values():
        control.observe(update, names="value")
    update()
    box.controls, box.summary, box.update = controls, summary, update
    return box


def labeller(folder, replies, n: int | None = None, seed: int = 0):
    """Correct / Wrong buttons over `n` replies of a case (``labels.pick``: half of them ones the grader calls
    correct), one at a time; each click is saved at once to the case folder's labels.jsonl (``labels.save``),
    so a closed notebook loses nothing and a re-run continues where you stopped. When the last reply is
    labelled, the summary gives the grader's agreement with you (``labels.agreement``).

    The box carries ``buttons`` (correct, wrong, skip), ``summary`` (the HTML shown) and ``todo`` (the replies)."""
    import ipywidgets as w

    from . import labels

    n = labels.DEFAULT_N if n is None else n
    todo = labels.pick(replies, labels.read(folder), n, seed=seed)
    position = {"i": 0, "saved": 0}
    card, summary = w.HTML(), w.HTML()
    buttons = {"correct": w.Button(description="Correct", button_style="success", icon="check"),
               "wrong": w.Button(description="Wrong", button_style="danger", icon="times"),
               "skip": w.Button(description="Skip", icon="forward")}

    def show():
        done = position["i"] >= len(todo)
        for button in buttons.values():
            button.disabled = done
        if done:
            result = labels.agreement(replies, labels.read(folder))
            card.value = f"<b>Done: {position['saved']} labels saved to {html.escape(labels.LABELS_FILE)}.</b>"
            line = (f"The grader agrees with you on {result['agreement']:.0%} of {result['n']} labelled replies "
                    f"[{result['agreement_low']:.0%}, {result['agreement_high']:.0%}]."
                    if result["n"] else "No labelled replies yet.")
            warn = f"<br><b>Warning:</b> {html.escape(result['warning'])}." if result.get("warning") else ""
            summary.value = html.escape(line) + warn
            box.result = result
            return
        r = todo[position["i"]]
        card.value = (f"<p><b>{position['i'] + 1} of {len(todo)}</b> · {html.escape(r['id'])} "
                      f"({html.escape(r['system'])})</p><p><b>Question:</b> {html.escape(r['question'])}</p>"
                      f"<p><b>Your answer:</b> {html.escape(r['answer'])}</p>"
                      f"<p><b>Reply:</b> {html.escape(r['reply']) or '<i>(empty)</i>'}</p>"
                      "<p>Is the reply a correct answer to the question?</p>")
        summary.value = ""

    def click(label):
        def handler(_button=None):
            if position["i"] >= len(todo):
                return
            if label != "skip":
                labels.save(folder, todo[position["i"]], label)
                position["saved"] += 1
            position["i"] += 1
            show()
        return handler

    for name, button in buttons.items():
        button.on_click(click(name))
    box = w.VBox([card, w.HBox(list(buttons.values())), summary])
    box.buttons, box.summary, box.todo, box.card, box.result = buttons, summary, todo, card, None
    show()
    return box
