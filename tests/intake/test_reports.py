"""The report endpoints over a generated history, on SQLite and PostgreSQL: every figure equals
a brute-force count over the same facts, CSV says what JSON says, each role sees its share."""

import csv
import io
import itertools
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from shared.access import hash_token
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import AgentRow, TeamMemberRow, TeamRow
from shared.percentiles import percentile_cont
from tests.intake import report_oracle as oracle
from tests.intake.report_data import TEAMS, History, generate, store

API = "/api/v1/reports"
START = datetime(2025, 3, 3, tzinfo=UTC)
DAYS = 45
GROUPINGS = ("team", "agent", "department", "help_topic", "priority")
# agent11 is in team1 and team3; gone is inactive; eve is a viewer; boss an admin of no team.
MULTI_TEAM = {"team1", "team3"}


@dataclass
class World:
    client: TestClient
    history: History

    def get(self, path: str, who: str = "boss", **params: Any) -> Any:
        response = self.client.get(f"{API}/{path}", params=params, headers=bearer(who))
        assert response.status_code == 200, response.text
        return response.json() if params.get("format") != "csv" else response.text


def bearer(handle: str) -> dict[str, str]:
    return {"Authorization": f"Bearer token-{handle}"}


def iso(at: datetime) -> str:
    return at.isoformat()


def generate_history() -> History:
    return generate(tickets=300, seed=20250303, start=START, days=DAYS)


@pytest.fixture
def world(database_url: str, client_for: Callable[..., TestClient]) -> World:
    history = generate_history()
    engine = make_engine(database_url)
    with make_sessionmaker(engine)() as session:
        people = [(h, "agent", True) for members in TEAMS.values() for h in members]
        people += [("boss", "admin", True), ("eve", "viewer", True), ("gone", "agent", False)]
        session.add_all(
            AgentRow(
                handle=handle,
                name=handle,
                email=f"{handle}@example.com",
                role=role,
                active=active,
                token_hash=hash_token(f"token-{handle}"),
            )
            for handle, role, active in people
        )
        session.flush()
        session.add_all(TeamRow(handle=team, name=team, lead=m[0]) for team, m in TEAMS.items())
        session.flush()
        session.add_all(
            TeamMemberRow(team=t, agent=a) for t, members in TEAMS.items() for a in members
        )
        session.add_all(
            [
                TeamMemberRow(team="team3", agent="agent11"),
                TeamMemberRow(team="team2", agent="gone"),
            ]
        )
        session.commit()
        store(session, history)
    engine.dispose()
    return World(client_for(), history)


