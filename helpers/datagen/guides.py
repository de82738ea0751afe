"""How-to guides and the longer prose blocks shared by several article types.

These guides state few facts of their own; they give the corpus the bulk and the
variety of a real help centre, so that retrieval has to find the right article
among many plausible ones.
"""

from __future__ import annotations

from .doc import Doc

RECIPES = [
    "When {a} reports something new, post a one-line summary to {b} and keep the link.",
    "Every morning, collect yesterday's items from {a} and write them as rows to {b}.",
    "When a record changes in {a}, update the matching record in {b} so that both stay in step.",
    "Route urgent items from {a} to {b}, and everything else to a daily digest.",
    "Ask a named approver before anything from {a} is copied into {b}.",
    "Enrich each new item from {a} with data looked up in {b}, then store the result.",
    "When a step that talks to {a} fails twice, open a ticket in {b} with the run link.",
    "Archive items in {a} older than ninety days and record what was archived in {b}.",
]

PARTNERS = ["Slack", "Google Sheets", "Jira Cloud", "Zendesk", "HubSpot", "Notion", "Gmail", "Microsoft Teams"]

TROUBLE_TIPS = [
    "If steps suddenly fail after weeks of working, reconnect first: most apps expire authorisations after a password change.",
    "A step that returns nothing is not an error: add a branch that handles the empty case explicitly.",
    "Rate limits in the other app show up as slow runs before they show up as failures.",
    "Field names differ between the app's interface and its API; the mapping panel shows the API names.",
    "Test with a real record, not an empty one: empty records hide mapping mistakes.",
    "Time zones matter for polling triggers: the interval is counted in UTC.",
    "Large lists are read page by page; the run log shows how many pages each step fetched.",
]

FEATURE_DETAIL = {
    "branch_steps": "A branch step evaluates its conditions from top to bottom and follows the first path whose condition is true. Conditions compare fields from earlier steps with fixed values or with each other. A default path catches everything that matched nothing, and every path can end, merge back, or call another workflow.",
    "scheduled_triggers": "A schedule is written as an interval (every five minutes, every hour) or as a calendar rule (every weekday at 07:30). Schedules run in the time zone you choose, and the editor shows the next five start times so you can check the rule before you save it.",
    "webhook_triggers": "Each webhook trigger has its own address and signing secret. The body of the request becomes the input of the run, headers included. The trigger answers the sender at once with a 202 status, so the sender never waits for the whole run.",
    "version_history": "Every time you publish a workflow, the published version is stored with its author, time and an optional note. Restoring an older version publishes it again as a new version, so nothing is ever lost and the history stays linear.",
    "shared_connections": "A shared connection is owned by one person but usable by everyone it is shared with. Users see the connection's name and account, never its token or password. The owner can revoke sharing at any time; workflows that used it then ask for another connection.",
    "run_replay": "Replaying a run starts a new run that reuses the original trigger data and the outputs of every step that had succeeded. Only the failed step and the steps after it execute again, so records are not created twice in the other apps.",
    "approval_gates": "An approval step sends the approver a message with the run's key fields and two buttons. The run waits, without using a concurrency slot, until someone answers or the deadline passes. Deadlines, reminders and a fallback approver are set on the step.",
    "audit_log": "The audit log records sign-ins, changes to workflows and connections, role changes and billing changes. Each entry has the person, the time, the IP address and the before and after values. Entries can be filtered, exported as CSV, or streamed to your own log system.",
    "saml_sso": "Single sign-on works with any SAML 2.0 identity provider. Once it is enforced, people sign in through the provider only, and password sign-in is disabled for everyone except the owner's break-glass account.",
    "sandbox_workspaces": "A sandbox is a linked copy of the workspace with its own connections, usually pointed at test accounts of your apps. Changes are promoted from the sandbox to the main workspace as a bundle, which shows a diff before anything is applied.",
    "scim_provisioning": "With SCIM, the identity provider creates a person when they join a group, updates their role when they move, and removes them when they leave. Seats are assigned and freed automatically, and the audit log records every change the provider makes.",
    "residency_pinning": "Residency Pinning keeps processing inside the home region even when the region fails over. During a regional outage, pinned workspaces pause instead of moving, which is the trade-off that makes the guarantee possible.",
    "bring_your_own_key": "Bring Your Own Key wraps the workspace's data keys with a key that stays in your own key service. Revoking access to that key makes stored data unreadable for Corvasse within minutes, which is also why runs stop if the key becomes unreachable.",
    "priority_queue": "Workflows on the priority list start before all others when the workspace is at its concurrency limit. Order within the priority list is first come, first served, and runs already in progress are never interrupted.",
}


