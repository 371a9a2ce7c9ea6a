"""The API server over its socket, against the real InfluxDB of the embedded stack.

Points are written by the sink's own point builders; every answer is checked against what was
written and against InfluxDB's own sums; access is checked per account with real tokens.
"""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import jwt
import pytest
import urllib3
from PIL import Image
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from connectors.influx_points import aggregate_point, anomaly_point, forecast_point, recommendation_point
from connectors.influx_query import influxql, latest_recommendations
from connectors.influx_writers import writer_for
from connectors.kafka_io import ensure_topics, producer
from schemas import SchemaName, codec
from spendstream.api.access import SECRET_ENV, TokenKeys
from spendstream.api.process import api_server
from spendstream.config import ApiSettings, Config, Topic
from spendstream.processes import free_port
from spendstream.stack import LocalStack
from tests.integration.test_pipeline import CHROMIUM_FLAGS

pytestmark = pytest.mark.integration

A, B, NOBODY = "111111111111", "222222222222", "999999999999"
SECRET = "integration-test-secret-of-forty-bytes!!"
START = datetime(2026, 10, 29, tzinfo=UTC)  # 3 days: Oct 29–31, the last one until 15:00
HOURS = 2 * 24 + 15
SERVICES = ("AmazonEC2", "AmazonS3", "AWSLambda")
http = urllib3.PoolManager(timeout=10, retries=False)


def hourly_cost(account: str, service: str, hour: int) -> Decimal:
    """Distinct exact amounts per account, service and hour (six decimal places)."""
    base = {"AmazonEC2": 3, "AmazonS3": 1, "AWSLambda": 0}[service] + (account == B) * 7
    return Decimal(base) + Decimal((hour * 7919 + len(service) * 104729) % 1_000_000) / 10**6


def aggregate(account: str, service: str, hour: int) -> dict:
    cost = str(hourly_cost(account, service, hour))
    return {
        "scope": "account_service", "account_id": account, "account_name": f"acct-{account[:3]}",
        "service": service, "region": "us-east-1" if service != "AmazonS3" else "eu-west-1",
        "charge_type": "usage", "cost_center": "cc-1" if service == "AmazonEC2" else "cc-2", "project": "",
        "environment": "", "team": "", "currency": "USD", "unblended_cost": cost, "net_cost": cost,
        "line_items": 2, "window_start_ms": int((START + timedelta(hours=hour)).timestamp() * 1000),
    }  # fmt: skip


def forecast(account: str, service: str, day: datetime, predicted: str) -> dict:
    return {
        "account_id": account, "service": service, "made_at": "2026-10-30", "date": day.date().isoformat(),
        "predicted_cost": predicted, "lower": str(Decimal(predicted) * Decimal("0.8")),
        "upper": str(Decimal(predicted) * Decimal("1.2")),
    }  # fmt: skip


def anomaly(hour: int) -> dict:
    return {
        "account_id": A, "account_name": "acct-111", "service": "AmazonEC2", "status": "open", "severity": "high",
        "actual_cost": "9.5", "expected_cost": "3.1", "score": 4.2 + hour, "episode_id": f"ep-{hour}",
        "reasons": ["spike"], "window_start_ms": int((START + timedelta(hours=hour)).timestamp() * 1000),
    }  # fmt: skip


def recommendation(rid: str, savings: str, status: str, day: int) -> dict:
    return {
        "account_id": A, "type": "rightsize", "status": status, "risk_level": "low", "recommendation_id": rid,
        "potential_savings": savings, "savings_p10": savings, "savings_p90": savings,
        "current_monthly_cost": "140.16", "projected_monthly_cost": "70.08", "resource_id": f"i-{rid}",
        "current_type": "m5.xlarge", "recommended_type": "m5.large", "description": "CPU P99.5 12%",
        "as_of_ms": int((START + timedelta(days=day)).timestamp() * 1000),
    }  # fmt: skip


