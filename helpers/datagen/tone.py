"""The ``tone`` task: customer messages and gold replies in the Corvasse voice.

The voice is defined by checkable rules in ``facts["brand_voice"]`` (rendered as
the style-guide article). Replies that state a fact carry it as ``fact_answer`` +
``fact_aliases`` + ``sources`` so one item scores voice and facts at once.
"""

from __future__ import annotations

import random

from .facts import is_static
from .qa import Fact, catalogue, mentions
from .tickets import FIRST

SEED = 2718

# How a reply states each kind of fact: (customer question, reply sentence).
FACT_LINES: dict[str, list[tuple[str, str]]] = {
    "price_monthly": [("how much does {plan} cost per month?", "The {plan} plan costs {answer} per month on monthly billing {cite}."),
                      ("what's the monthly price of {plan}?", "On monthly billing, {plan} is {answer} per month {cite}.")],
    "price_annual": [("what does {plan} cost for a year?", "Billed annually, the {plan} plan costs {answer} per year {cite}.")],
    "limit": [("what's the {short} limit on {plan}?", "On the {plan} plan, the limit for {label} is {answer} {cite}."),
              ("what is our {short} limit on {plan}?", "The {plan} plan's limit for {label} is {answer} {cite}.")],
    "feature_min_plan": [("which plan do we need for {feature}?", "{feature} is available from the {answer} plan {cite}."),
                         ("is {feature} on every plan?", "{feature} starts at the {answer} plan {cite}.")],
    "integration_min_plan": [("can we use the {name} integration, and on which plan?", "The {name} integration is available from the {answer} plan {cite}.")],
    "integration_auth": [("how does the {name} connection log in?", "The {name} connection uses {answer} {cite}.")],
    "first_response": [("how fast will support answer us on {plan}?", "On {plan}, our first-response target is {answer} {cite}.")],
    "sla_uptime": [("what uptime do you promise on {plan}?", "The {plan} plan comes with {answer} monthly uptime {cite}.")],
    "error_setting": [("what setting controls {code}?", "The setting behind {code} is {answer} {cite}.")],
}

QUESTION_WRAP = [
    "Hello, quick question: {q} Thanks, {first}",
    "Hi team! {q}\n\n{first}",
    "hey, {q} cheers {first}",
    "Good morning. Sorry to bother you, but {q} Best, {first}",
    "{q} - {first}",
    "Hi, we're planning our setup and I wanted to check: {q} Kind regards, {first}",
]

FAULTS = [
    ("Our runs have been failing with {code} since this morning and nobody changed anything. {first}",
     "I apologise for the failed runs. {code} means {cause}. The related setting is {answer} {cite}; {fix}."),
    ("We keep seeing {code} in the run log!! This is costing us time. - {first}",
     "I apologise for the trouble with {code}. It happens when {cause}. Check the setting {answer} {cite}: {fix}."),
    ("Hi, since your update our workflow stops with {code}. Can you help? {first}",
     "I apologise for the interruption. {code} is raised when {cause}. The fix is in the setting {answer} {cite}: {fix}."),
]

FAULTS_NOFACT = [
    ("You charged our card twice this month! Please fix this. {first}",
     "I apologise for the double charge. I have asked our billing team to refund the duplicate payment, and you will get an email when it is on its way."),
    ("The editor crashed and I lost an hour of work on a workflow. Really frustrating. {first}",
     "I apologise for the lost work. Our engineers are looking at the crash. Drafts are saved every minute, so the workflow's draft history may still have most of your changes."),
    ("Your status page said everything was fine while our webhooks were down for two hours. {first}",
     "I apologise for the outage and for the status page not showing it. We have opened an incident review and will share what we change."),
    ("Invoices for our workspace were sent to an old address even though we updated it. {first}",
     "I apologise for the mix-up. I have resent the latest invoice to the new billing contact, and future invoices will go there too."),
]

NOFAULT_NOFACT = [
    ("Just wanted to say the new editor is great! {first}",
     "Thank you for the kind words. I have shared them with the product team, who will be glad to hear it."),
    ("Can you recommend how to name our workflows? We have lots now. {first}",
     "A good pattern is trigger and outcome, for example 'New invoice - notify finance'. Folders per team and a few tags keep long lists easy to search."),
    ("Sorry, dumb question: can two people edit one workflow at the same time? {first}",
     "Not a dumb question. Two people can open it; the first to edit holds the lock, and the other sees changes live and can take over afterwards."),
    ("We are going on holiday for a month. Should we cancel or just pause? {first}",
     "You can switch off your workflows instead of cancelling. You keep history, connections and members, and switching back on takes a click."),
    ("Thanks for the quick help yesterday, everything runs again. {first}",
     "Thank you for letting us know. I am glad everything runs again; write any time if something comes up."),
]

