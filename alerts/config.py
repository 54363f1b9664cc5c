"""Everything an operator may tune in the alert and ticket loop, with the documented defaults.

``AlertConfig`` is a pydantic model so that it can sit in the product settings as
``Settings.alerts`` (environment ``FORESHOCK_ALERTS__...``) and fail at start naming a bad field.

Grading (see ``docs/quality-loop.md``): an ``alarm``, or any state with an estimated time to
failure under ``critical_ttf_h`` hours, is *critical*; ``warning`` is *major*; ``watch`` is
*minor*. ``warning`` and ``alarm`` open a ticket (``ticket_min_state``); ``watch`` only alerts.

>>> cfg = AlertConfig()
>>> cfg.grade_for("alarm", None), cfg.grade_for("warning", None), cfg.grade_for("watch", None)
('critical', 'major', 'minor')
>>> cfg.grade_for("warning", 3600.0)   # one hour left: critical whatever the state
'critical'
>>> cfg.response_s("critical"), cfg.response_s("major"), cfg.response_s("minor")
(7200.0, 28800.0, 86400.0)
"""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

__all__ = ["FEEDBACK_MAX_FACTOR_LIMIT", "GRADES", "GRADE_ORDER", "MAX_CLOCK_H", "ROUTE_CHANNELS", "SEVERITY_ORDER",
           "AlertConfig", "RouteConfig", "SmtpConfig", "check_route", "zone"]

GRADES = ("critical", "major", "minor")
GRADE_ORDER = {"minor": 1, "major": 2, "critical": 3}
SEVERITY_ORDER = {"silent": 1, "watch": 1, "warning": 2, "alarm": 3}
SURGE_DIMENSIONS = ("model", "batch", "firmware")  # unit attributes a ticket carries and a surge can group by

# The most field feedback ("false alarm" verdicts) may raise a unit's watch and warning thresholds. The detection
# stage multiplies them by the unit's factor; the alarm level stays. At this limit the raised warning level lies
# halfway, on a log scale, between the detectors' warning level (2.5 x the baseline RMS) and their alarm
# (10 x): sqrt(10 / 2.5) = 2 (detectors.config.MonitorConfig's defaults; tests/alerts/test_feedback_bounds.py
# checks that it follows them). A unit whose vibration grows at a steady rate in decibels, as a failing
# bearing's does, then still warns with at least half its lead time before the alarm; at 4 x the warning
# would come only with the alarm (past it the detectors refuse warning >= alarm). Not imported from
# detectors: that package loads numpy and scipy, and the settings load in every command.
FEEDBACK_MAX_FACTOR_LIMIT = 2.0
# the longest SLA clock: ten years (a due time must stay a date; 1e9 hours or inf broke every ticket shown)
MAX_CLOCK_H = 87600.0


class SmtpConfig(BaseModel):
    model_config = ConfigDict(allow_inf_nan=False)

    host: str = "127.0.0.1"
    port: int = Field(25, ge=1, le=65535)
    sender: str = "foreshock@localhost"
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout_s: float = Field(10.0, gt=0)


ROUTE_CHANNELS = ("webhook", "email")


def check_route(channel: str, target: str, secret: str | None, min_grade: str) -> None:
    """A ValueError naming what cannot work in a routing rule (the settings check it when they load;
    the notifier again when it stores one)."""
    if channel not in ROUTE_CHANNELS:
        raise ValueError(f"route channel must be one of {', '.join(ROUTE_CHANNELS)}, got {channel!r}")
    if min_grade not in GRADE_ORDER:
        raise ValueError(f"route min_grade must be one of {', '.join(GRADE_ORDER)}, got {min_grade!r}")
    if channel == "webhook" and not target.startswith(("http://", "https://")):
        raise ValueError(f"webhook target must be an http(s) URL, got {target!r}")
    if channel == "webhook" and not secret:
        raise ValueError("a webhook route needs a secret to sign its requests")
    if channel == "email" and "@" not in target:
        raise ValueError(f"email target must be one or more addresses, got {target!r}")