def alert(number: int, account: str = A, kind: str = "anomaly") -> dict:
    start = int((START + timedelta(hours=number)).timestamp() * 1000)
    return {
        "alert_id": f"alert-{account}-{number}", "kind": kind, "severity": "warning", "account_id": account,
        "account_name": f"acct-{account[:3]}", "service": "AmazonEC2", "window_start_ms": start,
        "window_end_ms": start + 3_600_000, "title": f"alert {number}", "message": "spend above expected",
        "details": {"score": str(number)},
    }  # fmt: skip


def publish(config: Config, *alerts: dict) -> None:
    with closing(producer(config)) as send:
        for item in alerts:
            send.send(
                config.kafka.topic("alert"),
                key=item["account_id"].encode(),
                value=codec().encode(SchemaName.ALERT, item),
            )
        send.flush()


def live(account: str, service: str, hour: int, usd: str) -> dict:
    """A running total of an open hour, as the job's live aggregate topic carries it."""
    start = int((START + timedelta(hours=hour)).timestamp() * 1000)
    return {**aggregate(account, service, hour), "aggregate_id": f"{account}-{service}-{hour}",
            "window_end_ms": start + 3_600_000, "unblended_cost": usd, "net_cost": usd}  # fmt: skip


def publish_live(config: Config, *totals: dict) -> None:
    with closing(producer(config)) as send:
        for item in totals:
            value = codec().encode(SchemaName.COST_AGGREGATE, item)
            send.send(config.kafka.topic("live_aggregate"), key=item["account_id"].encode(), value=value)
        send.flush()


@pytest.fixture(scope="module")
def api(stack: Config):
    topics = {
        **stack.kafka.topics,
        "alert": Topic(f"api-test-alerts-{os.getpid()}", partitions=1),
        "live_aggregate": Topic(f"api-test-live-{os.getpid()}", partitions=1),
    }
    config = replace(
        stack, influx=replace(stack.influx, database="api_test"), kafka=replace(stack.kafka, topics=topics)
    )
    ensure_topics(config)
    publish(config, alert(1), alert(2, B), alert(3, kind="budget"), alert(4))
    publish_live(config, live(A, "AmazonEC2", HOURS - 2, "1.5"), live(A, "AmazonEC2", HOURS - 1, "0.25"))
    publish_live(config, live(A, "AmazonS3", HOURS - 1, "0.75"), live(B, "AmazonEC2", HOURS - 1, "9"))
    writer = writer_for(config.influx)
    points = [aggregate_point(aggregate(a, s, h)) for a in (A, B) for s in SERVICES for h in range(HOURS)]
    for offset in range(0, 35):
        day = START + timedelta(days=offset)
        points.append(forecast_point(forecast(A, "*", day, f"{100 + offset}.25")))
        points.append(forecast_point(forecast(A, "AmazonEC2", day, f"{80 + offset}.5")))
    points += [anomaly_point(anomaly(h)) for h in (3, 9, 20, 30, 41)]
    points += [recommendation_point(recommendation("old", "50.00", "open", 1))]
    points += [recommendation_point(recommendation(r, s, "open", 2)) for r, s in (("r1", "70.08"), ("r2", "12.5"))]
    points += [recommendation_point(recommendation("gone", "9.99", "closed", 2))]
    writer.write(points)
    with api_server(config, {SECRET_ENV: SECRET}) as url:
        yield config, url


def token(grants: dict[str, str], ttl: int = 600, secret: str = SECRET) -> str:
    return TokenKeys("HS256", secret.encode()).mint("tester", grants, ("engineer",), ttl)


def get(url: str, path: str, bearer: str | None) -> tuple[int, dict]:
    headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
    response = http.request("GET", url + path, headers=headers)
    return response.status, json.loads(response.data)


