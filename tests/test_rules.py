"""The shared rules for a rally's text and time (mapapp.domain.rules): form, import and API use them."""

from datetime import UTC, datetime, timedelta

import pytest

from mapapp.domain import rules

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("char", "problem"),
    [
        ("\u202e", rules.DIRECTION),
        ("\u202a", rules.DIRECTION),
        ("\u2066", rules.DIRECTION),
        ("\u2069", rules.DIRECTION),
        ("\u200e", rules.DIRECTION),
        ("\u200f", rules.DIRECTION),
        ("\u061c", rules.DIRECTION),
        ("\u200b", rules.FORMAT),  # zero-width space
        ("\ufeff", rules.FORMAT),
        ("\u206a", rules.FORMAT),
        ("\U000e0041", rules.FORMAT),  # a tag character: hidden text
        ("\x00", rules.CONTROL),
        ("\x85", rules.LINE_BREAK),
        ("\u2028", rules.LINE_BREAK),
        ("\n", rules.LINE_BREAK),
        ("\t", rules.LINE_BREAK),
    ],
)
def test_invisible_and_control_characters_are_named(char, problem):
    assert rules.text_problem(f"Плошча{char} Леніна") == problem


def test_joiners_and_line_breaks_where_they_belong():
    assert rules.text_problem("👩\u200d👩\u200d👧 і сям\u00adя") is None
    assert rules.text_problem("радок\nрадок\tі", one_line=False) is None
    assert rules.text_problem("радок\u2028радок", one_line=False) == rules.CONTROL


def test_text_is_normalised_to_nfc():
    assert rules.normalise(" у\u0306 ") == "ў"
    assert rules.normalise(None) is None


@pytest.mark.parametrize(
    ("starts_at", "approved", "fine"),
    [
        (datetime(1, 1, 1, tzinfo=UTC), True, False),
        (datetime(207, 10, 21, 19, tzinfo=UTC), True, False),
        (NOW + timedelta(days=30), False, True),
        (NOW + timedelta(days=400), False, False),
        (NOW - timedelta(hours=1), False, False),
        (NOW - timedelta(days=700), True, True),
        (NOW - timedelta(days=4000), True, False),
        (datetime(9999, 12, 31, 23, 59, tzinfo=UTC), True, False),
    ],
)
def test_start_times_within_sane_bounds(starts_at, approved, fine):
    assert (rules.start_problem(starts_at, NOW, approved) is None) is fine
