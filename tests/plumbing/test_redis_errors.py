"""The replica-and-busy replies are outages to wait out, by class and by code, in every form redis-py hands them over."""

from __future__ import annotations

import pytest
from redis._parsers.base import BaseParser  # redis-py's own reply → exception mapping, to replay what it raises
from redis.exceptions import OutOfMemoryError, RedisError, ResponseError

from plumbing.consumer import is_infrastructure
from plumbing.redis_errors import OUTAGES, PrimaryDemoted, RedisUnavailable, as_outage, is_outage, outage_code

REPLIES = {
    "READONLY": "READONLY You can't write against a read only replica.",
    "NOREPLICAS": "NOREPLICAS Not enough good replicas to write.",
    "MASTERDOWN": "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.",
    "BUSY": "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.",
    "LOADING": "LOADING Redis is loading the dataset in memory",
    "TRYAGAIN": "TRYAGAIN Multiple keys request during rehashing of slot",
    "CLUSTERDOWN": "CLUSTERDOWN The cluster is down",
}
# The command's fault, not the server's state: a retry fails the same way.
NOT_OUTAGES = [
    "BUSYGROUP Consumer Group name already exists",
    "BUSYKEY Target key name already exists.",
    "WRONGTYPE Operation against a key holding the wrong kind of value",
    "ERR syntax error",
    "NOSCRIPT No matching script. Please use EVAL.",
    "ERR Error running script (call to f_1): @user_script:3: @user_script: 3: -WRONGTYPE Operation against a key",
    "ERR Error running script (call to f_1): @user_script:1: user_script:1: the order is READONLY now",
]


def test_every_code_the_issue_names_is_an_outage():
    assert set(REPLIES) == set(OUTAGES)


@pytest.mark.parametrize("code", sorted(REPLIES))
def test_each_replica_and_busy_reply_as_redis_py_raises_it_is_infrastructure(code):
    raised = BaseParser.parse_error(REPLIES[code])
    assert outage_code(raised) == code
    assert is_infrastructure(raised), f"{code} would be dead-lettered after three tries"
    ours = as_outage(raised)
    assert isinstance(ours, RedisUnavailable) and isinstance(ours, type(raised))  # `except ReadOnlyError` still holds
    assert outage_code(ours) == code


@pytest.mark.parametrize("code", sorted(REPLIES))
def test_each_code_inside_a_failed_script_call_is_infrastructure(code):
    redis_6 = ResponseError(f"Error running script (call to f_9a1b): @user_script:1: @user_script: 1: -{REPLIES[code]}")
    redis_7 = BaseParser.parse_error(f"{REPLIES[code]} script: 9a1b, on @user_script:1.")
    for raised in (redis_6, redis_7):
        assert outage_code(raised) == code
        assert is_infrastructure(raised)
        assert isinstance(as_outage(raised), OUTAGES[code])


@pytest.mark.parametrize("code", sorted(REPLIES))
def test_each_code_in_a_pipelines_error_is_infrastructure(code):
    # How redis-py's pipeline rewrites the error of its first failed command.
    raised = ResponseError(f"Command # 2 (SET order:1 x) of pipeline caused error: {REPLIES[code]}")
    assert outage_code(raised) == code
    assert is_infrastructure(raised)


@pytest.mark.parametrize("reply", NOT_OUTAGES)
def test_a_reply_that_is_the_commands_fault_stays_the_messages_failure(reply):
    raised = BaseParser.parse_error(reply)
    assert outage_code(raised) is None
    assert not is_infrastructure(raised)
    assert as_outage(raised) is raised


def test_a_demoted_primary_and_a_full_redis_are_infrastructure_and_other_errors_are_not():
    assert outage_code(PrimaryDemoted("127.0.0.1:6379 answered READONLY")) == "READONLY"
    assert is_infrastructure(PrimaryDemoted("x"))
    assert is_infrastructure(OutOfMemoryError("command not allowed when used memory > 'maxmemory'"))
    assert not is_outage(ValueError("READONLY"))  # not Redis's at all
    assert not is_infrastructure(RedisError("something else"))