def graphql(url: str, query: str, bearer: str | None, variables: dict | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {bearer}"} if bearer else {})}
    body = json.dumps({"query": query, "variables": variables or {}})
    response = http.request("POST", f"{url}/graphql", body=body, headers=headers)
    return response.status, json.loads(response.data)


def test_daily_costs_by_service_are_exactly_what_was_written_and_what_influxdb_sums(api):
    config, url = api
    status, body = get(
        url, f"/v1/accounts/{A}/costs?from=2026-10-29&to=2026-11-01&group_by=service", token({A: "read"})
    )
    assert status == 200
    expected: dict[tuple[str, str], Decimal] = {}
    for service in SERVICES:
        for hour in range(HOURS):
            day = (START + timedelta(hours=hour)).date().isoformat()
            expected[(day, service)] = expected.get((day, service), Decimal(0)) + hourly_cost(A, service, hour)
    served = {(d["day"], d["group"]["service"]): Decimal(d["usd"]) for d in body["days"]}
    assert served == expected
    assert Decimal(body["total_usd"]) == sum(expected.values())
    (series,) = influxql(config.influx, f"SELECT SUM(usd_micros) FROM cost WHERE account = '{A}'")
    assert Decimal(body["total_usd"]) == Decimal(series["values"][0][1]) / 10**6


def test_current_costs_add_up_and_project_the_month_end_from_the_forecast(api):
    _, url = api
    query = """query($id: String!) { getCurrentCosts(accountId: $id) {
        asOf totalUsd byService { key usd } byRegion { key usd } trend { sameHoursYesterdayUsd changeUsd }
        monthToDateUsd monthEndProjectionUsd } }"""
    status, body = graphql(url, query, token({A: "read"}), {"id": A})
    assert status == 200 and "errors" not in body, body
    current = body["data"]["getCurrentCosts"]
    assert current["asOf"].startswith("2026-10-31T15:00:00")
    today = sum(hourly_cost(A, s, h) for s in SERVICES for h in range(48, HOURS))
    yesterday = sum(hourly_cost(A, s, h) for s in SERVICES for h in range(24, 24 + 15))
    assert Decimal(current["totalUsd"]) == today
    assert (
        sum(Decimal(a["usd"]) for a in current["byService"])
        == today
        == sum(Decimal(a["usd"]) for a in current["byRegion"])
    )
    assert Decimal(current["trend"]["sameHoursYesterdayUsd"]) == yesterday
    assert Decimal(current["trend"]["changeUsd"]) == today - yesterday
    month = sum(hourly_cost(A, s, h) for s in SERVICES for h in range(HOURS))
    assert Decimal(current["monthToDateUsd"]) == month
    rest_of_today = Decimal("102.25") * 9 / 24  # Oct 31's forecast (offset 2), 9 of its 24 hours still to come
    assert Decimal(current["monthEndProjectionUsd"]) == (month + rest_of_today).quantize(Decimal("0.000001"))

    filtered = """query($id: String!) { getCurrentCosts(accountId: $id, filters: {service: "AmazonS3"}) {
        totalUsd byService { key } byRegion { key usd } } }"""
    status, body = graphql(url, filtered, token({A: "read"}), {"id": A})
    s3_today = sum(hourly_cost(A, "AmazonS3", h) for h in range(48, HOURS))
    assert body["data"]["getCurrentCosts"] == {
        "totalUsd": str(s3_today), "byService": [{"key": "AmazonS3"}],
        "byRegion": [{"key": "eu-west-1", "usd": str(s3_today)}],
    }  # fmt: skip


def test_predictions_and_their_drivers(api):
    _, url = api
    query = """query($id: String!) { getCostPredictions(accountId: $id, timeframe: 5) {
        fromDay days { day predictedUsd lowerUsd upperUsd } keyDrivers { service changeUsd } } }"""
    status, body = graphql(url, query, token({A: "read"}), {"id": A})
    assert status == 200 and "errors" not in body, body
    predictions = body["data"]["getCostPredictions"]
    assert predictions["fromDay"] == "2026-10-31"
    days = [(START + timedelta(days=2 + i)).date().isoformat() for i in range(5)]
    assert [(d["day"], d["predictedUsd"]) for d in predictions["days"]] == [(d, 102.25 + i) for i, d in enumerate(days)]
    assert all(d["lowerUsd"] < d["predictedUsd"] < d["upperUsd"] for d in predictions["days"])
    assert predictions["keyDrivers"][0]["service"] == "AmazonEC2"
    status, body = get(url, f"/v1/accounts/{A}/forecasts?days=3&from=2026-11-01", token({A: "read"}))
    assert status == 200 and [(d["day"], d["predicted_usd"]) for d in body["days"]] == [
        ("2026-11-01", 103.25),
        ("2026-11-02", 104.25),
        ("2026-11-03", 105.25),
    ]


def test_anomalies_page_newest_first_without_gaps_or_repeats(api):
    _, url = api
    bearer, seen, before = token({A: "read"}), [], ""
    while True:
        status, body = get(url, f"/v1/accounts/{A}/anomalies?limit=2{before}", bearer)
        assert status == 200
        seen += [a["episode_id"] for a in body["anomalies"]]
        if body["next_before"] is None:
            break
        before = f"&before={body['next_before']}"
    assert seen == ["ep-41", "ep-30", "ep-20", "ep-9", "ep-3"]


def test_recommendations_are_the_newest_days_open_advice(api):
    _, url = api
    query = "query($id: String!) { getOptimizationRecommendations(accountId: $id) { id potentialSavings currentCost } }"
    status, body = graphql(url, query, token({A: "read"}), {"id": A})
    assert status == 200 and "errors" not in body, body
    assert body["data"]["getOptimizationRecommendations"] == [
        {"id": "r1", "potentialSavings": "70.080000", "currentCost": 140.16},
        {"id": "r2", "potentialSavings": "12.500000", "currentCost": 140.16},
    ]
    status, body = get(url, f"/v1/accounts/{A}/recommendations", token({A: "read"}))
    assert status == 200 and [r["recommendation_id"] for r in body["recommendations"]] == ["r1", "r2"]
    config, _ = api  # what `make demo` prints reads the same day's open advice
    assert [row[4] for row in latest_recommendations(config.influx)] == [70.08, 12.5]


def test_missing_wrong_and_expired_tokens_get_401(api):
    _, url = api
    path = f"/v1/accounts/{A}/costs?from=2026-10-29&to=2026-11-01"
    expired = jwt.encode({"sub": "x", "exp": int(time.time()) - 5, "accountPermissions": []}, SECRET, "HS256")
    for bearer in (None, "not-a-jwt", token({A: "read"}, secret="another-secret-that-is-forty-bytes-long"), expired):
        status, body = get(url, path, bearer)
        assert status == 401 and body["error"], bearer
    status, _ = graphql(url, "{ accounts }", None)
    assert status == 401


def test_a_token_for_one_account_learns_nothing_of_another(api):
    _, url = api
    b_only = token({B: "read"})
    answers = [get(url, f"/v1/accounts/{acct}/costs?from=2026-10-29&to=2026-11-01", b_only) for acct in (A, NOBODY)]
    assert answers[0] == answers[1] and answers[0][0] == 403  # the same whether the account exists or not
    assert A not in json.dumps(answers[0][1])
    for query in (
        'query { getCurrentCosts(accountId: "%s") { totalUsd } }',
        'query { getCostPredictions(accountId: "%s") { days { day } } }',
        'query { getOptimizationRecommendations(accountId: "%s") { id } }',
        'query { getCostByCustomer(accountId: "%s", customerId: "acme") { totalUsd } }',
        'query { getCostByFeature(accountId: "%s", featureId: "search") { totalUsd } }',
        'query { accountSettings(accountId: "%s") { name budgets { amount } } }',
        'query { settingsHistory(accountId: "%s") { after } }',
        'mutation { setAlertThresholds(accountId: "%s", thresholds: {daily: {amount: "1"}}) { version } }',
        'mutation { updateBusinessMapping(accountId: "%s", mapping: {name: "mine now"}) { version } }',
    ):
        status, body = graphql(url, query % A, b_only)
        assert status == 403 and not any((body["data"] or {}).values()), body
        assert not any(known in json.dumps(body) for known in ("140.16", "AmazonEC2", "retail-prod", "5000"))
    status, body = graphql(url, "{ accounts }", b_only)
    assert status == 200 and body["data"]["accounts"] == [B]
    status, body = get(url, f"/v1/accounts/{B}/costs?from=2026-10-29&to=2026-11-01", b_only)
    assert status == 200 and Decimal(body["total_usd"]) > 0


def test_bad_requests_are_refused_at_once_with_what_to_send(api):
    _, url = api
    bearer = token({A: "read"})
    status, body = get(url, f"/v1/accounts/{A}/costs?from=2026-10-29&to=2026-11-01&group_by=colour", bearer)
    assert status == 400 and "service" in body["error"]
    status, body = get(url, f"/v1/accounts/{A}/costs?from=2026-11-01&to=2026-10-29", bearer)
    assert status == 400 and "after" in body["error"]
    status, body = get(url, f"/v1/accounts/{A}/costs?from=yesterday&to=2026-10-29", bearer)
    assert status == 400 and "from" in body["error"]
    status, body = graphql(url, "query { getCurrentCosts(accountId: ", bearer)
    assert status == 400 and body["errors"]
    deep = "query { accounts " + "".join("{ a " for _ in range(12)) + "}" * 12 + "}"
    status, body = graphql(url, deep, bearer)
    assert body["errors"] and "depth" in json.dumps(body["errors"]).lower()
    status, body = graphql(url, "query { " + " ".join(f"a{i}: accounts" for i in range(40)) + " }", bearer)
    assert body["errors"] and "alias" in json.dumps(body["errors"]).lower()


def test_the_openapi_document_lists_the_rest_routes(api):
    _, url = api
    response = http.request("GET", f"{url}/openapi.json")
    paths = json.loads(response.data)["paths"]
    assert {"/v1/accounts/{account_id}/costs", "/v1/accounts/{account_id}/forecasts"} <= set(paths)


def test_the_server_refuses_a_public_address_without_tls(tmp_path):
    from spendstream.api.app import serve
    from spendstream.config import ConfigError

    with pytest.raises(ConfigError, match="tls_cert_file"):
        serve(Config(api=ApiSettings(host="0.0.0.0")))


@contextmanager
def subscribe(url: str, bearer: str | None, query: str, variables: dict):
    """A graphql-transport-ws connection with one subscription started (id "1")."""
    with connect(url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        payload = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        socket.send(json.dumps({"type": "connection_init", "payload": payload}))
        assert json.loads(socket.recv(timeout=10))["type"] == "connection_ack"
        socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}}))
        yield socket


