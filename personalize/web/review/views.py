"""The dashboard's routes; each reads the log once and renders one template.

Every route but ``login`` and the stylesheet needs a logged-in reviewer; every
POST needs the session's CSRF token (:mod:`.auth`). Pages only read, except the
pause and resume forms, which change the experience monitor's state in the
store and redirect back (post/redirect/get).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from ...context.time import zone
from ...exceptions import StoreError
from ...guardrails import ExperienceMonitor
from ...logjoin import Joined, join
from ...policy.counterfactuals import evaluate_slot
from ...rules.model import Slot
from ...signals import SOURCES
from . import charts
from .auth import ReviewAuth, csrf_token, current_user, login, logout, require_csrf
from .overview import overview
from .reports import (
    DecisionQuery,
    holdout_lift_of,
    search_decisions,
    split_test,
    summarize,
    traffic,
)
from .viewas import BOUGHT, DEVICES, REFERRERS, ViewAsForm, preview, view_as

if TYPE_CHECKING:
    from ...engine import Personalizer

__all__ = ["EXTENSION_KEY", "MAX_RECORDS", "PAGE_SIZE", "WINDOWS", "register_views"]

EXTENSION_KEY = "personalize_review"
#: the most log records one page reads; beyond it the page says the figures are partial
MAX_RECORDS = 500_000
PAGE_SIZE = 50
WINDOWS = (1, 7, 14, 30, 90)
_NOTICE = "pz_review_notice"
CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data: https:; frame-src 'self'; "
       "form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
PUBLIC = frozenset({"review.login", "review.static"})


@dataclass(frozen=True)
class Window:
    """The reporting period a page shows."""

    days: int
    start: float
    end: float
    bucket: str


def register_views(bp: Blueprint, engine: Personalizer) -> None:
    """Add every route of the dashboard for ``engine`` to ``bp``."""

    @bp.before_request
    def guard() -> BaseResponse | None:
        if request.endpoint == "review.static":
            return None
        if request.method == "POST":
            require_csrf()
        if request.endpoint not in PUBLIC and current_user() is None:
            return redirect(url_for(".login", next=request.full_path.rstrip("?")))
        return None

    @bp.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.endpoint != "review.static":
            response.headers["Cache-Control"] = "no-store"
        return response

    @bp.errorhandler(StoreError)
    def store_down(err: StoreError) -> tuple[str, int]:
        return page("review/error.html", "Store unavailable", error=str(err)), 503

    def page(template: str, title: str, **context: Any) -> str:
        site_tz = zone(engine.ruleset.site.timezone)

        def when(ts: float | None) -> str:
            if ts is None:
                return "–"
            return datetime.fromtimestamp(float(ts), UTC).astimezone(site_tz).strftime(
                "%Y-%m-%d %H:%M")

        return render_template(
            template, title=title, user=current_user(), csrf=csrf_token,
            notice=session.pop(_NOTICE, None), when=when, pct=_pct, num=_num,
            site_tz=engine.ruleset.site.timezone, windows=WINDOWS, **context)

    def window() -> Window:
        days = request.args.get("days", type=int) or 14
        days = days if days in WINDOWS else 14
        bucket = request.args.get("bucket", "hour" if days <= 2 else "day")
        end = engine.clock()
        return Window(days, end - days * 86400.0, end, bucket if bucket == "hour" else "day")

    def joined(w: Window) -> tuple[Joined, bool]:
        records = list(engine.store.read_log(since=w.start, limit=MAX_RECORDS))
        objectives = {name: s.objective for name, s in engine.ruleset.slots.items()}
        # the learner's window, so the figures count what the bandit learned from
        return (join(records, reward_window=engine.learner.reward_window, objectives=objectives),
                len(records) >= MAX_RECORDS)

    def monitor() -> ExperienceMonitor | None:
        return next((g for g in engine.guardrails() if isinstance(g, ExperienceMonitor)), None)

    def paused() -> list[dict[str, Any]]:
        found = monitor()
        return found.paused() if found is not None else []

    # -- signing in --------------------------------------------------------
    @bp.route("/login", methods=["GET", "POST"], endpoint="login")
    def login_page() -> BaseResponse | tuple[str, int] | str:
        auth: ReviewAuth = current_app.extensions[EXTENSION_KEY]
        target = _safe_next(request.values.get("next", ""))
        if request.method == "GET":
            return page("review/login.html", "Sign in", next=target, error="")
        client = request.remote_addr or "-"
        wait = auth.limiter.retry_after(client)
        if wait > 0:
            body = page("review/login.html", "Sign in", next=target,
                        error=f"Too many failed attempts. Try again in {int(wait) + 1} seconds.")
            return Response(body, 429, {"Retry-After": str(int(wait) + 1)})
        if not auth.check_password(request.form.get("password", "")):
            auth.limiter.failed(client)
            return page("review/login.html", "Sign in", next=target,
                        error="That password is not right."), 403
        auth.limiter.succeeded(client)
        login(request.form.get("name", ""))
        return redirect(target or url_for(".index"))

    @bp.post("/logout", endpoint="logout")
    def logout_page() -> BaseResponse:
        logout()
        return redirect(url_for(".login"))

    # -- reports -----------------------------------------------------------
    @bp.get("/")
    def index() -> str:
        w = window()
        data, partial = joined(w)
        summary = overview(data, engine.ruleset.slots, start=w.start, end=w.end,
                           paused=paused(), rules_version=engine.ruleset.version)
        return page("review/index.html", "Overview", window=w, data=summary, partial=partial,
                    slots=engine.ruleset.slots)

    @bp.get("/slots/<name>")
    def slot_page(name: str) -> str:
        slot = engine.ruleset.slots.get(name)
        if slot is None:
            abort(404, description=f"No slot named {name!r} in the current rules.")
        w = window()
        data, partial = joined(w)
        variants = list(slot.variants)
        tz = zone(engine.ruleset.site.timezone)
        series = traffic(data.exposures, name, variants, start=w.start, end=w.end,
                         bucket="hour" if w.bucket == "hour" else "day", tz=tz)
        lift = holdout_lift_of(data.exposures, name)
        bandit = None
        if slot.policy == "bandit":
            policy, lock = engine.learner.policy(name)
            with lock:  # a copy, so decisions never wait on the evaluation
                bandit = copy.deepcopy(policy)
        evaluation = evaluate_slot(data.exposures, slot, engine.featurizer.transform_one, bandit)
        paused_now = {str(p.get("variant")): p for p in paused() if p.get("slot") == name}
        previews = [(v, *preview(engine, v)) for v in slot.variants.values()]
        return page(
            "review/slot.html", f"Slot {name}", window=w, slot=slot, partial=partial,
            summary={s.variant: s for s in summarize(data.exposures, name, variants)},
            previews=previews, paused=paused_now, series=series, lift=lift,
            evaluation=evaluation, srcdoc=_srcdoc,
            share_chart=charts.line_chart(
                f"Traffic share of each {name} variant",
                f"Share of the slot's exposures per {w.bucket}, last {w.days} days.",
                series.labels, series.share, percent=True, y_min=0.0, y_max=1.0),
            reward_chart=charts.line_chart(
                f"Mean reward per exposure of each {name} variant",
                f"Mean reward under the slot's objective per {w.bucket}, last {w.days} days.",
                series.labels, series.reward),
            lift_chart=None if lift.lift is None else charts.interval_chart(
                f"Holdout lift of {name}",
                "Mean reward per decision of personalized visitors minus the holdout's, "
                f"with its {lift.confidence:.0%} interval; the dashed line is no lift.",
                [("Lift", lift.lift, lift.low, lift.high)]),
            evaluation_chart=None if not evaluation.policies else charts.interval_chart(
                f"Offline evaluation of {name}",
                "Doubly robust estimate of each policy's mean reward per decision, with its "
                "95% bootstrap interval.",
                [(p.label, p.estimates["dr"].value, p.estimates["dr"].low,
                  p.estimates["dr"].high) for p in evaluation.policies],
                reference=evaluation.logged_mean))

    @bp.get("/splits")
    def splits() -> str:
        w = window()
        data, partial = joined(w)
        results = []
        for slot in engine.ruleset.slots.values():
            if slot.policy != "split":
                continue
            result = split_test(data.exposures, slot)
            chart = None
            if result.report is not None:
                chart = charts.interval_chart(
                    f"Conversion rate per variant of {slot.name}",
                    "Share of split visitors who converted, with 95% Wilson intervals.",
                    [(v, s.rate, s.low, s.high) for v, s in result.report.variants.items()],
                    reference=None, percent=True)
            results.append((slot, result, chart))
        return page("review/splits.html", "Split tests", window=w, results=results,
                    partial=partial)

    # -- guardrails ---------------------------------------------------------
    @bp.get("/guardrails")
    def guardrails() -> str:
        current = paused()
        taken = {(str(p.get("slot")), str(p.get("variant"))) for p in current}
        pausable = [(s.name, v) for s in engine.ruleset.slots.values() for v in s.variants
                    if v != s.default and (s.name, v) not in taken]
        resumed = sorted(engine.store.list_state("resumed:").values(),
                         key=lambda d: -float(d.get("resumed_at", 0.0)))
        return page("review/guardrails.html", "Guardrails",
                    reports=[(g.name, g.report()) for g in engine.guardrails()],
                    paused=current, pausable=pausable, resumed=resumed[:20],
                    has_monitor=monitor() is not None)

    @bp.post("/guardrails/pause")
    def pause() -> BaseResponse:
        slot, variant = _pair(engine.ruleset.slots)
        found = monitor()
        reason = " ".join(request.form.get("reason", "").split())[:300]
        if found is None:
            abort(409, description="The experience monitor is not running.")
        if not reason:
            session[_NOTICE] = "Give a reason for the pause: people will read it."
        elif variant == engine.ruleset.slots[slot].default:
            session[_NOTICE] = f"{variant} is the default of {slot} and cannot be paused."
        else:
            found.pause(slot, variant, reason, by=current_user() or "reviewer")
            session[_NOTICE] = f"Paused {variant} in {slot}."
        return redirect(url_for(".guardrails"))

    @bp.post("/guardrails/resume")
    def resume() -> BaseResponse:
        slot, variant = _pair(engine.ruleset.slots)
        found = monitor()
        if found is None:
            abort(409, description="The experience monitor is not running.")
        if found.resume(slot, variant, by=current_user() or "reviewer"):
            session[_NOTICE] = f"Resumed {variant} in {slot}."
        else:
            session[_NOTICE] = f"{variant} in {slot} was not paused."
        return redirect(url_for(".guardrails"))

    # -- decisions, view as, rules --------------------------------------------
    @bp.get("/decisions")
    def decisions() -> str:
        w = window()
        data, partial = joined(w)
        query = DecisionQuery(slot=request.args.get("slot", ""),
                              variant=request.args.get("variant", ""),
                              source=request.args.get("source", ""),
                              text=request.args.get("q", "")[:200])
        number = max(request.args.get("page", type=int) or 1, 1)
        found = search_decisions(data.exposures, query, offset=(number - 1) * PAGE_SIZE,
                                 limit=PAGE_SIZE)
        return page("review/decisions.html", "Decisions", window=w, query=query, found=found,
                    page_number=number, partial=partial, slots=engine.ruleset.slots,
                    sources=SOURCES)

    @bp.get("/view-as", endpoint="view_as")
    def view_as_page() -> str:
        site = engine.ruleset.site
        form, problems = ViewAsForm.parse(request.args, site)
        result = view_as(engine, form, base_url=request.host_url) \
            if "device" in request.args else None
        return page("review/view_as.html", "View as", form=form, problems=problems,
                    result=result, devices=DEVICES, referrers=REFERRERS, bought=BOUGHT,
                    languages=site.languages, srcdoc=_srcdoc)

    @bp.get("/rules")
    def rules() -> str:
        ruleset = engine.ruleset
        error = engine.rules.last_error
        return page("review/rules.html", "Rules", ruleset=ruleset, error=error,
                    problems=[] if error is None else error.problems)


def _pair(slots: Mapping[str, Slot]) -> tuple[str, str]:
    """The slot and variant a form names: both fields, or only a variant id (unique)."""
    slot, variant = request.form.get("slot", ""), request.form.get("variant", "")
    if not slot:
        owners = [name for name, s in slots.items() if variant in s.variants]
        slot = owners[0] if len(owners) == 1 else ""
    if slot not in slots or variant not in slots[slot].variants:
        abort(400, description=f"No variant {variant!r} in a slot {slot!r}.")
    return slot, variant


def _safe_next(target: str) -> str:
    """``target`` when it is a path on this site, else empty (no open redirect)."""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or "\\" in target \
            or parts.scheme or parts.netloc:
        return ""
    return target


def _srcdoc(body: str) -> str:
    """A complete document for a sandboxed ``<iframe srcdoc>`` preview."""
    css = url_for(".static", filename="review.css")
    return (f'<!doctype html><html class="pz-preview"><head><meta charset="utf-8">'
            f'<link rel="stylesheet" href="{css}"></head>'
            f'<body class="pz-preview">{body}</body></html>')


def _pct(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}%}"


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"

