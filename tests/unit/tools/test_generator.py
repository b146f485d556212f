"""The demo/benchmark generator: deterministic, realistic, and honest about its bad records."""

from __future__ import annotations

import io
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson
import pytest

from streams.domain.validation import EventDecoder, Rejection
from streams.tools.commands.replay import read_records
from streams.tools.generator import (
    CHURN_REASONS,
    CONTEXTS,
    DEFAULT_FX_PATH,
    LOST_REASONS,
    GeneratorConfig,
    Record,
    SalesSimulator,
    demo_targets,
    generate,
    in_business_hours,
    load_fx_rates,
    targets_for,
)

FX = load_fx_rates(DEFAULT_FX_PATH, "USD")
END = datetime(2026, 11, 27, 16, 30, tzinfo=UTC)
RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)$")
ACTIVITIES = {
    "call",
    "email",
    "meeting",
    "demo",
    "proposal",
    "negotiation",
    "social",
    "event",
    "follow_up",
}


def config(**overrides: object) -> GeneratorConfig:
    base: dict[str, object] = {
        "seed": 11,
        "events": 5000,
        "start": END - timedelta(days=30),
        "end": END,
        "fx_rates": FX,
        "timezone": "Europe/Paris",
    }
    base.update(overrides)
    return GeneratorConfig(**base)  # type: ignore[arg-type]


def decoder() -> EventDecoder:
    return EventDecoder(
        known_currencies=frozenset(FX),
        max_payload_bytes=65536,
        max_clock_skew=timedelta(hours=1),
    )


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first = [r.jsonl("t") for r in generate(config(late_rate=0.05, invalid_rate=0.05))]
    again = [r.jsonl("t") for r in generate(config(late_rate=0.05, invalid_rate=0.05))]
    other = [r.jsonl("t") for r in generate(config(seed=12, late_rate=0.05, invalid_rate=0.05))]
    assert first == again
    assert first != other
    assert len(first) == 5000


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_valid_records_follow_the_contract(context: str) -> None:
    cfg = config(context=context, events=4000)
    dec = decoder()
    now = END + timedelta(minutes=1)
    seen: dict[str, set[str]] = defaultdict(set)
    for record in generate(cfg):
        assert record.label == "valid"
        assert record.value is not None
        event = orjson.loads(record.value)
        assert record.key == event["rep_id"], "records are keyed by rep_id"
        assert 1 <= len(event["event_id"]) <= 128
        assert event["event_id"] not in seen[record.topic_kind], "event ids are unique per topic"
        seen[record.topic_kind].add(event["event_id"])
        assert RFC3339.match(event["occurred_at"]), event["occurred_at"]
        occurred = datetime.fromisoformat(event["occurred_at"])
        assert occurred <= END, "never in the future"
        assert 1 <= len(event["team_id"]) <= 64
        decoded = dec.decode(record.topic_kind, record.key.encode(), record.value, now)
        assert not isinstance(decoded, Rejection), (decoded, event)
        if record.topic_kind == "activities":
            assert event["activity"] in ACTIVITIES
        elif record.topic_kind == "deals":
            assert event["outcome"] in ("won", "lost", "reopened", "open")
            if event["outcome"] == "won":
                assert event["amount"] >= 0 and event["currency"] in FX
            assert datetime.fromisoformat(event["created_at"]) <= occurred
        else:
            assert "csat" in event or "nps" in event
    assert set(seen) == {"activities", "deals", "feedback"}


def test_activity_mix_depends_on_the_context() -> None:
    def mix(context: str) -> Counter[str]:
        return Counter(
            orjson.loads(r.value)["activity"]  # type: ignore[arg-type]
            for r in generate(config(context=context, events=6000))
            if r.topic_kind == "activities"
        )

    saas, consulting, agency = mix("saas"), mix("consulting"), mix("agency")
    assert saas["demo"] > 5 * max(1, consulting["demo"])
    assert consulting["meeting"] > saas["meeting"] * 2
    assert consulting["proposal"] > saas["proposal"] * 2
    assert agency["social"] > saas["social"] * 5
    assert agency["event"] > 0 and saas["event"] == 0


