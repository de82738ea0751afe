"""The analytics database (a seeded SQLite dump) and the ``sql`` task.

The database is generated from the facts (plans, prices, SKUs, error codes, regions)
with a seeded RNG and written as a plain SQL text dump. Questions come from query
families, each with several phrasings and parameters; every gold query is executed
at generation time and kept only if it returns a non-empty, non-zero result.
"""

from __future__ import annotations

import datetime as dt
import random
import sqlite3
from collections.abc import Callable

from .text import norm_key, vary

SEED_Q = 4242
EU = {"Belgium", "Germany", "France", "Netherlands", "Ireland", "Spain"}
WORKFLOWS = ["Sync new leads", "Nightly invoice export", "Onboard new hire", "Route urgent tickets", "Weekly KPI report",
             "Approve purchase orders", "Backup form entries", "Notify on failed payment", "Update inventory",
             "Close stale tickets", "Post release notes", "Enrich new contacts"]
ADJ = ["Blue", "North", "Quiet", "Rapid", "Silver", "Amber", "Cedar", "Harbor", "Lumen", "Granite", "Willow", "Copper",
       "Nimbus", "Orchid", "Pioneer", "Summit", "Velvet", "Zephyr", "Atlas", "Beacon"]
NOUN = ["Labs", "Logistics", "Health", "Retail", "Studio", "Foods", "Legal", "Analytics", "Travel", "Energy", "Media",
        "Robotics"]


def _date(rng: random.Random, start: str, end: str) -> str:
    a, b = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return (a + dt.timedelta(days=rng.randint(0, (b - a).days))).isoformat()


def build_rows(facts: dict) -> dict[str, list[tuple]]:
    """Rows of every table, generated deterministically from the facts."""
    a = facts["analytics"]
    rng = random.Random(a["seed"])
    plans = list(facts["plans"])
    names = [f"{x} {y}" for x in ADJ for y in NOUN]
    rng.shuffle(names)
    customers = []
    for cid in range(1, a["tables"]["customers"]["rows"] + 1):
        country = rng.choice(a["countries"])
        region = (rng.choice(["eu-central", "eu-central", "eu-west"]) if country in EU else
                  rng.choice(["us-east", "us-east", "us-west"]) if country in ("United States", "Canada") else "ap-southeast")
        plan = rng.choices(plans, weights=[35, 35, 20, 10])[0]
        seats = rng.randint(1, min(facts["plans"][plan]["limits"]["seats"], 120))
        customers.append((cid, names[cid - 1], country, region, plan, _date(rng, "2021-01-01", "2024-12-31"), seats))
    subs = []
    sid = 0
    for c in customers:
        cycle = rng.choice(["monthly", "monthly", "annual"])
        p = facts["plans"][c[4]]
        sid += 1
        status = rng.choices(["active", "past_due"], weights=[12, 1])[0]
        mrr = p["price_monthly_usd"] if cycle == "monthly" else round(p["price_annual_usd"] / 12, 2)
        subs.append((sid, c[0], c[4], p["sku_monthly"] if cycle == "monthly" else p["sku_annual"], cycle,
                     max(c[5], _date(rng, "2023-01-01", "2024-12-31")), None, status, float(mrr)))
    while len(subs) < a["tables"]["subscriptions"]["rows"]:
        c = rng.choice(customers)
        old = rng.choice([x for x in plans if x != c[4]])
        p = facts["plans"][old]
        cycle = rng.choice(["monthly", "annual"])
        start = _date(rng, c[5], "2024-06-30") if c[5] < "2024-06-30" else c[5]
        end = (dt.date.fromisoformat(start) + dt.timedelta(days=rng.randint(30, 300))).isoformat()
        sid += 1
        mrr = p["price_monthly_usd"] if cycle == "monthly" else round(p["price_annual_usd"] / 12, 2)
        subs.append((sid, c[0], old, p["sku_monthly"] if cycle == "monthly" else p["sku_annual"], cycle, start, end,
                     "cancelled", float(mrr)))
    invoices = []
    for iid in range(1, a["tables"]["invoices"]["rows"] + 1):
        s = rng.choice(subs)
        p = facts["plans"][s[2]]
        amount = p["price_monthly_usd"] if s[4] == "monthly" else p["price_annual_usd"]
        status = rng.choices(["paid", "open", "refunded"], weights=[17, 2, 1])[0]
        invoices.append((iid, s[1], s[0], _date(rng, "2024-01-01", "2025-01-31"), float(amount), status))
    codes = sorted(facts["error_codes"])
    runs = []
    for rid in range(1, a["tables"]["workflow_runs"]["rows"] + 1):
        c = rng.choice(customers)
        status = rng.choices(["succeeded", "failed", "cancelled"], weights=[16, 3, 1])[0]
        started = f"{_date(rng, '2024-10-01', '2025-01-31')}T{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:00Z"
        duration = int(rng.lognormvariate(8.5, 1.0))
        runs.append((rid, c[0], rng.choice(WORKFLOWS), started, duration, status,
                     rng.choice(codes[:18]) if status == "failed" else None))
    tickets = []
    base = {"urgent": 20, "high": 90, "normal": 300, "low": 900}
    for tid in range(1, a["tables"]["tickets"]["rows"] + 1):
        c = rng.choice(customers)
        prio = rng.choices(["low", "normal", "high", "urgent"], weights=[3, 5, 3, 1])[0]
        area = rng.choice(["billing", "workflows", "integrations", "account", "api", "security"])
        code = rng.choice(codes) if area in ("workflows", "integrations", "api") and rng.random() < 0.6 else None
        factor = 5 - facts["plans"][c[4]]["rank"]
        tickets.append((tid, c[0], _date(rng, "2024-06-01", "2025-01-31"), area, prio,
                        rng.choices(["open", "pending", "solved"], weights=[1, 1, 4])[0], code,
                        int(base[prio] * factor * rng.uniform(0.3, 1.2))))
    return {"customers": customers, "subscriptions": subs, "invoices": invoices, "workflow_runs": runs, "tickets": tickets}