def integration_extras(doc: Doc, name: str) -> None:
    """Recipes and troubleshooting tips for one integration guide."""
    doc.h(doc.pick("What people build with it", "Popular recipes", "Ideas to start from"))
    partners = [p for p in PARTNERS if p != name]
    recipes = doc.rng.sample(RECIPES, 3)
    doc.bullets([r.format(a=name, b=doc.rng.choice(partners)) for r in recipes])
    doc.h(doc.pick("Troubleshooting", "When something goes wrong", "Common problems"))
    doc.bullets(doc.rng.sample(TROUBLE_TIPS, 3))


def feature_extras(doc: Doc, fid: str) -> None:
    """The 'how it works' section and limitations of a feature article."""
    doc.h(doc.pick("How it works", "In detail", "What happens behind the scenes"))
    doc.p(FEATURE_DETAIL[fid])
    doc.h(doc.pick("Who can use it", "Permissions"))
    doc.p(doc.pick(
        "Owners and admins can configure it. Builders can use it in the workflows they edit. Viewers can see its results but not change it.",
        "Configuration is limited to owners and admins; builders use it day to day; viewers only see the outcome.",
        "Any builder can use it once an admin has set it up. Viewers have read-only access.",
    ))


HOWTOS: dict[str, tuple[str, list[tuple[str, list[str]]]]] = {
    "KB-165": ("Build your first workflow", [
        ("Before you start", ["Decide what should start the workflow and what the result should be. Write it down in one sentence, for example: when a form is submitted, add the person to the mailing list and tell the sales channel.",
                              "Make sure the apps you need are connected under Settings > Connections; you can also connect them while you build."]),
        ("Add a trigger", ["Click New workflow, give it a name, and choose a trigger. A schedule, a webhook or an app event are the three kinds.",
                           "Pick the connection and the event. The editor fetches a sample so that later steps can map its fields."]),
        ("Add steps", ["Click the plus sign under the trigger to add a step. Choose the app and the action, then map each required field from the sample data.",
                       "Fields marked with a red dot are required. The preview on the right shows what the step would send."]),
        ("Test and switch on", ["Click Test to run the workflow once with the sample. Test runs do not count toward your monthly runs.",
                                "When the test is green, switch the workflow on. From now on every trigger event starts a run, listed under the Runs tab."]),
    ]),
    "KB-166": ("Variables, expressions and mapping", [
        ("Mapping fields", ["Every step can use the output of the trigger and of any earlier step. Click a field and choose the value from the data picker, or type an expression.",
                            "Mappings are checked when you save: a mapping that points to a step you deleted is highlighted."]),
        ("Expressions", ["Expressions are written between double braces. They can join text, do arithmetic, format dates and pick items from lists.",
                         "The expression editor shows the result for the sample data as you type, so mistakes show up before the first run."]),
        ("Workspace variables", ["Values that several workflows share, such as a team email address or a threshold, belong in workspace variables under Settings > Variables.",
                                 "Secret variables are masked in run logs and cannot be read back once saved."]),
    ]),
    "KB-167": ("Roles and permissions", [
        ("The four roles", ["Owners control billing, security and deletion of the workspace. There is exactly one owner.",
                            "Admins manage members, connections and settings. Builders create and edit workflows. Viewers can read workflows and runs but change nothing."]),
        ("Seats", ["Owners, admins and builders use a seat. Viewers are free and unlimited on every plan.",
                   "Changing someone from builder to viewer frees their seat immediately."]),
        ("Folder permissions", ["Workflows can be grouped in folders, and each folder can be limited to some builders. Admins always see every folder.",
                                "Restricted folders are useful for finance or HR automations that only a few people should edit."]),
    ]),
    "KB-168": ("Working with files", [
        ("Where files come from", ["Files enter a run from a trigger (an email attachment, an upload) or from a step that downloads them.",
                                   "Each file gets a reference that later steps can pass on without copying the data."]),
        ("Keeping files", ["Files are kept while the run log is kept. Use a storage step to keep a file for longer; stored files count toward your plan's storage.",
                           "The storage gauge under Settings > Usage shows what is stored and by which workflow."]),
        ("Large files", ["Each plan has a maximum size for a single file. Compress large files before they enter the workflow where you can.",
                         "Steps that stream data, like the CSV reader, handle long files without loading them completely."]),
    ]),
    "KB-169": ("Using the REST API", [
        ("Authentication", ["Create an API key under Settings > API. A key belongs to the workspace, not to a person, and can be limited to read-only access.",
                            "Send the key in the Authorization header as a bearer token. Never put a key in a URL."]),
        ("What you can do", ["Start workflows, read runs and their logs, list workflows, and manage workspace variables.",
                             "Every endpoint is documented in the API reference, with examples in curl, Python and JavaScript."]),
        ("Rate limits", ["The API has a per-minute rate limit that depends on the plan. Responses carry headers that show how many requests remain in the current window.",
                         "When you receive HTTP 429, wait for the number of seconds in the Retry-After header before trying again."]),
    ]),
    "KB-184": ("Monitoring runs and alerts", [
        ("The Runs tab", ["The Runs tab lists every run with its status, duration and trigger. Filter by workflow, status or date, or search by a value from the input.",
                          "Click a run to see the timeline: each step with its input, output and time taken."]),
        ("Alerts", ["Alerts notify you when a workflow fails, when it fails several times in a row, or when it has not run for longer than expected.",
                    "Alerts can go to email, to a chat channel, or to a webhook that feeds your own monitoring."]),
        ("Usage", ["Settings > Usage shows runs, storage and seats against your plan's limits, with a forecast for the end of the month.",
                   "Owners receive an email when a monthly limit reaches 80% and again at 100%."]),
    ]),
    "KB-185": ("Importing and exporting workflows", [
        ("Export", ["Any workflow can be exported as a JSON file from its menu. The export contains the steps and mappings but never connection secrets.",
                    "Exports are a good way to keep workflows in your own version control."]),
        ("Import", ["Import a file from the Workflows page. Corvasse Flow asks you to pick a connection for every app the workflow uses.",
                    "Imported workflows start switched off, so you can review them first."]),
        ("Moving between workspaces", ["To move many workflows at once, export a folder. Sandbox workspaces offer a promotion flow with a diff instead."]),
    ]),
    "KB-186": ("Testing workflows safely", [
        ("Test runs", ["A test run executes the workflow once with sample data. Steps that write to other apps really write, so point them at test records.",
                       "Test runs are marked with a flask icon and do not count toward your monthly runs."]),
        ("Dry-run mode", ["Steps that create or update records have a dry-run switch that shows what would be sent without sending it.",
                          "Use it on the first test of a workflow that touches customer data."]),
        ("Separate environments", ["For critical workflows, keep a second set of connections to test accounts, or use a sandbox workspace on plans that include one."]),
    ]),
    "KB-187": ("Naming and organising workflows", [
        ("Names that explain themselves", ["Name a workflow after its trigger and its outcome: 'New invoice -> notify finance' says more than 'Invoice flow 2'.",
                                           "Describe each workflow in one sentence; the description appears in search results."]),
        ("Folders and tags", ["Group workflows by team in folders and use tags for cross-cutting themes such as 'customer-facing' or 'nightly'.",
                              "Tags can be used to filter the Runs tab and the usage report."]),
        ("Owners", ["Give each workflow an owner who receives its alerts. When someone leaves, reassign their workflows before removing them."]),
    ]),
    "KB-188": ("Error handling in workflows", [
        ("Retries", ["Steps that call other apps retry automatically when the failure looks temporary, with a growing pause between attempts.",
                     "The retry policy of a step can be changed in the step's advanced settings."]),
        ("Error paths", ["Any step can have an error path: a small branch that runs only when the step fails. Use it to notify a person or to record the failure.",
                         "A run that follows an error path and finishes is marked as succeeded with warnings."]),
        ("Stopping early", ["The Stop step ends a run on purpose, with a status and a message of your choice. Use it when the input is not something the workflow should handle."]),
    ]),
    "KB-189": ("Workspace settings overview", [
        ("General", ["Name, logo, default time zone and language of the workspace. The time zone is used by schedules that do not set their own."]),
        ("Members and roles", ["Invite people, change roles and remove members. Invitations expire after seven days."]),
        ("Security", ["Multi-factor authentication, session length, single sign-on, audit log and encryption keys, depending on the plan."]),
        ("Billing and usage", ["Plan, payment method, invoices, billing contact and the usage report. Only owners and billing admins see this section."]),
    ]),
}


