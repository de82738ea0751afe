"""The ``json_extraction`` task: noisy support tickets and the JSON object to extract.

All personal data is synthetic: invented names, ``.example`` email domains, phone
numbers in fictional ranges and random order ids. A later notebook redacts them.
"""

from __future__ import annotations

import random

from .text import typo

SEED = 1312

FIRST = ["Maya", "Tomas", "Ines", "Jonah", "Priya", "Lukas", "Amara", "Felix", "Noor", "Santiago", "Elin", "Kofi",
         "Hana", "Mateo", "Signe", "Ravi", "Chloe", "Emre", "Zofia", "Idris", "Lena", "Oskar", "Yara", "Bram",
         "Mei", "Dario", "Freya", "Ansel", "Leila", "Nikolai", "Ottilie", "Rui", "Saskia", "Tariq", "Wren", "Ayla"]
LAST = ["Lindqvist", "Okafor", "Varga", "Delacroix", "Moreau", "Haddad", "Kowalczyk", "Brennan", "Tanaka", "Ibarra",
        "Vermeulen", "Achterberg", "Nakamura", "Oyelaran", "Castellanos", "Reinholt", "Szabo", "Mbeki", "Quist",
        "Falkenrath", "Ruiz", "Devereux", "Halloran", "Petrov", "Adebayo", "Janssens", "Novak", "Salgado", "Thorne"]
DOMAINS = ["example.com", "example.org", "example.net", "mail.example", "northwind.example", "brightlabs.example",
           "kestrel-ops.example", "fjord-retail.example"]
COMPANIES = ["Northwind Labs", "Bright Harbour", "Kestrel Ops", "Fjord Retail", "Tallow & Finch", "Quayside Health",
             "Orbit Freight", "Lumen Legal"]

AREAS = {
    "billing": {
        "codes": [None, None, None, "CFX-4091"],
        "bodies": ["I was charged twice for order {order}.", "The invoice for order {order} shows the wrong amount.",
                   "Could you refund order {order}? We upgraded by mistake.", "Our card payment failed and now the workspace says past due.",
                   "We need a copy of the invoice for order {order} with our VAT number on it.",
                   "Why did our bill go up this month? It looks like overage."],
    },
    "workflows": {
        "codes": ["CFX-3009", "CFX-3021", "CFX-3040", "CFX-3055", "CFX-3102", "CFX-4091", "CFX-4092", "CFX-4103", None],
        "bodies": ["Our nightly workflow keeps failing.", "A workflow that worked for months stopped working yesterday.",
                   "Runs of the onboarding workflow fail at step 3.", "Half of our runs fail since the last edit.",
                   "The approval workflow never finishes.", "I can't switch on a new workflow."],
    },
    "integrations": {
        "codes": ["CFX-1001", "CFX-1002", "CFX-2003", "CFX-2011", "CFX-2024", "CFX-2050", "CFX-2077", None],
        "bodies": ["The {app} connection broke and every step that uses it fails.", "Our {app} trigger stopped firing.",
                   "Steps that write to {app} time out.", "After reconnecting {app} we still get errors.",
                   "Data from {app} arrives with empty fields."],
    },
    "account": {
        "codes": ["CFX-1017", "CFX-1088", None, None],
        "bodies": ["A colleague accepted the invite but cannot edit anything.", "Single sign-on stopped working for our team.",
                   "Please transfer workspace ownership to my colleague.", "I can't log in since we changed our identity provider."],
    },
    "api": {
        "codes": ["CFX-1042", "CFX-4098", None],
        "bodies": ["Our API calls are being rejected.", "The REST API returns errors for our integration script.",
                   "We get throttled by the API during our nightly import.", "Our API key stopped working."],
    },
    "security": {
        "codes": [None, None, "CFX-5060"],
        "bodies": ["We need your SOC 2 report before we renew.", "Can you confirm where our data is stored?",
                   "Our security team wants to know how you encrypt data.", "Runs stopped after we rotated our encryption key."],
    },
}
APPS = ["Slack", "HubSpot", "Salesforce", "Google Sheets", "Zendesk", "Jira", "Shopify", "Notion", "Gmail"]
ERROR_NAMES_FALLBACK = "Error"

PRIORITY_CUES = {
    "urgent": ["URGENT: production is down.", "This is urgent, all our production runs are stopped.",
               "Production outage on our side, please treat as urgent.", "Everything is down for us right now!!"],
    "high": ["This is blocking our team.", "We need this fixed today, it blocks our month-end close.",
             "High priority for us please.", "It's blocking a customer launch tomorrow."],
    "low": ["No rush, whenever you get a chance.", "Not urgent at all.", "Low priority, just curious.",
            "Whenever you have time, nothing is broken."],
    "normal": ["", "Thanks in advance.", "Let me know what you need from us.", "Could you take a look?"],
}
GREETINGS = ["Hi,", "Hello support team,", "Hey there,", "Good morning,", "Dear Corvasse team,", "", "Hi all,",
             "hello", "Hi Corvasse,"]
PLAN_LINES = ["We're on the {Plan} plan.", "(plan: {Plan})", "Our workspace is on {Plan}.", "Plan - {Plan}",
              "we pay for {Plan}", "Account is {Plan} tier."]
CLOSINGS = ["Thanks,", "Best,", "Cheers,", "Kind regards,", "Regards,", "thx", "Many thanks,"]