def test_business_hours_and_weekdays_in_the_configured_zone() -> None:
    tz = ZoneInfo("America/New_York")
    cfg = config(timezone="America/New_York", events=8000, late_rate=0.05)
    weekdays: Counter[int] = Counter()
    for record in generate(cfg):
        event = orjson.loads(record.value)  # type: ignore[arg-type]
        occurred = datetime.fromisoformat(event["occurred_at"])
        assert in_business_hours(occurred, tz), event["occurred_at"]
        assert occurred.utcoffset() == occurred.astimezone(tz).utcoffset()
        weekdays[occurred.astimezone(tz).weekday()] += 1
    assert set(weekdays) == {0, 1, 2, 3, 4}


def test_profiles_really_differ_over_a_long_run() -> None:
    cfg = config(events=60_000, reps=9, teams=3, start=END - timedelta(days=120))
    sim = SalesSimulator(cfg)
    profile_of = {rep.rep_id: rep.profile.name for rep in sim.reps}
    activities: Counter[str] = Counter()
    state: dict[str, tuple[str, str]] = {}
    start, end = cfg.span()
    for record in sim.history(start, end, cfg.events):
        event = orjson.loads(record.value)  # type: ignore[arg-type]
        if record.topic_kind == "activities":
            activities[profile_of[event["rep_id"]]] += 1
        elif record.topic_kind == "deals":
            state[event["deal_id"]] = (profile_of[event["rep_id"]], event["outcome"])
    wins = Counter(profile for profile, outcome in state.values() if outcome == "won")
    per_win = {p: activities[p] / wins[p] for p in ("busy_not_closing", "steady", "efficient")}
    assert per_win["busy_not_closing"] > 2 * per_win["steady"] > 2 * per_win["efficient"], per_win
    assert activities["busy_not_closing"] > activities["efficient"] * 2


def test_amounts_use_only_currencies_of_the_fx_file() -> None:
    fx = {"USD": 1.0, "EUR": 1.08}
    currencies: Counter[str] = Counter()
    for record in generate(config(events=10_000, fx_rates=fx)):
        event = orjson.loads(record.value)  # type: ignore[arg-type]
        if "currency" in event:
            currencies[event["currency"]] += 1
    assert set(currencies) == {"USD", "EUR"}


def test_late_duplicate_and_invalid_rates_roughly_as_configured() -> None:
    cfg = config(events=20_000, late_rate=0.05, duplicate_rate=0.03, invalid_rate=0.04)
    records = list(generate(cfg))
    labels = Counter(r.label.split(":")[0] for r in records)
    assert labels["late"] / 20_000 == pytest.approx(0.05, abs=0.01)
    assert labels["duplicate"] / 20_000 == pytest.approx(0.03, abs=0.01)
    assert labels["invalid"] / 20_000 == pytest.approx(0.04, abs=0.01)
    reasons = Counter(r.label.split(":")[1] for r in records if r.label.startswith("invalid"))
    assert set(reasons) == {
        "invalid_json",
        "schema_violation",
        "unknown_currency",
        "unsupported_schema_version",
    }


def test_bad_records_are_what_their_label_says() -> None:
    cfg = config(events=6000, late_rate=0.05, duplicate_rate=0.05, invalid_rate=0.1)
    dec = decoder()
    now = END + timedelta(minutes=1)
    sent_ids: set[tuple[str, str]] = set()
    newest = datetime.min.replace(tzinfo=UTC)
    for record in generate(cfg):
        result = dec.decode(record.topic_kind, (record.key or "").encode(), record.value, now)
        if record.label.startswith("invalid:"):
            assert isinstance(result, Rejection), record
            assert result.reason == record.label.split(":")[1], (result, record.value)
            continue
        assert not isinstance(result, Rejection), (result, record.value)
        event = orjson.loads(record.value)  # type: ignore[arg-type]
        identity = (record.topic_kind, event["event_id"])
        occurred = datetime.fromisoformat(event["occurred_at"])
        if record.label == "duplicate":
            assert identity in sent_ids
        else:
            assert identity not in sent_ids
        sent_ids.add(identity)
        if record.label == "late":
            assert occurred < newest - cfg.late_grace
        elif record.label == "valid":
            newest = max(newest, occurred)