def _literal(v: object) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    if isinstance(v, float):
        return repr(round(v, 2))
    return str(v)


def dump_sql(facts: dict) -> str:
    """The whole database as a deterministic SQL script (schema + inserts)."""
    rows = build_rows(facts)
    lines = ["-- Corvasse Flow analytics database (synthetic).",
             "-- Generated by `python -m helpers.datagen` from data/facts/facts_v1.json; do not edit by hand.",
             "-- Load it with helpers.data.analytics_db() or: sqlite3 analytics.db < analytics.sql",
             "BEGIN TRANSACTION;"]
    for table, t in facts["analytics"]["tables"].items():
        cols = ",\n  ".join(f"{c} {ty}" + (" PRIMARY KEY" if d == "primary key" else "") for c, ty, d in t["columns"])
        lines.append(f"CREATE TABLE {table} (\n  {cols}\n);")
    for table, rs in rows.items():
        for r in rs:
            lines.append(f"INSERT INTO {table} VALUES({','.join(_literal(v) for v in r)});")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- questions

Family = tuple[str, list[str], Callable[[dict], str], Callable[[random.Random, dict], dict]]


def _families(facts: dict) -> list[Family]:
    """Query families: (name, phrasings, SQL builder, parameter sampler)."""
    plans = list(facts["plans"])
    pn = {p: facts["plans"][p]["name"] for p in plans}
    countries = facts["analytics"]["countries"]
    regions = ["eu-central", "eu-west", "us-east", "us-west", "ap-southeast"]
    codes = sorted(facts["error_codes"])[:18]
    areas = ["billing", "workflows", "integrations", "account", "api", "security"]
    prios = ["low", "normal", "high", "urgent"]
    months = [f"2024-{m:02d}" for m in range(1, 13)] + ["2025-01"]
    month_names = {f"2024-{m:02d}": dt.date(2024, m, 1).strftime("%B 2024") for m in range(1, 13)}
    month_names["2025-01"] = "January 2025"

    def P(rng: random.Random, d: dict) -> dict:  # noqa: N802 - small sampler helpers
        p = rng.choice(plans)
        return {"plan": p, "Plan": pn[p]}

    return [
        ("count_plan", ["How many customers are on the {Plan} plan?", "Count the customers whose plan is {plan}.",
                        "Number of {Plan} customers?", "how many accounts use {Plan} right now"],
         lambda a: f"SELECT COUNT(*) FROM customers WHERE plan = '{a['plan']}';", P),
        ("count_country", ["How many customers are based in {country}?", "Count customers in {country}.",
                           "Number of customers with a billing address in {country}?", "how many {country} customers do we have"],
         lambda a: f"SELECT COUNT(*) FROM customers WHERE country = '{a['country']}';",
         lambda r, d: {"country": r.choice(countries)}),
        ("count_country_plan", ["How many {Plan} customers are in {country}?", "Count customers in {country} on the {Plan} plan.",
                                "Number of customers from {country} whose plan is {plan}?"],
         lambda a: f"SELECT COUNT(*) FROM customers WHERE country = '{a['country']}' AND plan = '{a['plan']}';",
         lambda r, d: {**P(r, d), "country": r.choice(countries)}),
        ("per_plan", ["How many customers are there on each plan?", "Count customers per plan.",
                      "Give the number of customers for every plan.", "customer count grouped by plan",
                      "Break down our customers by plan, with counts."],
         lambda a: "SELECT plan, COUNT(*) FROM customers GROUP BY plan;", lambda r, d: {}),
        ("per_country_top", ["Which {n} countries have the most customers?", "List the top {n} countries by number of customers.",
                             "Top {n} customer countries with their counts?"],
         lambda a: f"SELECT country, COUNT(*) AS n FROM customers GROUP BY country ORDER BY n DESC, country LIMIT {a['n']};",
         lambda r, d: {"n": r.choice([3, 4, 5])}),
        ("revenue_month", ["What was the total of paid invoices issued in {month_name}?", "Sum of paid invoice amounts for {month_name}?",
                           "How much revenue did paid invoices bring in {month_name}?", "total paid invoice amount in {month_name}"],
         lambda a: f"SELECT SUM(amount_usd) FROM invoices WHERE status = 'paid' AND issued_on LIKE '{a['month']}%';",
         lambda r, d: (lambda m: {"month": m, "month_name": month_names[m]})(r.choice(months))),
        ("open_invoices_country", ["How many open invoices do customers in {country} have?",
                                   "Count open invoices belonging to customers from {country}.",
                                   "Number of unpaid (open) invoices for {country} customers?"],
         lambda a: ("SELECT COUNT(*) FROM invoices i JOIN customers c ON c.customer_id = i.customer_id "
                    f"WHERE i.status = 'open' AND c.country = '{a['country']}';"),
         lambda r, d: {"country": r.choice(countries)}),
        ("avg_duration", ["What is the average duration in milliseconds of successful runs of '{wf}'?",
                          "Average run time (ms) of succeeded runs of the workflow {wf}?",
                          "On average, how long do successful '{wf}' runs take, in ms?"],
         lambda a: f"SELECT AVG(duration_ms) FROM workflow_runs WHERE workflow_name = '{a['wf']}' AND status = 'succeeded';",
         lambda r, d: {"wf": r.choice(WORKFLOWS)}),
        ("failed_code", ["How many failed runs had error {code}?", "Count runs that failed with {code}.",
                         "Number of workflow runs with error code {code}?", "how often did {code} make a run fail"],
         lambda a: f"SELECT COUNT(*) FROM workflow_runs WHERE status = 'failed' AND error_code = '{a['code']}';",
         lambda r, d: {"code": r.choice(codes)}),
        ("top_failed_customers", ["Which {n} companies have the most failed runs?", "List the {n} customers with the most failed runs, with counts.",
                                  "Top {n} companies by number of failed workflow runs?"],
         lambda a: ("SELECT c.company, COUNT(*) AS failed FROM workflow_runs r JOIN customers c ON c.customer_id = r.customer_id "
                    f"WHERE r.status = 'failed' GROUP BY c.customer_id, c.company ORDER BY failed DESC, c.company LIMIT {a['n']};"),
         lambda r, d: {"n": r.choice([3, 5, 10])}),
        ("common_error", ["What is the most common error code among failed runs?", "Which error code appears most often in failed runs?",
                          "Most frequent CFX code in failed runs?"],
         lambda a: ("SELECT error_code, COUNT(*) AS n FROM workflow_runs WHERE status = 'failed' "
                    "GROUP BY error_code ORDER BY n DESC, error_code LIMIT 1;"), lambda r, d: {}),
        ("tickets_prio_status", ["How many {prio} tickets are {status}?", "Count tickets with priority {prio} and status {status}.",
                                 "Number of {status} tickets whose priority is {prio}?"],
         lambda a: f"SELECT COUNT(*) FROM tickets WHERE priority = '{a['prio']}' AND status = '{a['status']}';",
         lambda r, d: {"prio": r.choice(prios), "status": r.choice(["open", "pending", "solved"])}),
        ("avg_response_prio", ["What is the average first-response time in minutes for each priority?",
                               "Average first_response_minutes per ticket priority?", "Mean minutes to first reply, grouped by priority."],
         lambda a: "SELECT priority, AVG(first_response_minutes) FROM tickets GROUP BY priority;", lambda r, d: {}),
        ("tickets_area_month", ["How many {area} tickets were opened in {month_name}?", "Count tickets about {area} opened during {month_name}.",
                                "Number of {area} tickets created in {month_name}?"],
         lambda a: f"SELECT COUNT(*) FROM tickets WHERE product_area = '{a['area']}' AND opened_on LIKE '{a['month']}%';",
         lambda r, d: (lambda m: {"area": r.choice(areas), "month": m, "month_name": month_names[m]})(r.choice(months[5:]))),
        ("signups_year_plan", ["List the companies that signed up in {year} and are on the {Plan} plan, alphabetically.",
                               "Which {Plan} customers signed up in {year}? Sort by company name.",
                               "Companies on {plan} with a {year} signup date, in alphabetical order?"],
         lambda a: (f"SELECT company FROM customers WHERE plan = '{a['plan']}' AND signup_date LIKE '{a['year']}%' "
                    "ORDER BY company;"),
         lambda r, d: {**P(r, d), "year": r.choice([2021, 2022, 2023, 2024])}),
        ("active_cycle", ["How many active subscriptions are billed {cycle}?", "Count active {cycle} subscriptions.",
                          "Number of subscriptions that are active with {cycle} billing?"],
         lambda a: f"SELECT COUNT(*) FROM subscriptions WHERE status = 'active' AND billing_cycle = '{a['cycle']}';",
         lambda r, d: {"cycle": r.choice(["monthly", "annual"])}),
        ("mrr_plan", ["What is the total MRR of active {Plan} subscriptions?", "Sum the monthly recurring revenue of active {plan} subscriptions.",
                      "Total mrr_usd for active subscriptions on {Plan}?"],
         lambda a: f"SELECT SUM(mrr_usd) FROM subscriptions WHERE status = 'active' AND plan = '{a['plan']}';", P),
        ("past_due", ["Which companies have a past-due subscription? Sort them by name.",
                      "List companies with subscriptions in past_due status, alphabetically.",
                      "Names of customers whose subscription is past due, in alphabetical order?"],
         lambda a: ("SELECT DISTINCT c.company FROM subscriptions s JOIN customers c ON c.customer_id = s.customer_id "
                    "WHERE s.status = 'past_due' ORDER BY c.company;"), lambda r, d: {}),
        ("avg_seats", ["What is the average number of seats used by {Plan} customers?", "Average seats_used on the {plan} plan?",
                       "On average, how many seats do {Plan} accounts use?"],
         lambda a: f"SELECT AVG(seats_used) FROM customers WHERE plan = '{a['plan']}';", P),
        ("runs_status_region", ["How many runs of each status come from customers in {region}?",
                                "Count workflow runs per status for customers whose region is {region}.",
                                "Break down runs by status for the {region} region."],
         lambda a: ("SELECT r.status, COUNT(*) FROM workflow_runs r JOIN customers c ON c.customer_id = r.customer_id "
                    f"WHERE c.region = '{a['region']}' GROUP BY r.status;"),
         lambda r, d: {"region": r.choice(regions)}),
        ("slowest_response_area", ["Which {area} ticket waited longest for a first response? Give its id.",
                                   "Id of the {area} ticket with the highest first_response_minutes?",
                                   "What is the ticket_id of the slowest first reply among {area} tickets?"],
         lambda a: (f"SELECT ticket_id FROM tickets WHERE product_area = '{a['area']}' "
                    "ORDER BY first_response_minutes DESC, ticket_id LIMIT 1;"),
         lambda r, d: {"area": r.choice(areas)}),
        ("busy_customers_region", ["Which customers in {region} have more than {k} tickets? List company names alphabetically.",
                                   "List companies in region {region} with over {k} support tickets, sorted by name.",
                                   "Companies from {region} that opened more than {k} tickets, in alphabetical order?"],
         lambda a: ("SELECT c.company FROM tickets t JOIN customers c ON c.customer_id = t.customer_id "
                    f"WHERE c.region = '{a['region']}' GROUP BY c.customer_id, c.company HAVING COUNT(*) > {a['k']} "
                    "ORDER BY c.company;"),
         lambda r, d: {"region": r.choice(regions), "k": r.choice([1, 2, 3])}),
        ("invoice_status_year", ["How many invoices of each status were issued in {year}?", "Count invoices per status for {year}.",
                                 "Invoice counts by status, {year} only?"],
         lambda a: f"SELECT status, COUNT(*) FROM invoices WHERE issued_on LIKE '{a['year']}%' GROUP BY status;",
         lambda r, d: {"year": r.choice([2024, 2025])}),
        ("wf_many_failures", ["Which workflows failed more than {k} times? Sort by name.",
                              "List workflow names with over {k} failed runs, alphabetically.",
                              "Workflows with more than {k} failures, in alphabetical order?"],
         lambda a: ("SELECT workflow_name FROM workflow_runs WHERE status = 'failed' GROUP BY workflow_name "
                    f"HAVING COUNT(*) > {a['k']} ORDER BY workflow_name;"),
         lambda r, d: {"k": r.choice([5, 8, 10, 12, 15])}),
        ("first_signup_plan", ["When did the first {Plan} customer sign up?", "Earliest signup_date among {plan} customers?",
                               "What is the oldest signup date on the {Plan} plan?"],
         lambda a: f"SELECT MIN(signup_date) FROM customers WHERE plan = '{a['plan']}';", P),
        ("refunded_total_plan", ["What is the total amount of refunded invoices for {Plan} subscriptions?",
                                 "Sum of refunded invoice amounts on {plan} subscriptions?",
                                 "How much was refunded on invoices of {Plan} subscriptions?"],
         lambda a: ("SELECT SUM(i.amount_usd) FROM invoices i JOIN subscriptions s ON s.subscription_id = i.subscription_id "
                    f"WHERE i.status = 'refunded' AND s.plan = '{a['plan']}';"), P),
    ]


