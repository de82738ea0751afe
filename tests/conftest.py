"""Shared fixtures: the course runs offline and quiet in tests."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pytest  # noqa: E402

COURSE_VARS = ("COURSE_TIER", "COURSE_MODEL", "COURSE_EMBEDDER", "COURSE_ALLOW_ANY_MODEL", "COURSE_PROFILE",
               "COURSE_OFFLINE", "COURSE_DTYPE", "COURSE_FINETUNE_BACKEND")


@pytest.fixture
def clean_env(monkeypatch):
    """No course variable set: defaults apply."""
    for name in COURSE_VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture(scope="session")
def generator():
    """The embedded generator, loaded once per test session (converts the GGUF on first use)."""
    from helpers import models

    return models.load_generator(tier="cpu")


@pytest.fixture(scope="session")
def generator_fp32():
    """The embedded generator in fp32 whatever the CPU (for checks that compare numbers to 1e-3)."""
    from helpers import models

    return models.load_generator(tier="cpu", dtype="fp32")


@pytest.fixture(scope="session")
def embedder():
    """The embedded sentence-transformers model, loaded once per test session."""
    from helpers import models

    return models.load_embedder(tier="cpu")
