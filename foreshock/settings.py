"""One settings object for the whole product.

Sources, highest priority first: explicit keyword arguments, environment variables
(prefix ``FORESHOCK_``, nested fields joined with ``__``, e.g.
``FORESHOCK_MQTT__URL=mqtt://broker:1883``), a TOML file given with ``--config`` (or
``FORESHOCK_CONFIG``), then the defaults below. The defaults are the embedded ones:
a local broker, SQLite for both the telemetry store and the relational store, all under
``./foreshock-data``.

A bad setting fails at start with :class:`SettingsError`, whose message names the setting.
"""

from __future__ import annotations

import difflib
import os
import tomllib
import typing
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, InitSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict

from alerts.config import AlertConfig

__all__ = ["Settings", "SettingsError", "load_settings", "get_settings"]


class SettingsError(ValueError):
    """A setting is missing or invalid; the message names it."""


class MqttSettings(BaseModel):
    url: str = Field("mqtt://127.0.0.1:1883", description="Broker URL: mqtt://host:port or mqtts://host:port")
    username: str | None = Field(None, description="The service's broker user (not a unit's)")
    password: SecretStr | None = Field(None, description="Its password; better in the environment than in the file")
    client_id: str = Field("foreshock-ingest", description="Fixed client id: the broker keeps the session")
    topic_root: str = Field("foreshock", description="First topic level of the device protocol")
    shared_group: str | None = Field(
        None, description="Subscribe as $share/<group>/... so several ingest workers split the load"
    )
    qos: int = Field(1, description="QoS of the subscriptions: 1 (at least once) keeps unacknowledged messages at the broker")
    # MQTT's two bytes; 0: off (over 65535 paho's thread died)
    keepalive_s: int = Field(30, ge=0, le=65535, description="Seconds between pings when idle (0: off)")
    ca_file: Path | None = Field(None, description="CA certificate(s) to verify an mqtts:// broker (default: the system's)")
    cert_file: Path | None = Field(None, description="Client certificate, for brokers that require one")
    key_file: Path | None = Field(None, description="The client certificate's private key")
    reconnect_min_s: float = Field(0.5, description="First wait before reconnecting, doubled each failure (whole seconds, at least 1)")
    reconnect_max_s: float = Field(30.0, description="Longest wait between reconnection attempts (whole seconds)")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("mqtt", "mqtts", "tcp", "ssl") or not parts.hostname:
            raise ValueError(f"expected mqtt://host:port or mqtts://host:port, got {v!r}")
        if parts.username is not None or parts.password is not None:  # were ignored; the message must not show them
            raise ValueError("a user or password in the URL is not used: give them as mqtt.username and mqtt.password "
                             "(FORESHOCK_MQTT__USERNAME, FORESHOCK_MQTT__PASSWORD)")
        try:
            parts.port
        except ValueError as exc:
            raise ValueError(f"bad port in {v!r}") from exc
        return v

    @field_validator("topic_root")
    @classmethod
    def _root(cls, v: str) -> str:
        if not v or any(c in v for c in "+#/") or v.startswith("$"):
            raise ValueError("must be one non-empty topic level without '+', '#', '/' or a leading '$'")
        return v

    @field_validator("qos")
    @classmethod
    def _qos(cls, v: int) -> int:
        if v not in (0, 1, 2):
            raise ValueError("must be 0, 1 or 2")
        return v

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme in ("mqtts", "ssl") else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme in ("mqtts", "ssl")


class TelemetrySettings(BaseModel):
    backend: Literal["embedded", "influx2", "influx1"] = Field(
        "embedded", description="embedded (SQLite file), influx2 (influxdb-client, v2 API) or influx1 (v1 API)"
    )
    url: str = Field("http://127.0.0.1:8086", description="InfluxDB base URL (influx1/influx2)")
    path: Path | None = Field(None, description="SQLite file for the embedded backend (default: data_dir)")
    token: SecretStr | None = Field(None, description="influx2: API token")
    org: str = Field("foreshock", description="influx2: organisation")
    bucket: str = Field("foreshock", description="influx2: bucket")
    database: str = Field("foreshock", description="influx1: database")
    retention_policy: str | None = Field(None, description="influx1: retention policy (default: the database's)")
    username: str | None = Field(None, description="influx1: user")
    password: SecretStr | None = Field(None, description="influx1: password")
    batch_size: int = Field(5000, ge=1, le=100_000, description="points per write request")
    flush_interval_s: float = Field(0.5, gt=0, le=60, description="longest a point waits in a batch")
    max_retries: int = Field(5, ge=0, le=100, description="retries of a failed write after the first attempt, within max_retry_time_s")
    max_retry_time_s: float = Field(60.0, gt=0, description="total time a batch is retried before spooling")
    timeout_s: float = Field(10.0, gt=0, description="HTTP timeout of one request")

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        parts = urlsplit(v)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"expected http(s)://host:port, got {v!r}")
        if parts.query or parts.fragment:  # '.../write?db=x': the client adds its own paths and queries
            raise ValueError(f"expected the server's base URL without a query or fragment (a reverse proxy's "
                             f"path prefix is fine), got {v!r}")
        return v.rstrip("/")