def howto(aid: str):
    """Renderer for the how-to guide ``aid``."""
    title, sections = HOWTOS[aid]

    def render(doc: Doc, f: dict) -> None:
        doc.p(doc.pick(f"This guide walks you through {title.lower()}.",
                       "Follow these steps; each section stands on its own.",
                       f"Everything you need to know about {title.lower()}, in a few minutes of reading."))
        for head, paras in sections:
            doc.h(head)
            for para in paras:
                doc.p(para)
    return render

HOWTOS.update({
    "KB-195": ("Scheduling best practices", [
        ("Pick the right interval", ["Run a schedule as often as the business needs, not as often as possible. A report read once a day does not need an hourly workflow, and every run counts toward the monthly allowance.",
                                     "For near-real-time needs, an app trigger or a webhook is cheaper than a tight schedule."]),
        ("Spread the load", ["Schedules that all start at the top of the hour queue behind each other. Start them at odd minutes, such as 07:13 or 07:41, and they finish sooner.",
                             "Heavy nightly jobs are best placed outside the working hours of the apps they call."]),
        ("Time zones and daylight saving", ["Each schedule has a time zone. Calendar rules follow daylight saving changes, so a 07:30 schedule stays at 07:30 local time all year.",
                                            "Interval schedules (every N minutes) ignore daylight saving and simply count minutes."]),
    ]),
    "KB-196": ("Loops and lists", [
        ("Looping over items", ["A loop step runs the steps inside it once for every item of a list. The current item and its position are available to the inner steps.",
                                "Each loop has an iteration cap to protect you from runaway lists; the cap is a workspace setting."]),
        ("Filtering first", ["Filter the list before the loop whenever you can. A filter step is evaluated once, while steps inside a loop are evaluated for every item.",
                             "Sorting and de-duplicating are also cheaper before the loop than inside it."]),
        ("Collecting results", ["The loop's output is a list with one entry per iteration. Use a collect step after the loop to turn it into a table, a sum or a single message."]),
    ]),
    "KB-197": ("The HTTP step", [
        ("When to use it", ["The HTTP step calls any web API that has no dedicated integration. It supports GET, POST, PUT, PATCH and DELETE with JSON, form or raw bodies.",
                            "Responses in JSON are parsed automatically so that later steps can map their fields."]),
        ("Authentication", ["Store tokens in secret workspace variables and reference them in headers. Basic authentication and OAuth client credentials are built in.",
                            "Never paste a token directly into a URL: URLs appear in run logs."]),
        ("Errors and retries", ["Responses with a status of 500 or above are retried with a growing pause. Responses in the 400 range fail at once, because repeating the same request would fail again."]),
    ]),
    "KB-198": ("Transforming data", [
        ("Built-in transforms", ["Text, number, date and list transforms cover most needs without code: split a name, round a price, add days to a date, pick the first item.",
                                 "Each transform shows a live preview with the sample data."]),
        ("Code steps", ["For anything more complex, a code step runs a short JavaScript or Python function with the step's input and returns an object.",
                        "Code steps have no network access and a time limit of ten seconds; use an HTTP step for calls to other systems."]),
        ("Tables", ["The table transform turns a list of objects into rows and columns, which several integrations accept directly, such as spreadsheets and databases."]),
    ]),
    "KB-199": ("Collaborating on workflows", [
        ("Comments", ["Anyone with access can leave a comment on a step. Mention a colleague with @ and they receive an email with a link to the step.",
                      "Resolved comments are hidden but kept, so the discussion behind a change is never lost."]),
        ("Editing together", ["Two people can open the same workflow. The first to start editing holds the lock; the other sees changes live and can take over when the lock is released."]),
        ("Handing over", ["Before someone goes on leave, make a colleague the owner of their workflows so that alerts reach a person who is around."]),
    ]),
})

