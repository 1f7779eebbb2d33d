"""The Korean integration platform's linkage protocol (SCSNS, ../shared/specs/korean-linkage.md): messages to
native events and back, the reply, the dates. Pure: no HTTP, no store, no keys.

Lenient where real senders differ (``body`` or ``Body``, ``ocrEvtStsUsr`` or ``ocrEvtUsr``, ``tranSysHis`` as a
list or an object, numbers as numbers or strings, optional fields missing), strict where acting on the event
depends on it: no event code, occurrence number or location is a failure that names the field.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from citylink.domain.catalogue import CATALOGUE, Grade
from citylink.domain.events import Detail, Event, Item, Location, Sender, Status
from citylink.domain.linkage import TRAIL_ITEM

E = TypeVar("E", bound=StrEnum)
SEOUL = ZoneInfo("Asia/Seoul")
TAGS = {"startTag": "$DA", "endTag": "$DB", "finishTag": "$DF"}
MAX_ITEMS = 200


class LinkStatus(StrEnum):
    """What became of a received message."""

    PROCESSED = "processed"
    PARSE_ERROR = "parse_error"
    DECRYPTION_ERROR = "decryption_error"
    UNKNOWN_CODE = "unknown_code"
    AUTH_ERROR = "auth_error"
    REFUSED = "refused"  # well-formed, but intake cannot take it (a status going backwards)
    FORWARDED = "forwarded"  # for another city: handed to the link to that city's platform
    NO_ROUTE = "no_route"  # for another city citylink has no link to


class LinkRejected(ValueError):
    def __init__(self, status: LinkStatus, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.status, self.field, self.reason = status, field, reason


@dataclass(frozen=True, slots=True)
class Envelope:
    """The message around the body: who sends, to whom, through which systems."""

    svc_ty: str
    send_cd: str
    rcv_cd: str
    sys_cd: str
    encrypted: bool
    rr_key: str
    trail: tuple[str, ...]  # "<city>/<system>" per hop, oldest first
    body: Any  # the body object, or the ciphertext text when encrypted
    extra: dict[str, Any] = field(default_factory=dict)


def reply(ok: bool, message: str = "") -> dict[str, str]:
    return {**TAGS, "result": "0" if ok else "1", "message": message}


def parse_time(text: object, *, field: str) -> datetime:
    """``yyyyMMddHHmmss`` (or with milliseconds) in Seoul time."""
    digits = _text(text)
    try:
        if len(digits) == 14 and digits.isdigit():
            return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=SEOUL)
        if len(digits) == 17 and digits.isdigit():
            return datetime.strptime(digits[:14], "%Y%m%d%H%M%S").replace(
                tzinfo=SEOUL, microsecond=int(digits[14:]) * 1000)
    except ValueError:
        pass
    raise LinkRejected(LinkStatus.PARSE_ERROR, field, "expected yyyyMMddHHmmss (Asia/Seoul)")


def format_time(at: datetime) -> str:
    return at.astimezone(SEOUL).strftime("%Y%m%d%H%M%S")


def read_envelope(raw: bytes, headers: Mapping[str, str]) -> Envelope:
    """The JSON message with its X-Scsns-* headers; a field in the JSON wins over its header."""
    try:
        message = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LinkRejected(LinkStatus.PARSE_ERROR, "", f"the message is not JSON ({exc})") from None
    if not isinstance(message, dict):
        raise LinkRejected(LinkStatus.PARSE_ERROR, "", "the message must be a JSON object")

    def value(name: str) -> str:
        return _text(message.get(name, headers.get(f"x-scsns-{name.lower()}", "")))

    body = message.get("body", message.get("Body"))
    return Envelope(svc_ty=value("svcTy").upper(), send_cd=value("sendCd"), rcv_cd=value("rcvCd"),
                    sys_cd=value("sysCd"), encrypted=value("encAt").upper() == "Y", rr_key=value("rrKey"),
                    trail=read_trail(message.get("tranSysHis")), body=body,
                    extra={k: message[k] for k in ("reqDate", "callBack") if k in message})


def read_trail(trail: object) -> tuple[str, ...]:
    """Each hop as ``<city>/<system>``: senders write a list of objects, one object, or plain strings."""
    hops = trail if isinstance(trail, list) else [trail] if trail else []
    out = []
    for hop in hops:
        if isinstance(hop, Mapping):
            city = _text(hop.get("cityCd") or hop.get("CITY_CD") or hop.get("CITY_SYS") or "")
            system = _text(hop.get("sysCd") or hop.get("SYS_CD") or "")
            out.append(f"{city}/{system}" if system else city)
        elif hop:
            out.append(_text(hop))
    return tuple(h for h in out if h)


def body_event(body: object, envelope: Envelope, *, received_at: datetime) -> Event:
    """The native event a decrypted body stands for, or LinkRejected naming the field."""
    if not isinstance(body, Mapping):
        raise LinkRejected(LinkStatus.PARSE_ERROR, "body", "the event body must be a JSON object")
    code = _text(body.get("evtId"))
    if not code:
        raise LinkRejected(LinkStatus.PARSE_ERROR, "body.evtId", "the event code is missing")
    entry = CATALOGUE.get(code)
    if entry is None:
        raise LinkRejected(LinkStatus.UNKNOWN_CODE, "body.evtId", f"unknown event code {code[:16]!r}")
    occurrence = _text(body.get("ocrNbr"))
    if not occurrence:
        raise LinkRejected(LinkStatus.PARSE_ERROR, "body.ocrNbr", "the occurrence number is missing")
    status = _choice(body.get("ocrSts", "10"), Status, "body.ocrSts")
    grade = _choice(body.get("evtGrad") or entry.default_grade.value, Grade, "body.evtGrad")
    time_text = body.get("ocrEvtTime") or envelope.extra.get("reqDate")
    at = parse_time(time_text, field="body.ocrEvtTime") if time_text else received_at
    status_info = _object(body.get("ocrEvtSts"))
    user = _object(body.get("ocrEvtStsUsr", body.get("ocrEvtUsr")))
    items = [("LINK_SEND_CD", envelope.send_cd), ("LINK_SYS_CD", envelope.sys_cd),
             ("STATUS_CODE", status_info.get("ocrEvtStsCd")), ("STATUS_TEXT", status_info.get("ocrEvtStsDtl")),
             ("STATUS_USER_ID", user.get("ocrEvtUsrId")), ("STATUS_USER_NAME", user.get("ocrEvtUsrNm")),
             ("STATUS_TIME", body.get("ocrEvtStsTime")), ("END_TIME", body.get("ocrEvtEndTime")),
             (TRAIL_ITEM, ",".join(envelope.trail) if envelope.trail else None)]
    listed = body.get("ocrEvtItem") or []
    if isinstance(listed, Mapping):  # one item written as an object
        listed = [listed]
    if not isinstance(listed, list) or len(listed) > MAX_ITEMS:
        raise LinkRejected(LinkStatus.PARSE_ERROR, "body.ocrEvtItem", f"expected a list of at most {MAX_ITEMS} "
                           "{key, val} objects")
    for i, item in enumerate(listed):
        if not isinstance(item, Mapping) or not _text(item.get("key")):
            raise LinkRejected(LinkStatus.PARSE_ERROR, f"body.ocrEvtItem[{i}]", "expected {key, val}")
        items.append((_text(item["key"]), item.get("val")))
    detail = _object(body.get("ocrEvtDtl"))
    try:
        return Event(code=code, name=_text(body.get("evtNm")) or entry.name_ko, grade=grade, status=status,
                     occurrence=occurrence, location=_location(body.get("ocrLc")), place=_text(body.get("ocrPlc")),
                     content=_text(body.get("ocrEvtCn")), time=at,
                     sender=Sender(system=envelope.sys_cd or "LINK", city=envelope.send_cd or "unknown"),
                     items=tuple(Item(key=k, val=_text(v)) for k, v in items if v not in (None, "")),
                     detail=Detail(code=_text(detail.get("ocrEvtDtlCd")), text=_text(detail.get("ocrEvtDtlCdDtl")))
                     if detail else None)
    except ValidationError as exc:
        err = exc.errors(include_input=False)[0]
        where = "body." + ".".join(str(p) for p in err["loc"])
        raise LinkRejected(LinkStatus.PARSE_ERROR, where, str(err["msg"])) from None


def event_body(event: Event) -> dict[str, Any]:
    """The protocol body of a native event (outbound); every value a string, as senders write them."""
    items = [{"key": i.key, "val": i.val} for i in event.items if i.key != TRAIL_ITEM]
    body: dict[str, Any] = {
        **TAGS, "evtId": event.code, "evtNm": event.name, "evtGrad": event.grade.value,
        "ocrNbr": event.occurrence, "ocrSts": event.status.value,
        "ocrLc": {"crdntX": f"{event.location.lon:.7f}", "crdntY": f"{event.location.lat:.7f}",
                  "crdntZ": "" if event.location.z is None else f"{event.location.z:g}"},
        "ocrPlc": event.place, "ocrEvtCn": event.content, "ocrEvtTime": format_time(event.time),
        "ocrEvtSts": {"ocrEvtStsCd": event.status.value, "ocrEvtStsDtl": event.status.label},
        "ocrEvtItemCnt": str(len(items)), "ocrEvtItem": items,
    }
    if event.detail is not None:
        body["ocrEvtDtl"] = {"ocrEvtDtlCd": event.detail.code, "ocrEvtDtlCdDtl": event.detail.text}
    return body


def envelope_message(*, svc_ty: str, send_cd: str, rcv_cd: str, sys_cd: str, rr_key: str, trail: tuple[str, ...],
                     body: Any, encrypted: bool, now: datetime) -> dict[str, Any]:
    """A whole message: the header fields (all strings) around a body (an object, or ciphertext text)."""
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return {"svcTy": svc_ty, "hdCnt": "14", "dtCnt": "16", "apSeq": {"apCurrent": "1", "apTotal": "1"},
            "cmnMtd": "1", "sendCd": send_cd, "rcvCd": rcv_cd, "encAt": "Y" if encrypted else "N",
            "tranTy": "HTTP", "rrKey": rr_key, "reqDate": format_time(now), "bodyLen": str(len(text.encode())),
            "sysCd": sys_cd, "tranSysHis": [_hop(h) for h in trail], "callBack": {"useYn": "N", "targetUrl": ""},
            "body": body}


def headers(*, svc_ty: str, send_cd: str, rcv_cd: str, sys_cd: str, encrypted: bool) -> dict[str, str]:
    return {"X-Scsns-svcTy": svc_ty, "X-Scsns-sendCd": send_cd, "X-Scsns-rcvCd": rcv_cd, "X-Scsns-sysCd": sys_cd,
            "X-Scsns-encAt": "Y" if encrypted else "N", "X-Scsns-Secret": "", "X-Scsns-type": "sync",
            "Content-Type": "application/json; charset=utf-8"}


def _hop(hop: str) -> dict[str, str]:
    city, _, system = hop.partition("/")
    return {"cityCd": city, "sysCd": system}


def _location(value: object) -> Location:
    place = _object(value)
    if not place:
        raise LinkRejected(LinkStatus.PARSE_ERROR, "body.ocrLc", "the location {crdntX, crdntY} is missing")
    coords = {}
    for name in ("crdntX", "crdntY"):
        try:
            coords[name] = float(_text(place.get(name)))
        except ValueError:
            raise LinkRejected(LinkStatus.PARSE_ERROR, f"body.ocrLc.{name}", "expected a number (WGS84 degrees)") \
                from None
    z_text = _text(place.get("crdntZ"))
    try:
        z = float(z_text) if z_text else None
        return Location(lon=coords["crdntX"], lat=coords["crdntY"], z=z)
    except (ValueError, ValidationError):
        raise LinkRejected(LinkStatus.PARSE_ERROR, "body.ocrLc", "coordinates out of range (WGS84 lon, lat)") \
            from None


def _choice(value: object, kind: type[E], field: str) -> E:
    try:
        return kind(_text(value))
    except ValueError:
        raise LinkRejected(LinkStatus.PARSE_ERROR, field, f"expected one of {', '.join(kind)}") from None


def _object(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
