"""helpers.progress: a bar that prints its finished state."""

from helpers import progress


def test_format_seconds():
    assert progress.format_seconds(12.34) == "12.3 s"
    assert progress.format_seconds(245) == "4 min 05 s"
    assert progress.format_seconds(3720) == "1 h 02 min"


def test_bar_prints_one_line_when_it_closes(capsys):
    for _ in progress.bar(range(3), desc="indexing v1", unit="batch"):
        pass
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and out[0].startswith("indexing v1: 3 batches in ") and out[0].endswith(" s")


def test_plural():
    assert [progress.plural(w) for w in ("batch", "query", "day", "run", "box")] == \
        ["batches", "queries", "days", "runs", "boxes"]


def test_bar_with_total_stopped_early_says_so(capsys):
    b = progress.bar(total=5, desc="benchmark", unit="run")
    b.update(2)
    b.close()
    b.close()  # a second close prints nothing more
    assert capsys.readouterr().out.strip() == "benchmark: 2 of 5 runs in 0.0 s"


def test_disabled_bar_prints_nothing(capsys):
    for _ in progress.bar(range(2), desc="quiet", disable=True):
        pass
    assert capsys.readouterr().out == ""
