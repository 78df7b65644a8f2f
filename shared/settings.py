"""Settings from the environment; one class, validated at start-up, never built at import."""

import ipaddress
import re
from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from shared.crypto.key_ring import KeyRing
from shared.domain.attachments import MAX_FILES_PER_ENTRY
from shared.domain.text import HANDLE_PATTERN

DEV_SECRET = "dev-only-secret-change-me"
# Requester tokens are HMACs under SECRET_KEY: a short key could be guessed offline.
MIN_SECRET_KEY_CHARS = 32
DEV_NOTIFY_TOKEN = "dev-only-notify-token-change-me"
MIN_NOTIFY_TOKEN_CHARS = 16
_ORIGIN = re.compile(r"https?://[^/\s*]+")
_HANDLE = re.compile(HANDLE_PATTERN)
# An S3 bucket name (its rules, loosely: 3 to 63 lowercase letters, digits, dots and dashes).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_HOST = re.compile(r"[A-Za-z0-9.:_-]+")
# A service's base URL: an origin, optionally with a path prefix (behind a reverse proxy).
_BASE_URL = re.compile(r"https?://[^/\s*?#]+(/[^\s?#]*)?")


class Settings(BaseSettings):
    # A refused value is never echoed in the error (it may be a secret).
    model_config = SettingsConfigDict(env_file=None, extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "test", "production"] = "development"
    secret_key: str = DEV_SECRET

    database_url: str = "sqlite:///var/ticketflow.db"
    # How long work waits for a pooled connection (SQLite: also for its turn to write) before
    # the service answers 503 with Retry-After.
    database_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    # SQLite: connections per process (readers run at once in WAL mode; writers take turns).
    sqlite_pool_size: int = Field(default=8, ge=1, le=64)
    # Refuse (and log) any database connection asked for on an event loop's thread: the e2e
    # stacks turn it on, so that such a stall fails a test instead of hiding in production.
    database_loop_guard: bool = False

    # Key-encryption keys of Temporal payloads (shared/crypto/key_ring.py): comma-separated
    # `id:base64key` of 32 bytes each, the first wrapping new data keys, the others kept to
    # unwrap older ones until `ticketflow keys rotate`. Unset: payloads go to Temporal
    # unencrypted (development and test only; `make run` makes a key of its own).
    encryption_keys: SecretStr | None = None

    temporal_address: str = "127.0.0.1:7233"
    temporal_namespace: str = "default"
    temporal_task_queue: str = "ticketflow"
    temporal_api_key: str | None = None
    temporal_tls: bool = False
    temporal_tls_cert: str | None = None
    temporal_tls_key: str | None = None
    # How long an API call waits on Temporal before answering 503.
    temporal_rpc_timeout_seconds: float = 10.0
    # How long a command waits to be applied; one not applied by then never is (answer 503).
    command_timeout_seconds: float = 5.0

    # Workflows kept in the worker's memory; one evicted from the cache is replayed from its
    # history on its next task, so keep every open ticket cached if memory allows.
    worker_max_cached_workflows: int = 10_000
    # How long a ticket's next workflow task waits for the worker that has it cached before any
    # worker may take it (replaying its history). Shorter: a crashed worker's tickets move on
    # sooner; longer: fewer replays when a worker is slow under a burst. The SDK's default.
    worker_sticky_timeout_seconds: float = Field(default=10.0, gt=0, le=300)

    intake_host: str = "127.0.0.1"
    intake_port: int = 8000
    notify_host: str = "127.0.0.1"
    notify_port: int = 8001
    # The service token notify requires of its callers as `Authorization: Bearer`.
    notify_token: str = DEV_NOTIFY_TOKEN

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = False
    mail_from: str = "helpdesk@ticketflow.local"
    # Where answers to our mail go (its Reply-To): an address mail-in receives. Unset: MAIL_FROM.
    mail_reply_to: str | None = None
    notify_default_channel: Literal["email", "log"] = "email"
    # Whether this notify process delivers the outbox (any number of them may: claims are
    # atomic); off for an instance that should only answer the API.
    notify_deliver_outbox: bool = True
    # Whether this notify process queues and delivers webhooks (services/notify/webhooks.py);
    # any number of them may: queueing moves a cursor conditionally, a delivery is claimed.
    notify_deliver_webhooks: bool = True
    # One POST's time limit per phase (connect, write, read): a slower receiver is retried.
    webhook_timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 10.0
    # A failed delivery waits base * 2^(n-1) (at most max, with jitter) before its next try,
    # and is marked failed once `give_up` has passed since its first attempt.
    webhook_backoff_base_seconds: Annotated[float, Field(gt=0)] = 5.0
    webhook_backoff_max_seconds: Annotated[float, Field(gt=0)] = 3600.0
    webhook_give_up_seconds: Annotated[float, Field(gt=0)] = 3 * 24 * 3600.0
    # POSTs in flight at once per notify process (each subscription gets at most half).
    webhook_concurrency: Annotated[int, Field(ge=1, le=256)] = 16
    # Production refuses webhooks to loopback, private, link-local and multicast addresses
    # unless named here, comma-separated: host names, or networks (10.1.2.0/24, fd00::/8).
    webhook_allowed_hosts: Annotated[list[str], NoDecode] = []

    # Mail in (`ticketflow mail-in`): its SMTP listener, and which help topic new mail opens a
    # ticket in: MAIL_IN_ADDRESSES="billing@desk.example.com=billing,it@desk.example.com=network"
    # by recipient address, else MAIL_IN_DEFAULT_TOPIC (empty: mail to other addresses is
    # refused at RCPT time).
    mail_in_host: str = "127.0.0.1"
    mail_in_smtp_port: int = 2525
    mail_in_addresses: Annotated[dict[str, str], NoDecode] = {}
    mail_in_default_topic: str | None = "general"
    # Messages from one sender that act on tickets in an hour; more are refused (mail loops).
    mail_in_hourly_limit: int = 20
    # The authserv-ids of the MTAs in front of mail-in, comma-separated: their topmost
    # Authentication-Results header saying dmarc=pass proves a sender (RFC 8601). Empty: only
    # answers to our own mail prove one.
    mail_in_trusted_authserv_ids: Annotated[frozenset[str], NoDecode] = frozenset()
    mail_in_max_bytes: int = 10 * 1024 * 1024

    max_body_bytes: int = 64 * 1024
    # Attachments: each file's size, and how many one message may carry (multipart uploads
    # may be as large as these allow, on the routes that take them; other bodies stay within
    # MAX_BODY_BYTES). The per-ticket total is the lifecycle's.
    max_attachment_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    max_attachments_per_message: int = Field(default=10, ge=1, le=MAX_FILES_PER_ENTRY)
    # Where attachment contents are kept: a folder, content-addressed by sha256.
    blob_store_dir: str = "var/blobs"
    # Or S3-compatible storage: s3://bucket/prefix. The endpoint (unset: AWS itself), region
    # and addressing style are these settings; the credentials come from the standard AWS
    # chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, a profile, an instance or task role).
    blob_store_url: str | None = None
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_addressing_style: Literal["path", "virtual", "auto"] = "path"
    # Each try's connect and read wait; a request is tried twice, then answered 503.
    s3_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    public_url: str = "http://127.0.0.1:8000"
    # Personal data of tickets closed more than this many days ago is erased, by a daily
    # Temporal schedule the worker registers (README "Erasure and export"). Unset: kept.
    retention_days: int | None = Field(default=None, ge=1, le=36_500)

    # The requester portal (`ticketflow web`, services/web): where it listens, its public URL
    # (links in mail point there; its cookies are Secure when it is https), the desk's name on
    # its pages, how long a mailed link to a ticket signs a browser in, and how many tickets
    # and status requests one client may send per hour (the API's own limits hold as well).
    web_host: str = "127.0.0.1"
    web_port: int = 8002
    portal_url: str = "http://127.0.0.1:8002"
    desk_name: str = Field(default="ticketflow help desk", min_length=1, max_length=100)
    link_lifetime_days: int = Field(default=30, ge=1, le=365)
    portal_tickets_per_hour: int = Field(default=10, ge=1)
    portal_status_requests_per_hour: int = Field(default=10, ge=1)
    # The intake API as the portal reaches it (unset: http://INTAKE_HOST:INTAKE_PORT; set it
    # when intake listens on 0.0.0.0 or runs elsewhere, e.g. http://intake:8000).
    intake_url: str | None = None

    # The agent console (services/web/console) and agents' sign-in (the API's /api/v1/auth).
    # Sessions end after SESSION_IDLE_MINUTES without a request, and SESSION_MAX_HOURS after
    # sign-in whatever happens; an invite link is good for INVITE_LIFETIME_HOURS. Password
    # sign-in is throttled: SIGN_IN_FAILURES_PER_ACCOUNT wrong tries on one account, or
    # SIGN_IN_FAILURES_PER_CLIENT from one client, within SIGN_IN_WINDOW_MINUTES, and further
    # tries are answered 429 until the window has passed.
    session_idle_minutes: int = Field(default=60, ge=1, le=24 * 60)
    session_max_hours: int = Field(default=12, ge=1, le=24 * 30)
    invite_lifetime_hours: int = Field(default=72, ge=1, le=24 * 30)
    sign_in_failures_per_account: int = Field(default=5, ge=1)
    sign_in_failures_per_client: int = Field(default=20, ge=1)
    sign_in_window_minutes: int = Field(default=15, ge=1)
    # Admins must sign in with a second factor (TOTP) once they have set one up; with this,
    # an admin without one is asked to set it up before anything else.
    require_two_factor_for_admins: bool = False
    # Single sign-on with OpenID Connect (authorization code flow with PKCE): the issuer (its
    # discovery document is ISSUER/.well-known/openid-configuration), and the console's client
    # id and secret there. Unset issuer: no SSO. The IdP's verified email maps to an active
    # agent.
    oidc_issuer: str | None = None
    oidc_client_id: str | None = None
    oidc_client_secret: str | None = None
    # The Temporal UI, for the console's "open in Temporal UI" link on a ticket (unset: none).
    temporal_ui_url: str | None = None
    # Origins whose pages may call the intake API from a browser (CORS), comma-separated in
    # CORS_ORIGINS: "https://desk.example.com,https://portal.example.com". Empty: none may.
    cors_origins: Annotated[list[str], NoDecode] = []

    # The codec server (`ticketflow codec`, services/codec): the Temporal UI and CLI send it the
    # payloads they show, and it answers them decrypted to agents. CODEC_CORS_ORIGINS: the
    # Temporal UI's origins, exactly, comma-separated (`make run`: its dev UI's). With
    # CODEC_OIDC_AUDIENCE (and OIDC_ISSUER), it also takes the access tokens of that issuer for
    # that audience which a Temporal UI signed in with SSO passes on (README "Looking at a
    # ticket in the Temporal UI").
    codec_host: str = "127.0.0.1"
    codec_port: int = 8003
    codec_cors_origins: Annotated[list[str], NoDecode] = []
    codec_oidc_audience: str | None = None

    # Metrics and logs (README "Metrics and logs"). Intake, notify and the portal serve
    # /metrics to loopback clients, or, with METRICS_TOKEN set, to any caller presenting it
    # as a bearer (and to no other).
    metrics_token: SecretStr | None = None
    # The worker serves ticketflow's metrics on WORKER_METRICS_PORT and the Temporal SDK's on
    # WORKER_SDK_METRICS_PORT (unset: not served), on WORKER_METRICS_HOST; of N worker
    # processes (`ticketflow worker --processes N`) the i-th (from 0) adds i to each port.
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    worker_sdk_metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # `json`: one JSON object per log line (time, level, logger, message, and the ticket,
    # command and trace where known); `text`: plain lines.
    log_format: Literal["text", "json"] = "text"
    # Traces (README "Traces"): each process exports its spans by OTLP/HTTP to this base URL
    # (its /v1/traces), e.g. http://otel-collector:4318. Unset: no traces at all.
    otel_exporter_otlp_endpoint: str | None = None

    @field_validator("cors_origins", "codec_cors_origins", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @field_validator("encryption_keys")
    @classmethod
    def _key_ring(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        KeyRing.parse(value.get_secret_value())  # its errors quote no key material
        return value

    @field_validator("retention_days", mode="before")
    @classmethod
    def _retention_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("portal_url")
    @classmethod
    def _portal_url(cls, value: str) -> str:
        return _base_url(value)

    @field_validator("intake_url", "otel_exporter_otlp_endpoint")
    @classmethod
    def _optional_base_url(cls, value: str | None) -> str | None:
        return None if value is None or not value.strip() else _base_url(value)

    @field_validator("mail_in_trusted_authserv_ids", mode="before")
    @classmethod
    def _split_authserv_ids(cls, value: object) -> object:
        if isinstance(value, str):
            return frozenset(part.strip().lower() for part in value.split(",") if part.strip())
        return value

    @field_validator("webhook_allowed_hosts", mode="before")
    @classmethod
    def _split_hosts(cls, value: object) -> object:
        if isinstance(value, str):
            return [host.strip() for host in value.split(",") if host.strip()]
        return value

    @field_validator("webhook_allowed_hosts")
    @classmethod
    def _hosts_or_networks(cls, hosts: list[str]) -> list[str]:
        for host in hosts:
            if not (_network(host) if "/" in host else _HOST.fullmatch(host)):
                raise ValueError(f"{host!r} in WEBHOOK_ALLOWED_HOSTS is no host name or network")
        return hosts

    @field_validator("cors_origins", "codec_cors_origins")
    @classmethod
    def _exact_origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if "*" in origin:
                raise ValueError("CORS_ORIGINS names origins; a wildcard is not allowed")
            if not _ORIGIN.fullmatch(origin):
                raise ValueError(f"{origin!r} is no origin such as https://desk.example.com")
        return origins

    @field_validator("mail_in_addresses", mode="before")
    @classmethod
    def _address_topics(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs: dict[str, str] = {}
        for item in filter(None, (part.strip() for part in value.split(","))):
            address, equals, topic = item.partition("=")
            if not equals or "@" not in address or not topic.strip():
                raise ValueError(f"{item!r} is not address=help-topic")
            pairs[address.strip().lower()] = topic.strip()
        return pairs

    @field_validator("mail_in_addresses")
    @classmethod
    def _topic_handles(cls, pairs: dict[str, str]) -> dict[str, str]:
        for address, topic in pairs.items():
            if not _HANDLE.fullmatch(topic):
                raise ValueError(f"{topic!r} (for {address}) is not a help topic handle")
        return {address.lower(): topic for address, topic in pairs.items()}

    @field_validator("mail_in_default_topic")
    @classmethod
    def _default_topic(cls, topic: str | None) -> str | None:
        if topic is None or not topic.strip():
            return None
        if not _HANDLE.fullmatch(topic.strip()):
            raise ValueError(f"{topic!r} is not a help topic handle")
        return topic.strip()

    @field_validator("blob_store_url")
    @classmethod
    def _s3_bucket(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        value = value.strip()
        bucket = value.removeprefix("s3://").partition("/")[0]
        if not value.startswith("s3://") or not _BUCKET.fullmatch(bucket):
            raise ValueError(
                f"BLOB_STORE_URL {value!r} is not s3://<bucket>[/<prefix>] "
                "(unset it, and attachments are kept under BLOB_STORE_DIR)"
            )
        return value

    @property
    def intake_api_url(self) -> str:
        """Where the portal reaches intake."""
        return self.intake_url or f"http://{self.intake_host}:{self.intake_port}"

    @property
    def key_ring(self) -> KeyRing | None:
        keys = self.encryption_keys
        return None if keys is None else KeyRing.parse(keys.get_secret_value())

    @property
    def portal_is_https(self) -> bool:
        return self.portal_url.startswith("https://")

    @property
    def max_upload_bytes(self) -> int:
        """The largest multipart body the upload routes take: every file at its largest,
        plus MAX_BODY_BYTES for the fields and the multipart framing."""
        return self.max_attachment_bytes * self.max_attachments_per_message + self.max_body_bytes

    @model_validator(mode="after")
    def _secret_required_in_production(self) -> "Settings":
        if self.environment != "production":
            return self
        if self.secret_key == DEV_SECRET:
            raise ValueError("SECRET_KEY must be set in production (it is the dev default)")
        if len(self.secret_key.strip()) < MIN_SECRET_KEY_CHARS:
            raise ValueError(
                f"SECRET_KEY must have at least {MIN_SECRET_KEY_CHARS} characters in production: "
                "requester tokens derive from it (openssl rand -hex 32)"
            )
        return self

    @model_validator(mode="after")
    def _notify_token_required_in_production(self) -> "Settings":
        if self.environment != "production":
            return self
        if self.notify_token == DEV_NOTIFY_TOKEN:
            raise ValueError("NOTIFY_TOKEN must be set in production (it is the dev default)")
        if len(self.notify_token.strip()) < MIN_NOTIFY_TOKEN_CHARS:
            raise ValueError(
                f"NOTIFY_TOKEN must be at least {MIN_NOTIFY_TOKEN_CHARS} characters in production"
            )
        return self

    @model_validator(mode="after")
    def _encryption_keys_required_in_production(self) -> "Settings":
        if self.environment == "production" and self.encryption_keys is None:
            raise ValueError(
                "ENCRYPTION_KEYS must be set in production: Temporal payloads carry requesters' "
                "names and addresses (id:base64key; the key from openssl rand -base64 32)"
            )
        return self


def _base_url(value: str) -> str:
    url = value.strip().rstrip("/")
    if not _BASE_URL.fullmatch(url):
        raise ValueError(f"{value!r} is no http(s) URL such as https://help.example.com")
    return url


def _network(text: str) -> bool:
    try:
        ipaddress.ip_network(text, strict=False)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
