"""The knowledge-health dashboard (experts and administrators) and the CSV export of its tables."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from expertise import health, health_export
from web import charts
from web.deps import PageUser, SessionDep
from web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/knowledge-health")
def knowledge_health(request: Request, session: SessionDep, user: PageUser, days: str = str(health.DEFAULT_DAYS)):
    report = health.dashboard(session=session, actor=user, days=days)
    context = {
        "report": report,
        "periods": health.PERIODS,
        "charts": _charts(report),
        "hours": charts.hours,
        "percent": lambda share: f"{share * 100:.0f} %",
        "no_topic": health.NO_TOPIC,
        "all_topics": health.ALL_TOPICS,
        "expiring_days": health.EXPIRING_DAYS,
    }
    return render(request, "knowledge_health.html", context)


@router.get("/knowledge-health/{table}.csv")
def export_table(session: SessionDep, user: PageUser, table: str, days: str = str(health.DEFAULT_DAYS)):
    filename, text = health_export.export_csv(session=session, actor=user, table=table, days=days)
    return Response(text, media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})


def _charts(report: health.KnowledgeHealth) -> dict[str, charts.Chart]:
    days = report.searches_per_day
    searches, failed = sum(d.searches for d in days), sum(d.failed for d in days)
    share = f"{failed / searches:.0%}" if searches else "none"
    topics = [r for r in report.time_to_certify if r.topic != health.ALL_TOPICS]
    backlog = report.backlog
    return {
        "searches": charts.stacked_columns(
            id="chart-searches", title="Searches per day",
            desc=(f"{searches} searches from {days[0].day} to {days[-1].day}, of which {failed} failed ({share}). "
                  "Failed searches are the lower, red part of each column; the numbers are in the table below."),
            columns=[(d.day.strftime("%m-%d"), d.failed, d.searches - d.failed) for d in days],
            base_label="Failed", top_label="Found and opened"),
        "time_to_certify": charts.duration_bars(
            id="chart-time-to-certify", title="Time from submission to certification by topic",
            desc=("Median time per topic as bars, the 90th percentile as a tick: "
                  + ("; ".join(f"{r.topic} {charts.hours(r.median)} (p90 {charts.hours(r.p90)})" for r in topics)
                     or "nothing was certified in this period") + ". The numbers are in the table beside it."),
            rows=[(r.topic, r.median, r.p90) for r in topics]),
        "backlog": charts.columns(
            id="chart-backlog", title="Review backlog by age since submission",
            desc=(f"{backlog.total} revisions waiting: "
                  + ", ".join(f"{backlog.bucket_total(label)} {label}" for label, _ in health.AGE_BUCKETS)
                  + ". The numbers are in the table beside it."),
            values=[(label, backlog.bucket_total(label)) for label, _ in health.AGE_BUCKETS]),
    }

