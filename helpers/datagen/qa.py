"""Question answering task sets: ``qa_static``, ``qa_live`` and ``multihop``.

Every question is generated from a *fact*: a key (the same key the renderer records
when an article states the fact), the fact paths it depends on, template slots, and
its answer. Gold sources are the articles that recorded the key while rendering.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from .facts import annual_per_month, get_path, is_static, limit_value, long_date, money, num, plan_name
from .text import aliases_for, norm_key, vary

SEED = 3407


@dataclass
class Fact:
    """One answerable fact of a given facts version."""

    key: str
    kind: str
    deps: list[str]
    slots: dict
    answer: str
    extra_aliases: list[str] = field(default_factory=list)

    def aliases(self) -> list[str]:
        """Accepted alternatives to the answer."""
        out = aliases_for(self.answer)
        for a in self.extra_aliases:
            if a.lower() != self.answer.lower() and a not in out:
                out.append(a)
        return out


# Several paraphrase templates per kind of fact. A fact's templates are shuffled and
# dealt to test, dev and train, so train never repeats a test wording.
T: dict[str, list[str]] = {
    "price_monthly": [
        "How much does the {plan} plan cost per month?", "What is the monthly price of {plan}?",
        "{plan} plan billed monthly: what's the price?", "What do we pay each month for Corvasse Flow {plan} on monthly billing?",
        "Monthly cost of the {plan} plan?", "If we pay month to month, how much is {plan}?",
        "What's the per-month price of the {plan} tier when billed monthly?"],
    "price_annual": [
        "How much is the {plan} plan per year on annual billing?", "What does {plan} cost if we pay annually?",
        "Annual price for the {plan} plan?", "If I buy {plan} for a whole year up front, what's the total?",
        "What is the yearly price of Corvasse Flow {plan}?", "{plan}, billed annually: how much per year?",
        "What's the cost of one year of {plan}?"],
    "price_annual_per_month": [
        "On annual billing, what does {plan} work out to per month?", "What is the effective monthly price of {plan} when paid yearly?",
        "Billed annually, how much is {plan} per month?", "Per month, what do I pay for {plan} with an annual subscription?",
        "{plan} on the annual plan: monthly equivalent?", "What's the monthly equivalent of the annual {plan} price?",
        "If we commit to a year of {plan}, what's that per month?"],
    "sku_monthly": [
        "What is the SKU for {plan} billed monthly?", "Which billing code is used for the monthly {plan} plan?",
        "SKU of the {plan} plan on monthly billing?", "What code appears on invoices for {plan}, monthly?",
        "Our PO needs the SKU for monthly {plan}. What is it?", "Monthly {plan} subscription: which SKU?"],
    "sku_annual": [
        "What is the SKU for the annual {plan} plan?", "Which billing code does {plan} have when billed yearly?",
        "SKU for {plan} on annual billing?", "What code appears on invoices for an annual {plan} subscription?",
        "Procurement asks for the SKU of yearly {plan}. What is it?", "Annual {plan}: which SKU?"],
    "limit": [
        "What is the {short} on the {plan} plan?", "{plan} plan: {short}?", "Tell me the {short} for {plan}.",
        "What is the {plan} plan's {short} limit?", "What's the {label} limit for a {plan} workspace?",
        "On {plan}, what is the limit for {label}?", "Which {short} limit applies to the {plan} plan?"],
    "feature_min_plan": [
        "What is the lowest plan that includes {feature}?", "Which plan do I need at minimum to use {feature}?",
        "Cheapest Corvasse Flow plan with {feature}?", "From which plan is {feature} available?",
        "{feature}: what's the entry plan for it?", "I want {feature}. What's the least expensive plan that has it?",
        "Which is the first plan tier that offers {feature}?"],
    "feature_release": [
        "In which version was {feature} introduced?", "Which release added {feature}?",
        "What Corvasse Flow version first shipped {feature}?", "{feature} was introduced in which release?",
        "Since which version has {feature} existed?", "Which version number brought {feature}?"],
    "feature_name": [
        "What is the feature that lets you {summary} called?", "Which feature do I use to {summary}?",
        "What's the name of the feature to {summary}?", "What do you call the Corvasse Flow feature that can {summary}?",
        "Name the feature that lets you {summary}.", "I need to {summary}. Which feature is that?",
        "Which Corvasse Flow feature is meant to {summary}?"],
    "error_name": [
        "What is the name of error {code}?", "{code}: what's that error called?", "Which error name goes with code {code}?",
        "What is error code {code} named?", "The log shows {code}. What is the error's name?", "Name of the {code} error?"],
    "error_setting": [
        "Which setting controls the behaviour behind error {code}?", "What setting should I change to fix {code}?",
        "I keep getting {code}. Which setting is related?", "Name the setting associated with {code}.",
        "{code}: which setting do I adjust?", "What's the config setting for error {code}?"],
    "setting_default": [
        "What is the default value of {setting}?", "What's {setting} set to by default?", "Default for the {setting} setting?",
        "If I never changed {setting}, what value does it have?", "Out of the box, what is {setting}?",
        "What value does {setting} have on a new workspace?", "Default of {setting}?"],
    "integration_min_plan": [
        "What's the lowest plan with the {name} integration?", "Which plan do I need to connect {name}?",
        "From which plan can we use the {name} integration?", "Minimum plan for {name}?",
        "Cheapest plan that includes the {name} integration?", "We want to connect {name}. What's the entry plan?",
        "Which plan tier first offers the {name} integration?"],
    "integration_auth": [
        "How does the {name} integration authenticate?", "What authentication method does the {name} connection use?",
        "Which auth method is needed for {name}?", "{name} integration: how is the connection authorised?",
        "What kind of credentials does Corvasse Flow use to connect to {name}?", "Authentication for the {name} connection?"],
    "integration_poll": [
        "How often does the {name} trigger check for new data?", "What is the polling interval of {name} triggers?",
        "Every how many minutes do {name} triggers poll?", "{name} polling interval?",
        "How frequently does Corvasse Flow poll {name}?", "How long can it take for a {name} trigger to notice a change?",
        "What's the poll frequency of the {name} integration?"],
    "integration_detail": [
        "For the {name} integration, what is the {label}?", "{name}: {label}?", "What's the {label} in the {name} integration?",
        "Tell me the {label} for {name}.", "In Corvasse Flow's {name} integration, what is the {label}?",
        "What is the {label} when using {name}?"],
    "sla_uptime": [
        "What uptime does the {plan} plan guarantee?", "What is the SLA uptime commitment on {plan}?",
        "Monthly uptime commitment for {plan}?", "How much uptime is promised to {plan} customers?",
        "{plan} plan SLA: what uptime percentage?", "Which uptime figure does the SLA give {plan} workspaces?",
        "What's the guaranteed monthly availability for {plan}?"],
    "first_response": [
        "What is the first-response target for {plan}?", "How fast does support answer {plan} customers the first time?",
        "First response time on the {plan} plan?", "How long until support first replies on {plan}?",
        "{plan} support: what's the first-response target?", "Within how many hours should a {plan} ticket get a first reply?",
        "What response time can a {plan} customer expect for the first reply?"],
    "support_hours": [
        "When is support available on the {plan} plan?", "What are the support hours for {plan}?",
        "{plan} plan support hours?", "At what times can {plan} customers reach support?",
        "What hours does support cover for {plan} workspaces?", "When can I get help if I'm on {plan}?",
        "Support availability for {plan}?"],
    "region_city": [
        "Which city is the {rid} region in?", "Where is the {rid} region located?", "{rid} region: which city?",
        "In what city are the {rid} data centres?", "What city hosts region {rid}?", "Where does {rid} run, city-wise?"],
    "region_code": [
        "What is the data centre code of the {rid} region?", "Which data centre code belongs to {rid}?",
        "{rid}: data centre code?", "What code identifies the {rid} data centre?", "Data centre code for region {rid}?",
        "What's the short code of the {rid} data centre?"],
    "release_date": [
        "When was Corvasse Flow {ver} released?", "Release date of version {ver}?", "On what date did {ver} come out?",
        "When did Corvasse Flow {ver} ship?", "What day was release {ver} published?", "{ver} release date?"],
    "sla_credit": [
        "What service credit do I get if uptime falls below {below}?", "Below {below}, how big is the SLA credit?",
        "If monthly uptime drops under {below}, what credit applies?", "Credit percentage when uptime is below {below}?",
        "SLA credit for uptime under {below}?", "How much of the monthly fee is credited below {below}?"],
}

POLICY_T: dict[str, list[str]] = {
    "policy:refund.window_days": [
        "How long do I have to ask for a refund on a monthly plan?", "What is the refund window for monthly charges?",
        "Within how many days can a monthly charge be refunded?", "Monthly plan refund window?",
        "How many days after being charged monthly can I still get a refund?", "Refunds on monthly billing: what's the deadline?",
        "What's the time limit for refunding a monthly payment?"],
    "policy:refund.annual_window_days": [
        "How long after the start of an annual plan can I cancel and get unused months back?", "What is the refund window for annual plans?",
        "Annual plan refund window?", "Within how many days of an annual term starting is a prorated refund possible?",
        "Until when can an annual subscription be refunded for unused months?", "Annual billing: how many days to get money back?"],
    "policy:refund.processing_business_days": [
        "How long does it take for an approved refund to be paid?", "Once a refund is approved, when does the money arrive?",
        "Refund processing time?", "Within how many business days are refunds paid back?",
        "How many business days until an approved refund reaches my card?", "How quickly are refunds processed after approval?",
        "What's the payout time for approved refunds?"],
    "policy:retention.deleted_workspace_days": [
        "How long after deleting a workspace is its data purged?", "When is data from a deleted workspace removed for good?",
        "Deleted workspace data retention?", "After I delete my workspace, how many days until the data is gone?",
        "How long can support still restore a deleted workspace?", "Purge delay for deleted workspaces?",
        "How many days is a deleted workspace's data kept?"],
    "policy:retention.backup_days": [
        "How long are backups kept?", "What is the backup retention period?", "For how many days are encrypted backups retained?",
        "Backup retention?", "How long before a backup is overwritten?", "How many days do backups last?"],
    "policy:retention.export_window_days": [
        "After cancelling, how long can I still export my data?", "What is the export window after cancellation?",
        "How many days do I have to export workflows once my plan is cancelled?", "Data export period after cancelling?",
        "Once the cancellation takes effect, how long until the workspace is closed?", "Export deadline after cancellation?",
        "How long is data exportable after I cancel?"],
    "policy:retention.audit_log_days": [
        "How long are audit log entries kept?", "What is the audit log retention?", "Audit log retention period?",
        "For how many days does the audit log keep entries?", "How far back does the audit log go?", "Audit entries are kept for how long?"],
    "policy:security.encryption_at_rest": [
        "How is data encrypted at rest?", "Which encryption is used for data at rest?", "Encryption at rest?",
        "What cipher protects stored data?", "What encryption standard does Corvasse use for stored data?", "At-rest encryption algorithm?"],
    "policy:security.tls_minimum": [
        "What is the minimum TLS version accepted?", "Which TLS version is required at minimum?", "Minimum TLS?",
        "What's the oldest TLS version the service accepts?", "Which version of TLS do connections need at least?", "TLS floor for connecting?"],
    "policy:security.pentest_frequency": [
        "How often is Corvasse penetration tested?", "How frequently are external penetration tests run?",
        "Pen test frequency?", "How often does an independent firm pentest the platform?",
        "What's the cadence of penetration testing?", "How many times are penetration tests done?",
        "How regularly is the service pen-tested?"],
    "policy:security.subprocessor_notice_days": [
        "How much notice is given before a new subprocessor starts?", "Subprocessor notice period?",
        "How many days in advance are new subprocessors announced?", "What is the notice period for new subprocessors?",
        "How early do you tell customers about a new subprocessor?", "New subprocessor announcement lead time?"],
    "policy:sla.claim_window_days": [
        "How long do I have to claim an SLA credit?", "What is the deadline for claiming a service credit?",
        "SLA credit claim window?", "Within how many days after the month must a credit be claimed?",
        "How many days after month end can I claim a service credit?", "Service credit claim period?"],
    "company:founded": [
        "When was Corvasse founded?", "In what year was Corvasse founded?", "Founding year of Corvasse?",
        "How old is Corvasse: what year did it start?", "Which year was the company behind Corvasse Flow founded?", "Corvasse was founded in?"],
    "company:headquarters": [
        "Where is Corvasse based?", "Where are Corvasse's headquarters?", "Corvasse HQ location?",
        "In which city is Corvasse headquartered?", "Where is the company behind Corvasse Flow located?", "Corvasse head office?"],
    "company:support_email": [
        "What is the support email address?", "Which address do I email for support?", "Support email?",
        "How do I reach support by email?", "Where do I send support requests?", "Email address of Corvasse support?"],
    "company:security_email": [
        "Where do I report a vulnerability?", "What is the security contact email?", "Security email address?",
        "Which address handles security questions?", "How do I contact the security team?", "Email for security reports?"],
    "company:status_page": [
        "Where is the status page?", "What's the address of the status page?", "Status page URL?",
        "Where are incidents announced?", "Where can I check if Corvasse Flow is down?", "Which site shows maintenance and outages?"],
    "region_choice_plan": [
        "Which plan do I need to choose my workspace's region?", "From which plan can I pick the home region?",
        "Minimum plan to choose a region?", "Can I choose the region on any plan? What's the lowest that allows it?",
        "What's the entry plan for selecting my data region?", "Lowest plan that lets us choose where data lives?"],
}
T.update(POLICY_T)

LIMIT_KINDS = ["runs_per_month", "workflows", "seats", "storage_gb", "api_requests_per_minute", "max_file_mb",
               "log_retention_days", "concurrent_runs"]


def catalogue(f: dict) -> dict[str, Fact]:
    """All answerable facts of facts version ``f``, keyed by fact key."""
    out: dict[str, Fact] = {}

    def add(key: str, kind: str, deps: list[str], slots: dict, answer: str, extra: list[str] | None = None) -> None:
        out[key] = Fact(key, kind, deps, slots, answer, extra or [])

    for p, plan in f["plans"].items():
        name = plan["name"]
        base = [f"/plans/{p}/name"]
        add(f"price_monthly:{p}", "price_monthly", base + [f"/plans/{p}/price_monthly_usd"], {"plan": name},
            money(plan["price_monthly_usd"]))
        add(f"price_annual:{p}", "price_annual", base + [f"/plans/{p}/price_annual_usd"], {"plan": name},
            money(plan["price_annual_usd"]))
        add(f"price_annual_per_month:{p}", "price_annual_per_month", base + [f"/plans/{p}/price_annual_usd"],
            {"plan": name}, money(annual_per_month(f, p)))
        add(f"sku_monthly:{p}", "sku_monthly", base + [f"/plans/{p}/sku_monthly"], {"plan": name}, plan["sku_monthly"])
        add(f"sku_annual:{p}", "sku_annual", base + [f"/plans/{p}/sku_annual"], {"plan": name}, plan["sku_annual"])
        for k in LIMIT_KINDS:
            d = f["limit_definitions"][k]
            value = plan["limits"][k]
            extra = [f"{num(value)} {d['unit']}"] if not d["suffix"] else []
            add(f"limit:{p}:{k}", "limit", base + [f"/plans/{p}/limits/{k}"],
                {"plan": name, "short": d["short"], "label": d["label"]}, limit_value(f, k, value), extra)
        up = f["policies"]["sla"]["uptime_percent"][p]
        if up is not None:
            add(f"sla_uptime:{p}", "sla_uptime", base + [f"/policies/sla/uptime_percent/{p}"], {"plan": name}, f"{up:g}%")
        h = f["policies"]["support"]["first_response_hours"][p]
        add(f"first_response:{p}", "first_response", base + [f"/policies/support/first_response_hours/{p}"],
            {"plan": name}, f"{h} hours" if h != 1 else "1 hour", [f"{h} hrs", f"{h}h"])
        hours = f["policies"]["support"]["hours"][p]
        extra = ["24/7"] if "7 days" in hours else (["24/5"] if "24 hours a day, Monday to Friday" == hours else [])
        add(f"support_hours:{p}", "support_hours", base + [f"/policies/support/hours/{p}"], {"plan": name}, hours, extra)
    for fid, ft in f["features"].items():
        dep = [f"/features/{fid}/name"]
        add(f"feature_min_plan:{fid}", "feature_min_plan", dep + [f"/features/{fid}/min_plan"], {"feature": ft["name"]},
            plan_name(f, ft["min_plan"]))
        add(f"feature_release:{fid}", "feature_release", dep + [f"/features/{fid}/introduced_in"], {"feature": ft["name"]},
            ft["introduced_in"])
        add(f"feature_name:{fid}", "feature_name", [f"/features/{fid}/name", f"/features/{fid}/summary"],
            {"summary": ft["summary"]}, ft["name"])
    for code, e in f["error_codes"].items():
        add(f"error_name:{code}", "error_name", [f"/error_codes/{code}/name"], {"code": code}, e["name"])
        add(f"error_setting:{code}", "error_setting", [f"/error_codes/{code}/setting"], {"code": code}, e["setting"])
        v = e["setting_default"]
        extra = [num(v)] if isinstance(v, int) and v >= 1000 else []
        add(f"setting_default:{code}", "setting_default", [f"/error_codes/{code}/setting", f"/error_codes/{code}/setting_default"],
            {"setting": e["setting"]}, str(v), extra)
    for iid, it in f["integrations"].items():
        dep = [f"/integrations/{iid}/name"]
        add(f"integration_min_plan:{iid}", "integration_min_plan", dep + [f"/integrations/{iid}/min_plan"],
            {"name": it["name"]}, plan_name(f, it["min_plan"]))
        add(f"integration_auth:{iid}", "integration_auth", dep + [f"/integrations/{iid}/auth_method"], {"name": it["name"]},
            it["auth_method"])
        if it["poll_minutes"]:
            add(f"integration_poll:{iid}", "integration_poll", dep + [f"/integrations/{iid}/poll_minutes"],
                {"name": it["name"]}, f"{it['poll_minutes']} minutes", [f"every {it['poll_minutes']} minutes"])
        add(f"integration_detail:{iid}", "integration_detail", dep + [f"/integrations/{iid}/detail"],
            {"name": it["name"], "label": it["detail"]["label"]}, it["detail"]["value"])
    pol = f["policies"]
    for section, key, unit in [("refund", "window_days", "days"), ("refund", "annual_window_days", "days"),
                               ("refund", "processing_business_days", "business days"),
                               ("retention", "deleted_workspace_days", "days"), ("retention", "backup_days", "days"),
                               ("retention", "export_window_days", "days"), ("retention", "audit_log_days", "days"),
                               ("security", "subprocessor_notice_days", "days"), ("sla", "claim_window_days", "days")]:
        add(f"policy:{section}.{key}", f"policy:{section}.{key}", [f"/policies/{section}/{key}"], {},
            f"{num(pol[section][key])} {unit}")
    for key in ["encryption_at_rest", "tls_minimum", "pentest_frequency"]:
        extra = {"TLS 1.2": ["1.2", "TLSv1.2"], "AES-256": ["AES 256", "AES256"]}.get(pol["security"][key], [])
        add(f"policy:security.{key}", f"policy:security.{key}", [f"/policies/security/{key}"], {}, pol["security"][key], extra)
    for i, c in enumerate(pol["sla"]["credits"]):
        add(f"sla_credit:{i}", "sla_credit", [f"/policies/sla/credits/{i}"], {"below": c["below"]}, f"{c['credit_percent']}%")
    c = f["company"]
    add("company:founded", "company:founded", ["/company/founded"], {}, str(c["founded"]))
    add("company:headquarters", "company:headquarters", ["/company/headquarters"], {}, c["headquarters"],
        [c["headquarters"].split(",")[0]])
    for k in ["support_email", "security_email", "status_page"]:
        add(f"company:{k}", f"company:{k}", [f"/company/{k}"], {}, c[k])
    for rid, r in f["regions"].items():
        add(f"region_city:{rid}", "region_city", [f"/regions/{rid}"], {"rid": rid}, r["city"])
        add(f"region_code:{rid}", "region_code", [f"/regions/{rid}"], {"rid": rid}, r["code"])
    add("region_choice_plan", "region_choice_plan", ["/region_policy/choose_region_min_plan"], {},
        plan_name(f, f["region_policy"]["choose_region_min_plan"]))
    for ver, r in f["releases"].items():
        add(f"release_date:{ver}", "release_date", [f"/releases/{ver}"], {"ver": ver}, long_date(r["date"]))
    return out


def mentions(corpus: list[dict]) -> dict[str, list[str]]:
    """Fact key -> sorted ids of the articles that state it."""
    out: dict[str, set[str]] = {}
    for art in corpus:
        for key in art["facts"]:
            out.setdefault(key, set()).add(art["id"])
    return {k: sorted(v) for k, v in out.items()}


def _static(fact: Fact, changes: dict) -> bool:
    """True when no change touches anything the fact depends on."""
    return all(is_static(p, changes) for p in fact.deps)


def _questions(fact: Fact, rng: random.Random) -> list[str]:
    """All paraphrases of the fact's question, shuffled, each with seeded surface noise."""
    templates = list(T[fact.kind])
    rng.shuffle(templates)
    return [vary(t, fact.slots, rng) for t in templates]


