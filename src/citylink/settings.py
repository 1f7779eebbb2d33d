"""Settings: a pydantic-settings tree, passed in, never imported as a global.

Environment variables use the prefix CITYLINK_ and `__` between levels, e.g. CITYLINK_GRANTS__MAX_DURATION_S.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from citylink.domain.environment import KOREAN_MEASURES, Measure

DEFAULT_VIOLENT_CRIMES = (
    "murder", "robbery", "theft", "pickpocketing", "kidnapping", "confinement", "sexual_violence",
    "domestic_violence", "살인", "강도", "절도", "소매치기", "납치", "감금", "성폭력", "가정폭력",
)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelectionSettings(_Section):
    radius_m: float = Field(default=500.0, gt=0, le=50_000, description="search radius around an event")
    k: int = Field(default=5, ge=1, le=100, description="how many cameras to select")
    disaster_radius_m: float = Field(default=1000.0, gt=0, le=100_000,
                                     description="area radius for a disaster event that gives a point only")
    engine: Literal["memory", "postgis"] = Field(
        default="memory",
        description="where cameras are searched: 'memory', an index held by each process (fastest; every "
        "camera in RAM), or 'postgis', the database's GiST index (for sets too large to hold in memory; "
        "needs a PostgreSQL database_url). Both give the same selection",
    )


class GrantSettings(_Section):
    max_duration_s: int = Field(default=7200, ge=60, le=86_400, description="longest life of a video grant")
    issuer: str = Field(default="citylink", description="JWT issuer claim")


class ServiceSettings(_Section):
    violent_crimes: tuple[str, ...] = Field(
        default=DEFAULT_VIOLENT_CRIMES,
        description="112UC001 crime types (detail code or CRIME_TYPE item) that get video; an event without a "
        "crime type is treated as eligible",
    )
    anklet_triggers: tuple[str, ...] = Field(
        default=("device_damage", "curfew_breach", "banned_zone_entry", "protected_person_approach"),
        description="MOJUC110 triggers (TRIGGER item or detail code) for which the law allows video to the justice "
        "ministry; any other trigger is refused, and the refusal audited")
    anklet_agency: str = Field(default="justice", min_length=1, max_length=64,
                               description="the justice ministry's tracking centre, which receives anklet video")
    personal_item_keys: tuple[str, ...] = Field(
        default=("PERSON_NAME", "PERSON_REF", "GUARDIAN_NAME", "GUARDIAN_PHONE", "PHONE", "PLATE", "VEHICLE_NO",
                 "SUBJECT_REF", "CALLER_PHONE", "STATUS_USER_NAME"),
        description="event item keys that carry personal data: kept in the store, masked in logs and the stream",
    )


class NotifySettings(_Section):
    guardian_webhook_url: str | None = Field(
        default=None, description="gateway (SMS/push) that receives guardian notifications as JSON POSTs")
    max_attempts: int = Field(default=8, ge=1, le=100, description="delivery attempts before giving up")
    backoff_base_s: float = Field(default=1.0, gt=0, description="first retry delay; doubles each attempt")
    backoff_max_s: float = Field(default=300.0, gt=0, le=86_400, description="longest delay between attempts")
    timeout_s: float = Field(default=5.0, gt=0, description="per-delivery HTTP timeout")


class MqttSettings(_Section):
    url: str | None = Field(
        default=None, pattern=r"^mqtt://([^@/]+@)?[^@/:]+(:\d{1,5})?/?$",
        description="broker that devices publish to, mqtt://[user:password@]host[:port] (port 1883 by default); "
        "none: no MQTT intake")
    topic_prefix: str = Field(default="citylink", pattern=r"^[A-Za-z0-9_\-]+(/[A-Za-z0-9_\-]+)*$",
                              description="topics are <prefix>/<city>/device/<type>/<device-id>; everything "
                              "under the prefix is read, and what does not fit becomes a dead letter")
    client_id: str = Field(default="citylink-intake", min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.\-]+$",
                           description="the broker keeps this client's session (messages not yet acknowledged "
                           "or queued while away) across reconnects: one id per intake process")
    agency: str = Field(default="centre", min_length=1, max_length=64,
                        description="agency that device events are received by (intake and audit actor)")
    reconnect_min_s: float = Field(default=0.5, gt=0, le=60, description="first wait before reconnecting")
    reconnect_max_s: float = Field(default=30.0, gt=0, le=600,
                                   description="longest wait between reconnects; the wait doubles up to it")


class LprSettings(_Section):
    unmatched_retention_h: float = Field(default=24.0, gt=0, le=24 * 90,
                                         description="a plate read that hit no watch-list entry is deleted after "
                                         "this many hours (privacy by default)")
    low_confidence: float = Field(default=0.7, ge=0, le=1, description="reads below this confidence are kept "
                                  "but flagged, in the read and in the alert")
    watch_agency: str = Field(default="police", min_length=1, max_length=64,
                              description="the agency that manages the watch list and alone sees plate reads")


class SafeReturnSettings(_Section):
    corridor_m: float = Field(default=150.0, gt=0, le=5000, description="how far from the expected walking route "
                              "a position may be before the centre and the guardian are alerted")
    grace_s: float = Field(default=600.0, ge=0, le=86_400,
                           description="after the expected arrival, how long before an overdue alert")
    check_every_s: float = Field(default=10.0, gt=0, le=600, description="how often workers look for overdue trips")
    escort_agency: str = Field(default="police", min_length=1, max_length=64,
                               description="who an operator's escort request goes to")


class EnvironmentSettings(_Section):
    measures: tuple[Measure, ...] = Field(
        default=KOREAN_MEASURES, description="alarm levels per measure (hysteresis and minimum durations); "
        "default: Korea's air-pollution alerts and the KMA's heat and heavy-rain advisories")
    down_after_intervals: float = Field(default=2.0, ge=1, le=100, description="a sensor silent for this many of "
                                        "its reporting intervals is down (one late report is not)")
    check_every_s: float = Field(default=10.0, gt=0, le=600,
                                 description="how often workers look for silent sensors and unsent alarms")
    agency: str = Field(default="disaster", min_length=1, max_length=64,
                        description="who is told of environment alarms and gets video of the cameras near them")
    reading_retention_h: float = Field(default=72.0, gt=0, le=24 * 366,
                                       description="device readings (sensor values, positions) older than this "
                                       "are deleted")

    @model_validator(mode="after")
    def _one_of_each(self) -> EnvironmentSettings:
        names = [m.name for m in self.measures]
        if len(set(names)) != len(names):
            raise ValueError("each measure may be configured once")
        return self

    def measure(self, name: str) -> Measure | None:
        return next((m for m in self.measures if m.name == name), None)


class LinkPartner(_Section):
    """A system citylink sends events to over the linkage protocol: a 112 or 119 linkage server, a neighbouring
    city's platform, a data hub. Which events go is configuration: codes, grade, area."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$", description="a slug naming the partner")
    url: str = Field(pattern=r"^https?://", description="its base URL: citylink POSTs to {url}/api/getAuth.json "
                     "and {url}/linkHttp/recvEvent.json")
    city_code: str = Field(min_length=1, max_length=64, description="its city code (rcvCd); events whose rcvCd "
                           "names it are forwarded to it")
    api_key: SecretStr = Field(description="the key it gave citylink (getAuth body.apiKey)")
    passphrase: SecretStr | None = Field(default=None, description="ARIA passphrase: when set, bodies go "
                                         "encrypted (encAt Y)")
    codes: tuple[str, ...] = Field(default=(), description="event codes to send; empty: every code")
    urgent_only: bool = Field(default=False, description="send only grade 10 (urgent) events")
    area: tuple[float, float, float, float] | None = Field(
        default=None, description="send only events inside this box: min lon, min lat, max lon, max lat")


