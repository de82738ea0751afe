"""Shared fixtures: the course runs offline and quiet in tests."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# One converted model cache for the whole run. Without it the cache follows the workspace (env.cache_dir), and
# each test that gives itself a fresh workspace converted the embedded GGUF again: about 16 s a test (the ~30-s
# entries of `--durations`; the whole unit run took 380 s with it, 279 s without). The notebooks' runs use the same folder (Makefile).
# A test about the cache itself sets its own folder.
os.environ.setdefault("COURSE_CACHE_DIR", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                                       ".course", "models"))

import pytest  # noqa: E402

# Fixtures that load a real model: a test that asks for one is marked `slow` (pyproject.toml), so `make check`
# leaves it to `make test` without each test having to say so.
MODEL_FIXTURES = {"generator", "generator_fp32", "embedder"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if MODEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


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


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, embedder):
    """A three-article index (tests/test_index.py's ARTICLES), embedded and built once per test session, local
    even when COURSE_CHROMA_URL points at a server."""
    from helpers import index, rag
    from tests.test_index import ARTICLES, CHUNKING

    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("COURSE_CHROMA_URL", raising=False)
        store = index.IndexStore("small-test", root=tmp_path_factory.mktemp("small-index"), embedder=embedder)
        version = store.build(rag.chunk_corpus(ARTICLES, **CHUNKING), 1, CHUNKING, progress=False)["version"]
        return store.open(version)