class DatabaseSettings(BaseModel):
    url: str | None = Field(
        None, description="SQLAlchemy URL: sqlite:///path.db or postgresql+psycopg://user@host/db"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is None:
            return v
        scheme = v.split("://", 1)[0] if "://" in v else ""
        if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
            from foreshock.db import shown_url

            raise ValueError(f"expected a sqlite:/// or postgresql+psycopg:// URL, got {scheme or shown_url(v)!r}")
        _check_database_url(v)
        return v


def _check_database_url(url: str) -> None:
    """Parse ``url`` as SQLAlchemy will and import its driver: a bad port or a driver that is not
    installed was a traceback from whichever command first opened the database."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    from foreshock.db import shown_url, url_problem

    problem = url_problem(url)  # a password with an unencoded '@': was read as a host made of its end
    if problem is not None:
        raise ValueError(problem)
    try:
        parsed = make_url(url)
    except ArgumentError:  # its message quotes the URL, password included
        raise ValueError("not a valid database URL (expected e.g. postgresql+psycopg://user:password@host:5432/"
                         "database or sqlite:///path/to/file.db)") from None
    except ValueError:  # a port that is not a number (int()'s own message quoted the text after the host)
        raise ValueError(f"not a valid database URL: {shown_url(url)} has a port that is not a number") from None
    try:
        dialect = parsed.get_dialect()
    except NoSuchModuleError:
        raise ValueError(f"unknown database driver {parsed.drivername!r}; use sqlite:/// or postgresql+psycopg://") from None
    try:
        dialect.import_dbapi()
    except ImportError as exc:
        hint = ("pip install 'foreshock[postgres]'" if parsed.get_backend_name() == "postgresql" and
                parsed.get_driver_name() == "psycopg" else "install it, or use postgresql+psycopg:// "
                "(pip install 'foreshock[postgres]')")
        raise ValueError(f"the driver of {parsed.drivername!r} is not installed ({exc}): {hint}") from None


class DevicesSettings(BaseModel):
    silent_after_intervals: float = Field(3.0, gt=0, description="A unit is silent after this many reporting intervals")
    default_reporting_interval_s: float | None = Field(
        60.0, gt=0, description="Reporting interval of units without a model (unset: never reported silent)"
    )
    cache_ttl_s: float = Field(30.0, gt=0, description="How stale the registry's in-memory view may get")
    seen_write_interval_s: float = Field(30.0, gt=0, description="Last-seen times are written at most this often")


class ApiSettings(BaseModel):
    host: str = Field("127.0.0.1", description="Address the API and dashboard listen on (0.0.0.0: every interface)")
    port: int = Field(8000, ge=0, le=65535, description="Their port")
    max_body_bytes: int = Field(
        1024 * 1024, gt=0, description="Largest request body of a route not named below; 413 above it"
    )
    max_import_body_bytes: int = Field(10_000_000, gt=0, description="Largest CSV body of POST /api/v1/units/import")
    max_complaint_body_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest body of the complaint routes; raised to what "
        "alerts.complaint_attachments_max_total_bytes needs (x 4/3 + 1 MiB) when that is more"
    )
    max_event_streams_per_token: int = Field(
        8, gt=0, description="Live-update streams (GET /api/v1/events) one token may hold open at once (a "
        "dashboard tab holds one); 429 above it"
    )
    max_event_streams: int = Field(200, gt=0, description="Live-update streams open at once, all tokens together; "
                                   "429 above it")

    @field_validator("max_body_bytes", "max_import_body_bytes", "max_complaint_body_bytes", mode="before")
    @classmethod
    def _whole_bytes(cls, v: Any) -> Any:
        if isinstance(v, bool):  # pydantic takes true for 1
            raise ValueError(f"expected a whole number of bytes, got {str(v).lower()}")
        return v

    @field_validator("max_event_streams_per_token", "max_event_streams", mode="before")
    @classmethod
    def _whole_streams(cls, v: Any) -> Any:
        if isinstance(v, bool):
            raise ValueError(f"expected a whole number of streams, got {str(v).lower()}")
        return v


class IngestSettings(BaseModel):
    auto_register: bool = Field(False, description="Accept messages from unknown devices and register them")
    queue_size: int = Field(50_000, ge=10, description="Bounded queue between the MQTT thread and the workers")
    queue_bytes: int = Field(
        256 * 1024**2, ge=1024**2,
        description="Most payload bytes that queue and the batch being written hold together (256 MiB; at least "
        "1 MiB); when reached, ingest stops reading and the broker keeps the rest. A larger message goes alone",
    )
    max_payload_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Larger payloads are dead-lettered")
    future_tolerance_s: float = Field(300.0, ge=0, description="Timestamps further ahead are rejected")
    spool_dir: Path | None = Field(None, description="On-disk spool while the telemetry store is down")
    spool_max_bytes: int = Field(1024**3, ge=1024 * 1024)
    rate_limit_per_s: float = Field(0.0, ge=0, description="Per-device message rate limit (0 = off)")
    dead_letter_payload_bytes: int = Field(4096, ge=0, description="How much of a rejected payload is kept")
    dead_letter_retention_d: float = Field(
        30.0, ge=0, description="Dead letters older than this many days are deleted (0: kept for ever)"
    )


class Settings(BaseSettings):
    """Everything an operator may want to change. See ``docs/configuration.md``."""

    model_config = SettingsConfigDict(
        env_prefix="FORESHOCK_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    data_dir: Path = Field(Path("foreshock-data"), description="Where embedded stores and spools live")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="DEBUG, INFO, WARNING or ERROR")
    log_format: Literal["text", "json"] = Field(
        "text", description="text lines, or one JSON object per line (ts, level, logger, message, exc) for log "
        "shippers"
    )
    mqtt: MqttSettings = MqttSettings()
    telemetry: TelemetrySettings = TelemetrySettings()
    database: DatabaseSettings = DatabaseSettings()
    api: ApiSettings = ApiSettings()
    ingest: IngestSettings = IngestSettings()
    devices: DevicesSettings = DevicesSettings()
    alerts: AlertConfig = AlertConfig()  # grading, clocks, escalation, SMTP, routing: docs/quality-loop.md

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level_upper(cls, v: Any) -> Any:
        """``debug`` as ``DEBUG``: an environment file's usual spelling stopped every command."""
        return v.strip().upper() if isinstance(v, str) else v

    @model_validator(mode="after")
    def _influx_credentials(self) -> Settings:
        if self.telemetry.backend == "influx2" and self.telemetry.token is None:
            raise ValueError("setting telemetry.token (FORESHOCK_TELEMETRY__TOKEN): required when telemetry.backend "
                             "is influx2")
        return self

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite:///{self.data_dir / 'foreshock.db'}"

    @property
    def telemetry_path(self) -> Path:
        return self.telemetry.path or self.data_dir / "telemetry.db"

    @property
    def spool_dir(self) -> Path:
        return self.ingest.spool_dir or self.data_dir / "spool"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings)