GLOSSARY = [
    ("Workspace", "the container for workflows, connections, members, billing and settings"),
    ("Workflow", "a trigger followed by steps that describes an automation"),
    ("Trigger", "the event that starts a workflow: a schedule, a webhook or an app event"),
    ("Step", "one action in a workflow, such as calling an app or transforming data"),
    ("Run", "one execution of a workflow, with its own log"),
    ("Test run", "a run started from the editor with sample data; it does not count toward limits"),
    ("Connection", "a stored authorisation to another app"),
    ("Mapping", "the link between a field of an earlier step and an input of a later one"),
    ("Expression", "a small formula between double braces that computes a value"),
    ("Branch", "a step that sends the run down one of several paths"),
    ("Loop", "a step that repeats inner steps for each item of a list"),
    ("Error path", "steps that run only when a given step fails"),
    ("Seat", "a paid place for an owner, admin or builder"),
    ("Viewer", "a free role that can read workflows and runs but change nothing"),
    ("Home region", "the region where a workspace's data is stored and its runs execute"),
    ("Overage", "runs beyond the monthly allowance, billed at the end of the month when allowed"),
    ("SKU", "the billing code of a plan and billing cycle, shown on invoices"),
    ("Service credit", "a discount on the next invoice when uptime falls below the commitment"),
    ("Sandbox", "a linked copy of a workspace used to test changes before promoting them"),
    ("Polling interval", "how often a polling trigger checks an app for new data"),
]


