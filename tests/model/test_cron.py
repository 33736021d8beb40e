"""Cron schedules are checked field by field, as the providers read them."""

from __future__ import annotations

import pytest

from codomyrmex.ci_cd_automation import PipelineValidationError, create_pipeline
from codomyrmex.ci_cd_automation.model.pipeline import cron_problem

STAGES = [{"name": "s", "jobs": [{"name": "j", "steps": [{"run": "true"}]}]}]


@pytest.mark.parametrize(
    "cron", ["0 3 * * 1", "*/15 0-6 1,15 * *", "0 4 * JAN-mar mon-FRI", "59 23 31 12 6"]
)
def test_valid_schedules(cron: str) -> None:
    assert cron_problem(cron) is None
    create_pipeline("p", STAGES, {"triggers": {"schedule": [cron]}})


@pytest.mark.parametrize(
    ("cron", "problem"),
    [
        ("61 3 * * *", "minute 61 is outside 0-59"),
        ("0 24 * * *", "hour 24 is outside 0-23"),
        ("0 0 0 * *", "day of month 0 is outside 1-31"),
        ("0 0 * 13 *", "month 13 is outside 1-12"),
        ("0 0 * * 7", "day of week 7 is outside 0-6"),
        ("*/0 * * * *", 'minute step "0" is not a positive number'),
        ("0 0 * foo *", 'month "foo" is not a number'),
    ],
)
def test_out_of_range_schedules(cron: str, problem: str) -> None:
    assert cron_problem(cron) == problem
    with pytest.raises(PipelineValidationError) as info:
        create_pipeline("p", STAGES, {"triggers": {"schedule": [cron]}})
    assert [d.format() for d in info.value.diagnostics] == [
        f'config.triggers.schedule[0]: invalid cron schedule "{cron}": {problem} [invalid-value]'
    ]