class LinkageSettings(_Section):
    system_code: str = Field(default="IPC", min_length=1, max_length=16,
                             description="citylink's system code (sysCd) in messages it sends")
    session_ttl_s: int = Field(default=3600, ge=60, le=86_400,
                               description="how long a linkage session key (getAuth) is valid")
    passphrases: dict[str, SecretStr] = Field(
        default_factory=dict, description="ARIA passphrase of encrypted messages, by sending agency (the one whose "
        "API key authenticated); '*' for every agency without its own")
    body_encoding: Literal["base64", "hex"] = Field(
        default="base64", description="how an encrypted body is written as JSON text (unverified in the spec)")
    partners: tuple[LinkPartner, ...] = ()
    retry_base_s: float = Field(default=2.0, gt=0, le=600, description="first wait after a failed delivery; "
                                "doubles each failure")
    retry_max_s: float = Field(default=300.0, gt=0, le=86_400, description="longest wait between deliveries")
    send_every_s: float = Field(default=1.0, gt=0, le=600,
                                description="how often workers look for undelivered events")
    timeout_s: float = Field(default=10.0, gt=0, le=120, description="per-request timeout towards a partner")

    @model_validator(mode="after")
    def _one_of_each(self) -> LinkageSettings:
        ids = [p.id for p in self.partners]
        if len(set(ids)) != len(ids):
            raise ValueError("each linkage partner id may be configured once")
        return self

    def passphrase_of(self, agency: str) -> str | None:
        secret = self.passphrases.get(agency) or self.passphrases.get("*")
        return secret.get_secret_value() if secret is not None else None

    def partner_for_city(self, city: str) -> LinkPartner | None:
        return next((p for p in self.partners if p.city_code == city), None)


