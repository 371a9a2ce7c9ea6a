"""REST for scripts: the same reads as GraphQL, one URL each, JSON with money as decimal strings."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.requests import HTTPConnection

from spendstream.api import read_model
from spendstream.api.access import Principal, Unauthorized


def principal(request: HTTPConnection) -> Principal:
    """The verified token of the request (401 when missing or invalid)."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("send Authorization: Bearer <token> (mint one with `spendstream api token`)")
    return request.app.state.keys.verify(token.strip())


def readable_account(account_id: str, who: Annotated[Principal, Depends(principal)]) -> str:
    who.require(account_id, "read")
    return read_model.checked_account(account_id)


def page_limit(request: Request, limit: Annotated[int, Query(ge=1, description="items per page")] = 50) -> int:
    most = request.app.state.config.api.max_page_size
    if limit > most:
        raise read_model.BadRequest(f"limit must be at most {most}")
    return limit


router = APIRouter(prefix="/v1")
Account = Annotated[str, Depends(readable_account)]
Limit = Annotated[int, Depends(page_limit)]
Before = Annotated[str | None, Query(description="next_before of the previous page")]


def _day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


@router.get("/accounts", summary="The accounts this token may read")
def accounts(who: Annotated[Principal, Depends(principal)]) -> dict:
    return {"accounts": who.readable}


@router.get("/accounts/{account_id}/costs", summary="Cost per day (or in total) of [from, to), grouped by tags")
def costs(
    request: Request,
    account_id: Account,
    from_: Annotated[date, Query(alias="from", description="first day, YYYY-MM-DD")],
    to: Annotated[date, Query(description="day after the last, YYYY-MM-DD")],
    group_by: Annotated[str, Query(description=f"comma-separated, of {', '.join(read_model.GROUPS)}")] = "",
    granularity: Annotated[str, Query(pattern="^(day|total)$")] = "day",
) -> dict:
    if to <= from_ or (to - from_).days > 366:
        raise read_model.BadRequest("to must be after from, at most 366 days later")
    groups = [g.strip() for g in group_by.split(",") if g.strip()]
    influx, start, end = request.app.state.config.influx, _day_start(from_), _day_start(to)
    total = read_model.cost_breakdown(influx, account_id, start, end, [])
    body = {"account_id": account_id, "from": from_, "to": to, "total_usd": total[0].usd if total else "0.000000"}
    if granularity == "total":
        lines = read_model.cost_breakdown(influx, account_id, start, end, groups)
        return {**body, "lines": [asdict(line) for line in lines]}
    days = read_model.daily_costs(influx, account_id, start, end, groups)
    return {**body, "days": [{"day": day, **asdict(line)} for day, line in days]}


@router.get("/accounts/{account_id}/forecasts", summary="The newest daily forecasts of the account total")
def forecasts(
    request: Request,
    account_id: Account,
    days: Annotated[int, Query(ge=1, le=366)] = 30,
    from_: Annotated[date | None, Query(alias="from", description="first day; default: the newest data's")] = None,
) -> dict:
    influx = request.app.state.config.influx
    newest = read_model.latest_hour(influx, account_id)
    first = from_ or (newest or datetime.now(UTC)).date()
    return {
        "account_id": account_id,
        "from": first,
        "days": [asdict(f) for f in read_model.forecasts(influx, account_id, first, days)],
        "key_drivers": [asdict(d) for d in read_model.forecast_drivers(influx, account_id, first, days)],
    }


@router.get("/accounts/{account_id}/anomalies", summary="Anomaly messages, newest first, paged by cursor")
def anomalies(request: Request, account_id: Account, limit: Limit, before: Before = None) -> dict:
    config = request.app.state.config
    found = read_model.anomalies(config.influx, account_id, limit, before)
    return {"account_id": account_id, "anomalies": [asdict(a) for a in found], "next_before": _next(found, limit)}


@router.get("/accounts/{account_id}/recommendations", summary="The optimizer's open advice, largest saving first")
def recommendations(request: Request, account_id: Account) -> dict:
    found = read_model.open_recommendations(request.app.state.config.influx, account_id)
    return {"account_id": account_id, "recommendations": [asdict(r) for r in found]}


@router.get("/accounts/{account_id}/alerts", summary="Alerts from the alert topic, newest first, paged by cursor")
def alerts(
    request: Request,
    account_id: Account,
    limit: Limit,
    before: Before = None,
    kind: Annotated[str | None, Query(description="only this kind: budget, anomaly, recommendation, …")] = None,
) -> dict:
    feed = request.app.state.feed
    if feed.error:
        raise read_model.Unavailable(feed.error)
    found = feed.page({account_id}, limit, before, {kind} if kind else None)
    return {"account_id": account_id, "alerts": [asdict(a) for a in found], "next_before": _next(found, limit)}


def _next(found: list, limit: int) -> str | None:
    """The cursor of the next page, when this one is full."""
    return found[-1].cursor if len(found) == limit else None
