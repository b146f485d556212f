"""Reading dead letters back: counted, listed newest first, and exported as lines that
`salespulse publish` reads (streams.tools.dead_letters, streams.tools.commands.deadletters)."""

from __future__ import annotations

import argparse
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from streams.domain.deadletter import deadletter_record
from streams.domain.validation import Rejection
from streams.tools.commands.deadletters import export_sink, since_ms
from streams.tools.dead_letters import (
    BINARY,
    BROKEN,
    CUT,
    EMPTY,
    NULL,
    REKEYED,
    DeadLetter,
    Export,
    Review,
    Selection,
    event_time,
    export_line,
    parse,
)

AT = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
DEAL = b'{"event_id":"d1", "occurred_at":"2026-11-27T10:00:00Z","currency":"XYZ"}'


def letter(
    payload: bytes | None = DEAL,
    *,
    reason: str = "unknown_currency",
    topic: str = "sales.deals",
    offset: int = 7,
    seconds: int = 0,
    max_bytes: int = 1_000_000,
    key: bytes = b"s01",
) -> DeadLetter:
    """A dead letter as the worker writes it, read back."""
    value = deadletter_record(
        rejection=Rejection(reason, f"detail of {offset}"),
        topic=topic,
        partition=3,
        offset=offset,
        key=key,
        payload=payload,
        received_at=AT + timedelta(seconds=seconds),
        max_bytes=max_bytes,
    )
    parsed = parse(value)
    assert parsed is not None
    return parsed


def test_a_dead_letter_reads_back_with_where_its_original_lies() -> None:
    dl = letter()
    assert (dl.reason, dl.topic, dl.partition, dl.offset) == (
        "unknown_currency",
        "sales.deals",
        3,
        7,
    )
    assert dl.where == "sales.deals[3]@7"
    assert dl.received_at == "2026-11-27T10:00:00.000Z"
    assert dl.detail == "detail of 7"
    assert dl.document["key"] == "s01"


@pytest.mark.parametrize(
    "value", [None, b"", b"not json", b"[1, 2]", b'{"detail": "no reason"}', b'{"reason": 5}']
)
def test_a_record_that_is_no_dead_letter_is_recognised(value: bytes | None) -> None:
    assert parse(value) is None


def test_a_one_line_payload_is_exported_exactly_as_received() -> None:
    assert export_line(letter()) == DEAL.decode()


def test_a_json_payload_over_several_lines_is_exported_on_one_line_as_written() -> None:
    line = export_line(letter(b'{\r\n  "event_id": "d1",\n  "amount": 1.50\n}\n'))
    assert line == '{    "event_id": "d1",   "amount": 1.50 } '


@pytest.mark.parametrize(
    "payload",
    [
        b'{\n "csat": "x",\n "csat": 5\n}',  # refused for its first value: compacted, it was valid
        b'{\n "x": 123456789012345678901234567890\n}',  # compacted: 1.2345678901234568e+29
        b'{\n "x": 1e400\n}',  # valid JSON, beyond a double: was "invalid JSON over lines"
    ],
)
def test_a_payload_over_several_lines_keeps_every_token(payload: bytes) -> None:
    line = export_line(letter(payload))
    assert line == payload.decode().replace("\n", " ")


def test_a_target_refused_for_its_key_is_not_exported_under_another() -> None:
    value = b'{"scope":"rep","scope_id":"dl2","metric":"deals_won","period":"2026-11","value":3}'
    mismatched = letter(value, topic="sales.targets", key=b"rep:dl1:deals_won:2026-11")
    assert export_line(mismatched) is REKEYED
    matching = letter(value, topic="sales.targets", key=b"rep:dl2:deals_won:2026-11")
    assert export_line(matching) == value.decode()


@pytest.mark.parametrize(
    ("payload", "max_bytes", "why"),
    [
        (b'{"event_id":\n "d1"', 1_000_000, BROKEN),
        (b'{"event_id": "\xff\xfe"}', 1_000_000, BINARY),
        (b'{"note": "' + b"x" * 5_000 + b'"}', 3_000, CUT),
        (None, 1_000_000, NULL),
        (b"  ", 1_000_000, EMPTY),
    ],
    ids=["invalid JSON over lines", "not UTF-8", "cut to fit", "Kafka null", "empty"],
)
def test_what_cannot_be_a_line_says_why(payload: bytes | None, max_bytes: int, why: object) -> None:
    assert export_line(letter(payload, max_bytes=max_bytes)) is why


def test_an_export_counts_old_events_and_names_the_first_it_could_not_write() -> None:
    sink = io.StringIO()
    export = Export(sink, cutoff=(AT - timedelta(days=7)).timestamp())
    recent = b'{"event_id":"a1","occurred_at":"2026-11-27T09:00:00+01:00"}'
    old = b'{"event_id":"a2","occurred_at":"2026-11-19T23:59:59Z"}'
    export.add(letter(recent, reason="late_event", offset=1))
    export.add(letter(old, reason="late_event", offset=2))
    export.add(letter(DEAL, offset=3))  # its event time is the cutoff's day, after it
    export.add(letter(None, offset=4))
    export.add(letter(None, offset=5))
    assert sink.getvalue().splitlines() == [recent.decode(), old.decode(), DEAL.decode()]
    assert export.written == 3
    assert export.old == 1
    assert export.skipped == {NULL: 2}
    assert export.first_skipped == {NULL: "sales.deals[3]@4"}


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('{"occurred_at": "2026-11-27T10:00:00Z"}', AT.timestamp()),
        ('{"occurred_at": "2026-11-27T10:00:00"}', None),
        ('{"occurred_at": 5}', None),
        ('{"occurred_at": "soon"}', None),
        ("[1]", None),
        ('{"event_id": ', None),
    ],
)
def test_the_event_time_of_a_line_when_it_has_a_readable_one(
    line: str, expected: float | None
) -> None:
    assert event_time(line) == expected


