"""Notifier: issues personalization links and emails the merchant (notifier issue)."""

from notifier.due import MemoryTimers, RedisTimers, Timers
from notifier.entries import EmailedReminder, LinkEntry, OutboxEntry, QueuedReminder
from notifier.hook_jobs import HookJob, HookJobStore, MemoryHookJobs, RedisHookJobs
from notifier.link_state import LinkState, LiveLink
from notifier.memory_store import MemoryLinkStore
from notifier.policy import next_step, on_request, on_status
from notifier.redis_store import RedisLinkStore
from notifier.store import LinkStore, Recorded

__all__ = [
    "EmailedReminder",
    "HookJob",
    "HookJobStore",
    "LinkEntry",
    "LinkState",
    "LinkStore",
    "LiveLink",
    "MemoryHookJobs",
    "MemoryLinkStore",
    "MemoryTimers",
    "OutboxEntry",
    "QueuedReminder",
    "Recorded",
    "RedisHookJobs",
    "RedisLinkStore",
    "RedisTimers",
    "Timers",
    "next_step",
    "on_request",
    "on_status",
]
