"""Render the help-centre articles of Corvasse Flow from the facts.

:func:`render_corpus` returns one record per article (id, title, section,
audience, body, facts). The wording of each article is varied by an RNG seeded
with the article id only, so an article whose facts did not change between v1 and
v2 renders to the same body in both versions.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from .doc import Doc
from .facts import (
    annual_per_month,
    join_names,
    limit_value,
    long_date,
    money,
    num,
    plan_name,
    plans_from,
    plans_in_order,
    uptime,
)
from .guides import (
    ERROR_ESCALATE,
    ERROR_SYMPTOMS,
    EXTRA_FAQ,
    EXTRA_SECTIONS,
    FEATURE_EXAMPLES,
    FEATURE_LIMITS,
    HOWTOS,
    INTEGRATION_DATA,
    MAPPING_NOTES,
    RELEASE_EXTRAS,
    browsers,
    feature_extras,
    glossary,
    howto,
    integration_extras,
    shortcuts,
)

SEED = "corvasse-docs"

# Fixed article ids (the others come from the facts: plans, features, errors...).
WELCOME, PRICING, SKUS = "KB-100", "KB-101", "KB-102"
LIMITS, AT_LIMIT, CHANGE_PLAN = "KB-107", "KB-108", "KB-109"
ACCEPTABLE_USE = "KB-116"
TROUBLE = {"runs": "KB-125", "webhooks": "KB-126", "connections": "KB-127", "slow": "KB-128", "billing": "KB-129"}
RELEASE_HISTORY = "KB-149"
FAQ = {"billing": "KB-160", "account": "KB-161", "security": "KB-162", "building": "KB-163", "integrations": "KB-164"}
ESCALATION, SECURITY_REPORTS, REFUND_APPROVALS = "KB-192", "KB-194", "KB-193"

Renderer = Callable[[Doc, dict], None]


def _related(doc: Doc, titles: dict[str, str], ids: list[str]) -> None:
    """Close an article with a short list of related articles."""
    ids = [i for i in ids if i in titles and i != doc.id]
    if not ids:
        return
    doc.h(doc.pick("Related articles", "See also", "Read next", "Where to go from here"))
    doc.bullets([f"[{i}] {titles[i]}" for i in ids])


def _plan_list(facts: dict, plans: list[str]) -> str:
    """Plan display names joined as prose."""
    return join_names([plan_name(facts, p) for p in plans])


def _availability(doc: Doc, facts: dict, min_plan: str, key: str) -> str:
    """A sentence naming the lowest plan that has something (records ``key``)."""
    plans = plans_from(facts, min_plan)
    lowest = doc.fact(key, plan_name(facts, min_plan))
    if len(plans) == len(facts["plans"]):
        return doc.pick(
            f"It is included in every plan, starting with {lowest}.",
            f"Every plan includes it, from {lowest} upwards.",
            f"All plans have it, including the entry-level {lowest} plan.",
        )
    if len(plans) == 1:
        return doc.pick(
            f"It is available on the {lowest} plan only.",
            f"Only the {lowest} plan includes it.",
            f"You need the {lowest} plan to use it.",
        )
    return doc.pick(
        f"It is available from the {lowest} plan upwards ({_plan_list(facts, plans)}).",
        f"The lowest plan that includes it is {lowest}; {_plan_list(facts, plans[1:])} have it too.",
        f"You need at least the {lowest} plan; it is part of {_plan_list(facts, plans)}.",
    )


# --------------------------------------------------------------- getting started

def welcome(doc: Doc, f: dict) -> None:
    """Render the welcome article."""
    c = f["company"]
    doc.p(
        doc.fact("company:product", c["product"]) + " is the workflow automation platform built by "
        + c["name"] + ". " + c["tagline"] + ".",
        doc.pick("This article is the map of the help centre.", "Start here if you are new.",
                 "Read this first: it explains the building blocks and where to find everything else."),
    )
    doc.p(
        f"{c['name']} was founded in {doc.fact('company:founded', str(c['founded']))} and is based in "
        f"{doc.fact('company:headquarters', c['headquarters'])}.",
        "The team builds the product for operations people who want automations they can read, review and trust.",
    )
    doc.h("The building blocks")
    doc.bullets([
        "**Workflows** describe what should happen, step by step. A workflow has exactly one trigger and any number of steps.",
        "**Triggers** start a workflow: a schedule, an incoming webhook, or a change in a connected app.",
        "**Steps** do the work: call an app, transform data, branch, loop, or wait for a person.",
        "**Connections** hold the authorisation to another app. You create a connection once and reuse it.",
        "**Runs** are single executions of a workflow. Each run keeps a log of its inputs, outputs and errors.",
    ])
    doc.p(
        doc.pick("A workspace is the home of your workflows, connections and people.",
                 "Everything lives in a workspace: workflows, connections, people and billing."),
        "Each workspace has one plan, one home region and one owner, who can hand ownership to another admin.",
    )
    doc.h("Plans at a glance")
    doc.p(
        f"There are four plans: {_plan_list(f, plans_in_order(f))}.",
        "They differ in limits (runs, workflows, seats, storage), in features, in support hours and in the uptime commitment.",
        f"Prices are in [{PRICING}] and the full limits table is in [{LIMITS}].",
    )
    doc.h("Getting help")
    doc.p(
        f"Write to {doc.fact('company:support_email', c['support_email'])} or use the chat bubble inside the app "
        "if your plan includes live chat.",
        f"Incidents and maintenance are announced on {doc.fact('company:status_page', c['status_page'])}.",
        doc.pick("Include the run id when you report a failing run: it saves a round trip.",
                 "A run id and the error code make most tickets solvable in one reply."),
    )


def pricing(doc: Doc, f: dict) -> None:
    """Render the pricing article."""
    doc.p(
        doc.pick("Corvasse Flow has four plans, billed monthly or annually.",
                 "Choose a plan by the limits and features you need; you can change plan at any time.",
                 "Every workspace is on one of four plans."),
        "All prices are in US dollars and exclude VAT or sales tax, which is added at checkout where it applies.",
    )
    rows = []
    for p in plans_in_order(f):
        plan = f["plans"][p]
        rows.append([
            plan["name"],
            doc.fact(f"price_monthly:{p}", money(plan["price_monthly_usd"])) + " per month",
            doc.fact(f"price_annual:{p}", money(plan["price_annual_usd"])) + " per year",
            doc.fact(f"price_annual_per_month:{p}", money(annual_per_month(f, p))) + " per month",
        ])
    doc.table(["Plan", "Billed monthly", "Billed annually", "Annual, per month"], rows)
    doc.h("Which plan is for whom")
    doc.bullets([f"**{f['plans'][p]['name']}** is meant for {f['plans'][p]['audience']}." for p in plans_in_order(f)])
    doc.p(
        doc.pick("Annual billing is paid up front for twelve months and costs less per month than monthly billing.",
                 "Paying for a year in advance lowers the effective monthly price."),
        "You can switch from monthly to annual billing at any time; the switch takes effect at the next renewal.",
        f"The billing codes that appear on invoices are listed in [{SKUS}].",
    )
    doc.p(
        "Trials: every new workspace starts with a 14-day trial of the Team plan, no card required.",
        "At the end of the trial the workspace moves to the plan you pick, or is paused if you pick none.",
    )


def skus(doc: Doc, f: dict) -> None:
    """Render the skus article."""
    doc.p(
        "Each plan and billing cycle has its own billing code, called a SKU.",
        doc.pick("Finance teams use it to match invoices to purchase orders.",
                 "You will find it on every invoice line and in the billing export.",
                 "Procurement systems usually ask for it when you raise a purchase order."),
    )
    rows = []
    for p in plans_in_order(f):
        plan = f["plans"][p]
        rows.append([plan["name"], "monthly", doc.fact(f"sku_monthly:{p}", plan["sku_monthly"])])
        rows.append([plan["name"], "annual", doc.fact(f"sku_annual:{p}", plan["sku_annual"])])
    doc.table(["Plan", "Billing cycle", "SKU"], rows)
    doc.h("Invoices")
    doc.p(
        "Invoices are issued on the first day of each billing period and sent to the billing contact of the workspace.",
        doc.pick("They are also available as PDF under Settings > Billing > Invoices.",
                 "You can download every past invoice as a PDF from Settings > Billing > Invoices."),
        "Usage overage, when you allow it, appears as a separate line at the end of the month it happened in.",
    )
    doc.h("Payment methods")
    doc.p(
        "Cards (Visa, Mastercard, American Express) work on every plan.",
        "Bank transfer against an invoice is available for annual Business and Enterprise subscriptions.",
        "Purchase order numbers can be added to invoices before they are issued; changing one on an issued invoice needs a credit note.",
    )


PLAN_STORIES = {
    "spark": "A consultant connects Gmail, Google Sheets and Slack: new enquiries land in a sheet and a message tells them who wrote. "
             "A small shop syncs orders from its web store to its accounting tool each night. Spark keeps such setups cheap and simple.",
    "team": "A marketing team of a few people shares connections to its CRM and chat tool, reviews changes with version history, "
            "and re-runs the occasional failed run after fixing a mapping. Most Team workspaces run a few dozen workflows.",
    "business": "An operations department automates purchase approvals, onboarding and reporting. Approvals wait for a manager, "
                "the audit log answers the auditor's questions, and sign-in goes through the company identity provider.",
    "enterprise": "A regulated company runs hundreds of workflows across departments. People are provisioned from the identity provider, "
                  "data stays in one region, stored data is encrypted with the company's own key, and critical workflows jump the queue.",
}


def plan_article(plan_id: str) -> Renderer:
    """Renderer of the article about plan ``plan_id``."""
    def render(doc: Doc, f: dict) -> None:
        """Render the article from the facts."""
        plan = f["plans"][plan_id]
        name = plan["name"]
        lim = plan["limits"]
        ld = f["limit_definitions"]
        doc.p(
            doc.pick(f"The {name} plan is designed for {plan['audience']}.",
                     f"{name} is the plan for {plan['audience']}.",
                     f"Teams pick {name} when they are {plan['audience']}." if plan_id != "spark"
                     else f"{name} suits {plan['audience']}."),
            f"This page lists what {name} includes; the side-by-side comparison is in [{LIMITS}].",
        )
        doc.h("Price")
        doc.p(
            f"{name} costs {doc.fact(f'price_monthly:{plan_id}', money(plan['price_monthly_usd']))} per month "
            f"when billed monthly, or {doc.fact(f'price_annual:{plan_id}', money(plan['price_annual_usd']))} per year "
            f"when billed annually, which works out at "
            f"{doc.fact(f'price_annual_per_month:{plan_id}', money(annual_per_month(f, plan_id)))} per month.",
        )
        doc.h("Limits")
        items = []
        for key, d in ld.items():
            value = doc.fact(f"limit:{plan_id}:{key}", limit_value(f, key, lim[key]))
            items.append(doc.pick(f"{d['label'][0].upper() + d['label'][1:]}: {value}" + ("" if d["suffix"] else f" {d['unit']}"),
                                  f"{d['short'][0].upper() + d['short'][1:]}: {value}" + ("" if d["suffix"] else f" {d['unit']}")))
        doc.bullets(items)
        doc.p(
            doc.pick("Limits reset on the first day of each calendar month (UTC) where they are monthly.",
                     "Monthly limits reset at 00:00 UTC on the first of the month."),
            f"What happens at a limit is explained in [{AT_LIMIT}].",
        )
        doc.h("Features")
        included = [fid for fid, ft in f["features"].items() if plan_id in plans_from(f, ft["min_plan"])]
        doc.p(f"{name} includes these features:")
        doc.bullets([f"{f['features'][fid]['name']} [{f['features'][fid]['article']}]" for fid in included])
        missing = [fid for fid in f["features"] if fid not in included]
        if missing:
            doc.p("Not included, but available on higher plans: "
                  + join_names([f["features"][fid]["name"] for fid in missing]) + ".")
        doc.h("Support and uptime")
        sup = f["policies"]["support"]
        up = f["policies"]["sla"]["uptime_percent"][plan_id]
        doc.p(
            f"Support for {name} is available {doc.fact(f'support_hours:{plan_id}', sup['hours'][plan_id])}, "
            f"through {join_names(sup['channels'][plan_id])}.",
            f"The first-response target is {doc.fact(f'first_response:{plan_id}', str(sup['first_response_hours'][plan_id]) + ' hours' if sup['first_response_hours'][plan_id] != 1 else '1 hour')}.",
            (f"{name} comes with {doc.fact(f'sla_uptime:{plan_id}', uptime(up))} monthly uptime, backed by service credits [KB-113]."
             if up is not None else f"{name} has {doc.fact(f'sla_uptime:{plan_id}', uptime(up))}; the service runs on the same infrastructure as every other plan."),
        )
        doc.h(doc.pick("Typical setups", "How customers use it"))
        doc.p(PLAN_STORIES[plan_id])
        doc.p(doc.pick(
            "You can upgrade at any time; the new limits apply immediately and the price difference is prorated.",
            "Upgrades take effect at once, and you pay only the prorated difference for the rest of the period.",
        ), f"See [{CHANGE_PLAN}] for downgrades and cancellations.")
    return render


def limits_table(doc: Doc, f: dict) -> None:
    """Render the limits table article."""
    doc.p(
        doc.pick("This table compares the limits of every plan.", "Here are all plan limits side by side."),
        "Monthly limits reset at 00:00 UTC on the first day of each month; the others apply at every moment.",
    )
    order = plans_in_order(f)
    rows = []
    for key, d in f["limit_definitions"].items():
        rows.append([d["label"][0].upper() + d["label"][1:]] + [
            doc.fact(f"limit:{p}:{key}", limit_value(f, key, f["plans"][p]["limits"][key])) for p in order])
    doc.table(["Limit"] + [plan_name(f, p) for p in order], rows)
    doc.h("How each limit is counted")
    doc.bullets([
        "**Workflow runs per month** count every run that starts, whether it succeeds or fails. Test runs in the editor do not count.",
        "**Active workflows** are workflows that are switched on. Drafts and archived workflows do not count.",
        "**User seats** are people with a builder or admin role. Viewers are free and unlimited.",
        "**File storage** includes files kept by steps and run attachments; run logs do not count toward it.",
        "**API requests per minute** are counted per workspace over a rolling sixty-second window.",
        "**Maximum size of a single file** applies to uploads, downloads and files passed between steps.",
        "**Run log retention** is how long the detail of each run stays visible before it is deleted.",
        "**Runs executing at the same time** are runs in progress; extra runs either wait or fail, depending on your settings.",
    ])
    doc.p(f"When a limit is reached, see [{AT_LIMIT}]. Error codes for limits are in [KB-123].")


def at_limit(doc: Doc, f: dict) -> None:
    """Render the at limit article."""
    doc.p(
        doc.pick("Limits protect the platform and keep prices predictable.",
                 "Every plan has limits; this article explains what happens when you reach one."),
        "Corvasse Flow never deletes your workflows or data because a limit was reached.",
    )
    doc.h("Monthly runs")
    doc.p("When the workspace has used every run in its plan, new runs are rejected until the monthly reset, "
          "unless paid overage is allowed. Runs already in progress finish normally. "
          "Owners receive an email at 80% and at 100% of the monthly allowance.")
    doc.h("Workflows and seats")
    doc.p("You cannot switch on another workflow or assign another seat once the plan's number is reached. "
          "Archiving a workflow or removing a builder frees the slot at once.")
    doc.h("Storage and file size")
    doc.p("Steps that would store a file beyond the storage limit fail, and so do steps that handle a single file larger than the plan allows. "
          "Deleting files frees storage immediately; the storage gauge updates within a few minutes.")
    doc.h("API rate and concurrency")
    doc.p("API calls over the rate limit are answered with HTTP 429 and a Retry-After header. "
          "Runs beyond the concurrency limit fail unless you let them wait in the queue.")
    doc.p(doc.pick("If you regularly hit a limit, the next plan up is usually cheaper than the workarounds.",
                   "Hitting the same limit every month is a good sign that the next plan would pay for itself."),
          f"Compare plans in [{LIMITS}] and prices in [{PRICING}].")


def change_plan(doc: Doc, f: dict) -> None:
    """Render the change plan article."""
    ret = f["policies"]["retention"]
    doc.p("Owners and billing admins can change plan under Settings > Billing > Plan.",
          doc.pick("Nothing is lost when you change plan.", "Changing plan never deletes workflows."))
    doc.h("Upgrading")
    doc.p("An upgrade takes effect immediately. You pay the prorated difference for the rest of the current period, "
          "and the new limits and features are available at once.")
    doc.h("Downgrading")
    doc.p("A downgrade takes effect at the end of the current billing period. Before it does, switch off workflows "
          "above the new plan's limit and remove features the lower plan does not include; "
          "otherwise the newest workflows are switched off automatically on the day of the downgrade.")
    doc.h("Cancelling")
    doc.p("When you cancel, the workspace stays active until the end of the paid period.",
          f"After that you have {doc.fact('policy:retention.export_window_days', num(ret['export_window_days']) + ' days')} "
          "to export workflows and run history before the workspace is closed.",
          f"Refunds follow the refund policy in [{f['policies']['refund']['article']}].")


# --------------------------------------------------------------------- policies

def refund(doc: Doc, f: dict) -> None:
    """Render the refund article."""
    r = f["policies"]["refund"]
    doc.p(doc.pick("We want you to pay only for a service that works for you.",
                   "This policy explains when you can get your money back."),
          "It applies to every plan bought directly from Corvasse.")
    doc.h("Monthly plans")
    doc.p(f"You can ask for a full refund of a monthly charge within "
          f"{doc.fact('policy:refund.window_days', num(r['window_days']) + ' days')} of the charge.",
          "After that window the month is not refundable, but you can cancel so that it does not renew.")
    doc.h("Annual plans")
    doc.p(f"If you cancel an annual plan within "
          f"{doc.fact('policy:refund.annual_window_days', num(r['annual_window_days']) + ' days')} of the start of the term, "
          "we refund the unused full months.",
          "After that, the annual term runs to its end and is not refundable.")
    doc.h("What is never refunded")
    doc.p("Usage overage is never refunded, because it pays for runs that already happened." if not r["overage_refundable"]
          else "Overage can be refunded.",
          "Taxes are refunded together with the charge they belong to.")
    doc.h("How to ask")
    doc.p("Write to support from the billing contact's address and include the invoice number.",
          f"Approved refunds are paid back to the original payment method within "
          f"{doc.fact('policy:refund.processing_business_days', num(r['processing_business_days']) + ' business days')}.")


def retention(doc: Doc, f: dict) -> None:
    """Render the retention article."""
    r = f["policies"]["retention"]
    doc.p("This policy says how long Corvasse keeps each kind of data, and what happens when you delete it.")
    doc.h("Run logs")
    doc.p("Run logs are kept for a number of days that depends on the plan:")
    doc.table(["Plan", "Run logs kept"], [
        [plan_name(f, p), doc.fact(f"limit:{p}:log_retention_days",
                                   limit_value(f, "log_retention_days", f["plans"][p]["limits"]["log_retention_days"]))]
        for p in plans_in_order(f)])
    doc.h("Deleted workspaces")
    doc.p(f"When an owner deletes a workspace, its data is purged after "
          f"{doc.fact('policy:retention.deleted_workspace_days', num(r['deleted_workspace_days']) + ' days')}.",
          "Until then, support can restore the workspace on the owner's request.")
    doc.h("Backups")
    doc.p(f"Encrypted backups are kept for {doc.fact('policy:retention.backup_days', num(r['backup_days']) + ' days')} "
          "and then overwritten. Backups are used for disaster recovery only, never to restore single items.")
    doc.h("After cancellation")
    doc.p(f"You can export your data for {doc.fact('policy:retention.export_window_days', num(r['export_window_days']) + ' days')} "
          "after a cancellation takes effect.")
    doc.h("Audit log")
    doc.p(f"On plans with the Audit Log, entries are kept for "
          f"{doc.fact('policy:retention.audit_log_days', num(r['audit_log_days']) + ' days')}.")


def security(doc: Doc, f: dict) -> None:
    """Render the security article."""
    s = f["policies"]["security"]
    doc.p(doc.pick("Security is part of every plan, not an add-on.", "This page summarises how Corvasse protects your data."),
          f"Questions go to {doc.fact('company:security_email', f['company']['security_email'])}.")
    doc.h("Certifications")
    doc.p("Corvasse holds " + join_names([doc.fact("policy:security.certifications", c) for c in s["certifications"]]) + " certifications.",
          "Reports are shared under NDA from the trust portal.")
    doc.h("Encryption")
    doc.p(f"Data at rest is encrypted with {doc.fact('policy:security.encryption_at_rest', s['encryption_at_rest'])}.",
          f"Connections to the service require {doc.fact('policy:security.tls_minimum', s['tls_minimum'])} or later.",
          "Enterprise workspaces can bring their own key [KB-182].")
    doc.h("Testing and vendors")
    doc.p(f"An independent firm runs a penetration test {doc.fact('policy:security.pentest_frequency', s['pentest_frequency'])}.",
          f"We announce new subprocessors {doc.fact('policy:security.subprocessor_notice_days', num(s['subprocessor_notice_days']) + ' days')} "
          "before they start processing customer data.")
    doc.h("Accounts")
    doc.p(f"Multi-factor authentication is required for {s['mfa_required_for']}.",
          "Business and Enterprise workspaces can enforce single sign-on for everyone [KB-178].")


def sla(doc: Doc, f: dict) -> None:
    """Render the sla article."""
    s = f["policies"]["sla"]
    doc.p("The service level agreement (SLA) is the uptime we commit to each month, and the credit you get if we miss it.")
    doc.table(["Plan", "Monthly uptime commitment"], [
        [plan_name(f, p), doc.fact(f"sla_uptime:{p}", uptime(s["uptime_percent"][p]))] for p in plans_in_order(f)])
    doc.h("Service credits")
    doc.p("If monthly uptime falls below the commitment, you get a credit on the next invoice:")
    doc.bullets([f"below {c['below']}: {doc.fact(f'sla_credit:{i}', str(c['credit_percent']) + '%')} of the monthly fee"
                 for i, c in enumerate(s["credits"])])
    doc.p(f"Claim a credit within {doc.fact('policy:sla.claim_window_days', num(s['claim_window_days']) + ' days')} "
          "after the end of the month, by writing to support.",
          "Announced maintenance and problems in the apps you connect to are excluded from the calculation.")


def support(doc: Doc, f: dict) -> None:
    """Render the support article."""
    s = f["policies"]["support"]
    doc.p(doc.pick("Support hours and response targets depend on your plan.",
                   "How fast support answers depends on the plan of the workspace."),
          "The first-response target is the time until a person, not a bot, replies.")
    rows = []
    for p in plans_in_order(f):
        h = s["first_response_hours"][p]
        rows.append([plan_name(f, p), doc.fact(f"support_hours:{p}", s["hours"][p]),
                     doc.fact(f"first_response:{p}", f"{h} hours" if h != 1 else "1 hour"),
                     join_names(s["channels"][p])])
    doc.table(["Plan", "Hours", "First response", "Channels"], rows)
    doc.p("Urgent tickets (a production workflow is down) are answered first within each plan.",
          f"Outages are announced on {f['company']['status_page']}; you do not need to open a ticket for them.")


def regions(doc: Doc, f: dict) -> None:
    """Render the regions article."""
    rp = f["region_policy"]
    doc.p(doc.pick("Every workspace has a home region where its data is stored and its runs execute.",
                   "Corvasse Flow runs in several regions; your workspace lives in one of them."))
    doc.table(["Region", "City", "Country", "Data centre code", "Paired region"], [
        [rid, doc.fact(f"region_city:{rid}", r["city"]), r["country"], doc.fact(f"region_code:{rid}", r["code"]), r["paired"]]
        for rid, r in f["regions"].items()])
    doc.p(f"New workspaces from the EU start in {rp['default_region_eu']}; all others start in {rp['default_region_other']}.",
          f"Choosing the region yourself requires the {doc.fact('region_choice_plan', plan_name(f, rp['choose_region_min_plan']))} plan or higher.",
          "Each region has a paired region used for failover.")
    doc.p("Residency Pinning, on Enterprise, guarantees that processing never leaves the home region, even during failover [KB-181].")


def acceptable_use(doc: Doc, f: dict) -> None:
    """Render the acceptable use article."""
    doc.p("Corvasse Flow is shared infrastructure. These rules keep it fast and safe for everyone.")
    doc.bullets([
        "Do not use workflows to send unsolicited bulk messages by SMS, email or chat.",
        "Do not use runs to mine cryptocurrency or to run heavy computation unrelated to automation.",
        "Do not probe, scan or load-test the platform without written permission.",
        "Do not store payment card numbers in files or run logs; use your payment provider's tokens.",
        "Respect the terms of the apps you connect to.",
    ])
    doc.p("We contact the owner first when a workspace breaks these rules. Workflows that endanger the platform may be paused without notice.",
          doc.pick("Fair use is judged over weeks, not minutes.", "Short bursts are fine; sustained abuse is not."))


# ----------------------------------------------------------------------- errors

PREVENT = {
    "auth": ("To prevent it, give every connection an owner who is told when it breaks.",
             "Alerts on failed runs catch this early; set them on every production workflow."),
    "connector": ("To prevent it, keep an eye on the other app's changelog and status page.",
                  "Problems of this kind often start in the other app; check its status page first."),
    "run": ("To prevent it, test the workflow with real sample data after every change.",
            "Most of these are caught by a test run with a realistic record."),
    "limit": ("To prevent it, watch the usage report; owners are emailed at 80% of monthly limits.",
              "The usage report under Settings > Usage shows how close you are to each limit."),
    "platform": ("Check the status page before changing anything: platform codes are often temporary.",
                 "If the status page is green and the code persists, contact support with the run id."),
}


def _log_line(doc: Doc, code: str, e: dict) -> str:
    """A plausible run-log line for an error code (timestamp from the article's RNG)."""
    day = doc.rng.randint(1, 28)
    hour, minute, sec = doc.rng.randint(0, 23), doc.rng.randint(0, 59), doc.rng.randint(0, 59)
    run = doc.rng.randint(100000, 999999)
    return f"2025-01-{day:02d}T{hour:02d}:{minute:02d}:{sec:02d}Z ERROR run=r_{run} step=3 {code} {e['name']}"


def error_reference(category: str) -> Renderer:
    """Renderer of the error-code reference for ``category``."""
    def render(doc: Doc, f: dict) -> None:
        """Render the article from the facts."""
        cat = f["error_categories"][category]
        doc.p(f"This reference lists the error codes about {cat['blurb']}.",
              doc.pick("Each entry says what the code means, how to fix it, and which setting controls the behaviour.",
                       "For every code you get the cause, the fix and the related setting with its default.",
                       "Search this page for the exact code shown in the run log."))
        for code, e in sorted(f["error_codes"].items()):
            if e["category"] != category:
                continue
            doc.h(f"{code} {doc.fact(f'error_name:{code}', e['name'])}", 3)
            lead = doc.pick("What it means:", "Cause:", "Why it happens:")
            doc.p(f"**{lead}** {e['cause'][0].upper() + e['cause'][1:]}.", ERROR_SYMPTOMS[category])
            if "limit" in e:
                label = f["limit_definitions"][e["limit"]]["label"]
                doc.p(f"This code is tied to the plan limit on {doc.fact(f'error_limit:{code}', label)}; "
                      f"the value for each plan is in [{LIMITS}].")
            doc.p(f"**{doc.pick('How to fix it:', 'Fix:', 'What to do:')}** {e['fix'][0].upper() + e['fix'][1:]}.")
            doc.p(f"**Setting:** `{doc.fact(f'error_setting:{code}', e['setting'])}` "
                  f"(default: `{doc.fact(f'setting_default:{code}', str(e['setting_default']))}`).",
                  doc.pick("Change it under Settings > Workspace > Advanced, or per workflow in the workflow settings drawer.",
                           "Workspace admins can change it for everyone; builders can override it for a single workflow.",
                           "The setting can be set for the workspace and overridden per workflow."))
            doc.p(doc.pick("In the run log it looks like this:", "A typical log line:", "Example from a run log:"))
            doc.blocks.append(f"```\n{_log_line(doc, code, e)}\n```")
            doc.p(doc.pick(PREVENT[e["category"]][0], PREVENT[e["category"]][1]), doc.pick(*ERROR_ESCALATE))
        doc.p("Codes not listed here belong to another range; the first digit after CFX- tells you which reference to open.")
    return render


# ------------------------------------------------------------------ troubleshooting

def trouble_runs(doc: Doc, f: dict) -> None:
    """Render the trouble runs article."""
    doc.p("A failed run always tells you why. This guide shows where to look, in the order that solves most cases fastest.")
    doc.bullets([
        "Open the run from the Runs tab and find the first step marked in red.",
        "Read the error code in the step's log. The code starts with CFX- and four digits.",
        "Open the error reference for that range: [KB-120] for 1xxx, [KB-121] for 2xxx, [KB-122] for 3xxx, [KB-123] for 4xxx, [KB-124] for 5xxx.",
        "Compare the step's input with the previous step's output. Most failures are a mapping that points at an empty field.",
        "Fix the cause, then run the workflow again from the start or from the failed step if your plan allows it.",
    ], numbered=True)
    doc.p(doc.pick("If the same run fails at a different step each time, suspect the other app rather than the workflow.",
                   "Failures that move around between steps usually point at the connected app, not at your workflow."),
          "Check the other app's status page before you change anything.")
    doc.h("When to contact support")
    doc.p("Contact support if the run failed with a 5xxx code, or if the error reference's fix did not help. Include the run id.")


def trouble_webhooks(doc: Doc, f: dict) -> None:
    """Render the trouble webhooks article."""
    doc.p("Webhooks fail silently more often than anything else, because the sender decides whether to retry.")
    doc.h("Incoming webhooks")
    doc.bullets([
        "Copy the trigger address again from the trigger panel; addresses change when a workflow is duplicated.",
        "Check that the sender signs requests with the secret shown in the trigger panel.",
        "Look at the Deliveries tab of the trigger: every request is listed with its status for seven days.",
        "If deliveries are listed but no run started, the workflow is probably switched off.",
    ])
    doc.h("Outgoing webhooks")
    doc.bullets([
        "The target must answer within ten seconds with a 2xx status.",
        "Corvasse retries failed deliveries with growing pauses for up to 24 hours.",
        "Repeated failures pause the webhook; you resume it from the workflow's settings.",
    ])
    doc.p("Error codes for webhooks are listed in [KB-124]; configuration of webhook triggers is described in [KB-172].")


def trouble_connections(doc: Doc, f: dict) -> None:
    """Render the trouble connections article."""
    doc.p("Connections break when the other app stops trusting Corvasse Flow: a password change, a revoked app, a changed permission.")
    doc.bullets([
        "Open Settings > Connections. A broken connection shows a yellow badge.",
        "Click Reconnect and sign in with the same account as before. Using another account changes what the steps can see.",
        "If the app asks for permissions, accept all of them; partial consent is the most common cause of new errors.",
        "Run the workflow's test to confirm the connection works.",
    ], numbered=True)
    doc.p("For single sign-on problems, check the identity provider's clock and certificate first.",
          "Codes about sign-in and keys are in [KB-120]; codes about connectors are in [KB-121].")


def trouble_slow(doc: Doc, f: dict) -> None:
    """Render the trouble slow article."""
    doc.p("A run that waits before it starts is queued; a run that is slow once started is waiting on a step.")
    doc.h("Queued runs")
    doc.p("Runs queue when the workspace is at its concurrency limit. The run's timeline shows the time spent in the queue.",
          f"Compare the number of runs in progress with your plan's limit in [{LIMITS}].",
          "On Enterprise, the Priority Queue lets chosen workflows start first [KB-183].")
    doc.h("Slow steps")
    doc.p("The run timeline shows how long each step took. A slow step that calls another app is usually slow in that app.",
          "Loops over long lists are the other common cause: filter the list before the loop.")
    doc.p(doc.pick("Scheduled workflows that all start on the hour compete with each other; spreading them by a few minutes helps.",
                   "Avoid starting every scheduled workflow at exactly 00 minutes past the hour."))


def trouble_billing(doc: Doc, f: dict) -> None:
    """Render the trouble billing article."""
    doc.p("Most billing questions are answered by the invoice itself. This guide covers the rest.")
    doc.bullets([
        "A charge you do not recognise: check the SKU on the invoice against [KB-102].",
        "A higher amount than usual: look for an overage line or a prorated upgrade.",
        "A failed payment: update the card under Settings > Billing; we retry three times over seven days.",
        "A missing invoice: check the billing contact's address; invoices go to that one address only.",
    ])
    doc.p(f"Refunds follow [{f['policies']['refund']['article']}]. Plan changes are explained in [{CHANGE_PLAN}].")


# --------------------------------------------------------------------- integrations

def integration(iid: str) -> Renderer:
    """Renderer of the integration article for one iid."""
    def render(doc: Doc, f: dict) -> None:
        """Render the article from the facts."""
        it = f["integrations"][iid]
        name = it["name"]
        doc.p(doc.pick(f"The {name} integration lets workflows {it['use']}.",
                       f"Connect {name} to {it['use']} from your workflows.",
                       f"With {name} in Corvasse Flow you can {it['use']}."),
              _availability(doc, f, it["min_plan"], f"integration_min_plan:{iid}"))
        doc.h("Authentication")
        doc.p(f"The connection uses {doc.fact(f'integration_auth:{iid}', it['auth_method'])}.",
              doc.pick("Create it once under Settings > Connections and reuse it in every workflow.",
                       "You authorise it once; every workflow in the workspace can then use it."))
        doc.h("Triggers")
        if it["trigger"] == "instant":
            doc.p(f"{name} triggers are instant: {name} notifies Corvasse Flow as soon as something happens.")
        else:
            minutes = it["poll_minutes"]
            doc.p(f"{name} triggers poll for new data every "
                  f"{doc.fact(f'integration_poll:{iid}', f'{minutes} minutes')}.",
                  "A change is therefore picked up within that interval, not at once.")
        doc.h("Setting it up")
        doc.bullets([
            "Open Settings > Connections and click New connection.",
            f"Choose {name} and follow the sign-in screen.",
            doc.pick("Give the connection a name that says which account it uses.",
                     "Name the connection after the account, for example 'Sales team'."),
            "Add a step or trigger from the integration in any workflow and pick the connection.",
        ], numbered=True)
        doc.h("Good to know")
        d = it["detail"]
        doc.p(f"The {d['label']}: {doc.fact(f'integration_detail:{iid}', d['value'])}.",
              doc.pick(f"If a {name} step fails, the error reference for connectors [KB-121] explains the code.",
                       "Connector errors are listed in [KB-121].",
                       f"Problems with the {name} connection are covered in [{TROUBLE['connections']}]."))
        integration_extras(doc, name)
        doc.h(doc.pick("Your data", "Privacy and permissions", "What Corvasse Flow can access"))
        doc.p(*doc.rng.sample(INTEGRATION_DATA, 3))
        doc.p(doc.pick(*MAPPING_NOTES))
    return render


# ------------------------------------------------------------------------- releases

def release_history(doc: Doc, f: dict) -> None:
    """Render the release history article."""
    doc.p("Every release of Corvasse Flow, newest first. Each version has its own notes.")
    rows = []
    for ver in sorted(f["releases"], key=lambda v: [int(x) for x in v.split(".")], reverse=True):
        r = f["releases"][ver]
        rows.append([ver, doc.fact(f"release_date:{ver}", long_date(r["date"])), r["highlights"][0], f"[{r['article']}]"])
    doc.table(["Version", "Date", "Headline", "Notes"], rows)
    doc.p("Releases roll out to all regions over two days. The version number is shown in the app under Help > About.")


def release(ver: str) -> Renderer:
    """Renderer of the release article for one ver."""
    def render(doc: Doc, f: dict) -> None:
        """Render the article from the facts."""
        r = f["releases"][ver]
        doc.p(f"Corvasse Flow {ver} was released on {doc.fact(f'release_date:{ver}', long_date(r['date']))}.",
              doc.pick("It rolled out to every region over two days.", "No action is needed to get it.",
                       "Workspaces are updated automatically."))
        new = [fid for fid, ft in f["features"].items() if ft["introduced_in"] == ver]
        if new:
            doc.h("New features")
            doc.bullets([f"**{doc.fact(f'feature_release:{fid}', f['features'][fid]['name'])}**: "
                         f"{f['features'][fid]['summary']} [{f['features'][fid]['article']}]" for fid in new])
        doc.h(doc.pick("Also in this release", "Other improvements", "Highlights"))
        doc.bullets([h[0].upper() + h[1:] for h in r["highlights"]] + doc.rng.sample(RELEASE_EXTRAS, 2))
        doc.p(f"This release also fixes {r['fixes']} bugs reported by customers.")
        doc.h(doc.pick("Upgrade notes", "Before you update", "What you need to do"))
        doc.p(doc.pick(
            "Nothing: workflows keep running during the rollout, and no setting changes its default.",
            "No action is required. Workflows that were switched on stay on, and saved drafts are kept.",
            "There is nothing to migrate. If you use the API, read the changelog in the API reference for new optional fields.",
        ), doc.pick("As always, release notes are also sent to workspace owners by email.",
                    "Subscribe to release emails under Settings > Notifications.",
                    "The full list of fixes is available on request from support."))
    return render


# ---------------------------------------------------------------------------- FAQ

def faq(kind: str) -> Renderer:
    """Renderer of the faq article for one kind."""
    def render(doc: Doc, f: dict) -> None:
        """Render the article from the facts."""
        qa: list[tuple[str, str]] = []
        if kind == "billing":
            r = f["policies"]["refund"]
            qa = [
                ("Which currency do you bill in?", "US dollars, for every plan."),
                ("Can I pay by bank transfer?", "Yes, for annual Business and Enterprise subscriptions."),
                ("How long do I have to ask for a refund?",
                 f"For a monthly charge, {doc.fact('policy:refund.window_days', num(r['window_days']) + ' days')}. Annual plans follow [KB-110]."),
                ("Where do I find the SKU for my plan?", f"On every invoice, and in [{SKUS}]."),
                ("Is there a free trial?", "Yes: 14 days of the Team plan, without a card."),
            ]
        elif kind == "account":
            qa = [
                ("Who can change the plan?", "Owners and billing admins."),
                ("Do viewers need a seat?", "No. Only builders and admins use seats."),
                ("Can I move my workspace to another region?",
                 f"Yes, from the {plan_name(f, f['region_policy']['choose_region_min_plan'])} plan upwards; support moves it during a quiet hour."),
                ("How do I transfer ownership?", "The owner picks another admin under Settings > Members."),
                ("What happens to my data when I delete the workspace?", f"It is purged after a waiting period described in [{f['policies']['retention']['article']}]."),
            ]
        elif kind == "security":
            s = f["policies"]["security"]
            qa = [
                ("Do you have SOC 2?", "Yes, SOC 2 Type II. Reports are shared under NDA."),
                ("How is data encrypted?", f"At rest with {s['encryption_at_rest']}, in transit with {s['tls_minimum']} or later."),
                ("How often are you penetration tested?", f"{doc.fact('policy:security.pentest_frequency', s['pentest_frequency']).capitalize()}, by an independent firm."),
                ("Can we use our own encryption key?", "Yes, on Enterprise, with Bring Your Own Key [KB-182]."),
                ("Where do I report a vulnerability?", f"Write to {f['company']['security_email']}."),
            ]
        elif kind == "building":
            qa = [
                ("How many triggers can a workflow have?", "Exactly one. Use several workflows that call a shared one for more."),
                ("Do test runs count toward my monthly runs?", "No. Only runs of switched-on workflows count."),
                ("Can I undo a change to a workflow?", f"With {f['features']['version_history']['name']}, yes: restore any published version [KB-173]."),
                ("Can a run continue from the step that failed?",
                 f"Yes, with {doc.fact('feature_name:run_replay', f['features']['run_replay']['name'])} [KB-175], from the {plan_name(f, f['features']['run_replay']['min_plan'])} plan."),
                ("How long can a run take?", "Until the maximum run duration of the workspace; see the run errors in [KB-122]."),
            ]
        elif kind == "integrations":
            names = [i["name"] for i in f["integrations"].values()]
            qa = [
                ("Which apps can I connect?", join_names(names) + ", plus any HTTP API through the HTTP step."),
                ("Why does my trigger not fire at once?", "Polling triggers check on an interval given in each integration's article."),
                ("Can two people share one connection?", "Yes, with Shared Connections [KB-174]."),
                ("Is there an integration for my own database?", "PostgreSQL and Snowflake are supported directly; others through their HTTP APIs."),
            ]
        qa += EXTRA_FAQ[kind]
        doc.p(doc.pick("Short answers to the questions we hear most.", "The most common questions, answered briefly.",
                       "Quick answers; each links to the full article."))
        for q, a in qa:
            doc.h(q, 3)
            doc.p(a)
    return render


# ------------------------------------------------------------------------ features

def feature(fid: str) -> Renderer:
    """Renderer of the feature article for one fid."""
    def render(doc: Doc, f: dict) -> None:
        """Render the article from the facts."""
        ft = f["features"][fid]
        name = doc.fact(f"feature_name:{fid}", ft["name"])
        doc.p(doc.pick(f"{name} lets you {ft['summary']}.",
                       f"Use {name} to {ft['summary']}.",
                       f"With {name} you can {ft['summary']}."),
              _availability(doc, f, ft["min_plan"], f"feature_min_plan:{fid}"))
        rel = f["releases"][ft["introduced_in"]]
        doc.p(f"It was introduced in Corvasse Flow {doc.fact(f'feature_release:{fid}', ft['introduced_in'])} "
              f"[{rel['article']}].")
        doc.h(doc.pick("Where to find it", "Turning it on", "Getting started"))
        doc.p(f"Open {ft['where']}.",
              doc.pick("Owners and admins see it first; builders see it once an admin has enabled it.",
                       "No extra setup is needed once your plan includes it.",
                       "It is switched on for the whole workspace by default."))
        doc.h(doc.pick("Tips", "Good practice", "Things to keep in mind"))
        doc.bullets([
            doc.pick("Try it in a copy of a workflow first.", "Start with one workflow and extend from there."),
            doc.pick("Name things so that a colleague understands them without asking you.",
                     "Write a one-line description; the editor shows it on hover."),
            doc.pick("Changes are recorded in the audit log on plans that have one.",
                     "Every change is visible in the workflow's history."),
        ])
        feature_extras(doc, fid)
        doc.p(doc.pick(*FEATURE_EXAMPLES))
        doc.p(doc.pick(*FEATURE_LIMITS))
    return render


# ------------------------------------------------------------------------ internal

def style_guide(doc: Doc, f: dict) -> None:
    """Render the style guide article."""
    bv = f["brand_voice"]
    doc.p("Internal: how Corvasse Support writes to customers. Every reply is checked against these rules before it is sent.")
    doc.h("Principles")
    doc.bullets(bv["principles"])
    doc.h("The rules")
    doc.bullets([
        f"Start with the greeting line `{bv['greeting']}`, using the customer's first name.",
        f"End with the sign-off line exactly `{bv['sign_off']}`, on its own line.",
        f"Keep the whole reply at or under {bv['max_words']} words, greeting and sign-off included.",
        "Never use an exclamation mark." if bv["no_exclamation"] else "Exclamation marks are allowed.",
        "Never use these phrases: " + ", ".join(f"\"{p}\"" for p in bv["banned_phrases"]) + ".",
        f"Apologise only when the customer reports a fault on our side, and then exactly once, with the words \"{bv['apology_phrase']}\".",
        "When you state a fact from the help centre, cite the article id in square brackets, like [KB-101].",
    ])
    doc.h("Example")
    doc.p("A customer asks how many seats the Spark plan has. A good reply:")
    doc.blocks.append("> Hi Maya,\n>\n> The Spark plan includes 3 seats [KB-103]. Viewers do not use a seat.\n>\n> " + bv["sign_off"])


def schema_article(doc: Doc, f: dict) -> None:
    """Render the schema article article."""
    a = f["analytics"]
    doc.p("Internal: the analytics database is a read-only SQLite copy of billing, usage and support data, refreshed nightly.",
          "Use it for reports; never join it with production data.")
    for table, t in a["tables"].items():
        doc.h(f"Table `{table}`", 3)
        doc.p(t["description"][0].upper() + t["description"][1:] + ".")
        doc.table(["Column", "Type", "Meaning"], [[f"`{c}`", ty, d] for c, ty, d in t["columns"]])
    doc.p("Dates are ISO 8601 text (YYYY-MM-DD), so `strftime` and string comparison both work. Money is in US dollars.")


def escalation(doc: Doc, f: dict) -> None:
    """Render the escalation article."""
    e = f["internal"]["escalation"]
    doc.p("Internal: when and how support escalates a ticket.")
    doc.bullets([
        f"A severity-1 incident (production down for several customers) pages the on-call engineer within {e['sev1_page_minutes']} minutes through {e['on_call_tool']}.",
        f"Post every escalation in {e['escalation_channel']} with the ticket link and the run id.",
        f"Refunds over ${e['refund_approval_over_usd']} need approval from finance before they are promised.",
        "Never share another customer's data, even to illustrate a fix.",
    ])


def refund_approvals(doc: Doc, f: dict) -> None:
    """Render the refund approvals article."""
    e = f["internal"]["escalation"]
    doc.p("Internal: the refund checklist for support agents.")
    doc.bullets([
        "Check the charge date against the refund policy [KB-110] before you reply.",
        f"Up to ${e['refund_approval_over_usd']}, an agent can approve a refund alone.",
        "Above that amount, ask finance in the billing channel and tell the customer when to expect an answer.",
        "Record the refund reason in the ticket using the refund tag.",
    ], numbered=True)


def security_reports(doc: Doc, f: dict) -> None:
    """Render the security reports article."""
    s = f["internal"]["security_reports"]
    doc.p("Internal: handling vulnerability reports sent to the security address.")
    doc.bullets([
        f"Acknowledge every report within {s['triage_hours']} hours.",
        "Forward it to the security team; never test the report yourself on a customer workspace.",
        f"Bounties go up to ${s['bounty_max_usd']:,}; support never promises an amount.",
    ])


# ---------------------------------------------------------------------- catalogue

def catalogue(f: dict) -> list[tuple[str, str, str, str, Renderer]]:
    """Every article as ``(id, title, section, audience, renderer)``, in id order."""
    items: list[tuple[str, str, str, str, Renderer]] = [
        (WELCOME, f"Welcome to {f['company']['product']}", "getting-started", "public", welcome),
        (PRICING, "Plans and pricing", "billing", "public", pricing),
        (SKUS, "Billing codes (SKUs) and invoices", "billing", "public", skus),
        (LIMITS, "Usage limits by plan", "plans", "public", limits_table),
        (AT_LIMIT, "What happens when you reach a limit", "plans", "public", at_limit),
        (CHANGE_PLAN, "Changing or cancelling your plan", "billing", "public", change_plan),
        (f["policies"]["refund"]["article"], "Refund policy", "policies", "public", refund),
        (f["policies"]["retention"]["article"], "Data retention and deletion", "policies", "public", retention),
        (f["policies"]["security"]["article"], "Security and compliance", "policies", "public", security),
        (f["policies"]["sla"]["article"], "Service level agreement and credits", "policies", "public", sla),
        (f["policies"]["support"]["article"], "Support hours and response times", "policies", "public", support),
        (f["region_policy"]["article"], "Regions and data residency", "policies", "public", regions),
        (ACCEPTABLE_USE, "Acceptable use", "policies", "public", acceptable_use),
        ("KB-117", "Glossary", "getting-started", "public", glossary),
        ("KB-118", "Supported browsers and accessibility", "getting-started", "public", browsers),
        ("KB-119", "Keyboard shortcuts", "getting-started", "public", shortcuts),
        (TROUBLE["runs"], "Troubleshooting failed runs", "troubleshooting", "public", trouble_runs),
        (TROUBLE["webhooks"], "Troubleshooting webhooks", "troubleshooting", "public", trouble_webhooks),
        (TROUBLE["connections"], "Troubleshooting connections and sign-in", "troubleshooting", "public", trouble_connections),
        (TROUBLE["slow"], "Troubleshooting slow or queued runs", "troubleshooting", "public", trouble_slow),
        (TROUBLE["billing"], "Troubleshooting billing and invoices", "troubleshooting", "public", trouble_billing),
        (RELEASE_HISTORY, "Release history", "releases", "public", release_history),
        (FAQ["billing"], "FAQ: billing", "faq", "public", faq("billing")),
        (FAQ["account"], "FAQ: workspaces and accounts", "faq", "public", faq("account")),
        (FAQ["security"], "FAQ: security", "faq", "public", faq("security")),
        (FAQ["building"], "FAQ: building workflows", "faq", "public", faq("building")),
        (FAQ["integrations"], "FAQ: integrations", "faq", "public", faq("integrations")),
        (f["brand_voice"]["article"], "Support style guide: the Corvasse voice", "internal", "internal", style_guide),
        (f["analytics"]["article"], "Analytics database schema", "internal", "internal", schema_article),
        (ESCALATION, "Escalation handbook", "internal", "internal", escalation),
        (REFUND_APPROVALS, "Refund approvals for agents", "internal", "internal", refund_approvals),
        (SECURITY_REPORTS, "Handling security reports", "internal", "internal", security_reports),
    ]
    for pid, plan in f["plans"].items():
        items.append((plan["article"], f"The {plan['name']} plan", "plans", "public", plan_article(pid)))
    for cat, c in f["error_categories"].items():
        items.append((c["article"], c["title"], "errors", "public", error_reference(cat)))
    for iid, it in f["integrations"].items():
        items.append((it["article"], f"Integration guide: {it['name']}", "integrations", "public", integration(iid)))
    for ver, r in f["releases"].items():
        items.append((r["article"], f"Release notes: Corvasse Flow {ver}", "releases", "public", release(ver)))
    for aid, (title, _sections) in HOWTOS.items():
        items.append((aid, title, "how-to", "public", howto(aid)))
    for fid, ft in f["features"].items():
        audience = "public" if ft["min_plan"] in ("spark", "team") else f"plan:{ft['min_plan']}"
        if fid in ("branch_steps", "audit_log"):
            audience = "public"
        items.append((ft["article"], f"{ft['name']}: how it works", "features", audience, feature(fid)))
    return sorted(items, key=lambda t: t[0])


RELATED: dict[str, list[str]] = {
    WELCOME: [PRICING, LIMITS, "KB-114"], PRICING: [SKUS, LIMITS, CHANGE_PLAN], SKUS: [PRICING, TROUBLE["billing"]],
    LIMITS: [AT_LIMIT, "KB-123", PRICING], AT_LIMIT: [LIMITS, "KB-123"], CHANGE_PLAN: ["KB-110", "KB-111"],
    "KB-110": [CHANGE_PLAN, FAQ["billing"]], "KB-111": ["KB-112", CHANGE_PLAN], "KB-112": ["KB-178", "KB-182", FAQ["security"]],
    "KB-113": ["KB-114"], "KB-114": ["KB-113"], "KB-115": ["KB-181"],
    TROUBLE["runs"]: ["KB-122", "KB-175"], TROUBLE["webhooks"]: ["KB-172", "KB-124"],
    TROUBLE["connections"]: ["KB-120", "KB-121", "KB-174"], TROUBLE["slow"]: [LIMITS, "KB-183"],
}


def render_corpus(facts: dict) -> list[dict]:
    """Render every article from ``facts``; returns records with body and stated fact keys."""
    cat = catalogue(facts)
    titles = {aid: title for aid, title, *_ in cat}
    out = []
    for aid, title, section, audience, fn in cat:
        doc = Doc(aid, title, section, audience, random.Random(f"{SEED}:{aid}"))
        fn(doc, facts)
        for head, text in EXTRA_SECTIONS.get(aid, []):
            doc.h(head)
            doc.p(text)
        related = RELATED.get(aid)
        if related is None:
            related = _default_related(aid, section, cat)
        _related(doc, titles, related)
        out.append({"id": aid, "title": title, "section": section, "audience": audience,
                    "body": doc.body(), "facts": sorted(doc.facts)})
    return out


def _default_related(aid: str, section: str, cat: list) -> list[str]:
    """Neighbours in the same section (at most three), for articles without a hand-picked list."""
    same = [a for a, _t, s, _au, _fn in cat if s == section and a != aid]
    if section == "internal":
        return []
    return same[:3]