class RouteConfig(BaseModel):
    """A routing rule from the configuration file; synced by name into the database at start (a rule
    taken out of the file is disabled there)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=128)
    channel: str
    target: str
    secret: SecretStr | None = None
    customer: str | None = None
    site: str | None = None
    model: str | None = None
    min_grade: str = "minor"
    events: str | None = None

    @model_validator(mode="after")
    def _works(self) -> RouteConfig:
        # checked when the settings load (every command), not first when `foreshock run` starts the
        # notifier: a route of channel 'slack' was a traceback there, and accepted by every other command
        check_route(self.channel, self.target, self.secret.get_secret_value() if self.secret else None,
                    self.min_grade)
        return self


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name`` (``UTC``, ``Europe/Berlin``), or a ValueError that names it.

    >>> zone("Europe/Berlin").key
    'Europe/Berlin'
    >>> zone("Europe/Berlinn")
    Traceback (most recent call last):
    ...
    ValueError: unknown time zone 'Europe/Berlinn': expected an IANA name such as UTC, Europe/Berlin or America/Chicago
    """
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ValueError(f"unknown time zone {name!r}: expected an IANA name such as UTC, Europe/Berlin or "
                         "America/Chicago") from None


class AlertConfig(BaseModel):
    # every number finite: TOML reads inf and nan, and an infinite evidence window broke every complaint on a unit
    model_config = ConfigDict(allow_inf_nan=False)

    # grading: health state -> grade; a short time to failure makes anything critical
    state_grades: dict[str, str] = Field(
        default_factory=lambda: {"alarm": "critical", "warning": "major", "watch": "minor"}
    )
    critical_ttf_h: float = Field(48.0, ge=0, description="ttf below this many hours grades critical")
    ticket_min_state: str = Field("warning", description="lowest health state that opens a ticket")
    # clocks, hours, per grade
    response_h: dict[str, float] = Field(default_factory=lambda: {"critical": 2.0, "major": 8.0, "minor": 24.0})
    resolution_h: dict[str, float] = Field(
        default_factory=lambda: {"critical": 24.0, "major": 72.0, "minor": 240.0}
    )
    # hysteresis and flapping
    clear_after: int = Field(3, ge=1, description="consecutive healthy assessments before an alert clears")
    flap_window_h: float = Field(1.0, gt=0, description="window in which repeated raises count as flapping")
    flap_raises: int = Field(3, ge=2, description="raises within the window that mark an alert as flapping")
    # repeat failures and fleet surges
    repeat_count: int = Field(3, ge=2, description="tickets of one unit and failure mode that make a repeat")
    repeat_window_d: float = Field(30.0, gt=0)
    surge_ratio: float = Field(2.0, gt=1, description="recent rate / trailing baseline rate that opens a fleet ticket")
    surge_window_d: float = Field(7.0, gt=0, description="recent window")
    surge_baseline_d: float = Field(28.0, gt=0, description="trailing baseline window before the recent one")
    surge_min_units: int = Field(3, ge=1, description="fewest distinct units in the recent window for a surge")
    surge_baseline_floor: float = Field(
        0.5, gt=0, description="expected units per recent window assumed when the baseline saw none"
    )
    surge_dimensions: tuple[str, ...] = ("model", "batch", "firmware")
    # field feedback -> detector thresholds
    feedback_window_d: float = Field(90.0, gt=0)
    feedback_step: float = Field(0.1, ge=0, le=1, description="threshold change per false alarm / miss")
    feedback_max_factor: float = Field(
        1.5, allow_inf_nan=True,  # its own check names the range for nan and inf too
        description=f"the most field feedback raises one unit's watch and warning thresholds, from 1 (never) "
                         f"to {FEEDBACK_MAX_FACTOR_LIMIT:g}")
    # notifications
    webhook_timeout_s: float = Field(5.0, gt=0)
    retry_base_s: float = Field(1.0, gt=0, description="first retry delay; doubles each attempt")
    retry_max_s: float = Field(600.0, gt=0)
    max_attempts: int = Field(8, ge=1)
    queue_size: int = Field(1000, ge=1)
    poll_s: float = Field(5.0, gt=0, description="how often pending deliveries are looked up")
    smtp: SmtpConfig = SmtpConfig()
    # customer complaints (docs/complaints.md)
    complaint_grade: str = Field("major", description="grade of a ticket a complaint opens (unless it says)")
    complaint_evidence_before_h: float = Field(24.0, gt=0, description="telemetry evidence before the reported time")
    complaint_evidence_after_h: float = Field(2.0, ge=0, description="telemetry evidence after the reported time")
    complaint_warning_lookback_d: float = Field(30.0, gt=0, description="how far back a Foreshock warning counts")
    complaint_auto_ack: bool = Field(True, description="email the customer an acknowledgement on registration")
    complaint_webhook_secret: SecretStr | None = Field(None, description="HMAC key of the inbound complaint webhook")
    complaint_webhook_tolerance_s: float = Field(300.0, gt=0, description="accepted age of a signed webhook")
    complaint_attachment_max_bytes: int = Field(10 * 1024 * 1024, ge=1,
                                                description="largest attachment content stored, per file (bytes)")
    complaint_attachments_max_total_bytes: int = Field(25 * 1024 * 1024, ge=1,
                                                       description="largest attachment content of one complaint (bytes)")
    routes: list[RouteConfig] = Field(default_factory=list, description="routing rules kept in sync by name")
    # reports
    report_timezone: str = Field("UTC", description="IANA time zone whose months the monthly report covers "
                                 "(e.g. Europe/Berlin, America/Chicago)")

    @field_validator("feedback_max_factor")
    @classmethod
    def _feedback_max_factor(cls, v: float) -> float:
        if not 1 <= v <= FEEDBACK_MAX_FACTOR_LIMIT:  # NaN too
            raise ValueError(
                f"must be between 1 and {FEEDBACK_MAX_FACTOR_LIMIT:g}, got {v:g}: the "
                "factor multiplies a unit's watch and warning thresholds after false-alarm verdicts, and above "
                f"{FEEDBACK_MAX_FACTOR_LIMIT:g} the warning comes too close to the alarm to warn ahead of it "
                "(1 turns the feedback off)")
        return v

    @field_validator("routes")
    @classmethod
    def _route_names(cls, v: list[RouteConfig]) -> list[RouteConfig]:
        names = [r.name for r in v]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:  # routes are synced by name: the second would silently replace the first
            raise ValueError(f"route name(s) given twice: {', '.join(twice)}")
        return v

    @field_validator("state_grades")
    @classmethod
    def _grades(cls, v: dict[str, str]) -> dict[str, str]:
        for state, grade in v.items():
            if state not in ("watch", "warning", "alarm"):
                raise ValueError(f"unknown health state {state!r} (expected watch, warning, alarm)")
            if grade not in GRADES:
                raise ValueError(f"unknown grade {grade!r} for {state} (expected one of {', '.join(GRADES)})")
        return v

    @field_validator("response_h", "resolution_h")
    @classmethod
    def _clocks(cls, v: dict[str, float]) -> dict[str, float]:
        missing = [g for g in GRADES if g not in v]
        if missing:
            raise ValueError(f"missing clock for grade(s) {', '.join(missing)}")
        bad = [g for g, h in v.items() if g not in GRADES or not h > 0]
        if bad:
            raise ValueError(f"clock must be a positive number of hours for a known grade: {', '.join(bad)}")
        long = [f"{g} ({h:g})" for g, h in v.items() if not h <= MAX_CLOCK_H]
        if long:  # its due time would be no date: every ticket of the grade failed to show
            raise ValueError(f"clock must be at most {MAX_CLOCK_H:g} hours (10 years): {', '.join(long)}")
        return v

    @field_validator("report_timezone")
    @classmethod
    def _report_timezone(cls, v: str) -> str:
        zone(v)  # a ValueError naming the zone
        return v

    @field_validator("complaint_grade")
    @classmethod
    def _complaint_grade(cls, v: str) -> str:
        if v not in GRADES:
            raise ValueError(f"expected one of {', '.join(GRADES)}, got {v!r}")
        return v

    @field_validator("surge_dimensions")
    @classmethod
    def _dimensions(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        bad = [d for d in v if d not in SURGE_DIMENSIONS]
        if bad:
            raise ValueError(f"unknown surge dimension(s) {', '.join(map(repr, bad))} "
                             f"(expected any of {', '.join(SURGE_DIMENSIONS)})")
        return v

    @field_validator("ticket_min_state")
    @classmethod
    def _min_state(cls, v: str) -> str:
        if v not in ("watch", "warning", "alarm"):
            raise ValueError(f"expected watch, warning or alarm, got {v!r}")
        return v

    def grade_for(self, state: str, ttf_s: float | None) -> str:
        if ttf_s is not None and ttf_s < self.critical_ttf_h * 3600:
            return "critical"
        return self.state_grades.get(state, "minor")

    def response_s(self, grade: str) -> float:
        return self.response_h[grade] * 3600

    def resolution_s(self, grade: str) -> float:
        return self.resolution_h[grade] * 3600

    def opens_ticket(self, state: str) -> bool:
        return SEVERITY_ORDER.get(state, 0) >= SEVERITY_ORDER[self.ticket_min_state] and state != "silent"
