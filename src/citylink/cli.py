"""The citylink command: serve, demo, import cameras, agencies, audit verify."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
import uvicorn
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.orm import Session

from citylink.adapters.camera_import import CameraImportError, read_cameras
from citylink.domain.agencies import Agency, AgencyKind, Role
from citylink.domain.audit import AuditAction, AuditEntry, verify_chain
from citylink.logging_setup import configure
from citylink.settings import Settings
from citylink.store import agency_repo, audit_repo, camera_repo
from citylink.store.database import Database

app = typer.Typer(help="citylink: smart city integration platform", no_args_is_help=True,
                  pretty_exceptions_enable=False)
import_app = typer.Typer(help="Import data into the store", no_args_is_help=True)
agencies_app = typer.Typer(help="Agencies and their API keys", no_args_is_help=True)
audit_app = typer.Typer(help="The hash-chained audit log", no_args_is_help=True)
app.add_typer(import_app, name="import")
app.add_typer(agencies_app, name="agencies")
app.add_typer(audit_app, name="audit")

console = Console()
err = Console(stderr=True)

DataDir = Annotated[Path, typer.Option("--data-dir", help="data directory (database, keys)")]
DEFAULT_DATA_DIR = Path("var")
Role_ = Literal["all", "api", "worker"]


def _settings(data_dir: Path, database_url: str | None = None) -> Settings:
    # Only what was given: anything else comes from CITYLINK_* variables (e.g. CITYLINK_DATABASE_URL).
    if database_url:
        return Settings(data_dir=data_dir, database_url=database_url)
    return Settings(data_dir=data_dir)


def _open_db(settings: Settings) -> Database:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return Database.open(settings.resolved_database_url, sqlite_synchronous=settings.sqlite_synchronous)


@app.command()
def serve(data_dir: Annotated[Path | None, typer.Option("--data-dir", help="data directory (database, keys) "
                                                                         "[default: var]")] = None,
          host: str = "127.0.0.1", port: int = 8000,
          basemap: Annotated[Path | None, typer.Option(help="OSM extract (.osm.pbf) the board draws")] = None,
          role: Annotated[Role_ | None, typer.Option(help="api: HTTP and intake; worker: services, notifications, "
                                                   "relay; all: both in this process [default: all]")] = None,
          database_url: Annotated[str | None, typer.Option(help="e.g. postgresql://user@host/db "
                                                                "[default: SQLite in the data directory]")] = None,
          nats_url: Annotated[str | None, typer.Option(help="NATS JetStream, e.g. nats://127.0.0.1:4222 "
                                                            "(needed by --role api and worker)")] = None,
          city: Annotated[list[str] | None, typer.Option(help="a worker takes only these cities' events "
                                                              "(repeat the option); default: every city")] = None,
          log_level: str = "info") -> None:
    """Run citylink: by default the API server, the board and the workers in this process.

    Options left out fall back to CITYLINK_* environment variables (CITYLINK_DATABASE_URL, CITYLINK_NATS_URL...)."""
    from citylink.api.app import create_app

    configure(log_level.upper())
    given: dict[str, Any] = {"data_dir": data_dir, "role": role, "basemap_path": basemap, "database_url": database_url,
                             "nats_url": nats_url, "worker_cities": tuple(city) if city else None}
    try:
        settings = Settings(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        err.print(f"[red]invalid settings:[/red] {exc.errors()[0]['msg']}")
        raise typer.Exit(2) from None
    if settings.role == "worker":
        import asyncio

        from citylink.runtime.worker import run_worker

        _use_uvloop()
        asyncio.run(run_worker(settings))
        return
    console.print(f"citylink ({settings.role}) serving on http://{host}:{port}  (data: {settings.data_dir.resolve()})")
    uvicorn.run(create_app(settings), host=host, port=port, log_level=log_level, access_log=False,
                log_config=None)


def _use_uvloop() -> None:
    try:
        import uvloop
    except ImportError:  # uvicorn[standard] installs it; without it asyncio's own loop does the same work
        return
    uvloop.install()


@app.command()
def demo(data_dir: DataDir = Path("var/demo"), port: int = 8000,
         rate: Annotated[float, typer.Option(help="events per minute")] = 6.0,
         duration: Annotated[float, typer.Option(help="stop after this many seconds (0: until Ctrl-C)")] = 0.0,
         seed: int = 7) -> None:
    """Helsinki demo: real cameras, default agencies, a live scenario of the five services' events."""
    from citylink.demo.runner import run_demo

    configure("WARNING")
    sys.exit(run_demo(data_dir=data_dir, port=port, rate_per_min=rate, duration_s=duration, seed=seed,
                      console=console))


