"""SALES_GROUP_INSTANCE_ID: static membership in the consumer group, and the id a worker
joins with (tests/integration/test_static_membership.py restarts real workers with it)."""

from __future__ import annotations

import pytest

from streams.worker.runtime import faust_app
from streams.worker.settings import MAX_INSTANCE_ID_CHARS, Settings, SettingsError


def test_a_dynamic_member_by_default() -> None:
    settings = Settings.from_env({})
    assert settings.group_instance_id == ""
    assert settings.member_instance_id is None
    assert faust_app(settings).conf.consumer_group_instance_id is None


def test_the_id_joined_with_names_the_worker_and_its_address() -> None:
    env = {"SALES_GROUP_INSTANCE_ID": "salespulse-0", "SALES_API_PORT": "6066"}
    settings = Settings.from_env(env)
    member = settings.member_instance_id
    assert member is not None and member.startswith("salespulse-0-")
    assert faust_app(settings).conf.consumer_group_instance_id == member
    # the same worker restarted where it was rejoins as the same member
    assert Settings.from_env(dict(env)).member_instance_id == member
    # back on another address it is another member: Faust's assignor would hand it the
    # assignment of its old URL and fail on it
    for other in ({"SALES_API_PORT": "6067"}, {"SALES_API_ADVERTISED_URL": "http://w0:6066"}):
        moved = Settings.from_env({**env, **other}).member_instance_id
        assert moved is not None and moved.startswith("salespulse-0-") and moved != member
    # the suffix keeps the whole id within Kafka's limit of 249 characters
    longest = Settings.from_env({"SALES_GROUP_INSTANCE_ID": "w" * MAX_INSTANCE_ID_CHARS})
    assert len(longest.member_instance_id or "") == 249


@pytest.mark.parametrize(
    "bad", ["has space", "slash/y", "pod:0", "é", "w" * (MAX_INSTANCE_ID_CHARS + 1)]
)
def test_an_unusable_instance_id_names_the_variable(bad: str) -> None:
    with pytest.raises(SettingsError, match="SALES_GROUP_INSTANCE_ID") as caught:
        Settings.from_env({"SALES_GROUP_INSTANCE_ID": bad})
    assert "unique per worker" in str(caught.value)


def test_an_empty_instance_id_is_a_dynamic_member() -> None:
    assert Settings.from_env({"SALES_GROUP_INSTANCE_ID": ""}).member_instance_id is None