def glossary(doc: Doc, f: dict) -> None:
    """A glossary of the product's terms."""
    doc.p(doc.pick("The words used across the help centre, in one place.", "A short dictionary of Corvasse Flow terms."))
    doc.bullets([f"**{term}**: {meaning}." for term, meaning in GLOSSARY])
    doc.p("If a term is missing, ask support and we will add it here.")


def browsers(doc: Doc, f: dict) -> None:
    """Browser support and accessibility."""
    doc.p("The Corvasse Flow editor runs in the browser; nothing needs to be installed.")
    doc.h("Supported browsers")
    doc.bullets(["The two latest versions of Chrome, Edge, Firefox and Safari.",
                 "Mobile browsers can view runs and approve Approval Gates but cannot edit workflows.",
                 "Third-party cookies are not needed; the app works with strict tracking protection."])
    doc.h("Accessibility")
    doc.p("The editor can be used with the keyboard alone: Tab moves between steps, Enter opens a step, and Escape closes panels.",
          "Screen readers announce step names, statuses and errors. Colours are never the only way information is shown: every status also has an icon and a label.",
          "We test each release against WCAG 2.1 level AA and publish known gaps in the accessibility statement.")


EXTRA_FAQ = {
    "billing": [("Can I change from monthly to annual billing?", "Yes, at any time; the change applies from the next renewal."),
                ("Do you charge for viewers?", "No. Viewers are free on every plan."),
                ("What happens if a payment fails?", "We retry three times over seven days and email the billing contact each time.")],
    "account": [("How long are invitations valid?", "Seven days. You can resend an expired invitation from Settings > Members."),
                ("Can one person belong to several workspaces?", "Yes. Switch between them from the workspace switcher; each has its own plan.")],
    "security": [("Can we get a data processing agreement?", "Yes. The standard DPA is available on every plan and can be signed in the app."),
                 ("Do support staff see our data?", "Only when you grant temporary access from a ticket, and every access is logged.")],
    "building": [("Can a workflow call another workflow?", "Yes, with the Call workflow step; the called workflow's run is linked from the caller's run."),
                 ("Can I pause a workflow without losing its trigger events?", "Pausing queues webhook events for up to 24 hours; polling triggers simply skip the paused time.")],
    "integrations": [("Can I request a new integration?", "Yes, from the integrations page. Requests with many votes are built first."),
                     ("Do integrations cost extra?", "No. Integrations are included; some are limited to higher plans, as each guide says.")],
}

INTEGRATION_DATA = [
    "Corvasse Flow reads and writes only the objects your steps use. Nothing is copied in the background.",
    "Data fetched by a step is kept in the run log for the plan's log retention period and then deleted.",
    "Disconnecting the integration revokes Corvasse's access at once; workflows that use it stop at their next run.",
    "The connection acts with the permissions of the account that authorised it, so use an account with only the access it needs.",
]

FEATURE_EXAMPLES = [
    "Example: a finance team uses it on its invoice workflow, where a mistake costs real money.",
    "Example: an onboarding workflow uses it so that new hires get accounts on their first morning.",
    "Example: a support team relies on it for the workflow that routes urgent tickets.",
    "Example: a sales operations team uses it to keep the CRM and the billing system in step.",
    "Example: an IT team uses it on the workflows that touch user accounts.",
]

