"""What the board needs besides incidents: the city's settings and its base map."""

from __future__ import annotations

import gzip
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response

from citylink.api.deps import PlatformDep, PrincipalDep
from citylink.runtime.platform import Platform

router = APIRouter(tags=["board"])

OSM_ATTRIBUTION = "© OpenStreetMap contributors"


@router.get("/config")
async def config(platform: PlatformDep, _: PrincipalDep) -> dict[str, Any]:
    settings = platform.settings
    basemap = await platform.run_blocking(platform.basemap)
    bbox = basemap.bbox if basemap else platform.index.bounds()
    center = {"lon": (bbox[0] + bbox[2]) / 2, "lat": (bbox[1] + bbox[3]) / 2} if bbox else None
    return {"city": settings.city_code, "timezone": settings.timezone, "center": center,
            "bbox": list(bbox) if bbox else None, "tile_url": settings.tile_url,
            "attribution": OSM_ATTRIBUTION if basemap else ""}


@router.get("/basemap", response_model=None)
async def basemap(request: Request, platform: PlatformDep, _: PrincipalDep) -> Response:
    """Roads, rail, buildings, water and parks of the city's OSM extract as GeoJSON (gzip when accepted)."""
    return await basemap_response(request, platform)


async def basemap_response(request: Request, platform: Platform) -> Response:
    drawn = await platform.run_blocking(platform.basemap)
    body = orjson.dumps(drawn.geojson if drawn else {"type": "FeatureCollection", "features": []})
    headers = {"Cache-Control": "private, max-age=3600"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = await platform.run_blocking(gzip.compress, body, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type="application/geo+json", headers=headers)
