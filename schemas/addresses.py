"""One email address: the single rule for every address a merchant gives and every event that carries one."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

EMAIL_MAX = 254  # RFC 5321's path limit, less the angle brackets
EMAIL_LOCAL_MAX = 64  # RFC 5321

# RFC 5322's dot-atom on both sides, the domain with a top-level label: one mailbox, nothing a header parser
# could read as two (`victim@example.com,postmaster` was mailed to both), no display name, no quoting, no
# IP literal. ASCII only: an internationalized domain is given in its punycode (`xn--…`) form.
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_ADDRESS = re.compile(rf"{_ATEXT}(?:\.{_ATEXT})*@(?:{_LABEL}\.)+[A-Za-z](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?")


def _one_address(value: str) -> str:
    local, _, _ = value.rpartition("@")
    if not _ADDRESS.fullmatch(value) or len(local) > EMAIL_LOCAL_MAX:
        raise ValueError("must be one email address, such as shop@example.com: no list, spaces, name or angle brackets")
    return value


EmailAddress = Annotated[
    str,
    Field(max_length=EMAIL_MAX, json_schema_extra={"format": "email"}),
    AfterValidator(_one_address),
]
