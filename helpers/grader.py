"""The course's one question-answering grader: is the answer in the reply, stated as the answer?

Rules (each one was a measured failure of the old 20-word exact-match rule, see ``data/labels/README.md``):

- the answer or an alias anywhere in a reply of **any length**, on token boundaries;
- tokens keep what makes answers distinct: the dashes and the case of a command-line option (``-r`` is not
  ``-R``, ``-a`` is not the article "a"), decimals, currency, ``%``, ids such as ``CFX-5030`` or
  ``region.failover``; a looser form (hyphens and camelCase split, plurals folded, "thirty" read as 30)
  finds the same answer written another way;
- an **echo** gives no credit: when every content word of the answer is already in the question
  ("files with matches" for ``--files-with-matches``) the reply must carry the answer's own distinct form;
- a **hedge** is wrong: the answer joined by "or" to another value of the same shape ("$49 or $55");
- a **negated** answer is wrong: "not", "no", "never" or a "n't" word directly before it ("It is not 30 days");
- a **conflict** is wrong: the reply also asserts a rival value given in ``others`` (the old price beside the
  new one), unless it is marked as past ("was $49", "from $49").

A reply is correct when one occurrence of the answer is clean and no rival value is asserted.

Example::

    >>> answer_correct("Use tee -a to append.", "-a")
    True
    >>> grade("It is not 30 days.", "30 days").reason
    'negated'
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

REASONS = ("found", "not found", "echo", "hedge", "negated", "conflict", "empty reply")

_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_TOKEN = re.compile(
    r"(?P<opt>(?<![\w-])--?[A-Za-z][\w-]*)"
    r"|(?P<cur>[$€£¥])"
    r"|(?P<pct>%)"
    r"|(?P<word>[^\W_](?:\w|[.'’/:-](?=[^\W_]))*)"
    r"|(?P<stop>[.;!?()\[\]]|,|\n)"
)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_ARTICLES = {"a", "an", "the"}
_UNITS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
          "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
          "seventeen": 17, "eighteen": 18, "nineteen": 19, "zero": 0}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80,
         "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_CURRENCY_WORDS = {"usd", "dollar", "dollars", "eur", "euro", "euros"}
# Units of measure: a bare number given with another unit than the answer's ("100 GB" for "100 MB") is not it.
_MEASURES = {"b", "byte", "kb", "mb", "gb", "tb", "pb", "kib", "mib", "gib", "ms", "millisecond", "s", "sec", "second",
          "min", "minute", "h", "hr", "hour", "day", "week", "month", "year", "%"}
_NEGATORS = {"not", "no", "never", "none", "neither", "nor", "without", "cannot"}
_PAST = {"was", "were", "previously", "formerly", "old", "from", "used", "before", "earlier", "instead", "until"}
# Function words that do not make an answer the question's own words.
_FUNCTION = {"of", "to", "in", "on", "for", "and", "or", "with", "by", "per", "is", "are", "be", "it", "its", "at",
             "as", "from", "that", "this", "your", "you"}


@dataclass(frozen=True)
class _Tok:
    strict: str   # the distinct form: options keep dashes and case; numbers canonical; words lower case
    kind: str     # opt, cur, pct, num, word
    cap: bool     # written with a capital letter (a name)
    stop_before: bool  # a clause boundary (. , ; ! ? newline) comes right before it


@dataclass(frozen=True)
class Verdict:
    """What :func:`grade` decided: ``correct``, the ``reason`` (one of ``REASONS``) and the form it matched."""

    correct: bool
    reason: str
    matched: str | None = None


def _number(text: str) -> str:
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text.lstrip("0") or "0"


def _words_to_number(words: list[str]) -> int | None:
    total, current, seen = 0, 0, False
    for w in words:
        if w in _UNITS:
            current += _UNITS[w]
        elif w in _TENS:
            current += _TENS[w]
        elif w in _SCALES:
            current = max(current, 1) * _SCALES[w]
            if _SCALES[w] >= 1000:
                total, current = total + current, 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _tokens(text: str) -> list[_Tok]:
    """The reply (or answer, or question) as distinct-form tokens, boundaries recorded on the next token."""
    text = unicodedata.normalize("NFKC", text).replace("’", "'")
    text = _THOUSANDS.sub("", text)
    raw: list[tuple[str, str, bool, bool]] = []
    stop = False
    for m in _TOKEN.finditer(text):
        kind = m.lastgroup
        value = m.group()
        if kind == "stop":
            stop = True
            continue
        if kind == "word":
            lower = value.lower()
            if lower.endswith("'s") and len(lower) > 2:
                lower, value = lower[:-2], value[:-2]
            if lower in ("percent", "per cent"):
                raw.append(("%", "pct", False, stop))
            elif _NUMBER.fullmatch(lower):
                raw.append((_number(lower), "num", False, stop))
            else:  # camelCase keeps its case, so the loose form can split it ("TokenExpired": token expired)
                raw.append((value if re.search(r"[a-z][A-Z]", value) else lower, "word", value[:1].isupper(), stop))
        elif kind == "opt":
            raw.append((value, "opt", False, stop))
        else:
            raw.append((value if kind == "cur" else "%", kind, False, stop))
        stop = False
    # number words ("thirty", "twenty-five", "a hundred") to digits
    out: list[_Tok] = []
    i = 0
    while i < len(raw):
        j = i
        while j < len(raw) and raw[j][1] == "word" and all(p in _UNITS or p in _TENS or p in _SCALES
                                                          for p in raw[j][0].split("-")):
            j += 1
        if j > i:
            value = _words_to_number([p for r in raw[i:j] for p in r[0].split("-")])
            out.append(_Tok(str(value), "num", False, raw[i][3]))
            i = j
            continue
        strict, kind, cap, stop = raw[i]
        if kind == "word" and strict in _CURRENCY_WORDS and out and out[-1].kind == "num":
            # "49 dollars", "49 USD" -> "$ 49"
            number = out.pop()
            out += [_Tok("$", "cur", False, number.stop_before), number]
        elif kind == "word" and strict == "us" and i + 1 < len(raw) and raw[i + 1][1] == "cur":
            pass  # "US$499" is "$499"
        elif kind == "word" and strict in _ARTICLES:
            if stop and i + 1 < len(raw):  # the article's boundary belongs to the next token
                raw[i + 1] = (*raw[i + 1][:3], True)
        else:
            out.append(_Tok(strict, kind, cap, stop))
        i += 1
    return out


def _loose_parts(tok: _Tok) -> list[str]:
    """The looser form: dashes and underscores dropped, hyphens and camelCase split, digits split from letters,
    plurals folded. ``CFX-5030`` -> cfx 5030; ``--files-with-matches`` -> file with matche."""
    if tok.kind in ("cur", "pct", "num"):
        return [tok.strict]
    text = tok.strict.lstrip("-") if tok.kind == "opt" else tok.strict
    parts = []
    for piece in re.split(r"[-]+", text):
        piece = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", piece)
        piece = re.sub(r"(?<=\d)(?=[A-Za-z])|(?<=[A-Za-z])(?=\d)", " ", piece)
        for p in piece.lower().split():
            if _NUMBER.fullmatch(p):
                p = _number(p)
            elif len(p) > 3 and p.endswith("s") and not p.endswith("ss"):
                p = p[:-1]
            parts.append(p)
    return [p for p in parts if p]


@dataclass
class _Seq:
    toks: list[_Tok]
    strict: list[str]
    loose: list[str]
    owner: list[int]          # loose index -> strict index
    start: list[int]          # strict index -> first loose index

    @classmethod
    def of(cls, text: str) -> _Seq:
        toks = _tokens(text)
        loose, owner, start = [], [], []
        for i, t in enumerate(toks):
            start.append(len(loose))
            for p in _loose_parts(t):
                loose.append(p)
                owner.append(i)
        strict = [t.strict if t.kind == "opt" else t.strict.lower() for t in toks]
        return cls(toks, strict, loose, owner, start)


def _find(haystack: list[str], needle: list[str]) -> list[int]:
    n = len(needle)
    return [i for i in range(len(haystack) - n + 1) if n and haystack[i:i + n] == needle]


def _shape(seq: _Seq, lo: int, hi: int) -> str:
    kinds = {seq.toks[seq.owner[k]].kind for k in range(lo, hi)}
    if "num" in kinds or any(_NUMBER.fullmatch(seq.loose[k]) for k in range(lo, hi)):
        return "num"
    if "opt" in kinds:
        return "opt"
    if seq.toks[seq.owner[lo]].cap:
        return "cap"
    return "word"


def _same_shape(seq: _Seq, k: int, shape: str, gold_parts: set[str]) -> bool:
    if k < 0 or k >= len(seq.loose) or seq.loose[k] in gold_parts:
        return False
    tok = seq.toks[seq.owner[k]]
    return {"num": tok.kind == "num" or bool(_NUMBER.fullmatch(seq.loose[k])), "opt": tok.kind == "opt", "cap": tok.cap and tok.kind == "word"}.get(shape, False)


def _boundary_between(seq: _Seq, a: int, b: int) -> bool:
    """A clause boundary before any token of loose positions (a, b]."""
    return any(seq.toks[seq.owner[k]].stop_before and seq.start[seq.owner[k]] == k for k in range(a + 1, b + 1))


def _negated(seq: _Seq, lo: int) -> bool:
    for back in (1, 2):
        k = lo - back
        if k < 0 or _boundary_between(seq, k, lo):
            return False
        word = seq.toks[seq.owner[k]].strict
        if word in _NEGATORS or word.endswith("n't"):
            return True
    return False


def _hedged(seq: _Seq, lo: int, hi: int, gold_parts: set[str]) -> bool:
    """The occurrence [lo, hi) joined by "or" to another value of its shape ("$49 or $55", "Spark or Pro"), or a
    number given as one end of a range ("30-45 days", "between 30 and 45 days")."""
    shape = _shape(seq, lo, hi)
    if shape == "word":
        return False
    if shape == "num":
        first, last = seq.owner[lo], seq.owner[hi - 1]
        for k in (lo - 1, hi):  # "30-45": both numbers in one written token
            if 0 <= k < len(seq.loose) and seq.owner[k] in (first, last) and seq.toks[seq.owner[k]].kind == "word" \
                    and _NUMBER.fullmatch(seq.loose[k]) and seq.loose[k] not in gold_parts:
                return True
        window = seq.loose[max(0, lo - 3):lo]
        if "between" in window or (hi < len(seq.loose) and seq.loose[hi] == "and" and "between" in seq.loose[max(0, lo - 2):lo]):
            return True
    for gap in (0, 1):  # "or" right after the answer, or after one more word ("$49 a month or $55")
        k = hi + gap
        if k < len(seq.loose) and seq.loose[k] == "or" and not _boundary_between(seq, hi - 1, k):
            if any(_same_shape(seq, k + d, shape, gold_parts) for d in (1, 2, 3)):
                return True
        k = lo - 1 - gap
        if k >= 0 and seq.loose[k] == "or" and not _boundary_between(seq, k, lo):
            if any(_same_shape(seq, k - d, shape, gold_parts) for d in (1, 2, 3)):
                return True
    return False


def _past(seq: _Seq, lo: int) -> bool:
    return any(k >= 0 and seq.loose[k] in _PAST for k in range(lo - 3, lo))


def _check_args(reply, answer, aliases, question, others) -> None:
    if not isinstance(reply, str):
        raise TypeError(f"reply must be a string, got {type(reply).__name__}")
    if not isinstance(answer, str):
        raise TypeError(f"answer must be a string, got {type(answer).__name__}")
    if not answer.strip():
        raise ValueError("answer is empty: give the gold answer the reply is graded against")
    for name, value in (("aliases", aliases), ("others", others)):
        if isinstance(value, str) or not all(isinstance(a, str) for a in value):
            raise TypeError(f"{name} must be a list of strings, not {type(value).__name__} "
                            f"(write [{value!r}] for a single one)" if isinstance(value, str) else
                            f"{name} must be a list of strings")
    if question is not None and not isinstance(question, str):
        raise TypeError(f"question must be a string or None, got {type(question).__name__}")


def _distinct(gold: _Seq) -> bool:
    """The answer has a form of its own beyond its words: an option's dashes, an id's punctuation, digits. A
    number is its own form: a reply that gives the number the question mentions confirms it, it does not echo."""
    if any(t.kind == "num" for t in gold.toks):
        return True
    return any(t.kind == "opt" or re.search(r"[._/:\-]|\d|[a-z][A-Z]", t.strict) for t in gold.toks if t.kind == "word"
               or t.kind == "opt")


def _choice_alternative(question: _Seq, gold_loose: list[str]) -> list[str] | None:
    """In a question that offers a choice ("Spark or Pro?"), the words offered beside the answer."""
    for i in _find(question.loose, gold_loose):
        j = i + len(gold_loose)
        if j < len(question.loose) and question.loose[j] == "or" and j + 1 < len(question.loose):
            return question.loose[j + 1:j + 2]
        if i >= 2 and question.loose[i - 1] == "or":
            return question.loose[i - 2:i - 1]
    return None


def grade(reply: str, answer: str, aliases: Sequence[str] = (), question: str | None = None,
          others: Sequence[str] = ()) -> Verdict:
    """Grade one reply against the gold ``answer`` (and its ``aliases``) and say why.

    ``question`` enables the echo rule; ``others`` are rival values of the same fact (for example the old and
    the new price) whose assertion beside the answer makes the reply wrong. See the module's rules.
    """
    _check_args(reply, answer, aliases, question, others)
    golds = []
    for form in dict.fromkeys([answer, *aliases]):
        seq = _Seq.of(form)
        if seq.loose:
            golds.append((form, seq))
    if not golds:
        raise ValueError(f"answer {answer!r} has no word, number or option to look for")
    if not reply.strip():
        return Verdict(False, "empty reply")
    r = _Seq.of(reply)
    q = _Seq.of(question) if question else None
    q_words = set(q.loose) if q else set()
    gold_parts = {p for _, g in golds for p in g.loose}
    main = golds[0][1]
    counted = len(main.toks) == 2 and main.toks[0].kind == "num" and main.toks[1].kind == "word"
    priced = len(main.toks) == 2 and main.toks[0].kind == "cur" and main.toks[1].kind == "num"
    unit = main.loose[1] if counted and main.loose[1] in _MEASURES else None
    n_given = len(golds)
    if counted or priced:  # "250 properties" or "$49" may be given as a bare number that ends its clause
        number = main.toks[0 if counted else 1].strict
        golds.append((number, _Seq.of(number)))
    problems: list[tuple[str, str]] = []
    clean: str | None = None
    for n_form, (form, g) in enumerate(golds):
        implicit = n_form >= n_given
        bare_number = len(g.toks) == 1 and g.toks[0].kind == "num"
        if r.loose == g.loose or r.strict == g.strict:
            clean = clean or form
            continue
        strict_hits = {r.start[i] for i in _find(r.strict, g.strict)}
        single_letter = len(g.loose) == 1 and len(g.loose[0]) == 1
        hits = sorted(strict_hits | (set() if single_letter else set(_find(r.loose, g.loose))))
        for lo in hits:
            hi = lo + len(g.loose)
            after = r.loose[hi] if hi < len(r.loose) and not _boundary_between(r, hi - 1, hi) else None
            if bare_number and after in _MEASURES and after != unit:
                continue  # the number, but of another unit ("100 GB" for "100 MB")
            if implicit and after is not None:
                continue  # the answer's bare number counts only where nothing follows it in its clause
            distinct = (lo in strict_hits or any(t.kind == 'num' for t in g.toks)) and _distinct(g)
            content = [p for p in g.loose if p not in _FUNCTION]
            if q and not distinct and content and all(p in q_words for p in content):
                alternative = _choice_alternative(q, g.loose)
                if alternative is None or any(a in r.loose for a in alternative):
                    problems.append(("echo", form))
                    continue
            if _negated(r, lo):
                problems.append(("negated", form))
            elif _hedged(r, lo, hi, gold_parts):
                problems.append(("hedge", form))
            else:
                clean = clean or form
    if clean is None:
        if problems:
            order = {"hedge": 0, "negated": 1, "echo": 2}
            reason, form = min(problems, key=lambda p: order[p[0]])
            return Verdict(False, reason, form)
        return Verdict(False, "not found")
    for rival in others:
        o = _Seq.of(rival)
        if not o.loose or o.loose in [g.loose for _, g in golds] or set(o.loose) <= gold_parts:
            continue
        if len(o.loose) == 1 and (len(o.loose[0]) == 1 or o.toks[0].kind == "num") and rival != others[0]:
            continue  # a bare number or letter alias of a rival matches by accident; its full form is checked
        for lo in _find(r.loose, o.loose):
            if not _negated(r, lo) and not _past(r, lo):
                return Verdict(False, "conflict", rival)
    return Verdict(True, "found", clean)


def answer_correct(reply: str, answer: str, aliases: Sequence[str] = (), question: str | None = None,
                   others: Sequence[str] = ()) -> bool:
    """True when ``reply`` states ``answer`` (or an alias) as the answer: :func:`grade`'s verdict as a bool.

    >>> answer_correct("The Team plan costs $49 per month, billed monthly; annual billing saves 15%.", "$49")
    True
    >>> answer_correct("either $49 or $55 a month", "$49")
    False
    """
    return grade(reply, answer, aliases, question, others).correct


# ---------------------------------------------------------------------------------------------
# The grader measured: the committed labelled replies (data/labels/)
# ---------------------------------------------------------------------------------------------

def labels_dir():
    """The folder of the committed labelled replies (``data/labels``)."""
    from pathlib import Path

    return Path(__file__).resolve().parents[1] / "data" / "labels"


def labelled_replies(folder=None) -> list[dict]:
    """The labelled replies, one dict each: the reply's fields (``replies.jsonl``) plus ``human`` (True when the
    careful reading says correct), ``why`` and ``split`` (``labels.jsonl``). Raises when a reply has no label or
    a label no reply."""
    import json
    from pathlib import Path

    folder = Path(folder) if folder else labels_dir()
    replies = [json.loads(x) for x in (folder / "replies.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    labels = [json.loads(x) for x in (folder / "labels.jsonl").read_text(encoding="utf-8").splitlines() if x.strip()]
    by_id = {x["id"]: x for x in labels}
    missing = [r["id"] for r in replies if r["id"] not in by_id]
    extra = sorted(set(by_id) - {r["id"] for r in replies})
    if missing or extra or len(by_id) != len(labels):
        raise ValueError(f"labels.jsonl and replies.jsonl disagree: {len(missing)} replies without a label "
                         f"{missing[:3]}, {len(extra)} labels without a reply {extra[:3]}, "
                         f"{len(labels) - len(by_id)} duplicate labels")
    bad = [x["id"] for x in labels if x.get("label") not in ("correct", "wrong")]
    if bad:
        raise ValueError(f"labels must be 'correct' or 'wrong'; {bad[:3]} are not")
    return [r | {"human": by_id[r["id"]]["label"] == "correct", "why": by_id[r["id"]].get("why", ""),
                 "split": by_id[r["id"]].get("split", "test")} for r in replies]


def exact_match(pred: str, answer: str, aliases: Sequence[str] = (), max_words: int = 20) -> bool:
    """The old, strict rule (kept to compare it with :func:`answer_correct` in notebook 04; score with that).

    Rule: after :func:`normalize`, the prediction equals the answer or one alias; or the
    prediction is short (at most ``max_words`` normalised words) and the answer or an alias
    appears in it as a whole phrase (on word boundaries). So "The Team plan costs $49." matches
    "$49", but "499" does not match "49", and a long paragraph that happens to contain the
    number does not count.
    """
    if not isinstance(pred, str) or not isinstance(answer, str):
        raise TypeError("exact_match() expects strings for pred and answer")
    if isinstance(aliases, str) or not all(isinstance(a, str) for a in aliases):
        raise TypeError("aliases must be a list of strings")
    from .textnorm import normalize

    p = normalize(pred)
    golds = [g for g in (normalize(x) for x in [answer, *aliases]) if g]
    if p in golds:
        return True
    if not p or len(p.split()) > max_words:
        return False
    padded = f" {p} "
    return any(f" {g} " in padded for g in golds)



def old_rule(row: dict) -> bool:
    """The course's grader before this one (:func:`exact_match`) on a labelled row."""
    return exact_match(row["reply"], row["answer"], row["aliases"])