@import_app.command("cameras")
def import_cameras(file: Path, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Import cameras from an OSM PBF (.osm.pbf) or a Korean standard CCTV CSV (.csv). Re-import upserts."""
    try:
        with console.status(f"reading {file.name}"):
            result = read_cameras(file)
    except CameraImportError as exc:
        err.print(f"[red]cannot import {file}: {exc}")
        raise typer.Exit(2) from None
    db = _open_db(_settings(data_dir))
    now = datetime.now(UTC)

    def save(session: Session) -> camera_repo.UpsertCounts:
        counts = camera_repo.upsert_many(session, result.cameras, now=now)
        audit_repo.append(session, AuditEntry(
            AuditAction.CAMERAS_IMPORTED, "cli", file.name,
            {"created": counts.created, "updated": counts.updated, "unchanged": counts.unchanged,
             "rejected": len(result.rejected)}, now))
        return counts

    with console.status(f"saving {len(result.cameras)} cameras"):
        counts = db.write_sync(save)
    db.close()
    console.print(f"{file.name}: imported {counts.created}, updated {counts.updated}, "
                  f"unchanged {counts.unchanged}, rejected {len(result.rejected)}")
    for rejection in result.rejected:
        console.print(f"  row {rejection.row}: {rejection.reason}", highlight=False)
    if counts.created or counts.updated:
        console.print("[dim]a running server picks up imported cameras on restart; "
                      "POST /api/v1/cameras/import updates it live[/]")


@agencies_app.command("list")
def agencies_list(data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """List agencies and their keys (ids and roles only; keys are stored hashed)."""
    db = _open_db(_settings(data_dir))
    agencies = db.read_sync(agency_repo.list_agencies)
    keys = db.read_sync(agency_repo.list_keys)
    db.close()
    table = Table("agency", "kind", "name", "keys (id:role)")
    for agency in agencies:
        own = [f"{k.id}:{k.role}{' (revoked)' if k.revoked_at else ''}" for k in keys if k.agency_id == agency.id]
        table.add_row(agency.id, agency.kind.value, agency.name, ", ".join(own) or "-")
    console.print(table)


@agencies_app.command("create")
def agencies_create(agency_id: str, name: str, kind: AgencyKind, data_dir: DataDir = DEFAULT_DATA_DIR,
                    webhook_url: str | None = None) -> None:
    """Create or update an agency (a sub-unit is written parent/unit, e.g. police/patrol-12)."""
    agency = Agency(id=agency_id, name=name, kind=kind, webhook_url=webhook_url)
    db = _open_db(_settings(data_dir))
    now = datetime.now(UTC)

    def save(session: Session) -> bool:
        created = agency_repo.upsert_agency(session, agency, now=now)
        audit_repo.append(session, AuditEntry(AuditAction.AGENCY_CHANGED, "cli", agency.id,
                                              {"created": created, "kind": kind.value}, now))
        return created

    created = db.write_sync(save)
    db.close()
    console.print(f"agency {agency_id} {'created' if created else 'updated'}")


@agencies_app.command("key")
def agencies_key(agency_id: str, role: Role = Role.AGENCY, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Issue a new API key for an agency in a role. The key is printed once and stored only hashed."""
    db = _open_db(_settings(data_dir))
    now = datetime.now(UTC)

    def issue(session: Session) -> tuple[str, str] | None:
        if agency_repo.get_agency(session, agency_id) is None:
            return None
        key_id, key = agency_repo.issue_key(session, agency_id, role, now=now)
        audit_repo.append(session, AuditEntry(AuditAction.AGENCY_CHANGED, "cli", agency_id,
                                              {"key_issued": key_id, "role": role.value}, now))
        return key_id, key

    issued = db.write_sync(issue)
    db.close()
    if issued is None:
        err.print(f"[red]no agency {agency_id}")
        raise typer.Exit(2)
    console.print(json.dumps({"agency": agency_id, "role": role.value, "key_id": issued[0], "key": issued[1]}))


@agencies_app.command("revoke")
def agencies_revoke(key_id: str, data_dir: DataDir = DEFAULT_DATA_DIR) -> None:
    """Revoke an API key by its id (see `agencies list`); sessions opened with it end within seconds."""
    db = _open_db(_settings(data_dir))
    now = datetime.now(UTC)

    def revoke(session: Session) -> bool:
        revoked = agency_repo.revoke_key(session, key_id, now=now)
        if revoked:
            audit_repo.append(session, AuditEntry(AuditAction.AGENCY_CHANGED, "cli", key_id, {"key_revoked": True},
                                                  now))
        return revoked

    revoked = db.write_sync(revoke)
    db.close()
    if not revoked:
        err.print(f"[red]no active key {key_id}")
        raise typer.Exit(2)
    console.print(f"key {key_id} revoked")


@audit_app.command("verify")
def audit_verify(data_dir: DataDir = DEFAULT_DATA_DIR,
                 database_url: Annotated[str | None, typer.Option(help="verify this database instead")] = None
                 ) -> None:
    """Check the audit log's hash chain; name every altered, missing or reordered record."""
    settings = _settings(data_dir, database_url=database_url)
    db = Database.open(settings.resolved_database_url, run_migrations=False)
    with console.status("verifying the audit chain"):
        count = db.read_sync(audit_repo.count)
        problems = db.read_sync(lambda s: verify_chain(audit_repo.iter_records(s)))
    db.close()
    if not problems:
        console.print(f"[green]audit log intact: {count} records, chain verified")
        return
    console.print(f"[red]audit log TAMPERED: {len(problems)} problem(s) in {count} records")
    for problem in problems[:50]:
        console.print(f"  record {problem.seq} (position {problem.position}): {problem.reason}", highlight=False)
    raise typer.Exit(1)


def main() -> None:
    app()