def _nonempty(conn: sqlite3.Connection, sql: str) -> bool:
    rows = conn.execute(sql).fetchall()
    return bool(rows) and all(v is not None for v in rows[0]) and rows[0] != (0,)


def sql_task(facts: dict, sizes: dict[str, int] | None = None) -> dict[str, list[dict]]:
    """Generate NL -> SQL items; gold queries return non-empty results on the shipped database."""
    sizes = sizes or {"train": 320, "dev": 60, "test": 120}
    conn = sqlite3.connect(":memory:")
    conn.executescript(dump_sql(facts))
    rng = random.Random(f"{SEED_Q}:sql")
    fams = _families(facts)
    pool: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    for _round in range(60):
        for name, phrasings, build, sample in fams:
            args = sample(rng, {})
            q = vary(rng.choice(phrasings), args, rng, typo_rate=0.08)
            sql = build(args)
            if norm_key(q) in seen or not _nonempty(conn, sql):
                continue
            seen.add(norm_key(q))
            pool.append((name, q, sql))
    rng.shuffle(pool)
    out: dict[str, list[dict]] = {}
    start = 0
    for split in ("test", "dev", "train"):
        chunk = pool[start:start + sizes[split]]
        start += sizes[split]
        out[split] = [{"id": f"sql-{split}-{i:04d}", "task": "sql", "split": split, "question": q, "sql": s, "family": n}
                      for i, (n, q, s) in enumerate(chunk, 1)]
    conn.close()
    return out
