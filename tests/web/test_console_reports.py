"""The console's reports page over the real intake API, in process, on a generated history
(tests/intake/report_data) and a few hand-made facts with hostile names: the charts and their
tables say what the API's JSON says, hostile text stays text, each role sees what the API
lets it, the CSV links pass the API's CSV on, and the page passes axe in Chromium."""

import re
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime, timedelta
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Route, expect, sync_playwright
from temporalio.client import Client

from services.intake.app import create_app as create_intake
from services.web.app import create_app as create_web
from services.web.console import charts
from services.web.console.reports import UNREACHABLE
from services.web.security import CONTENT_SECURITY_POLICY
from shared.db.engine import make_engine, make_sessionmaker
from shared.db.tables import MessageBodyRow, SlaClockFactRow, TicketEventFactRow
from shared.settings import Settings
from tests.intake.report_data import generate, store
from tests.web.consoles import PORTAL, TemporalDown, portal_app

START = datetime(2025, 3, 3, tzinfo=UTC)
DAYS = 30
# The whole history: 3 March to 1 April 2025 included, as the date form sends it.
PERIOD = {"from": "2025-03-03", "to": "2025-04-01"}
WINDOW = {"from": START.isoformat(), "to": (START + timedelta(days=DAYS)).isoformat()}
HOSTILE_TEAM = '<script>alert("team")</script>'
HOSTILE_TOPIC = "<img src=x onerror=alert(1)> & co"
HOSTILE_COMMENT = '"><svg onload=alert(2)> Awful & slow </textarea><b>bold</b>'
ADMIN, AGENT, VIEWER = "dev-jane-token", "dev-john-token", "dev-vera-token"
CHROMIUM = "/usr/bin/chromium"
CLOCKS = ("First response", "Resolution")
NONE_OF = {"team": "(no team)", "agent": "(unassigned)", "help_topic": "(no help topic)"}


def seed(database: str) -> None:
    """A month of generated history, and two hand-made tickets (the API's report tables read
    the facts alone): one of a hostile team and help topic, rated bad with a hostile comment;
    one of John's team, rated good."""
    history = generate(tickets=150, seed=20250303, start=START, days=DAYS)
    at = START + timedelta(days=2)
    common = {"department": "support", "priority": "high", "cycle": 1, "target_seconds": 3600}
    engine = make_engine(database)
    with make_sessionmaker(engine)() as session:
        store(session, history)
        session.add(
            MessageBodyRow(id="c-1", ticket="H1", body=HOSTILE_COMMENT, size=60, created_at=at)
        )
        for ticket, team, topic, outcome, rating in (
            ("H1", HOSTILE_TEAM, HOSTILE_TOPIC, "late", "bad"),
            ("H2", "online-banking", "online-banking", "met", "good"),
        ):
            late = outcome == "late"
            session.add(
                SlaClockFactRow(
                    ticket=ticket,
                    clock="first_response",
                    started_at=at,
                    due_at=at + timedelta(hours=1),
                    stopped_at=at + timedelta(hours=2 if late else 0.5),
                    outcome=outcome,
                    breached=late,
                    breached_at=at + timedelta(hours=1) if late else None,
                    business_seconds=7200 if late else 1800,
                    wall_seconds=7200 if late else 1800,
                    team=team,
                    assignee="john",
                    help_topic=topic,
                    **common,
                )
            )
            session.add(
                TicketEventFactRow(
                    ticket=ticket,
                    seq=1,
                    kind="rated",
                    at=at + timedelta(days=1),
                    actor=None,
                    assignee="john",
                    team=team,
                    department="support",
                    help_topic=topic,
                    priority="high",
                    rating=rating,
                    comment="c-1" if ticket == "H1" else None,
                )
            )
        session.commit()
    engine.dispose()


@pytest.fixture
def intake(settings: Settings) -> FastAPI:
    down: Any = TemporalDown()
    temporal: Client = down
    return create_intake(settings, temporal=temporal)


