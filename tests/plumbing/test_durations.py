from datetime import timedelta

import pytest

from plumbing.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("15m", timedelta(minutes=15)),
        ("2s", timedelta(seconds=2)),
        ("7d", timedelta(days=7)),
        ("1h30m", timedelta(minutes=90)),
        ("250ms", timedelta(milliseconds=250)),
        ("90", timedelta(seconds=90)),
    ],
)
def test_durations_read_as_people_write_them(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "m", "15 minutes", "1x", "-5m", "15m!"])
def test_nonsense_is_refused(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
