"""Notifications: routing rules, a durable delivery log, signed webhooks and SMTP email.

The alert service calls :meth:`Notifier.enqueue` *inside its own transaction*: one
``notification_deliveries`` row per matching route is written together with the change that
caused it (a transactional outbox), so a crash never loses or invents a notification. After the
commit the service calls :meth:`Notifier.wake`; a worker thread (bounded wake-up queue; when it
is full the periodic poll picks the rows up) claims due rows, sends them and records the outcome.
Failures that may pass (connection errors, HTTP 5xx/429, SMTP temporary errors) are retried
with exponential backoff, ``retry_base_s * 2**(attempt-1)`` capped at ``retry_max_s``, up to
``max_attempts``; rows still pending at a restart are sent by the next :meth:`Notifier.start`.

A message to a customer's contact (the acknowledgement of a complaint, :mod:`alerts.customer`) goes
the same way: :meth:`Notifier.enqueue_customer` writes a delivery of event ``customer.<kind>`` that
follows no routing rule, is mailed with its own subject and text, is retried like any other and ends
``failed`` (a dead letter) when its attempts are spent; each outcome is written back to the ticket's
communication log (:func:`alerts.customer.delivery_outcome`).

Webhook requests carry ``X-Foreshock-Event``, ``X-Foreshock-Delivery``, ``X-Foreshock-Timestamp``
and ``X-Foreshock-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<body>"`` under
the route's secret. Receivers check it with :func:`verify`:

>>> sig = sign("s3cret", "1700000000", b'{"event":"alert.raised"}')
>>> verify("s3cret", "1700000000", b'{"event":"alert.raised"}', sig)
True
>>> verify("wrong", "1700000000", b'{"event":"alert.raised"}', sig)
False
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import queue
import smtplib
import threading
import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

import httpx
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts import customer
from alerts.config import GRADE_ORDER, ROUTE_CHANNELS, AlertConfig, check_route
from alerts.models import Delivery, Route
from foreshock.db import log_failure

__all__ = ["CHANNELS", "Notifier", "sign", "verify"]

log = logging.getLogger(__name__)
CHANNELS = ROUTE_CHANNELS
CUSTOMER_EVENT = "customer."  # the event prefix of a message to a customer's contact


def sign(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


class _Retryable(Exception):
    """A delivery failure worth another attempt."""


class Notifier:
    """Routes events to webhooks and mailboxes; see the module docstring."""

    def __init__(
        self, session_factory: sessionmaker[Session], config: AlertConfig | None = None, *,
        clock: Callable[[], float] = time.time, prune_routes: bool = False,
    ) -> None:
        self._sf = session_factory
        self.config = config or AlertConfig()
        self.prune_routes = prune_routes  # the settings are the only source of routes (a running service)
        self.clock = clock
        self._wake: queue.Queue[None] = queue.Queue(maxsize=self.config.queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._http = httpx.Client(timeout=self.config.webhook_timeout_s)
        self.stats = {"sent": 0, "failed": 0, "retried": 0, "dropped_wakeups": 0}

    @classmethod
    def from_settings(cls, settings: Any, session_factory: sessionmaker[Session]) -> Notifier:
        """A *started* notifier for a running service; config from ``settings.alerts`` when present."""
        cfg = getattr(settings, "alerts", None)
        if isinstance(cfg, dict):
            cfg = AlertConfig.model_validate(cfg)
        notifier = cls(session_factory, cfg if isinstance(cfg, AlertConfig) else None, prune_routes=True)
        notifier.start()
        return notifier

    # --- routing rules -------------------------------------------------------------------
    def sync_routes(self) -> int:
        """Create or update the routes of ``config.routes`` by name; with ``prune_routes`` (a service started
        from its settings) disable those no longer in them (kept for their delivery log). Returns how many
        are configured."""
        for r in self.config.routes:
            secret = r.secret.get_secret_value() if r.secret else None
            self.add_route(name=r.name, channel=r.channel, target=r.target, secret=secret, customer=r.customer,
                           site=r.site, model=r.model, min_grade=r.min_grade, events=r.events, replace=True)
        if not self.prune_routes:  # routes added in code (add_route) stay
            return len(self.config.routes)
        names = {r.name for r in self.config.routes}
        with self._sf.begin() as s:
            for route in s.scalars(select(Route).where(Route.enabled.is_(True))):
                if route.name not in names:  # taken out of the settings: it kept receiving deliveries
                    route.enabled = False
                    log.info("notification route %r is no longer in the settings: disabled", route.name)
        return len(self.config.routes)

    def add_route(
        self, *, name: str, channel: str, target: str, secret: str | None = None, customer: str | None = None,
        site: str | None = None, model: str | None = None, min_grade: str = "minor", events: str | None = None,
        replace: bool = False,
    ) -> int:
        """Add a routing rule (``replace=True``: update the rule of that name if it exists)."""
        check_route(channel, target, secret, min_grade)
        fields = {"channel": channel, "target": target, "secret": secret, "customer": customer, "site": site,
                  "model": model, "min_grade": min_grade, "events": events, "enabled": True}
        with self._sf.begin() as s:
            route = s.scalars(select(Route).where(Route.name == name)).first()
            if route is not None and not replace:
                raise ValueError(f"a route named {name!r} already exists")
            if route is None:
                route = Route(name=name)
                s.add(route)
            for key, value in fields.items():
                setattr(route, key, value)
            s.flush()
            return route.id

    @staticmethod
    def _matches(route: Route, event: str, attrs: dict[str, Any]) -> bool:
        for key in ("customer", "site", "model"):
            want = getattr(route, key)
            if want is not None and want != attrs.get(key):
                return False
        if GRADE_ORDER.get(attrs.get("grade") or "minor", 1) < GRADE_ORDER[route.min_grade]:
            return False
        if route.events:
            pats = [p.strip() for p in route.events.split(",") if p.strip()]
            return any(event == p or (p.endswith("*") and event.startswith(p[:-1])) for p in pats)
        return True

    def enqueue(self, session: Session, event: str, payload: dict[str, Any], **attrs: Any) -> int:
        """Write one pending delivery per matching route into ``session`` (not committed here).

        The ``grade`` the routes are matched on goes into the payload too, where it does not say it (a unit
        silent, a complaint): the mail subject and a webhook's receiver read it there."""
        now = self.clock()
        if attrs.get("grade") and "grade" not in payload:
            payload = {**payload, "grade": attrs["grade"]}
        n = 0
        for route in session.scalars(select(Route).where(Route.enabled.is_(True))):
            if self._matches(route, event, attrs):
                session.add(Delivery(route_id=route.id, channel=route.channel, target=route.target, event=event,
                                     payload=payload, status="pending", attempts=0, created_at=now,
                                     next_attempt_at=now))
                n += 1
        return n

    def enqueue_customer(self, session: Session, kind: str, address: str, payload: dict[str, Any]) -> Delivery:
        """Write one pending delivery of a customer message (``customer.<kind>``) to ``address`` into ``session``
        (not committed here). ``payload`` has the ``subject``, ``body``, ``ticket`` number (or none) and the
        ``customer_message`` id its outcome is written to."""
        now = self.clock()
        d = Delivery(route_id=None, channel="email", target=address, event=f"{CUSTOMER_EVENT}{kind}",
                     payload=payload, status="pending", attempts=0, created_at=now, next_attempt_at=now)
        session.add(d)
        return d

    # --- worker --------------------------------------------------------------------------
    def start(self) -> None:
        """Start the delivery worker; rows left 'sending' by a crash become pending again."""
        self.sync_routes()
        with self._sf.begin() as s:
            s.execute(update(Delivery).where(Delivery.status == "sending").values(status="pending"))
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="alerts-notifier", daemon=True)
        self._thread.start()
        self.wake()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self.wake()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("notifier worker did not stop within %.1f s", timeout)
            self._thread = None

    def close(self) -> None:
        self.stop()
        self._http.close()

    def wake(self) -> None:
        try:
            self._wake.put_nowait(None)
        except queue.Full:
            self.stats["dropped_wakeups"] += 1  # the periodic poll delivers the rows anyway

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.deliver_due()
                wait = self._next_wait()
            except Exception:
                log_failure(log, "notification worker pass failed")
                wait = self.config.poll_s
            try:
                self._wake.get(timeout=wait)
            except queue.Empty:
                pass

    def _next_wait(self) -> float:
        with self._sf() as s:
            due = s.scalar(select(func.min(Delivery.next_attempt_at)).where(Delivery.status == "pending"))
        if due is None:
            return self.config.poll_s
        return min(self.config.poll_s, max(0.01, due - self.clock()))

    def deliver_due(self) -> int:
        """Send every due pending delivery once; returns how many were attempted."""
        now = self.clock()
        with self._sf() as s:
            ids = list(s.scalars(select(Delivery.id).where(
                Delivery.status == "pending", Delivery.next_attempt_at <= now).order_by(Delivery.id).limit(100)))
        done = 0
        for delivery_id in ids:
            with self._sf.begin() as s:  # claim: another worker may have taken it
                result: Any = s.execute(update(Delivery).where(Delivery.id == delivery_id,
                                                               Delivery.status == "pending").values(status="sending"))
                claimed = result.rowcount
            if claimed:
                self._attempt(delivery_id)
                done += 1
        return done

    def _attempt(self, delivery_id: int) -> None:
        with self._sf.begin() as s:
            d = s.get(Delivery, delivery_id)
            if d is None:  # deleted meanwhile (e.g. a purge of the log)
                return
            route = s.get(Route, d.route_id) if d.route_id is not None else None
            d.attempts += 1
            now = self.clock()
            try:
                if d.channel == "webhook":
                    d.response_code = self._post(d, (route.secret if route else None) or "")
                elif d.event.startswith(CUSTOMER_EVENT):
                    self._mail_customer(d)
                else:
                    self._mail(d)
            except _Retryable as exc:
                d.last_error = str(exc)[:2000]
                if d.attempts >= self.config.max_attempts:
                    d.status = "failed"
                    self.stats["failed"] += 1
                    log.error("delivery %d (%s to %s) failed after %d attempts: %s",
                              d.id, d.event, d.target, d.attempts, exc)
                else:
                    d.status = "pending"
                    d.next_attempt_at = now + min(self.config.retry_base_s * 2 ** (d.attempts - 1),
                                                  self.config.retry_max_s)
                    self.stats["retried"] += 1
                    log.warning("delivery %d to %s failed (%s); retry %d at +%.1f s", d.id, d.target, exc,
                                d.attempts + 1, d.next_attempt_at - now)
            except Exception as exc:  # noqa: BLE001 - a permanent failure is logged and recorded
                d.status, d.last_error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
                self.stats["failed"] += 1
                log.error("delivery %d (%s to %s) failed permanently: %s", d.id, d.event, d.target, exc)
            else:
                d.status, d.sent_at, d.last_error = "sent", now, None
                self.stats["sent"] += 1
            if d.event.startswith(CUSTOMER_EVENT):
                customer.delivery_outcome(s, d, now=now)

    def _body(self, d: Delivery) -> bytes:
        return json.dumps({"event": d.event, "delivery_id": d.id, "created_at": d.created_at, "data": d.payload},
                          sort_keys=True, separators=(",", ":"), default=str).encode()

    def _post(self, d: Delivery, secret: str) -> int:
        body = self._body(d)
        ts = str(int(self.clock()))
        headers = {"Content-Type": "application/json", "X-Foreshock-Event": d.event,
                   "X-Foreshock-Delivery": str(d.id), "X-Foreshock-Timestamp": ts,
                   "X-Foreshock-Signature": sign(secret, ts, body)}
        try:
            resp = self._http.post(d.target, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
        d.response_code = resp.status_code
        if resp.status_code >= 500 or resp.status_code == 429:
            raise _Retryable(f"HTTP {resp.status_code}")
        if resp.status_code >= 300:
            raise ValueError(f"HTTP {resp.status_code} from {d.target}: {resp.text[:200]}")
        return resp.status_code

    def _mail(self, d: Delivery) -> None:
        cfg = self.config.smtp
        data = d.payload
        msg = EmailMessage()
        msg["From"] = cfg.sender
        msg["To"] = d.target
        what = " ".join(str(x) for x in (data.get("ticket"), data.get("device_id"), data.get("failure_mode"),
                                         data.get("grade")) if x)
        msg["Subject"] = f"[Foreshock] {d.event}: {what}"
        msg["X-Foreshock-Delivery"] = str(d.id)
        msg.set_content(json.dumps({"event": d.event, "data": data}, indent=2, sort_keys=True, default=str))
        self._smtp(msg)

    def _mail_customer(self, d: Delivery) -> None:
        """A message to a customer's contact: its own subject and text, the ticket number in a header."""
        data = d.payload
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.config.smtp.sender, d.target, data["subject"]
        if data.get("ticket"):
            msg["X-Foreshock-Ticket"] = data["ticket"]
        msg["X-Foreshock-Delivery"] = str(d.id)
        msg.set_content(data["body"])
        self._smtp(msg)

    def _smtp(self, msg: EmailMessage) -> None:
        cfg = self.config.smtp
        try:
            with smtplib.SMTP(cfg.host, cfg.port, timeout=cfg.timeout_s) as smtp:
                if cfg.starttls:
                    smtp.starttls()
                if cfg.username:
                    smtp.login(cfg.username, cfg.password.get_secret_value() if cfg.password else "")
                smtp.send_message(msg)
        except smtplib.SMTPResponseException as exc:  # before OSError: SMTP errors subclass it
            if 400 <= exc.smtp_code < 500:
                raise _Retryable(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            raise
        except smtplib.SMTPRecipientsRefused:
            raise
        except OSError as exc:  # connection refused, timeout, disconnect
            raise _Retryable(f"{type(exc).__name__}: {exc}") from exc
