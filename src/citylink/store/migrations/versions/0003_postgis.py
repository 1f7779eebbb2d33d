"""PostGIS geography columns for cameras and incidents (PostgreSQL only)

The columns are generated from lon/lat (and the incident's GeoJSON area), so the database keeps them in
sync and the application never writes them; the ORM models do not map them. On SQLite this is a no-op.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The ORM writes a missing area as JSON null or SQL NULL; either way there is no area geography.
_AREA = "(CASE WHEN json_typeof(area) = 'object' THEN ST_GeomFromGeoJSON(area::text)::geography END)"
_POINT = "(ST_SetSRID(ST_MakePoint(lon, lat), 4326)::geography(Point, 4326))"


def _on_postgresql() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    if not _on_postgresql():
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    op.execute(f"ALTER TABLE cameras ADD COLUMN geog geography(Point, 4326) GENERATED ALWAYS AS {_POINT} STORED")
    op.execute(f"ALTER TABLE incidents ADD COLUMN geog geography(Point, 4326) GENERATED ALWAYS AS {_POINT} STORED")
    op.execute(f"ALTER TABLE incidents ADD COLUMN area_geog geography GENERATED ALWAYS AS {_AREA} STORED")
    op.execute("CREATE INDEX ix_cameras_geog ON cameras USING gist (geog)")
    op.execute("CREATE INDEX ix_incidents_geog ON incidents USING gist (geog)")
    op.execute("CREATE INDEX ix_incidents_area_geog ON incidents USING gist (area_geog)")


def downgrade() -> None:
    if not _on_postgresql():
        return
    # Dropping a column drops its index. The extension stays: other schemas may use it, and dropping it
    # needs more privilege than creating it when it was already there.
    op.execute("ALTER TABLE incidents DROP COLUMN area_geog")
    op.execute("ALTER TABLE incidents DROP COLUMN geog")
    op.execute("ALTER TABLE cameras DROP COLUMN geog")