def refusal(socket) -> dict:
    """The subscription's first message, which must carry errors and no alert."""
    message = json.loads(socket.recv(timeout=10))
    errors = message["payload"] if message["type"] == "error" else message["payload"].get("errors")
    assert errors and not (message["payload"].get("data") if isinstance(message["payload"], dict) else None), message
    return message


def received(socket, count: int, timeout: float = 10) -> list[dict]:
    items = []
    while len(items) < count:
        message = json.loads(socket.recv(timeout=timeout))
        assert message["type"] == "next", message
        items.append(message["payload"]["data"]["alerts"])
    return items


ALERTS = "subscription($a: String, $after: String) { alerts(accountId: $a, after: $after) { alertId cursor kind } }"


def test_subscribers_get_every_alert_once_within_a_second_across_a_reconnect(api):
    config, url = api
    with subscribe(url, token({A: "read"}), ALERTS, {"a": A}) as socket:
        backlog = received(socket, 3)
        assert [a["alertId"] for a in backlog] == [f"alert-{A}-{n}" for n in (1, 3, 4)]  # A's only, in order
        publish(config, alert(5, B), alert(6))
        sent = time.monotonic()
        (live,) = received(socket, 1)
        assert live["alertId"] == f"alert-{A}-6" and time.monotonic() - sent < 1.0
    publish(config, alert(7), alert(1), alert(8))  # alert 1 again: an at-least-once repeat of the job's
    with subscribe(url, token({A: "read"}), ALERTS, {"a": A, "after": live["cursor"]}) as socket:
        resumed = received(socket, 2)
        assert [a["alertId"] for a in resumed] == [f"alert-{A}-7", f"alert-{A}-8"]
        with pytest.raises(TimeoutError):
            socket.recv(timeout=1.5)  # nothing more: no repeat, no other account