def windows(h: History) -> list[tuple[datetime, datetime]]:
    """A window inside the history whose edges are instants when tickets were resolved (an
    event and a clock stop at each edge), one around all of it, and three ending 1, 3 and 7
    days after a live ticket was created: it sits on each backlog age edge in turn."""
    resolved = [c for c in h.clocks if c["clock"] == "resolution" and c["outcome"] == "met"]
    stops = sorted(c["stopped_at"] for c in resolved)
    lo = next(at for at in stops if at >= START + timedelta(days=9))
    hi = next(at for at in stops if at >= START + timedelta(days=30))
    live = sorted(t["created_at"] for t in h.tickets if t["status"] in ("open", "pending"))
    edges = [live[len(live) // 2] + timedelta(days=days) for days in (1, 3, 7)]
    return [(lo, hi), (START - timedelta(days=1), h.now)] + [
        (edge - timedelta(days=20), edge) for edge in edges
    ]


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def flat(row: dict[str, Any], kind: str) -> dict[str, str]:
    """A JSON row as its CSV line would say it."""
    out: dict[str, Any] = {"row": kind}
    for key, value in row.items():
        if key == "backlog":
            names = ("backlog_lt_1d", "backlog_1_3d", "backlog_3_7d", "backlog_gt_7d")
            out |= dict(zip(names, value.values(), strict=True))
        elif isinstance(value, dict):
            out |= {f"{key}_{name}": v for name, v in value.items()}
        else:
            out[key] = value
    return {k: "" if v is None else str(v) for k, v in out.items()}


def test_sla_report_equals_brute_force_and_csv_says_the_same(world: World) -> None:
    for (lo, hi), group_by in itertools.product(windows(world.history), GROUPINGS):
        body = world.get("sla", **{"from": iso(lo), "to": iso(hi), "group_by": group_by})
        expected = oracle.sla(world.history, lo, hi, group_by)
        assert datetime.fromisoformat(body.pop("from")) == lo
        assert datetime.fromisoformat(body.pop("to")) == hi
        assert body == expected
        text = world.get(
            "sla", **{"from": iso(lo), "to": iso(hi), "group_by": group_by, "format": "csv"}
        )
        lines = [flat(r, "group") for r in body["rows"]] + [flat(body["totals"], "total")]
        assert csv_rows(text) == lines


def test_the_generated_history_exercises_every_figure() -> None:
    h = generate_history()
    (lo, hi), everything, *_ = windows(h)
    totals = oracle.sla(h, lo, hi, "team")["totals"]
    assert all(totals[name] > 0 for name in ("opened", "resolved", "closed", "reopened", "overdue"))
    assert all(totals[c]["count"] > 1 and totals[c]["cancelled_breached"] for c in oracle.CLOCKS)
    assert all(oracle.sla(h, *everything, "team")["totals"]["backlog"].values())
    assert {e["at"] for e in h.events if e["kind"] == "resolved"} >= {lo, hi}
    assert {c["stopped_at"] for c in h.clocks} >= {lo, hi}
    assert {None, "team1"} <= {r["group"] for r in oracle.sla(h, lo, hi, "team")["rows"]}


def test_agent_report_equals_brute_force_and_csv_says_the_same(world: World) -> None:
    staff = {h for members in TEAMS.values() for h in members} | {"boss"}
    for lo, hi in windows(world.history):
        body = world.get("agents", **{"from": iso(lo), "to": iso(hi)})
        assert body["rows"] == oracle.agents(world.history, lo, hi, staff)
        text = world.get("agents", **{"from": iso(lo), "to": iso(hi), "format": "csv"})
        assert csv_rows(text) == [
            {k: "" if v is None else str(v) for k, v in r.items()} for r in body["rows"]
        ]


def test_an_agent_sees_only_the_tickets_and_mates_of_their_teams(world: World) -> None:
    h = world.history
    lo, hi = windows(h)[1]
    window = {"from": iso(lo), "to": iso(hi)}
    for group_by in ("team", "agent"):
        body = world.get("sla", "agent11", **window, group_by=group_by)
        assert body["rows"] == oracle.sla(h, lo, hi, group_by, MULTI_TEAM)["rows"]
    assert {r["group"] for r in world.get("sla", "agent11", **window)["rows"]} == MULTI_TEAM
    mates = set(TEAMS["team1"]) | set(TEAMS["team3"])
    rows = world.get("agents", "agent11", **window)["rows"]
    assert rows == oracle.agents(h, lo, hi, mates, MULTI_TEAM, mates)
    lonely = world.get("sla", "agent21", **window)
    assert [r["group"] for r in lonely["rows"]] == ["team2"]


def test_a_viewer_sees_team_totals_only(world: World) -> None:
    lo, hi = windows(world.history)[0]
    window = {"from": iso(lo), "to": iso(hi)}
    assert world.get("sla", "eve", **window) == world.get("sla", "boss", **window)
    assert world.get("sla", "eve", **window, group_by="team", format="csv")
    for path, extra in (
        ("sla", {"group_by": "agent"}),
        ("sla", {"group_by": "priority"}),
        ("agents", {}),
    ):
        response = world.client.get(
            f"{API}/{path}", params={**window, **extra}, headers=bearer("eve")
        )
        assert response.status_code == 403, response.text


def test_reports_need_credentials(world: World) -> None:
    window = {"from": iso(START), "to": iso(world.history.now)}
    for path in ("sla", "agents"):
        assert world.client.get(f"{API}/{path}", params=window).status_code == 401
        for stranger in ("nobody", "gone"):  # an unknown token, a disabled agent's
            response = world.client.get(f"{API}/{path}", params=window, headers=bearer(stranger))
            assert response.status_code == 401


BAD_PARAMETERS: list[dict[str, str]] = [
    {},
    {"from": "2025-03-10T00:00:00Z"},
    {"from": "yesterday", "to": "2025-03-10T00:00:00Z"},
    {"from": "2025-03-10T00:00:00Z", "to": "2025-13-01T00:00:00Z"},
    {"from": "2025-03-10T00:00:00Z", "to": "2025-03-10T00:00:00Z"},
    {"from": "2025-03-10T00:00:00Z", "to": "2025-03-09T00:00:00Z"},
    {"from": "2024-03-10T00:00:00Z", "to": "2025-03-12T00:00:00Z"},
    {"from": "2025-03-01T00:00:00Z", "to": "2025-03-10T00:00:00Z", "group_by": "colour"},
    {"from": "2025-03-01T00:00:00Z", "to": "2025-03-10T00:00:00Z", "format": "xml"},
]


def test_bad_parameters_are_unprocessable(world: World) -> None:
    for params in BAD_PARAMETERS:
        response = world.client.get(f"{API}/sla", params=params, headers=bearer("boss"))
        assert response.status_code == 422, (params, response.text)
        if "group_by" not in params:
            response = world.client.get(f"{API}/agents", params=params, headers=bearer("boss"))
            assert response.status_code == 422, (params, response.text)


def test_an_offset_or_no_offset_names_the_same_instant(world: World) -> None:
    lo, hi = windows(world.history)[0]
    paris = timezone(timedelta(hours=2))
    utc = world.get("sla", **{"from": iso(lo), "to": iso(hi), "group_by": "agent"})
    shifted = {
        "from": iso(lo.astimezone(paris)),
        "to": iso(hi.astimezone(paris)),
        "group_by": "agent",
    }
    naive = {
        "from": iso(lo.replace(tzinfo=None)),
        "to": iso(hi.replace(tzinfo=None)),
        "group_by": "agent",
    }
    assert world.get("sla", **shifted) == utc
    assert world.get("sla", **naive) == utc


def test_an_empty_window_reports_no_flow_no_times_and_no_backlog(world: World) -> None:
    lo = START - timedelta(days=300)
    body = world.get("sla", **{"from": iso(lo), "to": iso(lo + timedelta(days=1))})
    live = [t for t in world.history.tickets if t["status"] in ("open", "pending")]
    # Groups with open tickets still show, for their overdue count, which is of today.
    assert [r["group"] for r in body["rows"]] == sorted(
        {t["team"] for t in live}, key=lambda g: (g is None, g or "")
    )
    totals = body["totals"]
    assert totals["overdue"] == sum(t["overdue"] for t in live) > 0
    assert [totals[k] for k in ("opened", "resolved", "closed", "reopened")] == [0, 0, 0, 0]
    assert totals["resolution"]["median_s"] is None
    assert totals["resolution"]["compliance_pct"] is None
    # Every open ticket was created after `to`: none of them was a backlog then.
    assert set(totals["backlog"].values()) == {0}


def test_percentile_cont_interpolates_like_postgresql() -> None:
    assert percentile_cont([], 0.5) is None
    assert percentile_cont([7], 0.9) == 7.0
    assert percentile_cont([1, 2, 3, 4], 0.5) == 2.5
    assert percentile_cont([1, 2, 3, 4], 0.9) == pytest.approx(3.7)
    assert percentile_cont([10, 20], 0.0) == 10.0
    assert percentile_cont([10, 20], 1.0) == 20.0
    with pytest.raises(ValueError):
        percentile_cont([1], 1.5)


@given(
    st.lists(st.integers(min_value=0, max_value=10**7), min_size=2, max_size=200),
    st.sampled_from([0.5, 0.9]),
)
def test_percentile_cont_agrees_with_statistics_quantiles(
    values: list[int], fraction: float
) -> None:
    ordered = sorted(values)
    expected = statistics_quantile(ordered, fraction)
    assert percentile_cont(ordered, fraction) == pytest.approx(expected, rel=1e-12, abs=1e-6)


def statistics_quantile(ordered: list[int], fraction: float) -> float:
    cuts = statistics.quantiles(ordered, n=10, method="inclusive")
    return cuts[4] if fraction == 0.5 else cuts[8]
