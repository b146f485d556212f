"""Event files for `salespulse publish`: readers, kind recognition, validation and reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from streams.domain.checked_events import recognise_kind
from streams.tools.event_files import (
    Outcome,
    Validation,
    csv_value,
    decide,
    file_format,
    read_csv,
    read_jsonl,
    read_records,
    report_document,
    summary_text,
    validate_sources,
)
from streams.tools.publisher import decoder_for
from streams.worker.settings import Settings

NOW = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)
DECODER = decoder_for(Settings())


def jsonl(*objects: object) -> bytes:
    return b"\n".join(orjson.dumps(o) for o in objects) + b"\n"


ACTIVITY = {
    "event_id": "a1",
    "occurred_at": "2026-11-27T10:00:00Z",
    "rep_id": "s01",
    "team_id": "t1",
    "activity": "call",
}
DEAL = {
    "event_id": "d1",
    "occurred_at": "2026-11-26T10:00:00Z",
    "rep_id": "s02",
    "team_id": "t1",
    "deal_id": "deal-1",
    "outcome": "won",
    "amount": 1200,
    "currency": "EUR",
}
FEEDBACK = {
    "event_id": "f1",
    "occurred_at": "2026-11-25T10:00:00Z",
    "rep_id": "s01",
    "team_id": "t1",
    "csat": 5,
}
TARGET = {
    "scope": "rep",
    "scope_id": "s01",
    "metric": "revenue_won",
    "period": "2026-11",
    "value": 5e4,
}


# -- kind recognition -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        (ACTIVITY, "activities"),
        # an activity may name a deal and an outcome: `activity` decides
        ({**ACTIVITY, "deal_id": "d", "outcome": "no answer"}, "activities"),
        (DEAL, "deals"),
        ({**DEAL, "outcome": "lost", "amount": None, "currency": None}, "deals"),
        (FEEDBACK, "feedback"),
        ({**FEEDBACK, "csat": None, "nps": 8}, "feedback"),
        ({**FEEDBACK, "deal_id": "d"}, "feedback"),
        (TARGET, "targets"),
        ({"outcome": "won"}, None),  # a deal needs its deal_id to be recognised
        ({"scope": "rep", "metric": "deals_won"}, None),
        ({"activity": None, "rep_id": "s01"}, None),  # null is absent
        ({}, None),
    ],
)
def test_kinds_are_recognised_from_the_fields(fields: dict[str, object], kind: str | None) -> None:
    assert recognise_kind(fields) == kind


# -- readers ----------------------------------------------------------------------------------


def test_file_format_from_the_name_then_the_content() -> None:
    assert file_format("a.csv", b"{") == "csv"
    assert file_format("a.JSONL", b"x,y") == "jsonl"
    assert file_format("a.ndjson", b"") == "jsonl"
    assert file_format("<stdin>", b'\n  {"a": 1}') == "jsonl"
    assert file_format("export.txt", b"event_id,rep_id\n") == "csv"
    assert file_format("<stdin>", b'\xef\xbb\xbf{"a":1}') == "jsonl"


def test_jsonl_lines_are_kept_byte_for_byte_with_their_line_numbers() -> None:
    data = jsonl(ACTIVITY) + b"\n   \n" + b'{"csat": 4, "x": 1}\r\n' + b"oops\n" + b"[1]\n"
    records = list(read_jsonl("e.jsonl", data))
    assert [(r.line, r.kind) for r in records] == [
        (1, "activities"),
        (4, "feedback"),
        (5, None),
        (6, None),
    ]
    assert records[0].raw == orjson.dumps(ACTIVITY)
    assert records[1].raw == b'{"csat": 4, "x": 1}', "whitespace and CR stripped, nothing else"
    assert records[2].problem is not None and records[2].problem[0] == "invalid_json"
    assert "line 1" not in records[2].problem[1], "the file's line is the one reported"
    assert records[3].problem == ("schema_violation", "$: expected a JSON object, got array")


def test_jsonl_with_a_given_kind_skips_recognition() -> None:
    records = list(read_jsonl("e.jsonl", b'{"rep_id": "s01"}\nnot json\n', kind="feedback"))
    assert [(r.kind, r.problem) for r in records] == [("feedback", None), ("feedback", None)]


def test_jsonl_hints_at_replay_for_generate_files() -> None:
    line = {"topic": "sales.activities", "key": "s01", "value": ACTIVITY}
    (record,) = read_jsonl("g.jsonl", jsonl(line))
    assert record.problem is not None
    assert record.problem[0] == "unknown_kind" and "salespulse replay" in record.problem[1]
    (record,) = read_jsonl("g.jsonl", b'{"rep_id": "s01"}')
    assert record.problem is not None and "give --kind" in record.problem[1]


@pytest.mark.parametrize(
    ("name", "cell", "value"),
    [
        ("amount", "1200", 1200),
        ("amount", " 12.50 ", 12.5),
        ("amount", "1e3", 1000.0),
        ("amount", "-3", -3),  # converted; the decoder says it must be >= 0
        ("amount", "1,200", "1,200"),  # not a number: left as text for the decoder to refuse
        ("amount", "1_000", "1_000"),
        ("amount", "nan", "nan"),
        ("csat", "4", 4),
        ("nps", "4.0", 4.0),
        ("value", ".5", 0.5),
        ("deal_id", "0042", "0042"),  # not a numeric field: stays text
        ("rep_id", "  s01 ", "s01"),
        ("account_id", "", None),
        ("amount", "  ", None),
    ],
)
def test_csv_cells(name: str, cell: str, value: object) -> None:
    assert csv_value(name, cell) == value
    assert type(csv_value(name, cell)) is type(value)


def test_csv_rows_become_json_objects_without_empty_cells() -> None:
    data = (
        b"event_id,occurred_at,rep_id,team_id,activity,deal_id,outcome,amount,currency,csat\n"
        b"a1,2026-11-27T10:00:00Z,s01,t1,call,,,,,\n"
        b"\n"
        b'd1,2026-11-26T10:00:00Z,s02,t1,,"deal,1",won,1200,EUR,\n'
        b'f1,2026-11-25T10:00:00Z,s01,t1,,,,,,"5"\n'
        b"x,y,z,1,2,3,4,5,6,7,8\n"
        b"short,2026-11-25T10:00:00Z\n"
    )
    records = list(read_csv("e.csv", data))
    assert [(r.line, r.kind) for r in records] == [
        (2, "activities"),
        (4, "deals"),
        (5, "feedback"),
        (6, None),
        (7, None),
    ]
    assert orjson.loads(records[0].raw or b"") == ACTIVITY
    assert orjson.loads(records[1].raw or b"") == {**DEAL, "deal_id": "deal,1"}
    assert orjson.loads(records[2].raw or b"") == FEEDBACK
    assert records[3].problem == (
        "malformed_row",
        "the row has 11 cells but the header names 10 fields",
    )
    # a short row is malformed too: its last cells were missing, not empty
    assert records[4].problem == (
        "malformed_row",
        "the row has 2 cells but the header names 10 fields",
    )


def test_csv_line_numbers_count_quoted_line_breaks() -> None:
    data = (
        b"event_id,occurred_at,rep_id,team_id,activity,outcome\n"
        b'a1,2026-11-27T10:00:00Z,s01,t1,call,"left a\nvoicemail"\n'
        b"a2,2026-11-27T11:00:00Z,s01,t1,nonsense,\n"
    )
    records = list(read_csv("e.csv", data))
    assert [r.line for r in records] == [2, 4]
    assert orjson.loads(records[0].raw or b"")["outcome"] == "left a\nvoicemail"


def test_csv_problems_with_the_file_itself() -> None:
    assert list(read_csv("e.csv", b"")) == []  # nothing to send, as an empty .jsonl
    (record,) = read_csv("e.csv", b" ,\nx,y\n")
    assert record.problem == ("unreadable", "no header row of field names")
    # a file of another kind read as CSV (/etc/hostname was "no records", exit 0)
    (record,) = read_csv("hostname", b"vm\n")
    assert record.problem is not None and record.problem[0] == "unreadable"
    assert "not a CSV of sales records" in record.problem[1]
    (record,) = read_csv("e.csv", b"event_id,rep_id\nok,s01\nbad,\xff\n")
    assert record.line == 3 and record.problem is not None
    assert record.problem[0] == "unreadable" and "UTF-8" in record.problem[1]


def test_a_byte_order_mark_is_dropped() -> None:
    (record,) = read_records(
        "e.csv", b"\xef\xbb\xbfscope,scope_id,metric,period,value\nrep,s01,deals_won,2026-11,3\n"
    )
    assert record.kind == "targets"
    assert orjson.loads(record.raw or b"") == {
        "scope": "rep",
        "scope_id": "s01",
        "metric": "deals_won",
        "period": "2026-11",
        "value": 3,
    }


# -- validation, ordering, decisions, reports -------------------------------------------------


def sample() -> Validation:
    future = {**ACTIVITY, "event_id": "a9", "occurred_at": (NOW + timedelta(hours=2)).isoformat()}
    files = [
        ("a.jsonl", jsonl(ACTIVITY, {**DEAL, "currency": "XYZ"}, FEEDBACK, future)),
        (
            "b.csv",
            b"scope,scope_id,metric,period,value\n"
            b"rep,s01,revenue_won,2026-11,50000\n"
            b"team,t1,revenue,2026-11,5\n",
        ),
        ("c.jsonl", jsonl({**DEAL, "occurred_at": "2026-11-27T10:00:00+00:00"})),
    ]
    return validate_sources(files, DECODER, NOW, None)


def test_every_record_is_checked_by_the_workers_decoder() -> None:
    result = sample()
    assert result.files == ["a.jsonl", "b.csv", "c.jsonl"]
    assert result.records == 7
    assert [(e.file, e.line, e.reason, e.field) for e in result.errors] == [
        ("a.jsonl", 2, "unknown_currency", "currency"),
        ("a.jsonl", 4, "future_event_time", "occurred_at"),
        ("b.csv", 3, "schema_violation", "metric"),
    ]
    assert result.by_kind() == {"activities": 1, "deals": 1, "feedback": 1, "targets": 1}


def test_valid_records_are_sent_targets_first_then_in_event_time_order() -> None:
    ordered = sample().in_send_order()
    assert [(item.file, item.line) for item in ordered] == [
        ("b.csv", 2),  # the target
        ("a.jsonl", 3),  # feedback, 25th
        ("a.jsonl", 1),  # activity, 27th 10:00
        ("c.jsonl", 1),  # deal, 27th 10:00: same instant, later in the input
    ]
    keys = [item.event.key for item in ordered]
    assert keys == ["rep:s01:revenue_won:2026-11", "s01", "s01", "s02"]


def test_decisions() -> None:
    clean = validate_sources([("a.jsonl", jsonl(ACTIVITY))], DECODER, NOW, None)
    dirty = sample()
    empty = validate_sources([("a.jsonl", b"\n")], DECODER, NOW, None)
    junk = validate_sources([("a.jsonl", b"junk\n")], DECODER, NOW, None)

    def status(v: Validation, skip: bool = False, dry: bool = False) -> tuple[str, int]:
        outcome = decide(v, skip_invalid=skip, dry_run=dry)
        return outcome.status, outcome.exit_code

    assert status(clean) == ("send", 0)
    assert status(dirty) == ("invalid", 1), "one invalid record: nothing is sent"
    assert status(dirty, skip=True) == ("send", 0)
    assert decide(dirty, skip_invalid=True, dry_run=False).skipped == 3
    assert status(clean, dry=True) == ("dry_run", 0)
    assert status(dirty, dry=True) == ("dry_run", 1)
    assert status(dirty, skip=True, dry=True) == ("dry_run", 0), "as the real run would exit"
    assert status(junk, skip=True, dry=True) == ("dry_run", 1)
    assert status(junk, skip=True) == ("nothing", 1)
    assert status(empty) == ("nothing", 0)


def test_text_report() -> None:
    result = sample()
    texts = [e.text() for e in result.errors]
    assert texts[0].startswith("a.jsonl:2: deal: $.currency: 'XYZ' is not a known currency")
    assert texts[0].endswith("(unknown_currency)")
    assert texts[2].startswith("b.csv:3: target: $.metric: must be revenue_won")
    invalid = decide(result, skip_invalid=False, dry_run=False)
    assert summary_text(result, invalid) == (
        "3 of 7 records are invalid: nothing sent (fix them, or use --skip-invalid to send "
        "the 4 valid ones)"
    )
    dry = decide(result, skip_invalid=False, dry_run=True)
    assert summary_text(result, dry) == (
        "dry run: 4 valid records (activities 1, deals 1, feedback 1, targets 1), 3 invalid; "
        "nothing sent"
    )
    sent = Outcome(
        "sent", 0, sent=result.by_kind(), skipped=3, destination="Kafka at h:1", duration_s=0.25
    )
    assert summary_text(result, sent) == (
        "sent 4 records (activities 1, deals 1, feedback 1, targets 1) to Kafka at h:1 in 0.2s;"
        " skipped 3 invalid"
    )


def test_json_report() -> None:
    result = sample()
    outcome = decide(result, skip_invalid=False, dry_run=False)
    doc = orjson.loads(orjson.dumps(report_document(result, outcome, dry_run=False)))
    assert doc["status"] == "invalid" and doc["exit_code"] == 1
    assert (doc["records"], doc["valid"], doc["invalid"], doc["skipped"]) == (7, 4, 3, 0)
    assert doc["sent"] == {}
    assert doc["errors"][1] == {
        "file": "a.jsonl",
        "line": 4,
        "kind": "activities",
        "reason": "future_event_time",
        "field": "occurred_at",
        "detail": doc["errors"][1]["detail"],
    }
    assert "SALES_MAX_CLOCK_SKEW" in doc["errors"][1]["detail"]
    assert doc["message"].startswith("3 of 7 records are invalid")


def test_sources_are_read_from_files(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(jsonl(ACTIVITY))
    result = validate_sources([(str(path), path.read_bytes())], DECODER, NOW, "activities")
    assert len(result.valid) == 1 and result.valid[0].line == 1


def test_a_column_named_twice_refuses_the_file() -> None:
    """The later (empty) cell overwrote the earlier one: a duration of 300 was lost."""
    data = (
        b"event_id,occurred_at,rep_id,team_id,activity,duration_s,duration_s\n"
        b"c7-1,2026-11-27T10:00:00Z,s01,t1,call,300,\n"
    )
    (record,) = read_csv("e.csv", data)
    assert record.problem == ("unreadable", "the header names duration_s more than once")


def test_a_value_under_an_unnamed_column_is_malformed() -> None:
    data = b"event_id,occurred_at,rep_id,team_id,activity,\na1,2026-11-27T10:00:00Z,s01,t1,call,9\n"
    (record,) = read_csv("e.csv", data)
    assert record.problem is not None and record.problem[0] == "malformed_row"
    (fine,) = read_csv("e.csv", data.replace(b",9\n", b",\n"))
    assert fine.problem is None and fine.kind == "activities"


def test_a_cell_past_the_csv_field_limit_is_a_line_error_not_a_crash() -> None:
    data = b"event_id,occurred_at,rep_id,team_id,activity,outcome\n" + (
        b'a1,2026-11-27T10:00:00Z,s01,t1,call,"' + b"x" * 200_000 + b'"\n'
    )
    (record,) = read_csv("e.csv", data)
    assert record.problem is not None and record.problem[0] == "unreadable"
    assert "field larger than field limit" in record.problem[1]


def test_only_ascii_digits_make_a_number() -> None:
    assert csv_value("csat", "5") == 5 and csv_value("csat", "\uff15") == "\uff15"
    assert csv_value("nps", "\u0663") == "\u0663"


def test_a_json_line_with_a_number_beyond_a_double_in_an_unknown_field_is_recognised() -> None:
    """orjson refuses `1e400`, the worker ignores it in an unknown field: publish did not."""
    line = orjson.dumps(ACTIVITY)[:-1] + b',"x":1e400}'
    (record,) = read_jsonl("e.jsonl", line)
    assert record.problem is None and record.kind == "activities" and record.raw == line
    (nan,) = read_jsonl("e.jsonl", orjson.dumps(ACTIVITY)[:-1] + b',"x":NaN}')
    assert nan.problem is not None and nan.problem[0] == "invalid_json"
