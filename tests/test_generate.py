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


def test_greedy_logprobs_are_what_a_forward_pass_gives(generator_fp32):
    generator = generator_fp32  # in bf16 the cached decode and a full forward pass round differently
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


def test_length_sorted_batches_return_results_in_the_given_order(generator):
    questions = ["Hi.", "Explain in detail why the sky looks blue during the day and red at sunset, please.",
                 "Name a colour.", "What is 2 + 2? Answer with a number only."]
    together = generate.generate(generator, questions, max_new_tokens=6, batch_size=4, progress=False)
    alone = [generate.generate(generator, [q], max_new_tokens=6, batch_size=1, progress=False) for q in questions]
    assert together.prompt_tokens == [a.prompt_tokens[0] for a in alone], "each result sits at its prompt's place"
    assert sorted(together.prompt_tokens) != together.prompt_tokens, "the prompts were not already sorted"
    unsorted = generate.generate(generator, questions, max_new_tokens=6, batch_size=4, progress=False,
                                 sort_by_length=False)
    assert unsorted.prompt_tokens == together.prompt_tokens


def test_a_batch_stops_when_every_sequence_has_ended(generator):
    import torch

    calls = []
    real = generator.model.generate

    def spy(**kwargs):
        out = real(**kwargs)
        calls.append(out.sequences.shape[1] - kwargs["input_ids"].shape[1])
        return out

    generator.model.generate = spy
    try:
        out = generate.generate(generator, ["Say OK.", "Say yes."], max_new_tokens=200, batch_size=2, progress=False)
    finally:
        del generator.model.generate
    assert max(out.new_tokens) < 200 and calls[0] == max(out.new_tokens) < 200, \
        "generation ran past the end of every sequence"
    assert isinstance(out.seconds, float) and torch.is_tensor(torch.tensor(out.new_tokens))


def test_continue_last_writes_on_from_the_last_message(generator):
    """continue_last leaves the user's message open: the prompt ends inside it, with no assistant turn."""
    conversation = [{"role": "user", "content": "Count with me: one, two, three,"}]
    open_prompt = generator.tokenizer.apply_chat_template(conversation, tokenize=False, continue_final_message=True)
    assert open_prompt.rstrip().endswith("three,") and "<|im_start|>assistant" not in open_prompt
    result = generate.generate(generator, [conversation], max_new_tokens=8, progress=False, continue_last=True)
    reply = generate.generate(generator, [conversation], max_new_tokens=8, progress=False)
    assert result.prompt_tokens[0] < reply.prompt_tokens[0]  # no "<|im_end|>\n<|im_start|>assistant\n"
    assert result.texts[0] and result.new_tokens[0] >= 1


def test_plan_batches_caps_the_padded_tokens_of_a_batch():
    # sorted longest first, as generate runs them: 600-token prompts go 3 at a time under 2,000 tokens
    assert generate.plan_batches([600, 600, 600, 600, 100, 100], 32, 2000) == [[0, 1, 2], [3, 4, 5]]
    assert generate.plan_batches([100] * 5, 2, 2000) == [[0, 1], [2, 3], [4]]  # batch_size still caps
    assert generate.plan_batches([100, 900, 100], 8, 1000) == [[0], [1], [2]]  # padded to the widest so far
    assert generate.plan_batches([5000, 10], 8, 1000) == [[0], [1]]  # longer than the cap: alone
    assert generate.plan_batches([600] * 4, 32, None) == [[0, 1, 2, 3]]
    assert generate.plan_batches([], 4, 100) == []
    with pytest.raises(ValueError, match="max_batch_tokens"):
        generate.plan_batches([10], 4, 0)
    with pytest.raises(ValueError, match="batch_size"):
        generate.plan_batches([10], 0, 100)


def test_long_prompts_run_in_smaller_batches(generator):
    questions = [f"Repeat the word {w} once." for w in ("red", "green", "blue", "black")]
    whole = generate.generate(generator, questions, max_new_tokens=5, batch_size=4, progress=False,
                              max_batch_tokens=None)
    longest = max(whole.prompt_tokens)
    capped = generate.generate(generator, questions, max_new_tokens=5, batch_size=4, progress=False,
                               max_batch_tokens=2 * longest)
    assert whole.batch_sizes == [4] and capped.batch_sizes == [2, 2]
    assert capped.prompt_tokens == whole.prompt_tokens


def test_recorded_logprobs_match_transition_scores(generator_fp32):
    """The step-by-step recorder gives what compute_transition_scores gives from every step's full scores."""
    import torch

    gen = generator_fp32
    out = generate.generate(gen, QUESTIONS, max_new_tokens=12, batch_size=2, progress=False, logprobs=True,
                            sort_by_length=False)
    prompts = [gen.tokenizer.apply_chat_template(generate.as_messages(q), tokenize=False, add_generation_prompt=True)
               for q in QUESTIONS]
    inputs = gen.tokenizer(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
    with torch.inference_mode():
        full = gen.model.generate(**inputs, max_new_tokens=12, do_sample=False, return_dict_in_generate=True,
                                  output_scores=True, pad_token_id=gen.tokenizer.pad_token_id)
        reference = gen.model.compute_transition_scores(full.sequences, full.scores, normalize_logits=True)
    for i, recorded in enumerate(out.logprobs):
        assert recorded == pytest.approx([float(x) for x in reference[i, :len(recorded)]], abs=1e-3)
        assert len(recorded) == out.new_tokens[i] > 0