class CapSettings(_Section):
    sender: str | None = Field(default=None, max_length=128, pattern=r"^[^\s,<&]+$",
                               description="CAP <sender> of published alerts; none: citylink@<city_code>")
    sender_name: str = Field(default="citylink", min_length=1, max_length=128,
                             description="CAP <senderName>, as people read it")
    language: str = Field(default="en-US", pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$",
                          description="language tag of published alerts")
    default_radius_m: float = Field(default=1000.0, gt=0, le=100_000,
                                    description="circle published around an event with neither area nor radius")
    expires_after_s: float | None = Field(default=None, gt=0, le=30 * 86_400,
                                          description="published <expires> this long after the event; none: omitted")
    codes: tuple[str, ...] = Field(default=("DUCDP110", "APLEN110", "WESEN110"),
                                   description="event codes published as CAP (keep police codes out of a public feed)")
    receivers: tuple[str, ...] = Field(default=(), description="URLs each published alert is POSTed to, in order")
    inbound_language: str | None = Field(default=None, description="info language taken from inbound alerts, "
                                         "e.g. en or ko; none: each alert's first info")
    max_alert_bytes: int = Field(default=1_048_576, ge=4096, le=16_777_216,
                                 description="largest inbound CAP alert accepted")
    send_every_s: float = Field(default=2.0, gt=0, le=600, description="how often workers push to receivers")


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITYLINK_", env_nested_delimiter="__", extra="forbid",
                                      frozen=True)

    data_dir: Path = Field(default=Path("var"), description="where the database, keys and imports live")
    database_url: str | None = Field(default=None,
                                     description="SQLAlchemy URL; default a SQLite file in the data directory")
    city_code: str = Field(default="helsinki", description="this platform's own city code")
    timezone: str = Field(default="Europe/Helsinki", description="the city's time zone, for display")
    max_body_bytes: int = Field(default=1_048_576, ge=1024, description="largest request body accepted")
    sqlite_synchronous: str = Field(default="FULL", pattern="^(FULL|NORMAL)$",
                                    description="FULL survives power loss; NORMAL only a process crash")
    session_ttl_s: int = Field(default=12 * 3600, ge=60, description="how long a board login lasts")
    basemap_path: Path | None = Field(default=None,
                                      description="OSM extract (.osm.pbf) the board draws as its base map")
    road_network_path: Path | None = Field(
        default=None, description="OSM extract (.osm.pbf) for routing, dispatch plans and cordons, and the source "
        "of fire stations, police stations and hospitals; imported on first use and cached as .npz in the data "
        "directory. none: routing answers that no road network is configured")
    unit_position_max_age_s: float = Field(
        default=600.0, gt=0, description="a mobile unit whose last position is older than this is not ranked in "
        "dispatch plans (its tracker stopped reporting; it may be anywhere) but listed as stale")
    tile_url: str | None = Field(default=None, description="optional online tile layer for connected sites, "
                                 "e.g. https://tiles.example/{z}/{x}/{y}.png; none by default (closed networks)")
    stream_replay: int = Field(default=10_000, ge=0, description="stream messages kept for Last-Event-ID replay")
    nats_url: str | None = Field(default=None, description="NATS JetStream for the bus and the live feed, e.g. "
                                 "nats://127.0.0.1:4222; none: the in-process bus (one process only)")
    nats_namespace: str = Field(default="citylink", min_length=1, max_length=32,
                                description="prefix of the NATS streams and subjects: deployments sharing a broker "
                                "each need their own")
    role: Literal["all", "api", "worker"] = Field(
        default="all", description="api: HTTP and intake; worker: the services, notifications and the relay of "
        "undispatched events; all: both in one process. api and worker need nats_url")
    worker_cities: tuple[str, ...] = Field(
        default=(), description="cities whose events this worker takes (one JetStream consumer each); empty: all")
    nats_ack_wait_s: float = Field(default=30.0, gt=0, description="how long a worker may hold an event before "
                                   "JetStream hands it to another (a worker that died)")
    relay_after_s: float = Field(default=30.0, gt=0, description="an event stored this long ago and still not "
                                 "handled by its services is published to the bus again")
    selection: SelectionSettings = SelectionSettings()
    grants: GrantSettings = GrantSettings()
    services: ServiceSettings = ServiceSettings()
    notify: NotifySettings = NotifySettings()
    mqtt: MqttSettings = MqttSettings()
    lpr: LprSettings = LprSettings()
    safe_return: SafeReturnSettings = SafeReturnSettings()
    environment: EnvironmentSettings = EnvironmentSettings()
    linkage: LinkageSettings = LinkageSettings()
    cap: CapSettings = CapSettings()

    @model_validator(mode="after")
    def _roles_need_the_server_components(self) -> Settings:
        if self.role != "all" and not self.nats_url:
            raise ValueError(f"role {self.role!r} needs nats_url: with the in-process bus, run role 'all'")
        if self.role != "all" and not self.resolved_database_url.startswith("postgresql"):
            # Measured: on one SQLite file two processes mostly wait on each other's write lock (361-483
            # events/s against ~500 for one process), and the audit chain's head needs a lock SQLite lacks.
            raise ValueError(f"role {self.role!r} needs a PostgreSQL database_url: SQLite serves one process")
        return self

    @model_validator(mode="after")
    def _postgis_needs_postgresql(self) -> Settings:
        if self.selection.engine == "postgis" and not self.resolved_database_url.startswith("postgresql"):
            raise ValueError("selection.engine 'postgis' needs a PostgreSQL database_url (postgresql://...), "
                             f"but the database is {self.resolved_database_url.split(':', 1)[0]}; "
                             "set database_url or use selection.engine 'memory'")
        return self

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'citylink.db').resolve()}"
