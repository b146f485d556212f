"""The internal topic's envelopes (streams.worker.batch_handler.envelopes): each at most
ENVELOPE_BYTES whatever the items hold, every item once and in order, and an item larger
than that alone in its envelope; and the topics' message limits the worker needs
(streams.worker.message_limits)."""

from __future__ import annotations

from streams.engine.items import (
    DealContribution,
    DealFigure,
    Item,
    RawEvent,
    TouchItem,
    decode_envelope,
)
from streams.worker.batch_handler import envelopes
from streams.worker.message_limits import ENVELOPE_BYTES, KAFKA_DEFAULT, NEEDED, too_small


def contribution(n: int, account: str) -> DealContribution:
    figure = DealFigure(
        occurred_at=1.8e9, outcome="won", amount_base="100", cycle_seconds=None,
        rep="r" * 64, team="t" * 64, account=account,
    )  # fmt: skip
    return DealContribution("team:" + "t" * 64, f"{n:0128d}", figure)


def decoded(sent: list[bytes]) -> list[Item]:
    return [item for envelope in sent for item in decode_envelope(envelope)]


def test_items_larger_than_guessed_are_split_until_each_envelope_fits() -> None:
    """A contribution is guessed at 256 bytes; one with a 10 KB account id (valid input:
    account_id has no length limit but the payload's) is 10 KB. 3,000 of them made one
    envelope of 30 MB, which Kafka refused at every start."""
    items: list[Item] = [contribution(n, "a" * 10_000) for n in range(3000)]
    sent = list(envelopes(items))
    assert all(len(envelope) <= ENVELOPE_BYTES for envelope in sent)
    assert decoded(sent) == items
    assert len(sent) >= 3000 * 10_000 // ENVELOPE_BYTES


def test_small_items_share_envelopes_as_guessed() -> None:
    items: list[Item] = [TouchItem("deal:d1", f"e{n}", "call", 1.8e9, 0) for n in range(1000)]
    sent = list(envelopes(items))
    assert len(sent) == 1 and decoded(sent) == items


def test_an_item_larger_than_an_envelope_goes_alone() -> None:
    big = RawEvent("rep:r1", "activities", "sales.activities", 0, 7, b"k" * 1000, b"x" * 600_000)
    small = TouchItem("deal:d1", "e1", "call", 1.8e9, 0)
    sent = list(envelopes([small, big, small]))
    assert [decode_envelope(envelope) for envelope in sent] == [[small], [big], [small]]
    assert len(sent[1]) > ENVELOPE_BYTES


def test_a_topic_limit_below_the_largest_record_is_refused_with_the_fix() -> None:
    assert too_small("app-scopes-changelog", None, "changelog") is None  # not said: not refused
    assert too_small("app-scopes-changelog", KAFKA_DEFAULT, "changelog") is None
    assert too_small("app-scopes-changelog", NEEDED, "changelog") is None
    refusal = too_small("app.scopes", NEEDED - 1, "internal")
    assert refusal is not None
    assert refusal.startswith(f"salespulse worker: the internal topic app.scopes takes records "
                              f"of at most {NEEDED - 1} bytes")  # fmt: skip
    assert f"--entity-name app.scopes --add-config max.message.bytes={KAFKA_DEFAULT}" in refusal