@pytest.fixture
def web(settings: Settings, database: str, intake: FastAPI) -> Iterator[TestClient]:
    seed(database)
    app = portal_app(settings, intake)
    with TestClient(app, base_url=PORTAL, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def api(web: TestClient, intake: FastAPI) -> TestClient:
    """The intake itself (its lifespan is running inside `web`'s)."""
    return TestClient(intake)


def as_agent(web: TestClient, token: str) -> TestClient:
    web.cookies.set("tf_agent", token, domain="portal.test", path="/agent")
    return web


def report(api: TestClient, path: str, token: str = ADMIN, **params: str) -> Any:
    answer = api.get(
        f"/api/v1/reports/{path}",
        params=WINDOW | params,
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json() if params.get("format") != "csv" else answer.text


class Figures(HTMLParser):
    """What a page says in its tables (body rows by caption, as cell texts) and charts (the
    <desc> of each, and the figures written beside its bars), entities decoded."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tables: dict[str, list[list[str]]] = {}
        self.descs: dict[str, str] = {}
        self.beside: dict[str, list[str]] = {}
        self._into: str | None = None
        self._text: list[str] = []
        self._caption = ""
        self._chart = ""
        self._row: list[str] | None = None
        self._said: list[str] = []
        self.feed(html)
        self.text = "".join(self._said)  # the page's words, as a person reads them

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if tag == "svg" and attr.get("role") == "img":
            self._chart = (attr.get("aria-labelledby") or "").split()[0].removesuffix("-title")
            self.beside[self._chart] = []
        elif tag == "tr" and self._caption:
            self._row = []
        if tag in ("caption", "td", "th", "desc") or attr.get("class") == "chart-figure":
            self._into, self._text = tag, []

    def handle_data(self, data: str) -> None:
        self._said.append(data)
        if self._into:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        text = "".join(self._text).strip()
        if tag == "caption":
            self._caption = text
            self.tables[text] = []
        elif tag in ("td", "th") and self._row is not None:
            self._row.append(text)
        elif tag == "tr" and self._row is not None:
            if self._row and all(cell for cell in self._row):
                self.tables[self._caption].append(self._row)
            self._row = None
        elif tag == "table":
            self._caption = ""
        elif tag == "desc":
            self.descs[self._chart] = text
        elif tag == "text" and self._into == "text":
            self.beside[self._chart].append(text)
        self._into = None if tag == self._into else self._into


def page_of(web: TestClient, token: str, **params: str) -> str:
    answer = as_agent(web, token).get("/agent/reports", params=params or PERIOD)
    html: str = answer.text
    assert answer.status_code == 200, html
    return html


def body_rows(figures: Figures, caption: str) -> list[list[str]]:
    """A table's rows without its header row (the first, of <th scope=col> cells)."""
    return figures.tables[caption][1:]


def pct(value: float | None) -> str:
    return "none" if value is None else f"{round(value, 1):g}%"


def label(group: str | None, by: str) -> str:
    if group is None:
        return NONE_OF[by]
    return group.capitalize() if by == "priority" else group


def test_the_charts_say_what_the_apis_json_says(web: TestClient, api: TestClient) -> None:
    figures = Figures(page_of(web, ADMIN))
    for by in ("team", "agent", "priority"):
        body = report(api, "sla", group_by=by)
        expected: dict[str, list[str]] = {}
        for line in body["rows"]:
            clocks = (line["first_response"], line["resolution"])
            breached = [c["late"] + c["cancelled_breached"] for c in clocks]
            if not any(c["met"] + b for c, b in zip(clocks, breached, strict=True)):
                continue
            expected[label(line["group"], by)] = [
                cell
                for c, b in zip(clocks, breached, strict=True)
                for cell in (str(c["met"]), str(b), pct(c["compliance_pct"]))
            ]
            said = figures.descs[f"sla-{by}"]
            for name, clock, late in zip(CLOCKS, clocks, breached, strict=True):
                words = f"{clock['met']} met, {late} breached"
                if clock["compliance_pct"] is not None:
                    words = f"{pct(clock['compliance_pct'])} met: {words}"
                assert f"{label(line['group'], by)}, {name}: {words}." in said
                assert words in figures.beside[f"sla-{by}"]
        rows = body_rows(figures, f"SLA compliance by {by}")
        assert {row[0]: row[1:] for row in rows} == expected and len(rows) == len(expected)
        if by == "priority":
            order = ["Emergency", "High", "Normal", "Low"]
            assert [row[0] for row in rows] == [p for p in order if p in expected]

    backlog = report(api, "sla")["totals"]["backlog"]
    assert [row[1] for row in body_rows(figures, "Backlog by age")] == [
        str(backlog[age]) for age in ("<1d", "1-3d", "3-7d", ">7d")
    ]
    assert sum(backlog.values()) > 0
    counts = [backlog[age] for age in ("<1d", "1-3d", "3-7d", ">7d")]
    assert figures.beside["backlog"] == [f"{n} ticket{'' if n == 1 else 's'}" for n in counts]

    medians = [
        (line["agent"], line["first_response_median_s"], line["resolution_median_s"])
        for line in report(api, "agents")["rows"]
    ]
    expected_medians = [
        [agent, *(charts.duration(v) if v is not None else "none" for v in (first, last))]
        for agent, first, last in medians
        if first is not None or last is not None
    ]
    assert expected_medians
    for index in (0, 1):  # the first response chart, then the resolution one
        assert figures.beside[f"median-{index}-agent"] == [r[1 + index] for r in expected_medians]
    assert body_rows(figures, "Median times by agent") == expected_medians

    for by in ("team", "agent", "help_topic"):
        body = report(api, "satisfaction", group_by=by)
        expected_rows = [
            [
                label(line["group"], by),
                str(line["good"]),
                str(line["bad"]),
                pct(100 * line["score"]),
            ]
            for line in body["rows"]
        ]
        assert body_rows(figures, f"Satisfaction by {by.replace('_', ' ')}") == expected_rows


def test_hostile_team_topic_and_comment_render_as_text(web: TestClient) -> None:
    html = page_of(web, ADMIN)
    for raw in (HOSTILE_TEAM, HOSTILE_TOPIC, HOSTILE_COMMENT, "<script>alert", "<img src=x"):
        assert raw not in html
    assert "<svg onload" not in html and "<b>bold" not in html
    assert "&lt;script&gt;alert(&#34;team&#34;)&lt;/script&gt;" in html
    figures = Figures(html)
    # The names arrive whole, as text, in the tables and the charts' words.
    teams = [row[0] for row in body_rows(figures, "SLA compliance by team")]
    assert HOSTILE_TEAM in teams
    assert f"{HOSTILE_TOPIC}: 0% good: 0 good, 1 bad." in figures.descs["csat-help_topic"]
    assert HOSTILE_COMMENT in figures.text
    assert '<a href="/agent/tickets/H1">Ticket H1</a>, rated <strong>bad</strong>' in html


def test_a_viewer_sees_the_sla_report_by_team_and_nothing_else(
    web: TestClient, api: TestClient
) -> None:
    html = page_of(web, VIEWER)
    figures = Figures(html)
    teams = {row[0] for row in body_rows(figures, "SLA compliance by team")}
    assert HOSTILE_TEAM in teams and "team1" in teams
    assert "Backlog by age" in figures.tables and "Median times by team" in figures.tables
    assert set(figures.tables) == {
        "SLA compliance by team",
        "Backlog by age",
        "Median times by team",
    }
    # SLA by agent and by priority, medians by agent, satisfaction three ways: the API said no.
    assert figures.text.count("Not available to your role.") == 6
    assert "Latest comments" not in html and "Awful" not in figures.text
    assert html.count(".csv?") == 1 and "group_by=team" in html
    refused = web.get("/agent/reports/sla.csv", params=WINDOW | {"group_by": "agent"})
    assert refused.status_code == 403
    assert "not available to your role" in refused.text
    assert web.get("/agent/reports/agents.csv", params=WINDOW).status_code == 403


def test_an_agent_sees_the_reports_of_their_teams(web: TestClient) -> None:
    figures = Figures(page_of(web, AGENT))
    assert [row[0] for row in body_rows(figures, "SLA compliance by team")] == ["online-banking"]
    assert body_rows(figures, "Satisfaction by team") == [["online-banking", "1", "0", "100%"]]
    assert HOSTILE_COMMENT not in figures.text


def test_the_csv_links_give_the_apis_csv(web: TestClient, api: TestClient) -> None:
    html = page_of(web, ADMIN)
    links = sorted(set(re.findall(r'href="(/agent/reports/[a-z]+\.csv\?[^"]+)"', html)))
    assert len(links) == 4, links
    for link in links:
        answer = web.get(unescape(link))
        assert answer.status_code == 200, link
        assert answer.headers["content-type"].startswith("text/csv")
        assert answer.headers["content-disposition"].startswith("attachment; filename=")
        query = dict(parse_qsl(urlsplit(unescape(link)).query))
        assert query["from"] == WINDOW["from"] and query["to"] == WINDOW["to"]
        report_name = urlsplit(link).path.rsplit("/", 1)[1].removesuffix(".csv")
        assert answer.text == report(api, report_name, **query, format="csv")


def test_a_preset_period_ends_now_and_is_marked_as_chosen(web: TestClient) -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    html = page_of(web, ADMIN, days="7")
    assert re.search(r'href="/agent/reports\?days=7" aria-current="page"', html)
    link = re.search(r'href="(/agent/reports/sla\.csv\?[^"]+)"', html)
    assert link is not None
    query = dict(parse_qsl(urlsplit(unescape(link.group(1))).query))
    start, end = datetime.fromisoformat(query["from"]), datetime.fromisoformat(query["to"])
    assert end - start == timedelta(days=7) and before <= end <= datetime.now(UTC)


def test_an_empty_period_says_no_tickets(web: TestClient) -> None:
    html = page_of(web, ADMIN, **{"from": "2020-01-01", "to": "2020-01-31"})
    figures = Figures(html)
    assert "No tickets in this period." in figures.text
    assert "No SLA clock stopped in this period." in figures.text
    assert "No ratings in this period." in figures.text
    assert 'role="img"' not in html


@pytest.mark.parametrize(
    ("period", "words"),
    [
        ({"from": "2025-04-01", "to": "2025-03-01"}, "The first date is after the last one"),
        ({"from": "2024-01-01", "to": "2025-03-01"}, "A report covers at most 366 days"),
        ({"from": "2025-04-01", "to": ""}, "Give both dates"),
        ({"days": "12"}, "Choose the last 7, 30 or 90 days"),
    ],
)
def test_a_period_that_cannot_be_one_is_refused_in_words(
    web: TestClient, period: dict[str, str], words: str
) -> None:
    answer = as_agent(web, ADMIN).get("/agent/reports", params=period)
    assert answer.status_code == 422
    assert words in answer.text
    assert 'role="img"' not in answer.text


class Refusing(httpx.AsyncBaseTransport):
    """Passes requests on to `inner`, except those under `down`: refused, as by a server
    that is not there."""

    def __init__(self, inner: httpx.AsyncBaseTransport, down: str) -> None:
        self._inner, self._down = inner, down

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(self._down):
            raise httpx.ConnectError("connection refused", request=request)
        return await self._inner.handle_async_request(request)


@pytest.mark.parametrize("down", ["/api/v1/reports", "/api/v1"])
def test_an_unreachable_api_is_said_in_words(
    settings: Settings, intake: FastAPI, down: str
) -> None:
    with refusing(settings, intake, down) as client:
        answer = as_agent(client, ADMIN).get("/agent/reports", params=PERIOD)
        assert answer.status_code == 503
        assert UNREACHABLE in Figures(answer.text).text
        csv = client.get("/agent/reports/agents.csv", params=WINDOW)
        assert csv.status_code == 503 and UNREACHABLE in Figures(csv.text).text


def test_a_report_the_api_could_not_answer_is_said_in_its_section(
    settings: Settings, database: str, intake: FastAPI
) -> None:
    seed(database)
    with refusing(settings, intake, "/api/v1/reports/satisfaction") as client:
        answer = as_agent(client, ADMIN).get("/agent/reports", params=PERIOD)
        assert answer.status_code == 200
        figures = Figures(answer.text)
        assert figures.text.count("Could not be loaded: the help desk's API did not answer") == 3
        assert "SLA compliance by team" in figures.tables


@contextmanager
def refusing(settings: Settings, intake: FastAPI, down: str) -> Iterator[TestClient]:
    """The portal in front of `intake`, whose paths under `down` cannot be reached."""
    web = create_web(settings, transport=Refusing(httpx.ASGITransport(app=intake), down))
    web_lifespan = web.router.lifespan_context

    @asynccontextmanager
    async def both(app: FastAPI) -> AsyncIterator[None]:
        async with intake.router.lifespan_context(intake), web_lifespan(app):
            yield

    web.router.lifespan_context = both
    with TestClient(web, base_url=PORTAL, raise_server_exceptions=False) as client:
        yield client


def test_without_a_sign_in_the_page_sends_to_the_sign_in(web: TestClient) -> None:
    answer = web.get("/agent/reports", params=PERIOD, follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/agent/sign-in?next=/agent/reports")


def test_charts_write_durations_and_shares_in_words_and_escape_names() -> None:
    assert [charts.duration(s) for s in (42, 720, 3600, 11_100, 86_400, 187_200)] == [
        "42 s",
        "12 min",
        "1 h",
        "3 h 5 min",
        "1 d",
        "2 d 4 h",
    ]
    assert [charts.percent(v) for v in (100.0, 92.31, 0.0, 66.666)] == [
        "100%",
        "92.3%",
        "0%",
        "66.7%",
    ]
    bar = charts.SplitBar("", 3, 1, 75.0)
    chart = charts.SplitChart(
        "c", "T <i>", "good", "bad", (charts.SplitGroup('<a href="x">', (bar,)),)
    )
    svg = str(charts.split_chart(chart))
    assert "<a href" not in svg and "<i>" not in svg
    assert "&lt;a href=&#34;x&#34;&gt;: 75% good: 3 good, 1 bad." in svg


def test_the_page_has_no_inline_style_and_passes_axe_in_chromium(web: TestClient) -> None:
    as_agent(web, ADMIN)
    html = web.get("/agent/reports", params=PERIOD)
    assert html.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert " style=" not in html.text and "<style" not in html.text
    served: list[str] = []

    def from_the_app(route: Route) -> None:
        answer = web.get(route.request.url)
        served.append(urlsplit(route.request.url).path)
        route.fulfill(status=answer.status_code, headers=dict(answer.headers), body=answer.content)

    refused: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page()
            page.on("console", lambda m: refused.append(m.text) if m.type == "error" else None)
            page.route(f"{PORTAL}/**", from_the_app)
            page.goto(f"{PORTAL}/agent/reports?from={PERIOD['from']}&to={PERIOD['to']}")
            expect(page.get_by_role("heading", name="SLA compliance")).to_be_visible()
            page.get_by_text("Satisfaction by team: the figures as a table").click()
            expect(page.get_by_role("table", name="Satisfaction by team")).to_be_visible()
            violations = [
                f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']]}"
                for v in Axe().run(page).response["violations"]
                if v["impact"] in ("serious", "critical")
            ]
        finally:
            browser.close()
    assert not violations, violations
    assert not refused, refused  # a CSP refusal would show here
    assert "/static/console-reports.css" in served