def test_jsonl_round_trips_through_replay_parsing() -> None:
    records = list(generate(config(events=800, invalid_rate=0.2)))
    text = b"".join(r.jsonl(f"sales.{r.topic_kind}") + b"\n" for r in records)
    back = list(read_records(io.BytesIO(text)))
    assert [(t, k, v) for t, k, v in back] == [
        (f"sales.{r.topic_kind}", (r.key or "").encode(), r.value) for r in records
    ]
    raw = [orjson.loads(line) for line in text.splitlines()]
    assert any("value_raw" in line for line in raw)


def test_demo_targets_cover_reps_and_teams_with_a_spread_of_ambition() -> None:
    cfg = config(events=6000, reps=12, teams=3)
    targets = demo_targets(cfg, END)
    by_scope = Counter(t.key.split(":")[0] for t in targets if t.key)
    assert by_scope == {"rep": 36, "team": 9}
    for record in targets:
        value = orjson.loads(record.value)  # type: ignore[arg-type]
        assert record.key == (
            f"{value['scope']}:{value['scope_id']}:{value['metric']}:{value['period']}"
        )
        assert value["period"] == "2026-11" and value["value"] > 0
        assert value["metric"] in ("revenue_won", "deals_won", "activities_total")
    # revenue targets relative to each rep's own pace differ: some easy, some out of reach
    revenue = [
        orjson.loads(t.value)["value"]  # type: ignore[arg-type]
        for t in targets
        if t.key and t.key.startswith("rep:") and ":revenue_won:" in t.key
    ]
    assert len(set(revenue)) > 6


@pytest.mark.parametrize("elapsed", [0.1, 0.5, 0.9])
def test_demo_targets_are_achieved_on_track_and_at_risk_whatever_the_day(elapsed: float) -> None:
    """Early in the month too: a factor of 0.6 achieved nothing before 60 % of it had passed."""
    reps = [f"r{i:02d}" for i in range(40)]
    to_date = {
        rep: {"revenue_won": 47000.0, "deals_won": 4.0, "activities_total": 90.0} for rep in reps
    }
    records = targets_for(to_date, dict.fromkeys(reps, "t1"), "2026-11", elapsed, seed=7)
    statuses: Counter[str] = Counter()
    for record in records:
        value = orjson.loads(record.value)  # type: ignore[arg-type]
        if value["scope"] != "rep" or value["metric"] != "revenue_won":
            continue
        target, actual = value["value"], 47000.0
        expected = target * elapsed
        if actual >= target:
            statuses["achieved"] += 1
        elif actual < 0.8 * expected:
            statuses["at_risk"] += 1
        else:
            statuses["on_track" if actual >= expected else "behind"] += 1
    assert statuses["achieved"] and statuses["on_track"] and statuses["at_risk"], statuses


def test_config_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="context"):
        config(context="bakery")
    with pytest.raises(ValueError, match="at most 1"):
        config(late_rate=0.6, invalid_rate=0.6)
    with pytest.raises(ValueError, match="teams"):
        config(reps=2, teams=3)
    with pytest.raises(ValueError, match="business hours"):
        saturday = datetime(2026, 11, 28, 10, tzinfo=UTC)
        list(generate(config(start=saturday, end=saturday + timedelta(hours=5))))


def test_records_are_plain_data() -> None:
    record = Record("activities", "r01", b"{}")
    assert record.jsonl("sales.activities") == (
        b'{"topic":"sales.activities","key":"r01","value":{}}'
    )
    tombstone = Record("targets", "rep:r01:deals_won:2026-11", None)
    assert orjson.loads(tombstone.jsonl("sales.targets"))["value"] is None