class Deduper:
    """Keeps normalised questions unique across a task (test, dev and train never share one)."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def take(self, question: str) -> bool:
        """Register ``question``; False if an equal normalised question was seen before."""
        key = norm_key(question)
        if key in self.seen:
            return False
        self.seen.add(key)
        return True


def qa_static(f1: dict, changes: dict, corpus_v1: list[dict]) -> dict[str, list[dict]]:
    """Questions about facts that are identical in v1 and v2: test 110 facts, dev 30, train on all."""
    rng = random.Random(f"{SEED}:qa_static")
    cat = catalogue(f1)
    where = mentions(corpus_v1)
    public = {a["id"] for a in corpus_v1 if a["audience"] != "internal"}
    facts = [fa for k, fa in sorted(cat.items())
             if _static(fa, changes) and where.get(k) and set(where[k]) <= public]
    rng.shuffle(facts)
    test_facts, dev_facts = facts[:110], facts[110:140]
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    dedupe = Deduper()

    def item(split: str, fa: Fact, q: str) -> dict:
        return {"task": "qa_static", "split": split, "question": q, "answer": fa.answer, "aliases": fa.aliases(),
                "sources": where[fa.key], "fact_id": fa.key}

    pending_train = []
    for fa in facts:
        qs = [q for q in _questions(fa, rng)]
        if fa in test_facts or fa in dev_facts:
            split = "test" if fa in test_facts else "dev"
            while qs and not dedupe.take(qs[0]):
                qs.pop(0)
            splits[split].append(item(split, fa, qs.pop(0)))
        n_train = 3 if fa in test_facts else 2
        pending_train.append((fa, qs, n_train))
    for fa, qs, n_train in pending_train:
        taken = 0
        for q in qs:
            if taken == n_train:
                break
            if dedupe.take(q):
                splits["train"].append(item("train", fa, q))
                taken += 1
    return _number(splits, "qa_static")


def qa_live(f1: dict, f2: dict, changes: dict, corpus_v1: list[dict], corpus_v2: list[dict]) -> dict[str, list[dict]]:
    """Questions about facts the change set modifies: v1 and v2 answers and sources for each."""
    rng = random.Random(f"{SEED}:qa_live")
    cat1, cat2 = catalogue(f1), catalogue(f2)
    w1, w2 = mentions(corpus_v1), mentions(corpus_v2)
    by_path = {c["path"]: c["id"] for c in changes["changes"]}
    live = []
    for key, fa in sorted(cat1.items()):
        fb = cat2.get(key)
        if fb is None or fa.answer == fb.answer or not w1.get(key) or not w2.get(key):
            continue
        change = [by_path[p] for p in fa.deps if p in by_path]
        if len(change) != 1 or fa.slots != fb.slots and fa.kind != "feature_name":
            continue
        live.append((fa, fb, change[0]))
    rng.shuffle(live)
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    dedupe = Deduper()
    for i, (fa, fb, cid) in enumerate(live):
        qs = _questions(fa, rng)
        qs = [q for q in qs if dedupe.take(q)]
        n_test, n_dev = 3, 1 if i < 20 else 0
        plan = ["test"] * n_test + ["dev"] * n_dev + ["train"] * (len(qs) - n_test - n_dev)
        for split, q in zip(plan, qs, strict=False):
            splits[split].append({
                "task": "qa_live", "split": split, "question": q, "fact_id": fa.key, "change_id": cid,
                "answer_v1": fa.answer, "aliases_v1": fa.aliases(), "sources_v1": w1[fa.key],
                "answer_v2": fb.answer, "aliases_v2": fb.aliases(), "sources_v2": w2[fb.key],
            })
    return _number(splits, "qa_live")


# ------------------------------------------------------------------- multi-hop

ENTITY_PHRASES = {
    "integration": ["the cheapest plan that includes the {name} integration", "the lowest plan offering the {name} integration",
                    "the entry-level plan for {name}", "the least expensive plan where {name} is available"],
    "feature": ["the cheapest plan that includes {name}", "the lowest plan with {name}",
                "the entry plan for {name}", "the least expensive plan that offers {name}"],
    "sku": ["the plan billed under SKU {name}", "the plan whose billing code is {name}", "the plan behind SKU {name}"],
}

ATTR_T = {
    "price_monthly": ["What does {P} cost per month on monthly billing?", "How much is {P} per month, billed monthly?",
                      "Monthly price of {P}?"],
    "price_annual": ["What does {P} cost per year on annual billing?", "How much is a year of {P}?"],
    "limit:seats": ["How many seats come with {P}?", "How many user seats does {P} include?"],
    "limit:runs_per_month": ["How many workflow runs per month does {P} include?", "What's the monthly run allowance of {P}?"],
    "limit:workflows": ["How many active workflows can {P} have?", "What's the active workflow limit of {P}?"],
    "limit:storage_gb": ["How much file storage does {P} include?", "What is the storage limit of {P}?"],
    "limit:api_requests_per_minute": ["What is the API rate limit of {P}, in requests per minute?",
                                      "How many API requests per minute does {P} allow?"],
    "limit:log_retention_days": ["How long does {P} keep run logs?", "What is the run log retention of {P}?"],
    "limit:max_file_mb": ["What's the largest single file {P} can handle?", "What is the file size limit of {P}?"],
    "first_response": ["What is the first-response target for {P}?", "How quickly does support first reply on {P}?"],
    "sla_uptime": ["What uptime does the SLA promise for {P}?", "What is the uptime commitment of {P}?"],
}


def _cap(s: str) -> str:
    """Upper-case the first character."""
    return s[0].upper() + s[1:]


def multihop(f1: dict, changes: dict, corpus_v1: list[dict]) -> dict[str, list[dict]]:
    """Questions that need two articles: an entity's article, then the plan or release article."""
    rng = random.Random(f"{SEED}:multihop")
    cat = catalogue(f1)
    where = mentions(corpus_v1)
    items = []

    def plan_attr(p: str, attr: str) -> Fact | None:
        key = f"{attr.replace('limit:', 'limit:' + p + ':')}" if attr.startswith("limit:") else f"{attr}:{p}"
        fa = cat.get(key)
        return fa if fa and _static(fa, changes) else None

    entities = []
    for iid, it in f1["integrations"].items():
        entities.append(("integration", iid, it["name"], it["min_plan"], it["article"], f"/integrations/{iid}/min_plan"))
    for fid, ft in f1["features"].items():
        entities.append(("feature", fid, ft["name"], ft["min_plan"], ft["article"], f"/features/{fid}/min_plan"))
    for p, plan in f1["plans"].items():
        for sku in (plan["sku_monthly"], plan["sku_annual"]):
            entities.append(("sku", sku, sku, p, "KB-102", f"/plans/{p}/sku_monthly"))
    for kind, eid, name, plan, article, path in entities:
        if not is_static(path, changes) or (kind == "feature" and not is_static(f"/features/{eid}/name", changes)):
            continue
        for attr, temps in ATTR_T.items():
            fa = plan_attr(plan, attr)
            if fa is None:
                continue
            phrase = rng.choice(ENTITY_PHRASES[kind]).format(name=name)
            q = rng.choice(temps).format(P=phrase)
            items.append((f"mh:{kind}:{eid}>{fa.key}", _cap(q), fa, [article, f1["plans"][plan]["article"]]))
    for code, e in f1["error_codes"].items():
        if "limit" not in e:
            continue
        for p, plan in f1["plans"].items():
            fa = plan_attr(p, "limit:" + e["limit"])
            if fa is None:
                continue
            q = rng.choice([
                "We're on {plan} and runs fail with {code}. What is the limit we hit?",
                "Our {plan} workspace shows error {code}. What's the value of the limit behind it?",
                "{code} on a {plan} plan: what limit value was reached?",
            ]).format(plan=plan["name"], code=code)
            items.append((f"mh:error:{code}>{fa.key}", q, fa, [e_article(f1, code), plan["article"]]))
    for fid, ft in f1["features"].items():
        if not is_static(f"/features/{fid}/name", changes):
            continue
        fa = cat[f"release_date:{ft['introduced_in']}"]
        q = rng.choice([
            "On what date was the release that introduced {name} published?",
            "When did the version that first shipped {name} come out?",
            "What is the release date of the version in which {name} appeared?",
        ]).format(name=ft["name"])
        items.append((f"mh:feature_release:{fid}>{fa.key}", q, fa, [ft["article"], f1["releases"][ft["introduced_in"]]["article"]]))
    rng.shuffle(items)
    splits: dict[str, list[dict]] = {"train": [], "dev": [], "test": []}
    dedupe = Deduper()
    for fact_id, q, fa, sources in items:
        if not dedupe.take(q) or not set(sources[1:]) & set(where.get(fa.key, [])):
            continue
        split = "test" if len(splits["test"]) < 64 else "dev" if len(splits["dev"]) < 20 else "train"
        if split == "train" and len(splits["train"]) >= 120:
            break
        if rng.random() < 0.1:
            q = q.lower()
        splits[split].append({"task": "multihop", "split": split, "question": q, "answer": fa.answer,
                              "aliases": fa.aliases(), "sources": sources, "fact_id": fact_id})
    return _number(splits, "multihop")


def e_article(f: dict, code: str) -> str:
    """The error-reference article that documents ``code``."""
    return f["error_categories"][f["error_codes"][code]["category"]]["article"]


def _number(splits: dict[str, list[dict]], task: str) -> dict[str, list[dict]]:
    """Give every item a stable id ``<task>-<split>-0001`` in list order."""
    for split, items in splits.items():
        for i, it in enumerate(items, 1):
            it["id"] = f"{task}-{split}-{i:04d}"
    return splits


__all__ = ["catalogue", "mentions", "qa_static", "qa_live", "multihop", "get_path"]