def test_a_review_counts_by_topic_and_reason_and_keeps_the_latest_newest_first() -> None:
    review = Review(keep=2)
    review.add(letter(offset=1, seconds=30))
    review.add(letter(offset=2, seconds=10))
    review.add(letter(reason="invalid_json", topic="sales.activities", offset=3, seconds=20))
    review.add(letter(offset=4, seconds=5))
    assert review.total == 4
    rows = [
        (t, r, g.count, g.first_received, g.last_received)
        for t, r, g in review.by_topic_and_reason()
    ]
    assert rows == [
        (
            "sales.deals",
            "unknown_currency",
            3,
            "2026-11-27T10:00:05.000Z",
            "2026-11-27T10:00:30.000Z",
        ),
        (
            "sales.activities",
            "invalid_json",
            1,
            "2026-11-27T10:00:20.000Z",
            "2026-11-27T10:00:20.000Z",
        ),
    ]
    assert [dl.offset for dl in review.latest()] == [1, 3]


def test_a_review_keeping_none_still_counts() -> None:
    review = Review(keep=0)
    review.add(letter())
    assert review.total == 1 and review.latest() == []


def test_a_selection_filters_by_input_topic_and_reason() -> None:
    deal, activity = letter(), letter(reason="invalid_json", topic="sales.activities")
    assert Selection().wants(deal) and Selection().wants(activity)
    by_topic = Selection(topics=frozenset({"sales.deals"}))
    assert by_topic.wants(deal) and not by_topic.wants(activity)
    by_reason = Selection(reasons=frozenset({"invalid_json"}))
    assert by_reason.wants(activity) and not by_reason.wants(deal)
    both = Selection(frozenset({"sales.deals"}), frozenset({"invalid_json"}))
    assert not both.wants(deal) and not both.wants(activity)


def test_since_takes_a_time_with_an_offset_or_a_duration_back_from_now() -> None:
    assert since_ms("2026-11-27T10:00:00Z") == int(AT.timestamp() * 1000)
    assert since_ms("2026-11-27T11:00:00+01:00") == int(AT.timestamp() * 1000)
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).timestamp() * 1000
    assert abs(since_ms("2h") - two_hours_ago) < 5_000
    assert abs(since_ms("PT2H") - two_hours_ago) < 5_000
    with pytest.raises(argparse.ArgumentTypeError, match="offset"):
        since_ms("2026-11-27T10:00:00")
    with pytest.raises(argparse.ArgumentTypeError):
        since_ms("yesterday")


def test_the_json_document_of_an_empty_review() -> None:
    from streams.tools.commands.deadletters import as_document

    doc = as_document("sales.deadletter", Review(keep=3))
    assert orjson.loads(orjson.dumps(doc)) == {
        "topic": "sales.deadletter",
        "total": 0,
        "not_dead_letters": 0,
        "by_topic_and_reason": [],
        "latest": [],
    }


def test_an_export_file_appears_only_once_complete(tmp_path: Path) -> None:
    target = tmp_path / "fix.jsonl"
    with pytest.raises(RuntimeError), export_sink(str(target)) as sink:
        assert sink is not None
        sink.write("{}\n")
        raise RuntimeError("Kafka went away")
    assert list(tmp_path.iterdir()) == [], "no partial file, no .part left"
    with export_sink(str(target)) as sink:
        assert sink is not None
        sink.write("{}\n")
    assert target.read_text() == "{}\n" and list(tmp_path.iterdir()) == [target]
    with export_sink(None) as nothing:
        assert nothing is None


@pytest.mark.parametrize("where", ["a-dir", "missing/fix.jsonl"])
def test_an_export_that_cannot_be_written_names_the_file_asked_for(
    tmp_path: Path, where: str
) -> None:
    """The error named FILE.part, a file the user never asked for (the operator audit)."""
    (tmp_path / "a-dir").mkdir()
    target = str(tmp_path / where)
    with pytest.raises(OSError) as failed, export_sink(target) as sink:
        assert sink is not None
        sink.write("{}\n")
    assert str(failed.value).startswith(f"cannot write the export to {target}: ")
    assert ".part" not in str(failed.value)


def test_the_table_says_when_nothing_matches_and_what_is_no_dead_letter(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from streams.tools.commands.deadletters import print_review

    args = argparse.Namespace(topic=[], reason=["late_event"], since=None)
    empty = Review(keep=5)
    empty.not_dead_letters = 2
    print_review("sales.deadletter", empty, args)
    captured = capsys.readouterr()
    assert "no dead letters on sales.deadletter that match" in captured.out
    assert "2 records on sales.deadletter are not dead letters" in captured.err

    found = Review(keep=1)
    found.add(letter(offset=1, seconds=1))
    found.add(letter(offset=2, seconds=2))
    print_review("sales.deadletter", found, argparse.Namespace(topic=[], reason=[], since=None))
    out = capsys.readouterr().out
    assert "2 dead letters on sales.deadletter" in out and "latest 1" in out
    assert "sales.deals[3]@2" in out and "sales.deals[3]@1" not in out
    assert "2026-11-27 10:00" in out, "times shortened to the minute in the counts"
