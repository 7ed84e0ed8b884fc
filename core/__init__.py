"""Core: keeps each order's state and decides what happens next (`personalize core`)."""

from core.decide import Decision, Policy, apply
from core.order import ALLOWED_MOVES, Order
from core.store import MemoryOrderStore, OrderStore, RedisOrderStore

__all__ = ["ALLOWED_MOVES", "Decision", "MemoryOrderStore", "Order", "OrderStore", "Policy", "RedisOrderStore", "apply"]