def test_sockets_without_a_valid_token_or_permission_get_nothing(api):
    _, url = api
    with connect(url.replace("http", "ws") + "/graphql", subprotocols=["graphql-transport-ws"]) as socket:
        socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": "Bearer forged"}}))
        with pytest.raises(ConnectionClosed) as closed:
            socket.recv(timeout=10)
    assert closed.value.rcvd.code == 4403
    with subscribe(url, token({B: "read"}), ALERTS, {"a": A}) as socket:
        assert A not in json.dumps(refusal(socket))
    with subscribe(url, token({B: "read"}), ALERTS, {}) as socket:  # no account: every account it may read
        assert all(a["alertId"].startswith(f"alert-{B}") for a in received(socket, 1))


def test_a_subscription_ends_when_its_token_expires(api):
    _, url = api
    with subscribe(url, token({A: "read"}, ttl=3), ALERTS, {"a": A}) as socket:
        issued = time.monotonic()
        while (message := json.loads(socket.recv(timeout=10)))["payload"].get("data"):
            pass  # A's alerts so far, then the stream ends
        assert "expired" in json.dumps(message) and time.monotonic() - issued < 6


def test_alerts_page_newest_first_by_cursor(api):
    _, url = api
    bearer, seen, before = token({A: "read"}), [], ""
    while True:
        status, body = get(url, f"/v1/accounts/{A}/alerts?limit=2{before}", bearer)
        assert status == 200, body
        seen += [a["alert_id"] for a in body["alerts"]]
        if body["next_before"] is None:
            break
        before = f"&before={body['next_before']}"
    assert seen == sorted(set(seen), key=lambda i: -int(i.rsplit("-", 1)[1])) and f"alert-{A}-1" in seen
    assert not [i for i in seen if B in i]
    status, body = get(url, f"/v1/accounts/{A}/alerts?kind=budget", bearer)
    assert [a["alert_id"] for a in body["alerts"]] == [f"alert-{A}-3"]


