"""The media server's question, "may this request read this camera?", answered from grants and audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from citylink.auth.grant_tokens import GrantSigner, TokenError
from citylink.domain.audit import AuditAction, AuditEntry
from citylink.store import audit_repo, camera_repo, incident_repo
from citylink.store.tables import GrantRow

READ_ACTIONS = frozenset({"read", "playback"})
CAMERA_PATH_PREFIX = "camera/"


class VideoAuthRequest(BaseModel):
    """MediaMTX's HTTP-auth body (authMethod: http)."""

    model_config = ConfigDict(extra="ignore")

    user: str = ""
    password: str = ""
    token: str = ""
    ip: str = ""
    action: str = Field(default="", description="publish, read, playback, api, metrics or pprof")
    path: str = ""
    protocol: str = ""
    id: str | None = None
    query: str = ""

    def grant_token(self) -> str:
        if self.token:
            return self.token
        if self.password:
            return self.password
        return parse_qs(self.query).get("jwt", [""])[0]


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    status: int  # 200 allow; 401 no or bad credential; 403 credential fine, access not
    reason: str
    agency: str = ""
    grant_id: str = ""


class VideoAccess:
    def __init__(self, signer: GrantSigner) -> None:
        self._signer = signer

    def decide(self, session: Session, request: VideoAuthRequest, *, now: datetime) -> Decision:
        """The answer, written to the audit log."""
        decision = self.check(session, request, now=now)
        action = AuditAction.VIDEO_ALLOWED if decision.allowed else AuditAction.VIDEO_DENIED
        audit_repo.append(session, AuditEntry(
            action, decision.agency or "unknown", request.path or "-",
            {"grant": decision.grant_id, "reason": decision.reason, "action": request.action,
             "protocol": request.protocol, "ip": request.ip}, now))
        return decision

    def check(self, session: Session, request: VideoAuthRequest, *, now: datetime) -> Decision:
        """The answer without an audit record: for re-checking a stream that was already allowed."""
        if request.action not in READ_ACTIONS:
            return Decision(False, 403, f"action {request.action or '(none)'} is not allowed with a grant")
        if not request.path.startswith(CAMERA_PATH_PREFIX):
            return Decision(False, 403, f"path {request.path or '(none)'} is not a camera path (camera/<id>)")
        camera_id = request.path.removeprefix(CAMERA_PATH_PREFIX)
        token = request.grant_token()
        if not token:
            return Decision(False, 401, "no grant token (token, password or jwt= query)")
        try:
            claims = self._signer.verify(token, now=now)
        except TokenError as exc:
            return Decision(False, 401, str(exc))
        grant = session.get(GrantRow, claims.grant_id)
        if grant is None:
            return Decision(False, 401, "grant not found", agency=claims.agency, grant_id=claims.grant_id)
        if camera_repo.get(session, camera_id) is None:
            return Decision(False, 403, f"unknown camera {camera_id}", agency=grant.agency, grant_id=grant.id)
        denial = incident_repo.to_grant(grant).denial(camera_id=camera_id, now=now)
        if denial is not None:
            return Decision(False, 403, denial, agency=grant.agency, grant_id=grant.id)
        return Decision(True, 200, "granted", agency=grant.agency, grant_id=grant.id)
