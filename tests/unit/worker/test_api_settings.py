"""The API access and metrics settings: SALES_API_TOKEN, SALES_API_TOKEN_PROTECTS,
SALES_METRICS_MAX_SCOPES, SALES_METRICS_MAX_BREAKDOWN, SALES_APP_ID and SALES_RETENTION,
read by Settings.from_env."""

from __future__ import annotations

from datetime import timedelta

import pytest

from streams.worker.settings import (
    DEFAULT_METRICS_MAX_BREAKDOWN,
    DEFAULT_METRICS_MAX_SCOPES,
    Settings,
    SettingsError,
)
from tests.unit.worker.two_workers import TOKEN

SECURED = {"SALES_API_TOKEN": TOKEN}


def test_no_token_by_default_and_loopback_bind() -> None:
    s = Settings.from_env({})
    assert (s.api_token, s.api_token_protects, s.api_host) == ("", frozenset(), "127.0.0.1")


def test_the_token_never_appears_in_repr() -> None:
    s = Settings.from_env({**SECURED, "SALES_API_TOKEN_PROTECTS": "metrics, Health"})
    assert s.api_token == TOKEN
    assert s.api_token_protects == {"metrics", "health"}
    assert TOKEN not in repr(s) and TOKEN not in str(s)


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"SALES_API_TOKEN": "short"}, "SALES_API_TOKEN"),
        ({"SALES_API_TOKEN": "with a space in the middle!"}, "SALES_API_TOKEN"),
        ({"SALES_API_TOKEN": "é-not-ascii-but-long-enough"}, "SALES_API_TOKEN"),
        ({**SECURED, "SALES_API_TOKEN_PROTECTS": "metrics,admin"}, "SALES_API_TOKEN_PROTECTS"),
        ({"SALES_API_TOKEN_PROTECTS": "metrics"}, "SALES_API_TOKEN_PROTECTS"),
    ],
)
def test_unusable_token_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable) as caught:
        Settings.from_env(env)
    if "SALES_API_TOKEN" in env:
        assert env["SALES_API_TOKEN"] not in str(caught.value)


def test_metrics_max_scopes() -> None:
    assert Settings.from_env({}).metrics_max_scopes == DEFAULT_METRICS_MAX_SCOPES == 10_000
    assert Settings.from_env({"SALES_METRICS_MAX_SCOPES": "50"}).metrics_max_scopes == 50
    for bad in ("0", "many"):
        with pytest.raises(SettingsError, match="SALES_METRICS_MAX_SCOPES"):
            Settings.from_env({"SALES_METRICS_MAX_SCOPES": bad})


def test_metrics_max_breakdown() -> None:
    assert Settings.from_env({}).metrics_max_breakdown == DEFAULT_METRICS_MAX_BREAKDOWN == 20
    assert Settings.from_env({"SALES_METRICS_MAX_BREAKDOWN": "5"}).metrics_max_breakdown == 5
    assert Settings.from_env({"SALES_METRICS_MAX_BREAKDOWN": ""}).metrics_max_breakdown == 20
    for bad in ("0", "-1", "2.5", "many"):
        with pytest.raises(SettingsError, match="SALES_METRICS_MAX_BREAKDOWN"):
            Settings.from_env({"SALES_METRICS_MAX_BREAKDOWN": bad})


def test_the_internal_topic_belongs_to_the_app_id() -> None:
    """Two apps on one broker (a blue/green reprocessing) each get their own internal topic,
    as they get their own group and changelog; the default app keeps `salespulse.scopes`."""
    assert Settings.from_env({}).topics.scopes == "salespulse.scopes"
    blue = Settings.from_env({"SALES_APP_ID": "salespulse-v2"})
    assert (blue.app_id, blue.topics.scopes) == ("salespulse-v2", "salespulse-v2.scopes")
    named = Settings.from_env({"SALES_APP_ID": "blue", "SALES_TOPIC_SCOPES": "ops.internal"})
    assert named.topics.scopes == "ops.internal"
    assert named.topics.activities == "sales.activities", "the inputs stay shared"


@pytest.mark.parametrize("app_id", ["has space", "slash/y", "x" * 201, "é"])
def test_an_app_id_that_cannot_name_a_topic_is_refused(app_id: str) -> None:
    with pytest.raises(SettingsError, match="SALES_APP_ID"):
        Settings.from_env({"SALES_APP_ID": app_id})


@pytest.mark.parametrize(
    ("env", "problem"),
    [
        ({"SALES_RETENTION": "P30D"}, "shorter than P92D"),
        (
            {"SALES_RETENTION": "P100D", "SALES_LATE_GRACE": "P120D"},
            "shorter than SALES_LATE_GRACE",
        ),
        ({"SALES_RETENTION": "a year"}, "is not an ISO 8601 duration"),
    ],
)
def test_a_retention_that_cannot_work_is_refused_at_start(
    env: dict[str, str], problem: str
) -> None:
    with pytest.raises(SettingsError, match=problem):
        Settings.from_env(env)


def test_retention_is_off_unless_set() -> None:
    assert Settings.from_env({}).retention is None
    assert Settings.from_env({"SALES_RETENTION": "P400D"}).retention == timedelta(days=400)