# Extra sections appended to fixed articles (heading, paragraph). They state no plan facts.
EXTRA_SECTIONS: dict[str, list[tuple[str, str]]] = {
    "KB-100": [("Your first week", "Most teams start with one small workflow that saves someone ten minutes a day, such as copying form submissions into a spreadsheet and posting a message. Build it, watch its runs for a few days, and then automate the next thing. The guide to building a first workflow is [KB-165].")],
    "KB-108": [("Planning ahead", "The usage report forecasts the end-of-month figure for every monthly limit, based on the last seven days. When the forecast crosses the limit, the gauge turns amber. Owners can set their own alert thresholds in addition to the built-in emails at 80% and 100%.")],
    "KB-110": [("Examples", "A customer who upgrades by mistake and writes to support on the same day gets the difference back. A customer who forgets to cancel a monthly plan and writes two months later can cancel at once, but the past months stay paid. A customer on an annual plan who closes the company in the first weeks gets the unused full months back."),
               ("Chargebacks", "Please talk to us before you dispute a charge with your bank. A dispute freezes the workspace until it is resolved, which can stop production workflows.")],
    "KB-111": [("Personal data", "Corvasse acts as a processor for the personal data that flows through your workflows. Requests from people who want their data deleted are handled by you, the controller; the deletion tools under Settings > Data let you remove a person's data from run logs and stored files."),
               ("Legal holds", "If you need data kept beyond the normal periods for a legal reason, Enterprise customers can ask for a legal hold on specific workflows. The hold is recorded in the audit log.")],
    "KB-112": [("People and offices", "Every employee passes a background check where local law allows it, completes security training each year, and signs a confidentiality agreement. Access to production systems needs a hardware security key and is reviewed every quarter."),
               ("Incident response", "Security incidents follow a written plan with defined roles. Affected customers are notified without undue delay, and in any case within the period their contract and the law require.")],
    "KB-113": [("How uptime is measured", "Uptime is measured every minute from three locations outside our infrastructure. A minute counts as down when the editor or the run engine fails in at least two of them. The monthly figure is the share of minutes that were not down."),
               ("What is not covered", "Announced maintenance, problems in apps you connect to, your own network, and features marked as beta are outside the SLA. Spark workspaces run on the same infrastructure but carry no commitment.")],
    "KB-114": [("Writing a good ticket", "Say what you expected, what happened instead, and when. Add the run id, the workflow name and the error code if there is one. Screenshots help for editor problems; run ids help for everything else."),
               ("Languages", "Support answers in English, French, German and Dutch. Replies in other languages use translation and may take a little longer.")],
    "KB-115": [("Moving a workspace", "Moving to another region copies workflows, connections and stored files, then switches the workspace over during a short pause. Run logs stay in the old region until they expire. Support schedules the move with you and confirms it by email."),
               ("Failover", "If a region becomes unavailable, workspaces that allow automatic failover continue in the paired region after a few minutes. Workspaces with manual failover wait for the region to return unless the owner starts failover.")],
    "KB-116": [("Reporting abuse", "If you receive spam or attacks that seem to come from a Corvasse Flow workflow, write to the security address with the message headers. We investigate every report and never reveal who reported it.")],
    "KB-125": [("Reading the run timeline", "The timeline shows every step with a coloured bar for its duration. Grey means the step was skipped by a branch, green that it succeeded, amber that it succeeded after retries and red that it failed. Hover over a bar to see the number of attempts and the time of each."),
               ("Failures that are not errors", "A Stop step that ends a run on purpose marks it as stopped, not failed. Filter the Runs tab by 'failed' to see only real failures.")],
    "KB-126": [("Testing a webhook", "Use the Send test event button in the trigger panel to check the workflow without the sender. To test the sender, point it at the trigger address and watch the Deliveries tab: a new line appears within a second of each request."),
               ("Security", "Always verify signatures. A webhook trigger without a signature check runs for anyone who knows the address, and addresses end up in logs and screenshots more often than people expect.")],
    "KB-127": [("Identity provider checklist", "Check that the certificate in Corvasse Flow matches the one the provider signs with, that the provider sends the email address as the name identifier, and that the clocks of both systems are correct. Most single sign-on failures are one of these three.")],
    "KB-128": [("When the other app is slow", "If one app is slow for everyone, the runs that call it take longer and hold their concurrency slots, so other workflows queue behind them. Setting a shorter timeout on that app's steps frees the slots sooner; the failed steps can then be retried later.")],
    "KB-129": [("Tax and company details", "The company name, address and VAT number on invoices come from Settings > Billing > Details. Changes apply to the next invoice; to correct an issued invoice, ask support for a credit note and a new invoice.")],
    "KB-190": [("Tone in practice", "Say what happened and what the customer can do, in that order. Prefer 'Your run failed because the Slack connection expired' to a paragraph about how much we value the customer. Use the customer's words for their problem. Explain numbers with their unit."),
               ("Checking a reply", "Before sending, read the reply once for facts and once for the rules above. The support tool highlights banned phrases and counts words, but it cannot check that the cited article says what the reply says.")],
    "KB-191": [("Example queries", "Count active subscriptions per plan, list the ten customers with the most failed runs last month, or compute average first-response time per priority. All tables join on customer_id; invoices also join to subscriptions on subscription_id."),
               ("Caveats", "workflow_runs is a sample, not every run. Cancelled subscriptions keep their last plan. Refunded invoices keep their original amount; filter on status to exclude them.")],
    "KB-192": [("Severity levels", "Severity 1: production down for several customers. Severity 2: one customer's production is down or many customers see a degraded feature. Severity 3: a bug with a workaround. Severity 4: questions and requests. Only severity 1 pages the on-call engineer; severity 2 goes to the escalation channel during working hours."),
               ("After an incident", "Every severity-1 incident gets a written review within five working days. Support links the review in the tickets of affected customers and tells them what will change.")],
    "KB-193": [("Edge cases", "Duplicate charges are always refunded, whatever the amount, after checking that both charges succeeded. Refunds for overage are not offered; offer a one-time credit only with a team lead's approval. Never promise a refund before checking the policy article.")],
    "KB-194": [("What to tell the reporter", "Thank them, confirm that the report reached the security team, and say that the team will reply directly. Do not confirm or deny whether the issue is real, and do not discuss bounty amounts."),
               ("Signs of an active attack", "If the report describes data that is being taken right now, or includes another customer's data, treat it as a severity-1 incident and page the on-call engineer at once.")],
}