def _variable(loc: tuple[Any, ...]) -> str:
    """The environment variable of the setting at ``loc``: up to the first list index, since a list is given
    whole, as JSON (``alerts.routes.0.name`` is in FORESHOCK_ALERTS__ROUTES)."""
    names = [str(p) for p in loc]
    cut = next((i for i, p in enumerate(loc) if isinstance(p, int)), len(loc))
    return "FORESHOCK_" + "__".join(names[:cut]).upper()


def _variables_set(loc: tuple[Any, ...]) -> list[str]:
    """The environment variables set that gave the setting at ``loc`` its value: the one holding it (itself
    or a section or list around it) or keys below it (FORESHOCK_ALERTS__RESPONSE_H__CRITICAL)."""
    names = [str(p).upper() for p in loc]
    holders = {"FORESHOCK_" + "__".join(names[:i]) for i in range(1, len(names) + 1)}
    below = _variable(loc) + "__"
    return sorted(v for v in os.environ if v.upper() in holders or v.upper().startswith(below))


def _format_error(exc: ValidationError, origin: str) -> str:
    lines = []
    from_env = [bool(err["loc"]) and bool(_variables_set(err["loc"])) for err in exc.errors()]
    if from_env and all(from_env):  # it was "(file foreshock.toml)" for a bad FORESHOCK_MQTT__URL too
        origin = " (environment)"
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if not err["loc"]:  # a rule across settings: its message names them
            lines.append(msg)
            continue
        name = ".".join(str(p) for p in err["loc"])
        env = ", ".join(_variables_set(err["loc"])) or _variable(err["loc"])
        lines.append(f"setting {name} ({env}): {msg}")
    return f"invalid configuration{origin}:\n  " + "\n  ".join(lines)