def new_rule(row: dict) -> Verdict:
    """This grader on a labelled row (question and rival values included)."""
    return grade(row["reply"], row["answer"], row["aliases"], question=row["question"], others=row.get("others", ()))


RULES = {"old": "exact match, reply of at most 20 words", "new": "evaluate.grade"}


def agreement_report(rows: list[dict] | None = None) -> dict:
    """Both rules against the careful reading on the labelled replies: for each rule and for all replies and
    the held-out ``test`` ones, ``stats.agreement``'s figures; plus the counts by source and system. What
    notebook 04 shows and ``results/grader.json`` keeps."""
    from . import stats

    rows = rows if rows is not None else labelled_replies()
    graded = {"old": [old_rule(r) for r in rows], "new": [new_rule(r).correct for r in rows]}
    out: dict = {"n": len(rows), "human_correct": sum(r["human"] for r in rows), "rules": RULES, "agreement": {}}
    for rule, verdicts in graded.items():
        for split in ("all", "test"):
            keep = [i for i, r in enumerate(rows) if split == "all" or r["split"] == split]
            out["agreement"][f"{rule}/{split}"] = stats.agreement([rows[i]["human"] for i in keep],
                                                                  [verdicts[i] for i in keep])
    by_source: dict = {}
    for r, old, new in zip(rows, graded["old"], graded["new"], strict=True):
        key = f"{r['task']}/{r['system']}"
        entry = by_source.setdefault(key, {"n": 0, "human": 0, "old": 0, "new": 0})
        entry["n"] += 1
        entry["human"] += r["human"]
        entry["old"] += old
        entry["new"] += new
    out["by_source"] = by_source
    return out


def main() -> int:
    """``python -m helpers.grader``: measure both rules on the labelled replies and write results/grader.json."""
    import json
    import os

    path = labels_dir().parents[1] / "results" / "grader.json"
    report = agreement_report()
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, path)
    a = report["agreement"]
    print(f"{report['n']} labelled replies: old rule {a['old/all']['agreement']:.1%} (kappa {a['old/all']['kappa']:.2f}), "
          f"new rule {a['new/all']['agreement']:.1%} (kappa {a['new/all']['kappa']:.2f}); held out "
          f"{a['new/test']['agreement']:.1%} of {a['new/test']['n']}. Wrote {path.name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
