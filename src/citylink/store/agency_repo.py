"""Agencies and their API keys."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from citylink.auth.api_keys import hash_key, new_key
from citylink.domain.agencies import Agency, AgencyKind, Principal, Role
from citylink.store.database import conflict_insert
from citylink.store.tables import AgencyRow, ApiKeyRow


def to_agency(row: AgencyRow) -> Agency:
    return Agency(id=row.id, name=row.name, kind=AgencyKind(row.kind), webhook_url=row.webhook_url)


def list_agencies(session: Session) -> list[Agency]:
    return [to_agency(r) for r in session.execute(select(AgencyRow).order_by(AgencyRow.id)).scalars()]


def get_agency(session: Session, agency_id: str) -> Agency | None:
    row = session.get(AgencyRow, agency_id)
    return to_agency(row) if row else None


def upsert_agency(session: Session, agency: Agency, *, now: datetime) -> bool:
    """Create or update; True when it was created."""
    row = session.get(AgencyRow, agency.id)
    if row is None:
        session.add(AgencyRow(id=agency.id, name=agency.name, kind=agency.kind.value, webhook_url=agency.webhook_url,
                              created_at=now))
        return True
    row.name, row.kind, row.webhook_url = agency.name, agency.kind.value, agency.webhook_url
    return False


def create_if_absent(session: Session, agency: Agency, *, now: datetime) -> None:
    """Create the agency unless it exists: two workers may dispatch the same new unit at the same moment."""
    values = {"id": agency.id, "name": agency.name, "kind": agency.kind.value, "webhook_url": agency.webhook_url,
              "created_at": now}
    insert = conflict_insert(session)
    session.execute(insert(AgencyRow).values(**values).on_conflict_do_nothing(index_elements=["id"]))


def issue_key(session: Session, agency_id: str, role: Role, *, now: datetime) -> tuple[str, str]:
    """A new key for the agency: (key id, key). The key itself is returned once and stored only hashed."""
    key_id, key = new_key()
    session.add(ApiKeyRow(id=key_id, agency_id=agency_id, role=role.value, key_hash=hash_key(key), created_at=now,
                          revoked_at=None))
    return key_id, key


def revoke_key(session: Session, key_id: str, *, now: datetime) -> bool:
    row = session.get(ApiKeyRow, key_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = now
    return True


def authenticate(session: Session, key: str) -> Principal | None:
    row = session.execute(
        select(ApiKeyRow).where(ApiKeyRow.key_hash == hash_key(key), ApiKeyRow.revoked_at.is_(None))
    ).scalar_one_or_none()
    if row is None:
        return None
    return Principal(agency=row.agency_id, role=Role(row.role), key_id=row.id)


def key_active(session: Session, key_id: str) -> bool:
    row = session.get(ApiKeyRow, key_id)
    return row is not None and row.revoked_at is None


def list_keys(session: Session) -> list[ApiKeyRow]:
    return list(session.execute(select(ApiKeyRow).order_by(ApiKeyRow.agency_id, ApiKeyRow.created_at)).scalars())


def has_agencies(session: Session) -> bool:
    return session.execute(select(AgencyRow.id).limit(1)).first() is not None