def load_settings(config_file: str | Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from a TOML file, the environment and ``overrides``.

    Raises :class:`SettingsError` naming every bad setting.
    """
    config_file = config_file or os.environ.get("FORESHOCK_CONFIG") or None
    file_values: dict[str, Any] = {}
    origin = ""
    if config_file:
        path = Path(config_file)
        origin = f" (file {path})"
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise SettingsError(f"config file {path} does not exist") from None
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
        except OSError as exc:
            raise SettingsError(f"config file {path} cannot be read: {exc.strerror}") from None

    class _FileSettings(Settings):
        @classmethod
        def settings_customise_sources(  # type: ignore[override]
            cls, settings_cls, init_settings, env_settings, dotenv_settings, file_secret_settings
        ):
            return (init_settings, env_settings, InitSettingsSource(settings_cls, file_values))

    unknown = _unknown_environment(os.environ)
    if unknown:
        raise SettingsError("invalid configuration (environment):\n  " + "\n  ".join(unknown))
    unknown = _unknown_keys(file_values, Settings, [])
    if unknown:
        raise SettingsError(f"invalid configuration{origin}:\n  " + "\n  ".join(unknown))
    try:
        merged = _FileSettings(**overrides)
        return Settings.model_validate(merged.model_dump())
    except ValidationError as exc:
        raise SettingsError(_format_error(exc, origin)) from None


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The settings model a field holds (also ``Model | None``) and whether it is a list of them."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if len(args) == 1:
        inner, _ = _model_of(args[0])
        return inner, typing.get_origin(annotation) is list
    return None, False


def _unknown_keys(values: Mapping[str, Any], model: type[BaseModel], path: list[str]) -> list[str]:
    """A message for every key of the TOML file that names no setting, at any depth (``[mqtt]
    urll``, ``[alerts.smtp] hostt``): nested sections took them without a word, so a misspelt
    ``password`` was only noticed when the broker refused the connection."""
    out = []
    fields = model.model_fields
    for key, value in values.items():
        if key not in fields:
            near = difflib.get_close_matches(key, list(fields), n=1)
            where = ".".join(path) or "the top level"
            hint = f"did you mean {'.'.join([*path, near[0]])}?" if near else f"{where} has {', '.join(sorted(fields))}"
            out.append(f"setting {'.'.join([*path, key])}: no such setting ({hint})")
            continue
        sub, is_list = _model_of(fields[key].annotation)
        if sub is None:
            continue
        if is_list and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, Mapping):
                    out += _unknown_keys(item, sub, [*path, f"{key}[{i}]"])
        elif isinstance(value, Mapping):
            out += _unknown_keys(value, sub, [*path, key])
    return out


def _unknown_environment(environ: Mapping[str, str]) -> list[str]:
    """A message for every ``FORESHOCK_SECTION__FIELD`` variable that names no setting (a typo
    would otherwise be ignored without a word). Variables without ``__`` are not checked: other
    tools use the prefix too (``FORESHOCK_CONFIG``, ``FORESHOCK_TEST_PG``)."""
    out = []
    for var in sorted(environ):
        if not var.upper().startswith("FORESHOCK_") or "__" not in var[len("FORESHOCK_"):]:
            continue
        model: type[BaseModel] | None = Settings
        path: list[str] = []
        parts = var[len("FORESHOCK_"):].lower().split("__")
        for i, part in enumerate(parts):
            fields = model.model_fields if model is not None else {}
            if part not in fields:
                near = difflib.get_close_matches(part, list(fields), n=1)
                hint = f" (did you mean FORESHOCK_{'__'.join([*path, near[0], *parts[i + 1:]]).upper()}?)" if near else \
                    f" ({'.'.join(path) or 'the settings'} has {', '.join(sorted(fields))})"
                out.append(f"environment variable {var}: no setting {'.'.join([*path, part])}{hint}")
                break
            path.append(part)
            ann = fields[part].annotation
            model = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
            if model is None:
                below = parts[i + 1:]
                holder = "FORESHOCK_" + "__".join(path).upper()
                kind = typing.get_origin(ann) or ann
                if below and kind is list:  # was taken for the list itself: "Input should be a valid list"
                    out.append(f"environment variable {var}: setting {'.'.join(path)} is given whole, as a JSON "
                               f"list in {holder}")
                elif below and kind is not dict:  # a table's keys may be given one by one
                    out.append(f"environment variable {var}: setting {'.'.join(path)} is one value, set as {holder}")
                break
    return out


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings (tests call ``get_settings.cache_clear()``)."""
    return load_settings()
