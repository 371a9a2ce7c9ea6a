"""The GraphQL face of the API (strawberry): the design's queries over the same reads as REST.

Every resolver checks the token's permission on the account before it reads anything, so a
token without it learns nothing of the account (the error and the HTTP status, 403, are the same
whether the account exists or not). Reads run in a worker thread: a slow InfluxDB never stalls
the server's event loop. Depth, alias and token limits refuse a huge query before it runs.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import strawberry
from graphql import GraphQLError
from starlette.concurrency import run_in_threadpool
from strawberry.extensions import (
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.types import Info

from pipelines.account_settings import ALERT_THRESHOLDS, BUSINESS_MAPPING
from spendstream.api import alert_feed, cost_feed, read_model
from spendstream.api.access import Forbidden, Principal, Unauthorized
from spendstream.api.settings_graphql import (
    AccountSettings,
    AlertThresholdsInput,
    BusinessMappingInput,
    SettingsChange,
    account_settings,
    mapping_values,
    settings_change,
    threshold_values,
)
from spendstream.api.topic_feed import FellBehind
from spendstream.config import Config

MAX_ALIASES, MAX_TOKENS = 30, 2000


@strawberry.type
class Amount:
    key: str
    usd: str  # exact decimal string


@strawberry.type
class Trend:
    same_hours_yesterday_usd: str
    change_usd: str


@strawberry.type
class CurrentCosts:
    account_id: str
    as_of: datetime
    total_usd: str  # today (UTC) so far; with filters, of the matching lines (as are the breakdowns)
    by_service: list[Amount]
    by_region: list[Amount]
    by_cost_center: list[Amount]
    by_charge_type: list[Amount]
    trend: Trend  # trend, month to date and projection are the whole account's
    month_to_date_usd: str
    month_end_projection_usd: str


@strawberry.input
class CostFilters:
    service: str | None = None
    region: str | None = None
    cost_center: str | None = None
    charge_type: str | None = None


DailyPrediction = strawberry.type(read_model.DailyForecast, name="DailyPrediction")


Driver = strawberry.type(read_model.Driver)


@strawberry.type
class CostPredictions:
    account_id: str
    from_day: date
    days: list[DailyPrediction]
    key_drivers: list[Driver]


Anomaly = strawberry.type(read_model.Anomaly)
AlertDetail = strawberry.type(alert_feed.Detail, name="AlertDetail")
Alert = strawberry.type(alert_feed.Alert)
CostUpdate = strawberry.type(cost_feed.CostUpdate)


@strawberry.type
class Recommendation:
    id: str
    type: str
    resource_id: str | None
    current_type: str
    recommended_type: str
    current_cost: float  # monthly, as the design names it
    projected_monthly_cost: float
    potential_savings: str  # monthly, exact
    savings_p10: float
    savings_p90: float
    risk_level: str
    description: str
    as_of: datetime


def _principal(info: Info, account_id: str, permission: str = "read") -> Principal:
    principal: Principal = info.context["principal"]
    try:
        principal.require(account_id, permission)
    except Forbidden:
        if info.context.get("response") is not None:  # over HTTP (a WebSocket has no status)
            info.context["response"].status_code = 403
        raise
    return principal


def _amounts(lines: list[read_model.CostLine], tag: str) -> list[Amount]:
    return [Amount(key=line.group[tag] or "none", usd=line.usd) for line in lines]


def current_costs(config: Config, account_id: str, filters: dict[str, str]) -> CurrentCosts | None:
    current = read_model.current_costs(config.influx, account_id)
    if current is None:
        return None

    def by(tag: str) -> list[Amount]:
        if tag == "service" and not filters:
            return _amounts(current.today_by_service, tag)
        lines = read_model.cost_breakdown(config.influx, account_id, current.day_start, current.as_of, [tag], filters)
        return _amounts(lines, tag)

    by_service = by("service")
    total = sum((Decimal(a.usd) for a in by_service), Decimal(0))
    change = Decimal(current.today_usd) - Decimal(current.same_hours_yesterday_usd)
    return CurrentCosts(
        account_id=account_id,
        as_of=current.as_of,
        total_usd=str(total),
        by_service=by_service,
        by_region=by("region"),
        by_cost_center=by("cost_center"),
        by_charge_type=by("charge_type"),
        trend=Trend(same_hours_yesterday_usd=current.same_hours_yesterday_usd, change_usd=str(change)),
        month_to_date_usd=current.month_to_date_usd,
        month_end_projection_usd=current.month_end_projection_usd,
    )


def cost_predictions(config: Config, account_id: str, timeframe: int) -> CostPredictions:
    newest = read_model.latest_hour(config.influx, account_id)
    first = (newest or datetime.now(UTC)).date()  # today, as far as the data goes
    return CostPredictions(
        account_id=account_id,
        from_day=first,
        days=read_model.forecasts(config.influx, account_id, first, timeframe),
        key_drivers=read_model.forecast_drivers(config.influx, account_id, first, timeframe),
    )


UnitDay = strawberry.type(read_model.UnitDay)


@strawberry.type
class UnitCost:
    dimension: str
    unit: str
    start: date
    end: date = strawberry.field(description="Exclusive.")
    total_usd: str = strawberry.field(description="Direct + allocated: the units of an account add up to its total.")
    direct_usd: str
    allocated_usd: str
    days: list[UnitDay]


def unit_cost(
    config: Config, account_id: str, dimension: str, unit: str, start: date | None, end: date | None
) -> UnitCost:
    """One customer's or feature's cost over [start, end): by default the month of the newest data."""
    newest = (read_model.latest_hour(config.influx, account_id) or datetime.now(UTC)).date()
    start = start or newest.replace(day=1)
    end = end or newest + timedelta(days=1)
    if end <= start:
        raise read_model.BadRequest("end must be after start")
    moments = [datetime(d.year, d.month, d.day, tzinfo=UTC) for d in (start, end)]
    days = read_model.unit_costs(config.influx, account_id, dimension, unit, *moments).get(unit, [])

    def total(field: str) -> str:
        return str(sum((Decimal(getattr(day, field)) for day in days), Decimal("0.000000")))

    return UnitCost(
        dimension=dimension, unit=unit, start=start, end=end, total_usd=total("usd"),
        direct_usd=total("direct_usd"), allocated_usd=total("allocated_usd"), days=days,
    )  # fmt: skip


@strawberry.type
class Query:
    @strawberry.field(description="Today's spend so far, its breakdown, trend and month-end projection.")
    async def get_current_costs(
        self, info: Info, account_id: str, filters: CostFilters | None = None
    ) -> CurrentCosts | None:
        _principal(info, account_id)
        chosen = {k: v for k, v in vars(filters).items() if v is not None} if filters else {}
        return await run_in_threadpool(current_costs, info.context["config"], account_id, chosen)

    @strawberry.field(description="Daily predictions from the newest data's day on, with intervals and drivers.")
    async def get_cost_predictions(self, info: Info, account_id: str, timeframe: int = 30) -> CostPredictions:
        _principal(info, account_id)
        return await run_in_threadpool(cost_predictions, info.context["config"], account_id, timeframe)

    @strawberry.field(description="The optimizer's open advice for the account, largest saving first.")
    async def get_optimization_recommendations(self, info: Info, account_id: str) -> list[Recommendation]:
        _principal(info, account_id)
        found = await run_in_threadpool(read_model.open_recommendations, info.context["config"].influx, account_id)
        return [
            Recommendation(
                id=r.recommendation_id, type=r.type, resource_id=r.resource_id or None, current_type=r.current_type,
                recommended_type=r.recommended_type, current_cost=r.current_monthly_usd,
                projected_monthly_cost=r.projected_monthly_usd, potential_savings=r.potential_savings_usd,
                savings_p10=r.savings_p10_usd, savings_p90=r.savings_p90_usd, risk_level=r.risk_level,
                description=r.description, as_of=r.as_of,
            )
            for r in found
        ]  # fmt: skip

    @strawberry.field(description="Anomaly messages, newest first; page on with before = the last one's cursor.")
    async def anomalies(self, info: Info, account_id: str, first: int = 50, before: str | None = None) -> list[Anomaly]:
        _principal(info, account_id)
        config: Config = info.context["config"]
        if not 1 <= first <= config.api.max_page_size:
            raise read_model.BadRequest(f"first must be 1–{config.api.max_page_size}")
        return await run_in_threadpool(read_model.anomalies, config.influx, account_id, first, before)

    @strawberry.field(description="Alerts of the account, newest first; page on with before = the last one's cursor.")
    async def alerts(
        self, info: Info, account_id: str, first: int = 50, before: str | None = None, kinds: list[str] | None = None
    ) -> list[Alert]:
        _principal(info, account_id)
        config: Config = info.context["config"]
        if not 1 <= first <= config.api.max_page_size:
            raise read_model.BadRequest(f"first must be 1–{config.api.max_page_size}")
        wanted = set(kinds) if kinds else None
        return await run_in_threadpool(_feed(info, "feed").page, {account_id}, first, before, wanted)

    @strawberry.field(description="A customer's cost with its share of the account's untagged cost, per day.")
    async def get_cost_by_customer(
        self, info: Info, account_id: str, customer_id: str, start: date | None = None, end: date | None = None
    ) -> UnitCost:
        _principal(info, account_id)
        return await run_in_threadpool(
            unit_cost, info.context["config"], account_id, "customer", customer_id, start, end
        )

    @strawberry.field(description="A feature's cost per day (untagged cost stays with the feature '(shared)').")
    async def get_cost_by_feature(
        self, info: Info, account_id: str, feature_id: str, start: date | None = None, end: date | None = None
    ) -> UnitCost:
        _principal(info, account_id)
        return await run_in_threadpool(unit_cost, info.context["config"], account_id, "feature", feature_id, start, end)

    @strawberry.field(description="The accounts this token may read.")
    def accounts(self, info: Info) -> list[str]:
        return info.context["principal"].readable

    @strawberry.field(description="The account's business mapping and thresholds as they stand in the job.")
    async def account_settings(self, info: Info, account_id: str) -> AccountSettings:
        _principal(info, account_id)
        return account_settings(await run_in_threadpool(info.context["settings"].standing, account_id))

    @strawberry.field(description="Every change of the account's settings, oldest first: who, when, before, after.")
    async def settings_history(self, info: Info, account_id: str) -> list[SettingsChange]:
        _principal(info, account_id)
        return [settings_change(c) for c in await run_in_threadpool(info.context["settings"].history, account_id)]


async def _change_settings(info: Info, account_id: str, change: str, values: dict) -> AccountSettings:
    """Write one change (refused with 400 when invalid; nothing written); the job applies it to later events."""
    principal = _principal(info, account_id, "configure")
    settings = info.context["settings"]
    standing = await run_in_threadpool(settings.change, account_id, change, values, principal.subject)
    return account_settings(standing)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        description="Daily and monthly budgets and anomaly thresholds; the running job uses them from now on."
    )
    async def set_alert_thresholds(
        self, info: Info, account_id: str, thresholds: AlertThresholdsInput
    ) -> AccountSettings:
        return await _change_settings(info, account_id, ALERT_THRESHOLDS, threshold_values(thresholds))

    @strawberry.mutation(description="Name, cost center, project, environment, team and the account's tag rules.")
    async def update_business_mapping(
        self, info: Info, account_id: str, mapping: BusinessMappingInput
    ) -> AccountSettings:
        return await _change_settings(info, account_id, BUSINESS_MAPPING, mapping_values(mapping))


def _feed(info: Info, name: str):
    """The live feed ``name`` of the context, or a 503-kind error saying why it cannot be read."""
    feed = info.context[name]
    if feed.error:
        raise read_model.Unavailable(feed.error)
    return feed


async def _alert_stream(info: Info, account_id: str | None, after: str | None, kinds: set[str] | None):
    """Checked when subscribing; the stream ends when the token expires."""
    who: Principal = info.context["principal"]
    accounts = {account_id} if account_id else set(who.readable)
    for account in accounts:
        who.require(account, "read")
    async for alert in _feed(info, "feed").alerts(accounts, after, kinds, until=who.expires_at):
        yield alert


@strawberry.type
class Subscription:
    @strawberry.subscription(description="Every alert of the account (all readable accounts if none is named).")
    async def alerts(
        self, info: Info, account_id: str | None = None, after: str | None = None
    ) -> AsyncGenerator[Alert, None]:
        async for alert in _alert_stream(info, account_id, after, None):
            yield alert

    @strawberry.subscription(
        description="The account's live hourly totals: where its current hour stands, then each update."
    )
    async def cost_updates(self, info: Info, account_id: str) -> AsyncGenerator[CostUpdate, None]:
        who = _principal(info, account_id)
        async for update in _feed(info, "costs").updates(account_id, until=who.expires_at):
            yield update

    @strawberry.subscription(description="The anomaly alerts of the account, resumable after a cursor.")
    async def anomaly_alerts(
        self, info: Info, account_id: str, after: str | None = None
    ) -> AsyncGenerator[Alert, None]:
        async for alert in _alert_stream(info, account_id, after, {"anomaly"}):
            yield alert


class RefusedAs400(SchemaExtension):
    """A query refused as a whole (syntax, validation, depth or size limits, bad arguments) is answered 400."""

    def on_operation(self):
        yield
        context = self.execution_context
        response = (context.context or {}).get("response")
        result = context.result
        if result is None or result.data is not None or not result.errors or response is None:
            return
        if response.status_code in (None, 200) and all(_refusal(e) for e in result.errors):
            response.status_code = 400


def _refusal(error: GraphQLError) -> bool:
    """The request's own fault: it could not be parsed or validated, or asked for what cannot be answered."""
    return error.original_error is None or isinstance(error.original_error, read_model.BadRequest)


def _unexpected(error: GraphQLError) -> bool:
    """A failure inside the server (not a refusal of the request) is logged, and masked for the client."""
    original = error.original_error
    expected = read_model.BadRequest | read_model.Unavailable | Forbidden | Unauthorized | FellBehind
    return original is not None and not isinstance(original, expected)


def build_schema(config: Config) -> strawberry.Schema:
    return strawberry.Schema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            QueryDepthLimiter(max_depth=config.api.max_query_depth),
            MaxAliasesLimiter(max_alias_count=MAX_ALIASES),
            MaxTokensLimiter(max_token_count=MAX_TOKENS),
            MaskErrors(should_mask_error=_unexpected),
            RefusedAs400,
        ],
    )