@contextmanager
def devtools(page_url: str, profile) -> Iterator[Callable[..., dict]]:
    """Debian's headless Chromium on a page, driven over the DevTools protocol (a real browser, real sockets)."""
    port = free_port()
    argv = [shutil.which("chromium") or "/usr/bin/chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
            f"--remote-debugging-port={port}", "--remote-allow-origins=*", "--window-size=1280,900",
            page_url]  # fmt: skip
    browser = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while not (pages := _pages(port)):
            assert browser.poll() is None and time.monotonic() < deadline, "chromium did not start"
            time.sleep(0.2)
        with connect(pages[0]["webSocketDebuggerUrl"], max_size=None) as socket:
            ids = itertools.count(1)

            def call(method: str, **params) -> dict:
                number = next(ids)
                socket.send(json.dumps({"id": number, "method": method, "params": params}))
                while (message := json.loads(socket.recv(timeout=30))).get("id") != number:
                    pass
                return message["result"]

            yield call
    finally:
        browser.kill()
        browser.wait(10)


def _pages(port: int) -> list[dict]:
    try:
        listed = json.loads(http.request("GET", f"http://127.0.0.1:{port}/json/list").data)
    except urllib3.exceptions.HTTPError:
        return []
    return [p for p in listed if p["type"] == "page"]


def evaluate(call, expression: str):
    return call("Runtime.evaluate", expression=expression, returnByValue=True)["result"].get("value")


