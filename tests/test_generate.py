"""helpers.generate: token log-probabilities, sampling and completion scoring on the embedded model."""

import math

import pytest

from helpers import generate, speculative

QUESTIONS = ["What is 2 + 2?", "Name a colour."]


def test_logprobs_one_per_generated_token_and_negative(generator):
    out = generate.generate(generator, QUESTIONS, max_new_tokens=10, logprobs=True, progress=False)
    assert [len(lp) for lp in out.logprobs] == out.new_tokens
    assert all(x <= 1e-6 for lp in out.logprobs for x in lp)
    assert 0 < speculative.confidence(out.logprobs[0]) <= 1


def test_logprobs_off_by_default(generator):
    assert generate.generate(generator, QUESTIONS[:1], max_new_tokens=4, progress=False).logprobs == []


def test_greedy_logprobs_are_what_a_forward_pass_gives(generator):
    out = generate.generate(generator, QUESTIONS[:1], max_new_tokens=8, logprobs=True, progress=False)
    scored = generate.completion_logprobs(generator, QUESTIONS[:1], out.texts)[0]
    # the decoded text may tokenise one token differently at the end; the common prefix must agree
    n = min(len(scored), len(out.logprobs[0])) - 1
    assert n >= 3
    for a, b in zip(scored[:n], out.logprobs[0][:n], strict=True):
        assert math.isclose(a, b, abs_tol=1e-3)


def test_a_likely_answer_scores_higher_than_an_unlikely_one(generator):
    conv = ["What is the capital of France? Answer in one word."] * 2
    paris, other = generate.completion_logprobs(generator, conv, ["Paris", "Toaster"])
    assert sum(paris) / len(paris) > sum(other) / len(other)


def test_sampling_is_repeatable_with_a_seed_and_varies_without_greedy(generator):
    a = generate.generate(generator, QUESTIONS[1:] * 3, max_new_tokens=8, temperature=0.9, seed=7, progress=False)
    b = generate.generate(generator, QUESTIONS[1:] * 3, max_new_tokens=8, temperature=0.9, seed=7, progress=False)
    assert a.texts == b.texts
    greedy = generate.generate(generator, QUESTIONS[1:] * 3, max_new_tokens=8, progress=False)
    assert len(set(greedy.texts)) == 1


@pytest.mark.parametrize("kwargs, message", [
    ({"temperature": -0.1}, "temperature"),
    ({"batch_size": 0}, "batch_size"),
])
def test_bad_generation_settings(generator, kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate.generate(generator, QUESTIONS, **kwargs)


def test_completion_scoring_checks_its_input(generator):
    with pytest.raises(ValueError, match="2 conversations but 1 completions"):
        generate.completion_logprobs(generator, QUESTIONS, ["x"])
    with pytest.raises(ValueError, match="empty"):
        generate.completion_logprobs(generator, QUESTIONS[:1], ["  "])