RELEASE_EXTRAS = [
    "Performance: the editor loads large workflows faster, and the Runs tab now pages through long histories without reloading.",
    "Reliability: retries of steps that call other apps now spread out more evenly, which reduces bursts against rate limits.",
    "Accessibility: more editor panels can be used with the keyboard alone, and screen readers announce step status changes.",
    "API: new optional fields were added to the run and workflow objects; existing fields are unchanged.",
    "Security: session handling was hardened and dependencies were updated after the regular review.",
]

ERROR_SYMPTOMS = {
    "auth": "You usually notice it because every step that uses the same connection or key fails in the same minute.",
    "connector": "You usually notice it on steps that call one particular app, while other steps keep working.",
    "run": "You usually notice it on one workflow only, often right after it was edited.",
    "limit": "You usually notice it on several workflows at once, because limits apply to the whole workspace.",
    "platform": "You usually notice it on many workflows at the same time, or on webhooks only.",
}

MAPPING_NOTES = [
    "Field mapping: the step lists the fields of the chosen object type as the app's API names them. Custom fields appear after a refresh of the connection's schema, which happens automatically once a day and on demand from the step menu.",
    "Field mapping: required fields are marked with a red dot and the step cannot be saved until they are mapped. Optional fields left empty are not sent at all, so existing values in the other app are not overwritten with blanks.",
    "Field mapping: dates are converted to the format the app expects, and numbers are sent as numbers even when the source field was text. Check the preview on the right of the step to see exactly what will be sent.",
    "Field mapping: lists can be mapped item by item or as a whole. When the app expects a single value and the source is a list, the step takes the first item and says so in the run log.",
]

FEATURE_LIMITS = [
    "Limitations: settings of this feature are copied when you duplicate a workflow, but not when you export it to a file.",
    "Limitations: changes take effect for runs that start after you save; runs in progress keep the old behaviour.",
    "Limitations: the feature is not available in test runs started from the editor, which always use default behaviour.",
    "Limitations: the API exposes this feature read-only for now; configure it in the app.",
]

ERROR_ESCALATE = [
    "If the fix does not help, open a ticket with the run id and the full log line.",
    "Still failing after the fix? Send support the run id; we can see the full request and response.",
    "When the code keeps coming back, attach two or three run ids to your ticket so we can compare them.",
]

