"""Agencies, their roles and what each role may do."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class AgencyKind(StrEnum):
    CENTRE = "centre"
    POLICE = "police"
    FIRE = "fire"
    DISASTER = "disaster"
    WELFARE = "welfare"
    JUSTICE = "justice"


class Role(StrEnum):
    OPERATOR = "operator"  # centre staff: sees every incident, acts on it
    SUPERVISOR = "supervisor"  # an operator who may also share video with more agencies
    AGENCY = "agency"  # a linked agency: only its own incidents and grants
    AUDITOR = "auditor"  # reads the audit trail and incidents; never video or grant tokens
    ADMIN = "admin"  # everything, including agencies and keys

    @property
    def sees_all_incidents(self) -> bool:
        return self is not Role.AGENCY

    @property
    def may_act_on_incidents(self) -> bool:
        return self in (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN, Role.AGENCY)

    @property
    def may_share(self) -> bool:
        return self in (Role.SUPERVISOR, Role.ADMIN)

    @property
    def may_manage_cameras(self) -> bool:
        return self in (Role.OPERATOR, Role.SUPERVISOR, Role.ADMIN)

    @property
    def may_read_audit(self) -> bool:
        return self in (Role.AUDITOR, Role.ADMIN)

    @property
    def may_see_tokens(self) -> bool:
        return self is not Role.AUDITOR


class Agency(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]*(/[a-z0-9][a-z0-9_\-]*)?$", max_length=64,
                    description="slug; a sub-unit is written parent/unit, e.g. police/patrol-12")
    name: str = Field(max_length=128)
    kind: AgencyKind
    webhook_url: str | None = Field(default=None, description="where notifications for this agency are POSTed")

    @property
    def parent(self) -> str | None:
        return self.id.split("/", 1)[0] if "/" in self.id else None


class Principal(BaseModel):
    """Who is calling: an agency acting in a role, identified by one of its API keys."""

    model_config = ConfigDict(frozen=True)

    agency: str
    role: Role
    key_id: str

    def is_party(self, agencies: frozenset[str] | set[str]) -> bool:
        """True when this caller's agency, or one of its sub-units, is involved. A sub-unit does not see
        everything its parent sees: a patrol car sees only what it was granted."""
        return self.agency in agencies or any(a.startswith(self.agency + "/") for a in agencies)


DEFAULT_AGENCIES: tuple[Agency, ...] = (
    Agency(id="centre", name="Integrated operations centre", kind=AgencyKind.CENTRE),
    Agency(id="police", name="112 police situation room", kind=AgencyKind.POLICE),
    Agency(id="fire", name="119 fire and ambulance situation room", kind=AgencyKind.FIRE),
    Agency(id="disaster", name="Disaster situation room", kind=AgencyKind.DISASTER),
    Agency(id="welfare", name="Guardians and welfare service", kind=AgencyKind.WELFARE),
    Agency(id="justice", name="Justice ministry location-tracking centre", kind=AgencyKind.JUSTICE),
)

DEFAULT_ROLES: dict[str, Role] = {"centre": Role.ADMIN}
