"""Road networks for the routing tests: the real Helsinki extract, and small constructed maps as OSM XML."""

from __future__ import annotations

import math
from functools import cache
from pathlib import Path
from xml.sax.saxutils import quoteattr

import numpy as np
from scipy.sparse import csgraph, csr_matrix

from citylink.geo.distance import EARTH_RADIUS_M, FloatArray
from citylink.geo.road_profiles import Profile
from citylink.geo.roads import RoadNetwork, import_road_network
from citylink.geo.routing import Router
from citylink.geo.snapping import Snap

REPO = Path(__file__).resolve().parents[2]
HELSINKI_PBF = REPO / "data" / "helsinki.osm.pbf"
MONTEVIDEO_PBF = REPO / "data" / "montevideo-drive.osm.pbf"

# Hand-checked places in central Helsinki, (lon, lat) on or next to a street.
RAUTATIENTORI = (24.9436, 60.1711)
SENAATINTORI = (24.9522, 60.1694)
KAMPPI = (24.9375, 60.1680)  # Annankatu / Yrjönkatu
BULEVARDI = (24.9380, 60.1645)

# Simonkatu between Mannerheimintie and Kamppi: one-way (oneway=yes), 143 m, tertiary.
SIMONKATU_WAY = 51707741


@cache
def helsinki(profile: Profile = Profile.CAR) -> RoadNetwork:
    """Shared by the tests, which must not change it (a Router's traffic lives in the Router)."""
    return import_road_network(HELSINKI_PBF, profile)


def metres_to_lonlat(origin: tuple[float, float], east_m: float, north_m: float) -> tuple[float, float]:
    """A point east_m/north_m from origin on the local tangent plane (fine for a few kilometres)."""
    lon0, lat0 = origin
    lat = lat0 + math.degrees(north_m / EARTH_RADIUS_M)
    lon = lon0 + math.degrees(east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat0))))
    return lon, lat


def write_osm(path: Path, nodes: dict[int, tuple[float, float]], ways: list[tuple[int, list[int], dict[str, str]]],
              node_tags: dict[int, dict[str, str]] | None = None) -> Path:
    """An OSM XML file with these nodes (id → lon, lat) and ways (id, node ids, tags)."""
    node_tags = node_tags or {}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<osm version="0.6" generator="citylink tests">']
    for node_id, (lon, lat) in nodes.items():
        tags = "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in node_tags.get(node_id, {}).items())
        lines.append(f'<node id="{node_id}" version="1" lat="{lat:.8f}" lon="{lon:.8f}">{tags}</node>')
    for way_id, refs, way_tags in ways:
        body = "".join(f'<nd ref="{ref}"/>' for ref in refs)
        body += "".join(f"<tag k={quoteattr(k)} v={quoteattr(v)}/>" for k, v in way_tags.items())
        lines.append(f'<way id="{way_id}" version="1">{body}</way>')
    lines.append("</osm>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def dijkstra_times(net: RoadNetwork, weights: FloatArray, starts: list[tuple[int, float]],
                   limit_s: float = math.inf) -> FloatArray:
    """The tests' reference answer from another engine, scipy's Dijkstra: a virtual node n with an edge to each
    start (node, seconds to reach it), then every node's time from it."""
    n = net.n_nodes
    graph = csr_matrix(
        (np.concatenate((weights, [cost for _, cost in starts])),
         np.concatenate((net.edge_to, [node for node, _ in starts])),
         np.append(net.edge_ptr, net.edge_ptr[-1] + len(starts))),
        shape=(n + 1, n + 1),
    )
    return np.asarray(csgraph.dijkstra(graph, indices=n, limit=limit_s)[:-1])


def dijkstra_from(router: Router, origin: Snap) -> FloatArray:
    """Every node's time from a snapped point by scipy's Dijkstra, with the router's weights now."""
    net, weights = router.network, router.edge_time_s
    starts = []
    for e, o in origin.placements():
        share = 1.0 - o / float(net.edge_length_m[e])
        starts.append((int(net.edge_to[e]), float(weights[e]) * share if share > 0 else 0.0))
    return dijkstra_times(net, weights, starts)