USER_LIMIT = [
    ("Why can't I add more than {answer} for {label} on {plan}? Is this a bug?? {first}",
     "This is not a bug: on the {plan} plan, the limit for {label} is {answer} {cite}. Upgrading raises it at once."),
]

TONE_KINDS = list(FACT_LINES)


def _reply(voice: dict, first: str, text: str) -> str:
    """Wrap ``text`` in the greeting and sign-off of the voice."""
    return f"{voice['greeting'].format(first_name=first)}\n\n{text}\n\n{voice['sign_off']}"


def _cite(voice: dict, article: str) -> str:
    """The citation of ``article`` in the voice's format."""
    return voice["citation_format"].format(article_id=article)


def _fact_pool(f: dict, changes: dict, corpus: list[dict]) -> tuple[list[Fact], dict[str, list[str]]]:
    """Static facts of the kinds a reply can state, and where each is stated."""
    cat = catalogue(f)
    where = mentions(corpus)
    pool = [fa for k, fa in sorted(cat.items())
            if fa.kind in TONE_KINDS and where.get(k) and all(is_static(p, changes) for p in fa.deps)]
    return pool, where


def tone(f: dict, changes: dict, corpus: list[dict], sizes: dict[str, int] | None = None) -> dict[str, list[dict]]:
    """Generate message/reply pairs; each split draws from the same generators with fresh messages."""
    sizes = sizes or {"train": 480, "dev": 60, "test": 120}
    rng = random.Random(f"{SEED}:tone")
    voice = f["brand_voice"]
    pool, where = _fact_pool(f, changes, corpus)
    errors = sorted(c for c in f["error_codes"])
    seen: set[str] = set()
    out: dict[str, list[dict]] = {}
    for split in ("test", "dev", "train"):
        items: list[dict] = []
        while len(items) < sizes[split]:
            first = rng.choice(FIRST)
            kind = rng.choices(["fact", "fault_fact", "fault", "plain", "user_limit"], weights=[5, 2, 1, 1, 1])[0]
            fact_answer, aliases, sources, needs_apology = None, [], [], False
            if kind == "fact":
                fa = rng.choice(pool)
                art = where[fa.key][0]
                q, line = rng.choice(FACT_LINES[fa.kind])
                slots = dict(fa.slots, answer=fa.answer, cite=_cite(voice, art))
                q = q.format(**slots)
                message = rng.choice(QUESTION_WRAP).format(q=q[0].upper() + q[1:], first=first)
                text = line.format(**slots)
                text = text[0].upper() + text[1:]
                fact_answer, aliases, sources = fa.answer, fa.aliases(), [art]
            elif kind == "fault_fact":
                code = rng.choice(errors)
                e = f["error_codes"][code]
                art = f["error_categories"][e["category"]]["article"]
                msg, line = rng.choice(FAULTS)
                message = msg.format(code=code, first=first)
                text = line.format(code=code, cause=e["cause"], answer=e["setting"], cite=_cite(voice, art), fix=e["fix"])
                fact_answer, sources, needs_apology = e["setting"], [art], True
                if len(_reply(voice, first, text).split()) > voice["max_words"]:
                    continue
            elif kind == "fault":
                msg, text = rng.choice(FAULTS_NOFACT)
                message, needs_apology = msg.format(first=first), True
            elif kind == "plain":
                msg, text = rng.choice(NOFAULT_NOFACT)
                message = msg.format(first=first)
            else:
                fa = rng.choice([x for x in pool if x.kind == "limit" and x.slots["short"] in ("active workflows", "seats")])
                art = where[fa.key][0]
                msg, line = USER_LIMIT[0]
                slots = dict(fa.slots, answer=fa.answer, cite=_cite(voice, art), first=first)
                message, text = msg.format(**slots), line.format(**slots)
                fact_answer, aliases, sources = fa.answer, fa.aliases(), [art]
            if message in seen:
                continue
            seen.add(message)
            items.append({
                "id": f"tone-{split}-{len(items) + 1:04d}", "task": "tone", "split": split, "message": message,
                "customer_first_name": first, "reply": _reply(voice, first, text), "needs_apology": needs_apology,
                "fact_answer": fact_answer, "fact_aliases": aliases, "sources": sources,
            })
        out[split] = items
    return out
