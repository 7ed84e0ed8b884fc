"""The soak's verdict: every check over what the script did and what the system holds at the end.

Inputs are gathered by `runner.py` once the system drained (`Evidence`); each
check here is a pure function adding to a table row and, for each loss or
duplicate, one line naming it. Any such line makes the soak exit non-zero.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field

from schemas import DeadLetter, FulfillmentRequested, PersonalizationLinkIssued, PersonalizationReminderSent
from soak.evidence import Evidence
from soak.faults import Done
from soak.ledger import OrderRun
from soak.traffic import describe

RECENT_LINK_S = 60.0  # an email may still be on its way (SMTP backoff) for a link this young


@dataclass
class Row:
    check: str
    checked: int = 0
    failed: int = 0


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    header: str = ""
    faults: list[Done] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def row(self, check: str) -> Row:
        self.rows.append(Row(check))
        return self.rows[-1]

    def fail(self, row: Row, line: str) -> None:
        row.failed += 1
        self.failures.append(line)

    def render(self) -> str:
        width = max(len(r.check) for r in self.rows)
        lines = [self.header, "", f"{'check':<{width}}  {'checked':>7}  {'ok':>6}  {'failed':>6}"]
        lines += [f"{r.check:<{width}}  {r.checked:>7}  {r.checked - r.failed:>6}  {r.failed:>6}" for r in self.rows]
        lines += ["", *self.notes, "", f"RESULT: {'PASS' if self.ok else 'FAIL'} ({len(self.failures)} problem(s))"]
        lines += [f"  - {line}" for line in self.failures]
        return "\n".join(lines)


def judge(e: Evidence, header: str) -> Report:
    report = Report(header=header, faults=e.faults)
    placed = [r for r in e.runs if r.placed]
    _orders(report, e, placed)
    _fulfillment(report, e, placed)
    _emails(report, e)
    _timers(report, e)
    _intentions(report, placed)
    row = report.row("dead letters (none expected)")
    for read in e.dead_letters:
        dead = read.event if isinstance(read.event, DeadLetter) else None
        report.fail(
            row,
            f"DEAD LETTER {dead.order_key} from {dead.source_topic} ({dead.consumer}): {dead.error[:200]}"
            if dead
            else f"DEAD LETTER (undecodable) at offset {read.record.offset}",
        )
    row = report.row("faults made as planned")
    for done in e.faults:
        row.checked += 1
        if done.error:
            report.fail(row, f"FAULT NOT MADE {done.fault.kind} {done.fault.target}: {done.error}")
    _notes(report, e, placed)
    return report


def _orders(report: Report, e: Evidence, placed: list[OrderRun]) -> None:
    present, status = report.row("orders present once in core"), report.row("orders in the expected status")
    tracked = {r.key for r in placed}
    for run in placed:
        present.checked += 1
        doc = e.core.get(run.key)
        if doc is None:
            if not run.may_be_unseen():
                report.fail(present, f"LOST {run.key} ({describe(run.plan)}): not in core's state")
            continue
        status.checked += 1
        expected, found = run.expected_status(), doc.get("status")
        if found != expected:
            report.fail(
                status,
                f"WRONG STATUS {run.key}: expected {expected}, core has {found} ({describe(run.plan)}; {_did(run)})",
            )
    for prefix, ids in e.sandbox_ids.items():
        for order_id in sorted(ids - e.seeded_ids.get(prefix, set())):
            key = prefix + order_id
            if key not in tracked:  # placed twice by a retried call: still an order that must be known
                present.checked += 1
                if key not in e.core:
                    report.fail(present, f"LOST {key} (untracked sandbox order): not in core's state")
    for key in sorted(e.core):
        prefix = key[: key.rfind(":") + 1]
        if key.removeprefix(prefix) not in e.sandbox_ids.get(prefix, set()):  # Redis is the soak's alone
            report.fail(present, f"PHANTOM {key}: in core's state but no such sandbox order")


def _did(run: OrderRun) -> str:
    bits = ["paid" if run.paid else "unpaid", f"completed={run.completed}", f"approvals={run.approvals}"]
    return ", ".join(bits + ([run.cancelled] if run.cancelled else []))


def _fulfillment(report: Report, e: Evidence, placed: list[OrderRun]) -> None:
    row = report.row("FulfillmentRequested once per part fulfilled")
    ids: dict[tuple[str, str], set[str]] = defaultdict(set)
    events: dict[str, list[FulfillmentRequested]] = defaultdict(list)
    for read in e.fulfillment:
        if isinstance(read.event, FulfillmentRequested):
            ids[(read.event.order_key, read.event.part)].add(read.event.event_id)
            events[read.event.order_key].append(read.event)
    for (key, part), found in sorted(ids.items()):
        if len(found) > 1:
            report.fail(row, f"DUPLICATE FULFILLMENT {key} part {part}: {len(found)} distinct FulfillmentRequested")
    for run in placed:
        row.checked += 1
        allowed = run.expected_parts()
        for part in sorted(set(allowed) | {p for k, p in ids if k == run.key}):
            count = len(ids.get((run.key, part), ()))
            if count not in allowed.get(part, {0}) and count <= 1:
                what = "MISSING" if count == 0 else "UNEXPECTED"
                report.fail(row, f"{what} FULFILLMENT {run.key} part {part} ({describe(run.plan)}; {_did(run)})")
        for event in events.get(run.key, []):
            bare = [
                line.line_id
                for line in event.line_items
                if line.product_id == run.store.personalizable_product and line.personalization is None
            ]
            if bare and run.completed:
                report.fail(
                    row,
                    f"UNPERSONALIZED FULFILLMENT {run.key} part {event.part}: lines {bare} carry no "
                    "personalization though the customer completed it",
                )


def _emails(report: Report, e: Evidence) -> None:
    row = report.row("one email per issued link")
    issued: dict[str, PersonalizationLinkIssued] = {}
    for read in e.links:
        if isinstance(read.event, PersonalizationLinkIssued):
            issued.setdefault(read.event.link_id, read.event)
    by_sequence = Counter((link.order_key, link.sequence) for link in issued.values())
    for (key, sequence), count in by_sequence.items():
        if count > 1:
            report.fail(row, f"DUPLICATE LINK {key}: {count} links with sequence {sequence}")
    for link_id, link in issued.items():
        row.checked += 1
        sent = len(e.emails_by_link.get(link_id, []))
        if sent > 1:
            report.fail(row, f"DUPLICATE EMAIL {link.order_key} link {link.sequence}: {sent} emails")
        elif sent == 0 and link_id in e.outbox.get(link.order_key, set()):
            if e.now - link.occurred_at.timestamp() > RECENT_LINK_S:
                report.fail(row, f"EMAIL NOT SENT {link.order_key} link {link.sequence}: still in the outbox")
        elif sent == 0 and (e.core.get(link.order_key) or {}).get("status") == "pending_personalization":
            report.fail(row, f"LOST EMAIL {link.order_key} link {link.sequence}: issued, never emailed")
    for link_id in sorted(set(e.emails_by_link) - set(issued) - e.later_link_ids):
        report.fail(row, f"EMAIL FOR UNKNOWN LINK {link_id}: no PersonalizationLinkIssued")
    for link_id in e.stray_link_emails:
        report.notes.append(f"note: link email {link_id} is for an order the soak did not place")
    _reminders(report, e, issued)


def _reminders(report: Report, e: Evidence, issued: dict[str, PersonalizationLinkIssued]) -> None:
    row = report.row("one email per reminder (counted apart)")
    sent: set[tuple[str, int]] = set()
    for read in e.activity:
        if isinstance(read.event, PersonalizationReminderSent):
            sent.add((read.event.link_id, read.event.reminder))
    for link_id, reminder in sorted(sent | set(e.reminder_emails)):
        row.checked += 1
        emails = len(e.reminder_emails.get((link_id, reminder), []))
        key = issued[link_id].order_key if link_id in issued else f"link {link_id}"
        if emails > 1:
            report.fail(row, f"DUPLICATE REMINDER {key} reminder {reminder}: {emails} emails")
        elif emails == 0 and (link_id, reminder) not in e.later_reminder_emails:  # else: mailed as we read
            report.fail(row, f"REMINDER WITHOUT EMAIL {key} reminder {reminder}: PersonalizationReminderSent, no email")
        elif (link_id, reminder) not in sent:
            order_key = issued[link_id].order_key if link_id in issued else ""
            if f"{link_id}:reminder-{reminder}" not in e.outbox.get(order_key, set()):  # else: its event is next
                report.fail(
                    row, f"REMINDER WITHOUT EVENT {key} reminder {reminder}: emailed, no PersonalizationReminderSent"
                )
    for name, message_id in e.other_emails:
        report.fail(row, f"UNKNOWN EMAIL {name}: Message-ID {message_id!r} is neither a link's nor a reminder's")


def _timers(report: Report, e: Evidence) -> None:
    row = report.row("pending_personalization has a notifier timer")
    for key, doc in sorted(e.core.items()):
        if doc.get("status") != "pending_personalization" or not any(key.startswith(p) for p in e.store_prefixes):
            continue
        row.checked += 1
        if key not in e.due:
            report.fail(row, f"STUCK {key}: pending_personalization without a timer in notifier:due")
        elif e.notifier_status.get(key) != "pending_personalization":
            report.fail(row, f"STUCK {key}: the notifier thinks it is {e.notifier_status.get(key)}")


def _intentions(report: Report, placed: list[OrderRun]) -> None:
    row = report.row("customer and merchant got their way")
    for run in placed:
        row.checked += 1
        notes = list(run.customer_notes)
        if run.plan.customer in ("complete", "reissue") and not run.completed and not notes:
            notes.append("never completed (no usable link by the deadline)")
        if (
            run.plan.approve
            and run.paid
            and not run.cancelled
            and not run.approvals
            and (run.completed or not run.plan.personalizable)
        ):
            notes.append("the merchant never saw it in pending_approval")
        if notes:
            report.fail(row, f"UNFINISHED {run.key} ({describe(run.plan)}): {'; '.join(notes)}")


def _notes(report: Report, e: Evidence, placed: list[OrderRun]) -> None:
    expected = Counter(str(r.expected_status() or "awaiting payment") for r in placed)
    unseen = sum(1 for r in placed if r.key not in e.core)
    report.notes.append(
        "expected statuses: "
        + ", ".join(f"{k} {v}" for k, v in sorted(expected.items()))
        + (f" ({unseen} never paid and never seen, allowed)" if unseen else "")
    )
    not_placed = [r for r in e.runs if not r.placed]
    if not_placed:
        report.notes.append(f"not placed (sandbox refused or too slow): {len(not_placed)}")
    sequences = [r.event.sequence for r in e.links if isinstance(r.event, PersonalizationLinkIssued)]
    link_ids = {r.event.link_id for r in e.links if isinstance(r.event, PersonalizationLinkIssued)}
    emails = sum(len(v) for v in e.emails_by_link.values())
    reminders = sum(len(v) for v in e.reminder_emails.values())
    report.notes.append(
        f"links: {len(link_ids)} issued ({sum(1 for s in sequences if s > 1)} re-issues, highest "
        f"sequence {max(sequences, default=0)}), {len(e.links)} link events, {emails} link emails, "
        f"{reminders} reminder emails, {len(e.other_emails)} other emails"
    )
    fulfilled = {r.event.order_key for r in e.fulfillment if r.event}
    distinct = {r.event.event_id for r in e.fulfillment if r.event}
    report.notes.append(
        f"fulfillment: {len(fulfilled)} orders, {len(distinct)} FulfillmentRequested, "
        f"{len(e.fulfillment) - len(distinct)} re-published copies (same event id: consumers dedupe)"
    )
    received: dict[str, set[str]] = defaultdict(set)
    for read in e.received:
        if read.event is not None and read.event.event_type == "OrderReceived":
            received[read.event.order_key].add(read.event.event_id)
    twice = sorted(key for key, ids in received.items() if len(ids) > 1)
    report.notes.append(
        f"orders.received: {len(e.received)} messages; {len(twice)} order(s) announced as new "
        "twice under different ids (core compares content: no effect)"
        + (f", e.g. {', '.join(twice[:3])}" if twice else "")
    )
    kinds = Counter(d.fault.kind for d in e.faults)
    report.notes.append("faults made: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
    kills = Counter(d.fault.target for d in e.faults if d.fault.kind == "kill")
    report.notes.append("killed (SIGKILL, restarted): " + ", ".join(f"{k} x{v}" for k, v in sorted(kills.items())))
    exits = ", ".join(f"{x.service} (code {x.code} at {x.at:.0f}s)" for x in e.exits) or "none"
    report.notes.append(f"services that exited on their own (restarted by the soak's supervisor): {exits}")
    report.notes.append(f"drain: {e.drained}")
    stops = {k: v for k, v in e.stops.items() if not k.startswith("sandbox-")}  # the platforms are not ours
    if stops:
        slow = {k: v for k, v in stops.items() if v[0] is None or v[0] > 10 or v[1] != 0}
        longest = max((v[0] for v in stops.values() if v[0] is not None), default=0)
        report.notes.append(
            f"SIGTERM at the end: {len(stops) - len(slow)} of {len(stops)} services exited 0 "
            f"within 10 s (slowest {longest:.1f}s)"
            + "".join(
                f"; {k}: {'killed after 15 s' if v[0] is None else f'code {v[1]} after {v[0]}s'}"
                for k, v in sorted(slow.items())
            )
        )
