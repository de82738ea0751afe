"""Unsloth against plain PEFT on one CUDA GPU: the same model, data, recipe and steps; tokens/s and peak memory.

    python scripts/gpu_finetune_bench.py [--steps 30] [--model FOLDER_OR_HUB_ID]

Needs a CUDA GPU with the GPU stack installed (scripts/colab_setup.sh). By default it trains the
embedded SmolLM2-135M (converted locally, so no hub access is needed); pass --model for a larger one.
Both runs use 16-bit weights (no 4-bit), so the comparison is about the training kernels alone.
Writes results/gpu_finetune.json. Note: this script was written on a CPU-only machine; its first run
on a GPU is also its first test.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--model", default=None, help="a local folder or hub id (default: the embedded SmolLM2)")
    args = parser.parse_args()

    import unsloth  # noqa: F401, I001 - Unsloth patches transformers/trl/peft and must be imported first
    import torch

    from helpers import env, finetune, models

    if not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU: this benchmark compares GPU training backends")
    env.configure()
    model_path = args.model or str(models.embedded_generator_dir())
    records = finetune.chat_records({"json_extraction": None, "tone": None, "sql": None})
    recipe = finetune.Recipe(max_steps=args.steps, batch_size=8)
    tier = env.pick_tier()
    results = {}
    for name in ("unsloth", "peft"):
        torch.cuda.empty_cache()
        if name == "unsloth":
            env.TIERS[tier] = {**env.TIERS[tier], "load_in_4bit": False}
            gen = SimpleNamespace(model_id=model_path, tier=tier, device="cuda")
            run = finetune._train_unsloth(gen, records, recipe, ROOT / ".course" / "runs" / "gpu-bench-unsloth", ())
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            dtype = torch.bfloat16 if env.cuda_bf16() else torch.float16  # a T4 only emulates bf16
            model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype).to("cuda")
            gen = SimpleNamespace(model=model, tokenizer=AutoTokenizer.from_pretrained(model_path), model_id=model_path,
                                  tier=tier, device="cuda")
            run = finetune._train_peft(gen, records, recipe, ROOT / ".course" / "runs" / "gpu-bench-peft", ())
        results[name] = {"seconds": round(run.seconds, 1), "tokens_per_second": round(run.tokens_per_second, 1),
                         "peak_memory_gb": round(run.peak_memory_gb, 2), "final_loss": run.losses[-1][1]}
        print(name, results[name], flush=True)
    out = {"gpu": torch.cuda.get_device_name(0), "model": model_path if args.model else env.EMBEDDED_GENERATOR,
           "steps": args.steps, "batch_size": recipe.batch_size, "date": time.strftime("%Y-%m-%d"), "results": results,
           "speedup": round(results["unsloth"]["tokens_per_second"] / results["peft"]["tokens_per_second"], 2),
           "memory_saving": round(1 - results["unsloth"]["peak_memory_gb"] / results["peft"]["peak_memory_gb"], 3)}
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "gpu_finetune.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
