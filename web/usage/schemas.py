"""The usage API's structures: each series of :mod:`core.usage.series`, camelCase on the wire.

Field names are the core's (``msgspec.convert(..., from_attributes=True)`` reads them), and the
CSV export's columns are the same names (:mod:`core.usage.export`).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any, Literal, TypeVar

import msgspec

from core.usage import series
from web.structs import ApiStruct

T = TypeVar("T")


class PeriodOut(ApiStruct):
    #: week (7 days) or month (30 days), ending on ``end``; days are the persona's
    kind: Literal["week", "month"]
    start: date
    end: date
    timezone: str


class CadenceDayOut(ApiStruct):
    day: date
    posts: int
    reposts: int
    replies: int
    posts_target: int | None
    reposts_target: int | None


class AccountCadenceOut(ApiStruct):
    account_id: uuid.UUID
    channel: str
    handle: str
    posts_target: int | None
    reposts_target: int | None
    days: list[CadenceDayOut]
    posts: int
    reposts: int
    replies: int
    posts_target_total: int | None
    reposts_target_total: int | None
    days_on_target: int | None


class AudienceDayOut(ApiStruct):
    day: date
    followers: int | None
    gain: int | None
    following: int | None
    posts: int | None
    impressions: int | None
    at: datetime | None
    api_version: str
    demo: bool


class AccountAudienceOut(ApiStruct):
    account_id: uuid.UUID
    channel: str
    handle: str
    days: list[AudienceDayOut]
    followers: int | None
    gain: int | None
    metrics_fetched_at: datetime | None
    metrics_error: str | None
    metrics_error_at: datetime | None


class PostEngagementOut(ApiStruct):
    delivery_id: uuid.UUID
    post_id: uuid.UUID
    account_id: uuid.UUID
    channel: str
    handle: str
    kind: str
    published_at: datetime
    day: date
    first_words: str
    remote_url: str | None
    impressions: int | None
    likes: int | None
    reposts: int | None
    replies: int | None
    measured_at: datetime | None
    api_version: str
    demo: bool


class BudgetOut(ApiStruct):
    account_id: uuid.UUID
    channel: str
    handle: str
    endpoint: str
    metric: str
    value: float
    limit: int | None
    used_percent: float | None
    reset_at: str | None
    at: datetime


class CallsDayOut(ApiStruct):
    day: date
    calls: int


class AccountCallsOut(ApiStruct):
    account_id: uuid.UUID
    channel: str
    handle: str
    days: list[CallsDayOut]
    calls: int


class DelaysOut(ApiStruct):
    count: int
    median_s: float | None
    mean_s: float | None
    median_business_s: float | None
    mean_business_s: float | None


class ResponseDayOut(ApiStruct):
    day: date
    first: DelaysOut
    next: DelaysOut


class WorkDayOut(ApiStruct):
    day: date
    items_handled: int
    replies_sent: int
    first_responses: DelaysOut
    hours: list[int]
    hours_worked: int
    span_hours: float


class StaffWorkloadOut(ApiStruct):
    staff_id: uuid.UUID
    name: str
    days: list[WorkDayOut]
    items_handled: int
    replies_sent: int
    first_responses: DelaysOut
    hours_worked: int
    longest_day_hours: int


# ------------------------------------------------------------------ the answers


class CadenceOut(ApiStruct):
    period: PeriodOut
    accounts: list[AccountCadenceOut]


class AudienceOut(ApiStruct):
    period: PeriodOut
    accounts: list[AccountAudienceOut]


class EngagementOut(ApiStruct):
    period: PeriodOut
    posts: list[PostEngagementOut]


class BudgetsOut(ApiStruct):
    period: PeriodOut
    latest: list[BudgetOut]


class ApiCallsOut(ApiStruct):
    period: PeriodOut
    accounts: list[AccountCallsOut]


class ResponseTimesOut(ApiStruct):
    period: PeriodOut
    days: list[ResponseDayOut]
    first: DelaysOut
    next: DelaysOut
    first_target_s: float
    next_target_s: float


class WorkloadOut(ApiStruct):
    period: PeriodOut
    staff: list[StaffWorkloadOut]


class UsageOut(ApiStruct):
    """Every series of the period at once (what the usage page shows)."""

    period: PeriodOut
    cadence: list[AccountCadenceOut]
    audience: list[AccountAudienceOut]
    engagement: list[PostEngagementOut]
    budgets: list[BudgetOut]
    api_calls: list[AccountCallsOut]
    response_times: ResponseTimesOut
    workload: list[StaffWorkloadOut]


def convert(value: Any, kind: type[T]) -> T:
    return msgspec.convert(value, kind, from_attributes=True)


def period_out(period: series.Period) -> PeriodOut:
    return convert(period, PeriodOut)


def response_times_out(found: series.ResponseTimes, period: series.Period) -> ResponseTimesOut:
    return ResponseTimesOut(
        period=period_out(period),
        days=convert(found.days, list[ResponseDayOut]),
        first=convert(found.first, DelaysOut),
        next=convert(found.next, DelaysOut),
        first_target_s=found.first_target_s,
        next_target_s=found.next_target_s,
    )


def usage_out(found: series.Overview) -> UsageOut:
    return UsageOut(
        period=period_out(found.period),
        cadence=convert(found.cadence, list[AccountCadenceOut]),
        audience=convert(found.audience, list[AccountAudienceOut]),
        engagement=convert(found.engagement, list[PostEngagementOut]),
        budgets=convert(found.budgets.latest, list[BudgetOut]),
        api_calls=convert(found.budgets.calls, list[AccountCallsOut]),
        response_times=response_times_out(found.response_times, found.period),
        workload=convert(found.workload, list[StaffWorkloadOut]),
    )
