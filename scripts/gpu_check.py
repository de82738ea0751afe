"""The GPU check, prepared before a GPU is: the course's CUDA path run end to end in a few minutes.

    python scripts/gpu_check.py                  # the tier the card gets (a100 on an A100/H100)
    COURSE_TIER=t4 python scripts/gpu_check.py   # the Colab T4 tier on the same card

On a CUDA machine it runs, each step in a process of its own (Unsloth patches transformers when imported, and
a step's model must not hold memory during the next): the tier's model loaded; notebook 05's recipe for a few
steps through Unsloth and through PEFT + TRL; generation with and without the adapter; the ticket JSON
Schema enforced while decoding. Each step records its seconds and peak GPU memory, set against the card's
memory and beside what ``helpers.memplan`` expects of it; everything goes to ``results/gpu_check.json`` (``results/gpu_check_<tier>.json`` with COURSE_TIER).
A step that fails is recorded with its error and the check goes on. Budget: 8 minutes in all.

On a machine without CUDA it prints this plan and exits 0 (what the CPU test suite runs).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
STEPS = {
    "load": "the tier's generator loaded (models.load_generator), one generation",
    "train-unsloth": "05's recipe, 6 steps, through Unsloth (FastLanguageModel, train_on_responses_only)",
    "train-peft": "05's recipe, 6 steps, through PEFT + TRL",
    "generate": "answers with and without the adapter trained by Unsloth, batch of 4",
    "schema": "JSON extraction under the ticket schema (constrained decoding), 2 held-out tickets",
}
STEP_TIMEOUT_S = 150
TRAIN_STEPS = 6


def plan_gib(name: str, tier: str) -> float:
    """What helpers.memplan expects the step to hold on `tier` (GiB), to set beside its measured peak."""
    from helpers import memplan

    step = {"load": memplan.Step("load", generate=True),
            "train-unsloth": memplan.Step("train", train=memplan.train_shape("behaviour")),
            "train-peft": memplan.Step("train", train=memplan.train_shape("behaviour")),
            "generate": memplan.Step("generate", adapters=1, generate=True),
            "schema": memplan.Step("schema", generate=True)}[name]
    return round(memplan.step_gib(step, tier), 2)


def plan() -> str:
    """What the check runs, in order."""
    return "\n".join(f"  {i}. {name}: {what}" for i, (name, what) in enumerate(STEPS.items(), 1))


def _peak_gb() -> float:
    import torch

    return round(torch.cuda.max_memory_allocated() / 1024**3, 2)


def step(name: str) -> dict:
    """Run one step in this process (the child) and return its figures."""
    from helpers import env

    backend = "unsloth" if name in ("train-unsloth", "generate") else None
    if backend:
        import unsloth  # noqa: F401 - before transformers, TRL and PEFT
    import torch

    env.configure()
    from helpers import data, evaluate, finetune, generate, models, systems, tasks

    started = time.perf_counter()
    out: dict = {}
    if name == "load":
        gen = models.load_generator()
        text = generate.generate(gen, [tasks.messages("qa_static", data.load_task("qa_static", "test")[0])],
                                 max_new_tokens=24, progress=False).texts[0]
        out = {"model": gen.model_id, "reply": text}
    elif name in ("train-unsloth", "train-peft"):
        os.environ["COURSE_FINETUNE_BACKEND"] = "unsloth" if name == "train-unsloth" else "peft"
        gen = models.load_generator()
        recipe = dataclasses.replace(systems.behaviour_recipe(), max_steps=TRAIN_STEPS)
        run = finetune.train(gen, finetune.chat_records({"json_extraction": None, "tone": None}), recipe)
        if name == "train-unsloth":
            finetune.save_adapter(run, "gpu-check")
        out = {"backend": run.backend, "tokens_per_second": round(run.tokens_per_second, 1),
               "losses": [round(loss, 4) for _, loss in run.losses], "learning_rate": recipe.learning_rate,
               "precision": getattr(run, "precision", None)}
    elif name == "generate":
        items = data.load_task("tone", "test")[:4]
        prompts = [tasks.messages("tone", it) for it in items]
        gen = models.load_generator()
        before = generate.generate(gen, prompts, max_new_tokens=48, progress=False).texts
        gen = finetune.load_adapter(gen, "gpu-check")
        after = generate.generate(gen, prompts, max_new_tokens=48, progress=False).texts
        out = {"changed": sum(a != b for a, b in zip(before, after, strict=True)), "n": len(items)}
    elif name == "schema":
        gen = models.load_generator()
        tickets = data.heldout_tickets()[:2]
        result = generate.generate(gen, [tasks.messages("json_extraction", t) for t in tickets],
                                   schema=data.ticket_schema(), max_new_tokens=96, progress=False)
        out = {"valid": sum(evaluate.json_scores(text, t["target"])["valid"] for text, t in zip(result.texts, tickets,
                                                                                              strict=True)),
               "n": len(tickets)}
    out |= {"seconds": round(time.perf_counter() - started, 1), "peak_gb": _peak_gb(),
            "plan_gib": plan_gib(name, env.pick_tier()),
            "card_gb": round(torch.cuda.get_device_properties(0).total_memory / 1024**3, 1)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step", choices=list(STEPS), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        print(json.dumps(step(args.step)))
        return 0
    import torch

    if not torch.cuda.is_available():
        print("No CUDA GPU here: nothing to check. On a GPU machine this script runs:\n" + plan())
        return 0
    from helpers import env

    tier = env.pick_tier()
    report = {"date": time.strftime("%Y-%m-%d"), "tier": tier, "gpu": torch.cuda.get_device_name(0),
              "torch": torch.__version__, "steps": {}}
    for name in STEPS:
        started = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, __file__, "--step", name], capture_output=True, text=True,
                                  cwd=ROOT, timeout=STEP_TIMEOUT_S)
            result = (json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0
                      else {"error": done.stderr[-2000:]})
        except subprocess.TimeoutExpired:
            result = {"error": f"over {STEP_TIMEOUT_S} s"}
        result["wall_seconds"] = round(time.perf_counter() - started, 1)
        report["steps"][name] = result
        print(name, json.dumps(result)[:300], flush=True)
    suffix = f"_{tier}" if os.environ.get("COURSE_TIER") else ""
    path = ROOT / "results" / f"gpu_check{suffix}.json"
    path.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {path.relative_to(ROOT)}")
    return 0 if not any("error" in r for r in report["steps"].values()) else 1


if __name__ == "__main__":
    raise SystemExit(main())