EXTRA_SECTIONS.update({
    "KB-101": [("Discounts", "Registered charities and schools get 30% off any plan billed annually; apply from Settings > Billing with proof of status. Start-ups in a partner accelerator programme get their first year of Team at the annual price while paying monthly. Discounts cannot be combined.")],
    "KB-102": [("Credit notes", "When an invoice has to be corrected, we issue a credit note that cancels it and a new invoice with the right details. Both documents carry the same SKU lines, so your accounting system can match them automatically.")],
    "KB-107": [("Limits that are not on this table", "A few technical limits apply to every plan: a step can wait for at most 30 days, an expression can be at most 10,000 characters long, and a single workflow can contain at most 200 steps. These protect the platform and are the same for everyone.")],
    "KB-109": [("Pausing instead of cancelling", "If you need a break, switch off all workflows instead of cancelling. The plan keeps renewing, but you keep your history, connections and members. Seasonal businesses often downgrade to Spark for the quiet months instead.")],
    "KB-117": [("Naming in the API", "The REST API uses the same words, in lower case with underscores: workflow, run, step, connection, workspace_variable. Older API versions called runs 'executions'; both names are accepted.")],
})


def shortcuts(doc: Doc, f: dict) -> None:
    """Keyboard shortcuts of the editor."""
    doc.p(doc.pick("Work faster in the editor with these shortcuts.", "The editor's keyboard shortcuts, on one page."),
          "On macOS use Cmd where the table says Ctrl.")
    doc.table(["Shortcut", "Action"], [
        ["Ctrl+S", "save the workflow as a draft"], ["Ctrl+Enter", "start a test run"],
        ["Ctrl+K", "open the step search"], ["Ctrl+Z / Ctrl+Shift+Z", "undo and redo"],
        ["Ctrl+D", "duplicate the selected step"], ["Delete", "remove the selected step"],
        ["Alt+Up / Alt+Down", "move the selected step"], ["Ctrl+/", "comment on the selected step"],
        ["Escape", "close the open panel"], ["?", "show all shortcuts"],
    ])
    doc.p("Shortcuts can be turned off under your profile's preferences if they clash with a screen reader or a browser extension.",
          "Custom shortcuts are not supported yet; vote for the request on the ideas board if you need them.")

HOWTOS.update({
    "KB-146": ("Connecting an app without an integration", [
        ("Two building blocks", ["Any app with a web API can take part in a workflow. Use a webhook trigger when the app can call a URL when something happens, and the HTTP step when the workflow needs to call the app.",
                                 "Together they cover reading, writing and reacting, which is all a dedicated integration does."]),
        ("Authentication", ["Keep the app's token in a secret workspace variable and reference it in the HTTP step's headers. Rotate it in one place when it changes.",
                            "If the app signs its webhooks, check the signature in the trigger so that only the app can start the workflow."]),
        ("When to ask for an integration", ["If many workflows call the same app, request a dedicated integration from the integrations page. Integrations add field pickers, pagination and error messages in plain words."]),
    ]),
    "KB-147": ("Security checklist for a new workspace", [
        ("Accounts", ["Turn on multi-factor authentication for every member, not only for owners and admins. Give people the lowest role that lets them do their work: most people who only look at results should be viewers.",
                      "Review members every quarter and remove people who have left."]),
        ("Connections", ["Authorise connections with service accounts where the app offers them, not with a person's own account. Share connections instead of asking colleagues for passwords.",
                         "Name each connection after the account it uses so that a broken one is easy to trace."]),
        ("Workflows", ["Store secrets in secret variables, never in step fields. Check webhook signatures. Keep workflows that touch money or personal data in folders that only a few builders can edit."]),
    ]),
    "KB-148": ("Migrating from another automation tool", [
        ("Take stock", ["List the automations you run today, who relies on each, and how often they run. Many teams find that a fifth of their automations are no longer needed.",
                        "Note the apps each automation uses and check that they are available in Corvasse Flow, either as an integration or through the HTTP step."]),
        ("Rebuild, do not translate", ["Rebuild each automation rather than copying it step by step. Branches, loops and error paths often replace several separate automations of the old tool.",
                                       "Run the old and new versions side by side for a week and compare their results before switching the old one off."]),
        ("Plan the switch", ["Switch over one team at a time, starting with automations whose failure is easy to notice and cheap to fix. Keep the old tool available until the last workflow has run cleanly for a full cycle."]),
    ]),
})