def wait_for(call, expression: str, timeout_s: float):
    """Poll a page expression until it is truthy; returns the seconds it took."""
    started = time.monotonic()
    while not evaluate(call, expression):
        assert time.monotonic() - started < timeout_s, f"the page never showed: {expression}"
        time.sleep(0.05)
    return time.monotonic() - started


def test_the_console_shows_influxdbs_numbers_and_a_new_alert_within_two_seconds(api, tmp_path):
    config, url = api
    (today,) = influxql(
        config.influx, f"SELECT SUM(usd_micros) FROM cost WHERE account = '{A}' AND time >= '2026-10-31'"
    )
    shown_today = f"${Decimal(today['values'][0][1]) / 10**6:,.2f}"
    with devtools(f"{url}/console/#token={token({A: 'read'})}&account={A}", tmp_path / "profile") as call:
        wait_for(call, f"document.getElementById('today-total').textContent === '{shown_today}'", timeout_s=20)
        assert evaluate(call, "document.querySelectorAll('#services tbody tr').length") == len(SERVICES)
        assert evaluate(call, "location.hash") == ""  # the token left the address bar
        wait_for(call, "document.querySelectorAll('#chart polygon').length === 1", timeout_s=10)
        wait_for(call, "document.querySelectorAll('#alerts li').length > 0", timeout_s=10)
        time.sleep(1)  # the subscription is open
        publish(config, alert(50))
        took = wait_for(call, f"!!document.querySelector('#alerts li[data-alert-id=\"alert-{A}-50\"]')", timeout_s=2)
        assert took < 2
        shot = tmp_path / "console.png"
        shot.write_bytes(base64.b64decode(call("Page.captureScreenshot", format="png")["data"]))
    image = Image.open(shot).convert("RGB")
    colors = Counter(image.get_flattened_data())
    blue = sum(n for (r, g, b), n in colors.items() if abs(r - 0x25) + abs(g - 0x63) + abs(b - 0xEB) < 40)
    assert image.width == 1280 and blue > 500  # the totals and the forecast line are drawn


def test_cost_updates_start_where_the_current_hour_stands_then_follow_the_job(api):
    config, url = api
    query = "subscription($a: String!) { costUpdates(accountId: $a) { hour service usd lineItems } }"
    with subscribe(url, token({A: "read"}), query, {"a": A}) as socket:

        def update() -> dict:
            message = json.loads(socket.recv(timeout=10))
            assert message["type"] == "next", message
            return message["payload"]["data"]["costUpdates"]

        current = [update(), update()]  # the newest hour's totals, not the hour before
        assert {(u["service"], u["usd"]) for u in current} == {("AmazonEC2", "0.250000"), ("AmazonS3", "0.750000")}
        assert {u["hour"][:16] for u in current} == {"2026-10-31T14:00"}
        publish_live(config, live(B, "AmazonEC2", HOURS - 1, "9.5"), live(A, "AmazonEC2", HOURS - 1, "0.375"))
        sent = time.monotonic()
        moved = update()
        assert (moved["service"], moved["usd"]) == ("AmazonEC2", "0.375000") and time.monotonic() - sent < 1
        with pytest.raises(TimeoutError):
            socket.recv(timeout=1)  # B's update never reaches A's subscriber
    with subscribe(url, token({B: "read"}), query, {"a": A}) as socket:
        assert "0.375" not in json.dumps(refusal(socket))


def test_the_embedded_stack_serves_the_api_with_a_token_key_of_its_own(stack: Config, stack_env):
    (api_status,) = [s for s in LocalStack(stack).status() if s.name == "api"]
    assert api_status.healthy
    key = stack.state_dir / "api-jwt-secret"
    assert key.stat().st_mode & 0o077 == 0  # readable by its owner only
    minted = subprocess.run(
        [sys.executable, "-m", "spendstream.cli", "api", "token", "--account", A],
        env=stack_env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert key.read_text() not in minted.stdout + minted.stderr
    status, body = get(api_status.address, "/v1/accounts", minted.stdout.strip())
    assert (status, body) == (200, {"accounts": [A]})
