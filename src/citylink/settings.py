"""Settings: a pydantic-settings tree, passed in, never imported as a global.

Environment variables use the prefix CITYLINK_ and `__` between levels, e.g. CITYLINK_GRANTS__MAX_DURATION_S.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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


class GrantSettings(_Section):
    max_duration_s: int = Field(default=7200, ge=60, le=86_400, description="longest life of a video grant")
    issuer: str = Field(default="citylink", description="JWT issuer claim")


class ServiceSettings(_Section):
    violent_crimes: tuple[str, ...] = Field(
        default=DEFAULT_VIOLENT_CRIMES,
        description="112UC001 crime types (detail code or CRIME_TYPE item) that get video; an event without a "
        "crime type is treated as eligible",
    )
    personal_item_keys: tuple[str, ...] = Field(
        default=("PERSON_NAME", "PERSON_REF", "GUARDIAN_NAME", "GUARDIAN_PHONE", "PHONE", "PLATE", "VEHICLE_NO"),
        description="event item keys that carry personal data: kept in the store, masked in logs and the stream",
    )


class NotifySettings(_Section):
    guardian_webhook_url: str | None = Field(
        default=None, description="gateway (SMS/push) that receives guardian notifications as JSON POSTs")
    max_attempts: int = Field(default=8, ge=1, le=100, description="delivery attempts before giving up")
    backoff_base_s: float = Field(default=1.0, gt=0, description="first retry delay; doubles each attempt")
    timeout_s: float = Field(default=5.0, gt=0, description="per-delivery HTTP timeout")


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
    tile_url: str | None = Field(default=None, description="optional online tile layer for connected sites, "
                                 "e.g. https://tiles.example/{z}/{x}/{y}.png; none by default (closed networks)")
    stream_replay: int = Field(default=10_000, ge=0, description="stream messages kept for Last-Event-ID replay")
    selection: SelectionSettings = SelectionSettings()
    grants: GrantSettings = GrantSettings()
    services: ServiceSettings = ServiceSettings()
    notify: NotifySettings = NotifySettings()

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'citylink.db').resolve()}"
