"""One error format for the whole API: problem+json with a pointer to the field at fault."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse

from citylink.runtime.executor import UnknownAgency, UnknownCamera
from citylink.runtime.intake import IntakeRejected
from citylink.runtime.platform import IncidentEnded, NothingToShare

log = logging.getLogger(__name__)

PROBLEM = "application/problem+json"


class Problem(Exception):
    def __init__(self, status: int, title: str, detail: str, *, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.field, self.headers = status, title, detail, field, headers


def problem_response(status: int, title: str, detail: str, *, errors: list[dict[str, Any]] | None = None,
                     headers: Mapping[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body",)]
    return "/" + "/".join(parts) if parts else "/"


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    errors = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        # Pydantic names the union branch or function in the location; people want the field.
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        message = str(err.get("msg", "invalid"))
        if err.get("type") == "json_invalid":
            message = f"malformed JSON: {err.get('ctx', {}).get('error', 'cannot parse')}"
        errors.append({"field": _pointer(loc), "message": message.removeprefix("Value error, ")})
    return errors


async def _on_validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = validation_errors(exc)
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    return problem_response(422, "invalid request", detail, errors=errors)


async def _on_problem(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Problem)
    errors = [{"field": exc.field, "message": exc.detail}] if exc.field else None
    return problem_response(exc.status, exc.title, exc.detail, errors=errors, headers=exc.headers)


async def _on_http(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    return problem_response(exc.status_code, str(exc.detail), str(exc.detail), headers=exc.headers)


async def _on_rejected(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntakeRejected)
    return problem_response(409, "event not accepted", exc.reason,
                            errors=[{"field": f"/{exc.field}", "message": exc.reason}])


async def _on_unknown_agency(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnknownAgency)
    return problem_response(404, "not found", f"no agency {exc.agency}",
                            errors=[{"field": "/agency", "message": f"no agency {exc.agency}"}])


async def _on_unknown_camera(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, UnknownCamera)
    return problem_response(404, "not found", f"no camera {exc.camera_id}",
                            errors=[{"field": "/add", "message": f"no camera {exc.camera_id}"}])


async def _on_conflict(_: Request, exc: Exception) -> JSONResponse:
    return problem_response(409, "conflict", str(exc))


async def _on_store_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # A database restart or failover: nothing of this request was stored, and trying again shortly will work.
    log.warning("store unavailable on %s %s: %s", request.method, request.url.path, type(exc).__name__)
    return problem_response(503, "store unavailable", "the database cannot be reached; nothing was stored. "
                            "Retry after the delay given in Retry-After.", headers={"Retry-After": "2"})


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem_response(500, "internal error", "an unexpected error occurred; it has been logged")


def install(app: FastAPI) -> None:
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(Problem, _on_problem)
    app.add_exception_handler(HTTPException, _on_http)
    app.add_exception_handler(IntakeRejected, _on_rejected)
    app.add_exception_handler(UnknownAgency, _on_unknown_agency)
    app.add_exception_handler(UnknownCamera, _on_unknown_camera)
    app.add_exception_handler(IncidentEnded, _on_conflict)
    app.add_exception_handler(NothingToShare, _on_conflict)
    app.add_exception_handler(OperationalError, _on_store_unavailable)
    app.add_exception_handler(InterfaceError, _on_store_unavailable)
    app.add_exception_handler(Exception, _on_unexpected)