def _phone(rng: random.Random) -> str:
    fmt = rng.choice(["+32 4{a} {b} {c} {d}", "+1 (555) 01{a}-{e}", "+44 7700 9{a}{b}{c}", "+49 151 {e}{b}",
                      "+31 6 {e}{d}"])
    return fmt.format(a=f"{rng.randint(10, 99)}", b=f"{rng.randint(10, 99)}", c=f"{rng.randint(10, 99)}",
                      d=f"{rng.randint(10, 99)}", e=f"{rng.randint(1000, 9999)}")


def _ticket(rng: random.Random, facts: dict) -> tuple[str, dict]:
    """One ticket text and its gold extraction."""
    area = rng.choice(list(AREAS))
    spec = AREAS[area]
    first, last = rng.choice(FIRST), rng.choice(LAST)
    has_name = rng.random() < 0.85
    full_name = rng.random() < 0.6
    name = (f"{first} {last}" if full_name else first) if has_name else None
    email = (f"{first}.{last}@{rng.choice(DOMAINS)}".lower() if rng.random() < 0.5 else
             f"{first[0]}{last}@{rng.choice(DOMAINS)}".lower()) if rng.random() < 0.75 else None
    phone = _phone(rng) if rng.random() < 0.4 else None
    plan = rng.choice(list(facts["plans"])) if rng.random() < 0.65 else None
    code = rng.choice(spec["codes"])
    order = f"ORD-{rng.randint(100000, 999999)}" if (area == "billing" and rng.random() < 0.8) or rng.random() < 0.05 else None
    priority = rng.choices(["low", "normal", "high", "urgent"], weights=[2, 4, 3, 2])[0]

    body = rng.choice(spec["bodies"])
    if "{order}" in body and order is None:
        body = body.replace(" for order {order}", "").replace("order {order}", "our last order")
    body = body.format(order=order, app=rng.choice(APPS))
    parts: list[str] = []
    if order and order not in body:
        body += rng.choice([f" Order ref: {order}.", f" (order {order})", f" Reference {order}."])
    sentences = [body]
    if code:
        err = facts["error_codes"].get(code, {}).get("name", ERROR_NAMES_FALLBACK)
        if rng.random() < 0.5:
            sentences.append(rng.choice([f"The error says {code}.", f"We see {code} in the log.", f"Error code: {code}"]))
        else:
            stamp = f"2025-0{rng.randint(1, 3)}-{rng.randint(10, 28)}T{rng.randint(10, 23)}:{rng.randint(10, 59)}:0{rng.randint(0, 9)}Z"
            sentences.append(rng.choice(["Log says:", "From the run log:", "Here's the log line:"]) +
                             f"\n> {stamp} ERROR run=r_{rng.randint(100000, 999999)} step={rng.randint(1, 9)} {code} {err}")
    if plan:
        sentences.append(rng.choice(PLAN_LINES).format(Plan=facts["plans"][plan]["name"]))
    cue = rng.choice(PRIORITY_CUES[priority])
    if cue:
        sentences.insert(rng.choice([0, len(sentences)]), cue)
    if rng.random() < 0.2:
        sentences.append(rng.choice(["Also, love the new editor.", "PS: your status page was green the whole time.",
                                     "Sorry for the long message."]))
    text_body, after_log = "", False
    for sentence in sentences:
        text_body += ("" if not text_body else "\n" if after_log else " ") + sentence
        after_log = "\n> " in sentence
    if rng.random() < 0.3:
        text_body = typo(text_body.replace("{", "(").replace("}", ")"), rng)
    greeting = rng.choice(GREETINGS)
    if greeting:
        parts.append(greeting)
    parts.append(text_body)
    sig: list[str] = []
    if name or email or phone:
        sig.append(rng.choice(CLOSINGS))
        fields = []
        if name:
            fields.append(name + (f", {rng.choice(COMPANIES)}" if rng.random() < 0.3 else ""))
        contact = []
        if email:
            contact.append(rng.choice(["{v}", "Email: {v}", "e-mail {v}", "<{v}>"]).format(v=email))
        if phone:
            contact.append(rng.choice(["{v}", "Phone: {v}", "Tel. {v}", "call me on {v}"]).format(v=phone))
        rng.shuffle(contact)
        sig.extend(fields + contact)
    else:
        sig.append(rng.choice(["Thanks", "", "Sent from my phone"]))
    parts.append("\n".join(s for s in sig if s))
    if rng.random() < 0.1:
        parts.append("Sent from my phone")
    target = {"customer_name": name, "email": email, "phone": phone, "plan": plan, "error_code": code,
              "product_area": area, "priority": priority, "order_id": order}
    return "\n\n".join(p for p in parts if p), target


def json_extraction(facts: dict, sizes: dict[str, int] | None = None) -> dict[str, list[dict]]:
    """Generate tickets for train/dev/test (distinct ticket texts across splits)."""
    sizes = sizes or {"train": 480, "dev": 60, "test": 120}
    rng = random.Random(f"{SEED}:tickets")
    seen: set[str] = set()
    out: dict[str, list[dict]] = {}
    for split in ("test", "dev", "train"):
        items = []
        while len(items) < sizes[split]:
            text, target = _ticket(rng, facts)
            if text in seen:
                continue
            seen.add(text)
            items.append({"id": f"json_extraction-{split}-{len(items) + 1:04d}", "task": "json_extraction",
                          "split": split, "ticket": text, "target": target})
        out[split] = items
    return out