def test_contexts_never_share_reps_or_deals() -> None:
    ids: dict[str, set[str]] = {}
    for context in CONTEXTS:
        seen: set[str] = set()
        for record in generate(config(context=context, events=2000)):
            event = orjson.loads(record.value)  # type: ignore[arg-type]
            seen.add(event["rep_id"])
            if "deal_id" in event:
                seen.add(event["deal_id"])
        ids[context] = seen
    assert not ids["saas"] & ids["consulting"]
    assert not ids["saas"] & ids["agency"]
    assert not ids["consulting"] & ids["agency"]


# -- deals as contract section 8.1 describes them ---------------------------------------------


def deal_events(cfg: GeneratorConfig) -> dict[str, list[dict[str, Any]]]:
    """Every valid deal event of the stream, per deal, in stream order."""
    deals: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for record in generate(cfg):
        if record.topic_kind == "deals" and record.label == "valid":
            event = orjson.loads(record.value)  # type: ignore[arg-type]
            deals[event["deal_id"]].append(event)
    return deals


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_deals_open_move_through_their_stages_then_close(context: str) -> None:
    cfg = config(context=context, events=8000, start=END - timedelta(days=90))
    start, _ = cfg.span()
    model = CONTEXTS[context].deals
    closing = Counter[str]()
    for deal_id, events in deal_events(cfg).items():
        first = events[0]
        for field in ("created_at", "account_id", "kind", "source"):
            assert len({e.get(field) for e in events}) == 1, (deal_id, field)
        kind = first.get("kind", "new_business")
        stages = model.stages_of(kind)
        times = [at(e["occurred_at"]) for e in events]
        assert times == sorted(times)
        if at(first["created_at"]) >= start:  # born in the span: its first event opens it
            assert first["outcome"] == "open" and first["created_at"] == first["occurred_at"]
            assert first.get("stage", stages[0]) == stages[0]
        positions = []
        for event in events:
            if event["outcome"] in ("open", "reopened"):
                assert at(event["expected_close_at"]) > at(event["occurred_at"])
                assert ("amount" in event) == ("currency" in event)
                if "stage" in event:  # a few CRMs leave it out: reported as unknown
                    positions.append(stages.index(event["stage"]))
            if event["outcome"] == "lost" and "lost_reason" in event:
                assert event["lost_reason"] in {*LOST_REASONS, *CHURN_REASONS}
        assert positions == sorted(positions), (deal_id, events)
        closes = [e["outcome"] for e in events if e["outcome"] in ("won", "lost")]
        if len(closes) > 1:  # closed, reopened, closed again
            assert [e["outcome"] for e in events][-3:-1] == [closes[0], "reopened"]
        created_early = at(first["created_at"]) < start + timedelta(days=30)
        closing[f"{'early' if created_early else 'late'}:{'closed' if closes else 'open'}"] += 1
        closing["reopened"] += any(e["outcome"] == "reopened" for e in events)
    assert closing["early:closed"] > 2 * closing["early:open"], closing
    assert closing["late:open"] > 0 and closing["reopened"] > 0, closing


def test_each_context_has_its_own_kinds_sources_and_sizes() -> None:
    summary: dict[str, dict[str, Any]] = {}
    for context in CONTEXTS:
        finals = [events[-1] for events in deal_events(config(context=context)).values()]
        won = [e for e in finals if e["outcome"] == "won"]
        new = [e for e in finals if e.get("kind", "new_business") == "new_business"]
        summary[context] = {
            "deals": len(finals),
            "kinds": Counter(e.get("kind", "new_business") for e in finals),
            "sources": Counter(e.get("source", "unknown") for e in new),
            "avg_won": sum(e["amount"] * FX[e["currency"]] for e in won) / len(won),
            "renewals": Counter(e["outcome"] for e in finals if e.get("kind") == "renewal"),
            "no_kind": sum("kind" not in e for e in finals),
        }
    saas, consulting, agency = (summary[c] for c in ("saas", "consulting", "agency"))
    assert saas["kinds"]["new_business"] > saas["kinds"]["expansion"] > 0, saas
    assert saas["no_kind"] > 0, "some CRMs leave the default kind out"
    assert consulting["deals"] < saas["deals"] and consulting["avg_won"] > 4 * saas["avg_won"]
    assert consulting["sources"].most_common(1)[0][0] == "referral", consulting
    assert agency["kinds"]["renewal"] > 0.3 * agency["deals"], agency
    assert agency["renewals"]["won"] > agency["renewals"]["lost"] > 0, agency
    assert sum(n for s, n in agency["sources"].items() if s.startswith("campaign-")) > 0.3 * sum(
        agency["sources"].values()
    )


