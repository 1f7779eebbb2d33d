"""The schema. Every change to it comes with an Alembic migration under store/migrations."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend: SQLite would otherwise hand back naive values."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON, datetime: UtcDateTime()}


class AgencyRow(Base):
    __tablename__ = "agencies"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    webhook_url: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]


class ApiKeyRow(Base):
    __tablename__ = "api_keys"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    agency_id: Mapped[str] = mapped_column(ForeignKey("agencies.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class CameraRow(Base):
    __tablename__ = "cameras"
    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    name: Mapped[str] = mapped_column(String(256))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    direction_deg: Mapped[float | None] = mapped_column(Float)
    fov_deg: Mapped[float] = mapped_column(Float)
    view_range_m: Mapped[float] = mapped_column(Float)
    ptz: Mapped[bool] = mapped_column(Boolean)
    purpose: Mapped[str] = mapped_column(String(128))
    stream_urls: Mapped[list[Any]]
    status: Mapped[str] = mapped_column(String(16))
    agency: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime]


class IncidentRow(Base):
    __tablename__ = "incidents"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    key: Mapped[str] = mapped_column(String(256), unique=True)
    code: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(256))
    grade: Mapped[str] = mapped_column(String(2))
    status: Mapped[str] = mapped_column(String(2), index=True)
    sender_city: Mapped[str] = mapped_column(String(64))
    sender_system: Mapped[str] = mapped_column(String(64))
    occurrence: Mapped[str] = mapped_column(String(128))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    area: Mapped[dict[str, Any] | None]
    radius_m: Mapped[float | None] = mapped_column(Float)
    place: Mapped[str] = mapped_column(Text)
    content: Mapped[str] = mapped_column(Text)
    agencies: Mapped[list[Any]]
    cameras: Mapped[list[Any]]
    selection_note: Mapped[str] = mapped_column(Text, default="")
    media: Mapped[list[Any]]
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None]
    opened_at: Mapped[datetime]
    updated_at: Mapped[datetime] = mapped_column(index=True)
    ended_at: Mapped[datetime | None]


class EventRow(Base):
    __tablename__ = "events"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    code: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(2))
    time: Mapped[datetime]
    received_at: Mapped[datetime]
    received_by: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    effect: Mapped[str] = mapped_column(String(8))  # opened, moved, updated or ended: what it did to the incident
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False, index=True)


class ProcessedRow(Base):
    """One row per (event, service) handled: what makes a redelivered event have no second effect."""

    __tablename__ = "processed"
    event_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    service: Mapped[str] = mapped_column(String(32), primary_key=True)
    at: Mapped[datetime]


class GrantRow(Base):
    __tablename__ = "grants"
    __table_args__ = (UniqueConstraint("incident_id", "agency"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    agency: Mapped[str] = mapped_column(String(64), index=True)
    cameras: Mapped[list[Any]]
    purpose: Mapped[str] = mapped_column(String(128))
    issued_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoke_reason: Mapped[str] = mapped_column(String(256), default="")
    version: Mapped[int] = mapped_column(Integer, default=1)


class NotificationRow(Base):
    """A notification and its delivery state: the outbox."""

    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_due", "status", "next_attempt_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    contact: Mapped[str | None] = mapped_column(Text)
    target_url: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime]


class AuditRow(Base):
    __tablename__ = "audit_log"
    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # Kept as ISO text so the hashed form is exactly what was stored, whatever the database does to timestamps.
    at: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(32), index=True)
    actor: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(256), index=True)
    detail: Mapped[dict[str, Any]]
    correlation_id: Mapped[str] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class DeadLetterRow(Base):
    """A device message that could not be taken in, kept with the reason for an admin to look at."""

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    topic: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)  # the start of it, as text; payload_bytes says how long it was
    payload_bytes: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)


class ReadingRow(Base):
    """A device's position or sensor reading (MQTT intake); id is derived from the reading, so a redelivered
    message is recognised."""

    __tablename__ = "device_readings"
    __table_args__ = (Index("ix_device_readings_device_time", "city", "device_id", "time"),)
    # 64-bit: at a thousand readings a second a 32-bit sequence runs out within a month.
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                     autoincrement=True)
    id: Mapped[str] = mapped_column(String(36), unique=True)
    city: Mapped[str] = mapped_column(String(64))
    device_type: Mapped[str] = mapped_column(String(16))
    device_id: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(index=True)  # retention deletes by it
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    measures: Mapped[dict[str, Any]]


class UnitRow(Base):
    """A mobile unit and its latest position and state (domain/units.py)."""

    __tablename__ = "units"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(128))
    agency: Mapped[str] = mapped_column(String(64), index=True)
    state: Mapped[str] = mapped_column(String(16))
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    position_at: Mapped[datetime | None]
    incident_id: Mapped[str | None] = mapped_column(String(36))
    updated_at: Mapped[datetime]


class PlanRow(Base):
    """The latest routing plan of an incident (dispatch for 119, cordon for 112), as its API view."""

    __tablename__ = "incident_plans"
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    computed_at: Mapped[datetime]
    plan: Mapped[dict[str, Any]]


class TrafficRow(Base):
    """A live traffic override on one OSM way of the road network: congestion (a speed factor) or a closure (0)."""

    __tablename__ = "traffic_overrides"
    way_osm_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    speed_factor: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    updated_by: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[datetime]


class WatchRow(Base):
    """A police watch-list entry (domain/watchlist.py); the plate is personal data, seen by the police only."""

    __tablename__ = "watch_list"
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    plate_text: Mapped[str] = mapped_column(String(32), unique=True)
    plate_key: Mapped[str] = mapped_column(String(32), index=True)
    region: Mapped[str | None] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    expires_at: Mapped[datetime]
    added_by: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime]


class PlateReadRow(Base):
    """A licence-plate read. One that hit nothing is deleted after the configured retention (default 24 h)."""

    __tablename__ = "plate_reads"
    __table_args__ = (Index("ix_plate_reads_key_time", "plate_key", "time"),
                      Index("ix_plate_reads_unmatched_time", "hit_entry_id", "time"))
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    camera_id: Mapped[str] = mapped_column(String(128))
    plate_text: Mapped[str] = mapped_column(String(32))
    plate_key: Mapped[str] = mapped_column(String(32))
    time: Mapped[datetime]
    received_at: Mapped[datetime]
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    confidence: Mapped[float] = mapped_column(Float)
    low_confidence: Mapped[bool] = mapped_column(Boolean)
    heading_deg: Mapped[float | None] = mapped_column(Float)
    image_url: Mapped[str | None] = mapped_column(Text)
    hit_entry_id: Mapped[str | None] = mapped_column(String(36))
    hit_sent: Mapped[bool] = mapped_column(Boolean, default=False)  # its wanted-vehicle event is in intake


class TripRow(Base):
    """A safe-return trip (domain/trips.py). due_at is indexed: the overdue check survives restarts."""

    __tablename__ = "trips"
    __table_args__ = (Index("ix_trips_state_due", "state", "due_at"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    city: Mapped[str] = mapped_column(String(64))
    person_ref: Mapped[str] = mapped_column(String(128))
    guardian_contact: Mapped[str] = mapped_column(String(64))
    origin_lon: Mapped[float] = mapped_column(Float)
    origin_lat: Mapped[float] = mapped_column(Float)
    dest_lon: Mapped[float] = mapped_column(Float)
    dest_lat: Mapped[float] = mapped_column(Float)
    path: Mapped[list[Any]]
    expected_arrival: Mapped[datetime]
    grace_s: Mapped[float] = mapped_column(Float)
    corridor_m: Mapped[float] = mapped_column(Float)
    due_at: Mapped[datetime]
    state: Mapped[str] = mapped_column(String(16))
    alert: Mapped[str | None] = mapped_column(String(16))
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_at: Mapped[datetime | None]
    registered_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class EmissionZoneRow(Base):
    __tablename__ = "emission_zones"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    area: Mapped[dict[str, Any]]  # GeoJSON Polygon
    days: Mapped[list[Any]]  # weekday numbers, 0 = Monday
    start: Mapped[str] = mapped_column(String(5))  # HH:MM local
    end: Mapped[str] = mapped_column(String(5))
    updated_at: Mapped[datetime]


class RestrictedVehicleRow(Base):
    """A vehicle barred from low-emission zones (e.g. emission grade 5), imported from CSV."""

    __tablename__ = "lez_restricted"
    plate_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    plate_text: Mapped[str] = mapped_column(String(32))
    grade: Mapped[str] = mapped_column(String(16))


class ExemptVehicleRow(Base):
    """A restricted vehicle allowed anyway (retrofitted, disabled driver, emergency vehicle), imported from CSV."""

    __tablename__ = "lez_exempt"
    plate_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    plate_text: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(128))


class ViolationRow(Base):
    """A low-emission-zone violation with its evidence: at most one per vehicle, zone and local day."""

    __tablename__ = "lez_violations"
    __table_args__ = (UniqueConstraint("zone_id", "plate_key", "day"),)
    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    zone_id: Mapped[str] = mapped_column(String(64))
    plate_key: Mapped[str] = mapped_column(String(32))
    plate_text: Mapped[str] = mapped_column(String(32))
    grade: Mapped[str] = mapped_column(String(16))
    day: Mapped[str] = mapped_column(String(10), index=True)
    time: Mapped[datetime]
    camera_id: Mapped[str] = mapped_column(String(128))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    image_url: Mapped[str | None] = mapped_column(Text)
    read_id: Mapped[str] = mapped_column(String(36))


class SensorRow(Base):
    """A registered environment sensor: where it stands, how often it reports, when it was last heard."""

    __tablename__ = "sensors"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the device id it reports with
    city: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(128))
    agency: Mapped[str] = mapped_column(String(64))  # who maintains it and may send its readings
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    interval_s: Mapped[float] = mapped_column(Float)
    last_seen_at: Mapped[datetime | None]  # the time of its newest reading
    last_values: Mapped[dict[str, Any]]
    silent_after: Mapped[datetime] = mapped_column(index=True)  # no reading by then: it is down
    down_occurrence: Mapped[str | None] = mapped_column(String(128))  # its open "sensor down" incident
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SensorLevelRow(Base):
    """Where a sensor stands on one measure (domain/environment.py MeasureState); written only when it moves."""

    __tablename__ = "sensor_levels"
    sensor_id: Mapped[str] = mapped_column(ForeignKey("sensors.id", ondelete="CASCADE"), primary_key=True)
    measure: Mapped[str] = mapped_column(String(32), primary_key=True)
    level: Mapped[int] = mapped_column(Integer, index=True)
    pending: Mapped[int | None] = mapped_column(Integer)
    since: Mapped[datetime | None]
    changed_at: Mapped[datetime | None]
    value: Mapped[float] = mapped_column(Float)  # the reading that last moved the state


class EnvironmentAlarmRow(Base):
    """A measure's alarm in a city: the open episode (its incident's occurrence number) and the sensors in it.
    One row per city and measure, locked while the alarm is worked out, so two processes open one incident."""

    __tablename__ = "environment_alarms"
    city: Mapped[str] = mapped_column(String(64), primary_key=True)
    measure: Mapped[str] = mapped_column(String(32), primary_key=True)
    occurrence: Mapped[str | None] = mapped_column(String(128))  # None: no alarm open
    level: Mapped[int] = mapped_column(Integer)
    sensors: Mapped[list[Any]]  # [sensor id, level] of each sensor in alarm, as last announced
    updated_at: Mapped[datetime]


class OutboxRow(Base):
    """An event citylink raised itself (an environment alarm, a sensor down), written in the transaction that
    decided it and submitted to intake after the commit: a crash in between loses nothing."""

    __tablename__ = "event_outbox"
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                     autoincrement=True)
    event: Mapped[dict[str, Any]]
    received_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None] = mapped_column(index=True)


class LinkMessageRow(Base):
    """A message received over the linkage protocol, kept with what became of it (adapters/scsns.py LinkStatus)."""

    __tablename__ = "linkage_messages"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    svc_ty: Mapped[str] = mapped_column(String(16))
    send_cd: Mapped[str] = mapped_column(String(64))
    rcv_cd: Mapped[str] = mapped_column(String(64))
    sys_cd: Mapped[str] = mapped_column(String(32))
    agency: Mapped[str | None] = mapped_column(String(64))  # whose session key it carried, when valid
    encrypted: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(String(20), index=True)
    field: Mapped[str] = mapped_column(String(128))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text)  # the message as received, up to its first 64 KiB
    raw_bytes: Mapped[int] = mapped_column(Integer)
    event_id: Mapped[str | None] = mapped_column(String(36))
    incident_id: Mapped[str | None] = mapped_column(String(36))
    replayed_at: Mapped[datetime | None]


class LinkOutboxRow(Base):
    """An event to deliver to a linkage partner, oldest first per partner, kept until it is delivered."""

    __tablename__ = "linkage_outbox"
    __table_args__ = (Index("ix_linkage_outbox_partner_state", "partner", "state", "seq"),)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
                                     autoincrement=True)
    partner: Mapped[str] = mapped_column(String(64))
    event_id: Mapped[str] = mapped_column(String(36))
    event: Mapped[dict[str, Any]]
    trail: Mapped[list[Any]]  # the systems it passed through before citylink, for the partner's loop check
    state: Mapped[str] = mapped_column(String(12))  # pending, delivered, refused (by the partner, for good)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text)


class LinkPartnerRow(Base):
    """A linkage partner's delivery state: the session key citylink holds there, the lease of the worker
    delivering to it (one at a time, so events arrive in order), and the backoff after failures."""

    __tablename__ = "linkage_partners"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    session_key: Mapped[str | None] = mapped_column(Text)
    lease_until: Mapped[datetime | None]
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    failures: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]


class CapReceiverRow(Base):
    """How far a CAP receiver has been sent the events table (it is the log: no outbox of its own)."""

    __tablename__ = "cap_receivers"
    url: Mapped[str] = mapped_column(String(512), primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))
    failures: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime | None]
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
