"""`make bench` / `python -m benchmarks`: every benchmark once, then one table: each target, its figure, pass or fail.

Each benchmark prints its own details first (CPU per process, the generator's own cost); the table at the
end holds the targets of issue 7. The numbers are from one run on this machine, whose two cores the
services, the broker, Redis and the load generator share: see `benchmarks/README.md` for how to read them.
"""

from __future__ import annotations

import argparse
import time

from benchmarks import connector_stores, connector_throughput, core_throughput, editor_load, notifier_throughput
from benchmarks.loadgen import percentile_ms
from benchmarks.procstat import load_average

Row = tuple[str, str, bool | None]  # target, figure, met (None: no target, shown for information)


def _check(label: str, value: float, limit: float, unit: str, at_least: bool, detail: str = "") -> Row:
    met = value >= limit if at_least else value < limit
    return label, f"{value:,.0f}{unit}" + (f"  ({detail})" if detail else ""), met


def store_rows(stores: dict) -> list[Row]:
    """Issue 12's: 1,000 connected stores on one platform, two copies."""
    mean, quietest, busiest = stores["polls_per_s"]
    share = stores["per_day"] / stores["quota"]
    n = f"{stores['stores']:,}"
    return [
        _check(f"connector, {n} stores: RSS per copy < 150 MB", max(stores["rss_mib"]) * 1.048576, 150, " MB", False),
        (
            f"connector, {n} stores: CPU to start, per copy (no target)",
            ", ".join(f"{cpu:.1f} s in {up:.1f} s" for up, cpu in stores["ready"])
            + "  (then, until every shop was polled once, "
            + ", ".join(f"{cpu:.1f} s" for cpu in stores["started_cpu_s"])
            + f" by {stores['all_polled_s']:.0f} s)",
            None,
        ),
        (
            f"connector, {n} stores: polls/s over one interval (no target)",
            f"{mean:.2f}/s, 10 s buckets {quietest:.1f}–{busiest:.1f}/s  (even: {stores['stores'] / stores['interval_s']:.2f}/s)",
            None,
        ),
        (
            f"connector, {n} stores: a shop polled twice within half an interval",
            f"{stores['too_soon']}",
            stores["too_soon"] == 0,
        ),
        _check(
            f"connector, {n} stores: polls ≤ 50 % of the app's daily quota",
            share * 100,
            50.5,
            " %",
            False,
            f"{stores['per_day']:,.0f} requests a day projected, of {stores['quota']:,} (scaled)",
        ),
    ]


def targets(core: dict, connector: dict, editor: dict, notifier: dict, rate: float, editor_rate: float) -> list[Row]:
    hooks, opened, closed = connector["webhooks"], connector["webhooks"]["open"], connector["webhooks"]["closed"]
    gets, most = editor["phases"]["open"], editor["phases"]["closed"]
    kept_up = opened["_rate"] >= 0.98 * rate and not opened["_errors"]
    return [
        _check(
            "core ≥ 50 % of a bare aiokafka loop",
            core["ratio"] * 100,
            50,
            " %",
            True,
            f"core {core['core']:,.0f} orders/s, bare loop {core['bare']:,.0f} msg/s",
        ),
        _check(
            "connector: webhooks/s, one process ≥ 1,000",
            closed["_rate"],
            1000,
            "/s",
            True,
            f"closed loop, 200 connections; at {rate:,.0f}/s offered it kept up: {'yes' if kept_up else 'no'}",
        ),
        _check(
            f"connector: webhook p99 < 50 ms at {rate:,.0f}/s",
            opened["_p99_ms"],
            50,
            " ms",
            False,
            f"open loop, 200 connections; closed loop p99 {closed['_p99_ms']:,.0f} ms",
        ),
        _check(
            f"webhook → OrderReceived p99 < 200 ms at {rate:,.0f}/s",
            opened["_event_p99_ms"],
            200,
            " ms",
            False,
            "sent → read from orders.received",
        ),
        _check(
            f"editor: GET /p/<token> p99 < 50 ms, 200 clients, {editor_rate:,.0f}/s",
            gets.p99,
            50,
            " ms",
            False,
            f"open loop; closed loop {most['per_s']:,.0f}/s at p99 {most.p99:,.0f} ms",
        ),
        _check("connector RSS < 150 MB (peak)", closed["_rss_peak_mib"] * 1.048576, 150, " MB", False),
        _check("editor RSS < 150 MB (peak)", editor["peak_mib"] * 1.048576, 150, " MB", False),
        _check("core RSS < 150 MB", core["core_rss_mib"] * 1.048576, 150, " MB", False),
        _check("notifier RSS < 150 MB", notifier["rss_mib"] * 1.048576, 150, " MB", False),
        (
            "core, 2 copies in one group (no target)",
            (
                f"{core['scaled'].rate / core['bare']:.0%} of the bare loop  ({core['scaled'].rate:,.0f} orders/s, "
                f"{core['scaled'].rate / core['core']:.2f}× one copy)"
            ),
            None,
        ),
        (
            "connector: CPU per webhook (no target)",
            f"{opened['_cpu_ms']:.2f} ms at {rate:,.0f}/s offered, {closed['_cpu_ms']:.2f} ms flat out",
            None,
        ),
        (
            "editor: CPU per GET (no target)",
            f"{gets['editor_cpu_ms']:.2f} ms at {editor_rate:,.0f}/s offered, {most['editor_cpu_ms']:.2f} ms flat out",
            None,
        ),
        ("notifier: emails/s (no target)", f"{notifier['rate']:,.0f}/s  (lag p99 {notifier['lag_p99']:.2f} s)", None),
        (
            "editor: completion POST p99 (no target)",
            f"{percentile_ms(editor['phases']['post']['latencies'], 0.99):,.0f} ms"
            if "post" in editor["phases"]
            else "not run",
            None,
        ),
        (
            "connector: every webhook's OrderReceived read once",
            (f"{sum(p['_missing'] for p in hooks.values())} missing, {closed['_twice']} twice"),
            not closed["_twice"] and not any(p["_missing"] for p in hooks.values()),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=1000, help="webhooks/s offered in the connector's open loop")
    parser.add_argument("--editor-rate", type=float, default=400, help="GETs/s offered in the editor's open loop")
    args = parser.parse_args(argv)
    started, load = time.monotonic(), load_average()
    core = core_throughput.main(["--orders", "10000", "--copies", "2"])
    print()
    connector = connector_throughput.main(
        ["--rate", str(args.rate), "--seconds", "15", "--requests", "10000", "--orders", "0"]
    )
    print()
    notifier = notifier_throughput.main([])
    print()
    editor = editor_load.main(["--rate", str(args.editor_rate), "--seconds", "15", "--posts", "500"])
    print()
    stores = connector_stores.main([])
    rows = targets(core, connector, editor, notifier, args.rate, args.editor_rate) + store_rows(stores)
    print(
        f"\nissue 7 and 12 targets: one run, {time.monotonic() - started:.0f} s, load average before {load}, "
        f"after {load_average()} (2 cores, shared by everything above)"
    )
    width = max(len(label) for label, _, _ in rows)
    for label, figure, met in rows:
        verdict = "—" if met is None else ("pass" if met else "FAIL")
        print(f"  {label:<{width}}  {verdict:<4}  {figure}")
    return 0 if all(met is not False for _, _, met in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