def test_accounts_come_back_and_activities_touch_open_deals() -> None:
    cfg = config(events=8000, start=END - timedelta(days=60))
    deals_of_account: dict[str, set[str]] = defaultdict(set)
    history: dict[str, list[tuple[datetime, str]]] = defaultdict(list)
    touches, activities = 0, 0
    for record in generate(cfg):
        event = orjson.loads(record.value)  # type: ignore[arg-type]
        if record.topic_kind == "deals":
            deals_of_account[event["account_id"]].add(event["deal_id"])
            history[event["deal_id"]].append((at(event["occurred_at"]), event["outcome"]))
        elif record.topic_kind == "activities":
            activities += 1
            if "deal_id" in event:
                touches += 1
                states = history.get(event["deal_id"], [])
                assert not states or states[-1][1] in ("open", "reopened"), (event, states)
    assert 0.4 < touches / activities < 0.8
    repeat = [a for a, ids in deals_of_account.items() if len(ids) > 1]
    assert len(repeat) > 10, "customers buy again: expansions and renewals"


@pytest.mark.parametrize("context", sorted(CONTEXTS))
def test_a_month_of_history_feeds_every_section_8_2_figure(context: str) -> None:
    """Section 8.2's figures over the final deal states, by hand, for November and W48."""
    cfg = config(context=context, events=6000)
    finals = {d: events[-1] for d, events in deal_events(cfg).items()}
    touched = Counter(
        orjson.loads(r.value).get("deal_id")  # type: ignore[arg-type]
        for r in generate(cfg)
        if r.topic_kind == "activities"
    )
    in_nov = [e for e in finals.values() if e["occurred_at"].startswith("2026-11")]
    won = [e for e in in_nov if e["outcome"] == "won"]
    lost = [e for e in in_nov if e["outcome"] == "lost"]
    assert len({e.get("source") for e in won + lost}) >= 3
    assert len({e.get("lost_reason") for e in lost}) >= 3
    assert {e.get("kind", "new_business") for e in won} >= {"new_business", "expansion"}
    assert sum(e.get("kind") == "renewal" for e in won + lost) > 0
    cohort = [e for e in finals.values() if e["created_at"].startswith("2026-11")]
    assert len(cohort) > 20 and any(e["outcome"] in ("won", "lost") for e in cohort)
    pipeline = [
        e
        for e in finals.values()
        if e["outcome"] in ("open", "reopened") and e["expected_close_at"] < "2026-12"
    ]
    assert len(pipeline) > 3 and len({e.get("stage") for e in pipeline}) >= 2
    assert sum(touched[e["deal_id"]] for e in won) > 2 * len(won)
    first_win: dict[str, str] = {}
    for event in sorted(
        (e for e in finals.values() if e["outcome"] == "won"),
        key=lambda e: (e["occurred_at"], e["deal_id"]),
    ):
        first_win.setdefault(event["account_id"], event["occurred_at"])
    week = [e for e in won if e["occurred_at"] >= "2026-11-23"]
    assert any(first_win[e["account_id"]] < "2026-11-23" for e in week), "repeat customers"


def test_live_events_keep_deals_moving() -> None:
    sim = SalesSimulator(config(events=2000))
    start, end = sim.config.span()
    list(sim.history(start, end, 2000))
    ticks = iter(range(10**6))
    live = sim.live(lambda: end + timedelta(seconds=next(ticks) / 8))
    outcomes = Counter(
        orjson.loads(r.value)["outcome"]  # type: ignore[arg-type]
        for r in (next(live) for _ in range(3000))
        if r.topic_kind == "deals"
    )
    assert outcomes["won"] > 5 and outcomes["lost"] > 5 and outcomes["open"] > 20, outcomes
