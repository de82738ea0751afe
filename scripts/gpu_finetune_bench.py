"""Unsloth against plain PEFT on one CUDA GPU: the same model, data, recipe and steps; tokens/s and peak memory.

    python scripts/gpu_finetune_bench.py [--steps 30] [--model FOLDER_OR_HUB_ID]

Needs a CUDA GPU with the GPU stack installed (scripts/colab_setup.sh). By default it trains the
embedded SmolLM2-135M (converted locally, so no hub access is needed); pass --model for a larger one.
Both runs use 16-bit weights (no 4-bit: fp16 on a T4, bf16 where the card has it natively), so the
comparison is about the training kernels alone. Each backend trains in a process of its own: Unsloth
patches transformers, TRL and PEFT when imported, so a PEFT run after ``import unsloth`` would train on
patched modules, and the first run's model would still hold memory during the second. Writes
results/gpu_finetune.json. Written on a CPU-only machine: its first run on a GPU is also its first test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
BACKENDS = ("unsloth", "peft")


def train_one(backend: str, steps: int, model: str | None) -> dict:
    """One backend's run, in this process (the child): seconds, tokens/s, peak memory and the last loss."""
    if backend == "unsloth":
        import unsloth  # noqa: F401, I001 - Unsloth patches transformers/trl/peft and must be imported first
    import torch

    from helpers import env, finetune, models

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU: this benchmark compares GPU training backends")
    env.configure()
    model_path = model or str(models.embedded_generator_dir())
    records = finetune.chat_records({"json_extraction": None, "tone": None, "sql": None})
    recipe = finetune.Recipe(max_steps=steps, batch_size=8)
    tier = env.pick_tier()
    out_dir = ROOT / ".course" / "runs" / f"gpu-bench-{backend}"
    if backend == "unsloth":
        env.TIERS[tier] = {**env.TIERS[tier], "load_in_4bit": False}
        gen = SimpleNamespace(model_id=model_path, tier=tier, device="cuda")
        run = finetune._train_unsloth(gen, records, recipe, out_dir, ())
    else:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        dtype = torch.bfloat16 if env.cuda_bf16() else torch.float16  # a T4 only emulates bf16
        model_ = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to("cuda")
        gen = SimpleNamespace(model=model_, tokenizer=AutoTokenizer.from_pretrained(model_path), model_id=model_path,
                              tier=tier, device="cuda")
        run = finetune._train_peft(gen, records, recipe, out_dir, ())
    return {"seconds": round(run.seconds, 1), "tokens_per_second": round(run.tokens_per_second, 1),
            "peak_memory_gb": round(run.peak_memory_gb, 2), "final_loss": run.losses[-1][1],
            "gpu": torch.cuda.get_device_name(0)}


def child_command(backend: str, steps: int, model: str | None) -> list[str]:
    """The command that trains one backend in a fresh Python process."""
    return [sys.executable, str(Path(__file__).resolve()), "--child", backend, "--steps", str(steps)] + (
        ["--model", model] if model else [])


def run_child(command: list[str]) -> dict:
    """Run one child and read the JSON line it prints last."""
    done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command[2:4])} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def compare(steps: int, model: str | None) -> dict:
    """Both backends, each in its own process, and the comparison."""
    results = {name: run_child(child_command(name, steps, model)) for name in BACKENDS}
    for name, result in results.items():
        print(name, result, flush=True)
    return {"gpu": results["peft"]["gpu"], "model": model or "SmolLM2-135M-Instruct (embedded)", "steps": steps,
            "batch_size": 8, "date": time.strftime("%Y-%m-%d"), "results": results,
            "speedup": round(results["unsloth"]["tokens_per_second"] / results["peft"]["tokens_per_second"], 2),
            "memory_saving": round(1 - results["unsloth"]["peak_memory_gb"] / results["peft"]["peak_memory_gb"], 3)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--model", default=None, help="a local folder or hub id (default: the embedded SmolLM2)")
    parser.add_argument("--child", choices=BACKENDS, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(train_one(args.child, args.steps, args.model)))
        return 0
    out = compare(args.steps, args.model)
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "gpu_finetune.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
