"""A city's road network for routing: imported once from an OSM PBF, kept as numpy arrays, saved as .npz.

The graph is turn-free and directed. Its **nodes** are the junctions, dead ends and traffic signals; a
**link** is the piece of one OSM way between two nodes, a polyline; each direction a profile may travel a
link is an **edge**. Edges are sorted by their from-node, so an edge's id is its position in the CSR
adjacency (``edge_ptr``) and a scipy sparse matrix is built on load without sorting anything.

Link polylines are laid end to end on one axis, the *chainage* (``shape_chain_m``: metres along the links,
with a 1 m gap between links so no two links share a value). Any piece of any link is then a
``searchsorted`` plus an ``interp`` over the whole array, which slices thousands of pieces at once.

The extract may be clipped: a way's reference to a node that is not in the file splits the way there, and
the segments touching the missing node are dropped.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import osmium

from citylink.geo.distance import EARTH_RADIUS_M, FloatArray
from citylink.geo.road_profiles import Profile, WayRules, way_rules

FORMAT_VERSION = 1
LINK_GAP_M = 1.0
MIN_EDGE_TIME_S = 1e-3  # no road takes no time; csgraph's dense inputs would also read a 0 as "no edge"

IntArray = npt.NDArray[np.int32]
Int64Array = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Float32Array = npt.NDArray[np.float32]
StrArray = npt.NDArray[np.str_]


@dataclass(frozen=True, slots=True)
class ImportStats:
    ways: int  # ways in the network
    ways_refused: int  # ways with a highway tag the profile does not travel
    missing_refs: int  # references to nodes not in the file (a clipped extract)
    signals: int  # highway=traffic_signals nodes in the file
    signals_on_network: int


@dataclass(frozen=True, slots=True, eq=False)
class RoadNetwork:
    profile: Profile
    source: str  # the file it was imported from (name only)
    stats: ImportStats
    # nodes
    node_lon: FloatArray
    node_lat: FloatArray
    node_osm_id: Int64Array
    node_signal: BoolArray
    # edges, sorted by edge_from; edges out of node u are edge_ptr[u]:edge_ptr[u + 1]
    edge_ptr: IntArray
    edge_from: IntArray
    edge_to: IntArray
    edge_link: IntArray
    edge_forward: BoolArray  # True when the edge runs in its link's digitising order
    edge_length_m: Float32Array
    edge_speed_kmh: Float32Array
    edge_time_s: Float32Array
    # links: a polyline each, vertices link_shape_ptr[l]:link_shape_ptr[l + 1] of the shape arrays
    link_way: IntArray
    link_shape_ptr: IntArray
    shape_lon: FloatArray
    shape_lat: FloatArray
    shape_chain_m: FloatArray
    # ways: the OSM id (the original one, from an "@id" tag where the file was rebuilt), class, name
    way_osm_id: Int64Array
    way_class: IntArray  # index into class_names
    way_name: IntArray  # index into names, -1 for none
    class_names: StrArray
    names: StrArray

    @property
    def n_nodes(self) -> int:
        return int(self.node_lon.shape[0])

    @property
    def n_edges(self) -> int:
        return int(self.edge_from.shape[0])

    def link_chain0_m(self, links: IntArray) -> FloatArray:
        """Chainage of the first vertex of each of links."""
        return self.shape_chain_m[self.link_shape_ptr[links]]

    def edge_name(self, edge: int) -> str:
        return self.edge_names(np.array([edge]))[0]

    def edge_class(self, edge: int) -> str:
        return self.edge_classes(np.array([edge]))[0]

    def edge_names(self, edges: IntArray) -> list[str]:
        """The street name of each edge ("" for an unnamed road)."""
        name = self.way_name[self.link_way[self.edge_link[edges]]]
        names: list[str] = np.where(name >= 0, self.names[np.maximum(name, 0)], "").tolist()
        return names

    def edge_classes(self, edges: IntArray) -> list[str]:
        classes: list[str] = self.class_names[self.way_class[self.link_way[self.edge_link[edges]]]].tolist()
        return classes

    def edges_of_way(self, osm_way_id: int) -> IntArray:
        """Every edge (both directions, all pieces) of one OSM way, e.g. to apply a traffic report to it."""
        ways = np.flatnonzero(self.way_osm_id == osm_way_id)
        links = np.flatnonzero(np.isin(self.link_way, ways))
        return np.flatnonzero(np.isin(self.edge_link, links)).astype(np.int32)

    def edge_chain_m(self, edges: IntArray, offset_m: FloatArray) -> FloatArray:
        """The chainage of points offset_m metres along edges (in each edge's direction of travel)."""
        length = self.edge_length_m[edges].astype(np.float64)
        along_link = np.where(self.edge_forward[edges], offset_m, length - offset_m)
        return np.asarray(self.link_chain0_m(self.edge_link[edges]) + along_link, dtype=np.float64)

    def edge_coords(self, edges: IntArray, start_m: FloatArray, end_m: FloatArray) -> tuple[FloatArray, IntArray]:
        """Polylines of pieces of edges, from start_m to end_m along each edge's direction of travel.

        Returns (k, 2) lon/lat vertices and, for each vertex, the index of its piece; a piece has its two
        end points plus every link vertex strictly between them.
        """
        return self.chain_coords(self.edge_chain_m(edges, start_m), self.edge_chain_m(edges, end_m))

    def chain_coords(self, a: FloatArray, b: FloatArray) -> tuple[FloatArray, IntArray]:
        """Polylines from chainage a to chainage b (backwards along the link where b < a), as edge_coords."""
        chain = self.shape_chain_m
        lo, hi = np.minimum(a, b), np.maximum(a, b)
        first = np.searchsorted(chain, lo, side="right")
        inner = np.maximum(np.searchsorted(chain, hi, side="left") - first, 0)
        counts = inner + 2
        piece = np.repeat(np.arange(a.shape[0], dtype=np.int32), counts)
        k = np.arange(piece.shape[0]) - np.repeat(np.cumsum(counts) - counts, counts)  # position in the piece
        inner_k = np.clip(k - 1, 0, None)
        vertex = np.where(np.repeat(b >= a, counts), np.repeat(first, counts) + inner_k,
                          np.repeat(first + inner - 1, counts) - inner_k)
        at = np.where(k == 0, np.repeat(a, counts),
                      np.where(k == np.repeat(counts - 1, counts), np.repeat(b, counts),
                               chain[np.clip(vertex, 0, chain.shape[0] - 1)]))
        lon = np.interp(at, chain, self.shape_lon)
        lat = np.interp(at, chain, self.shape_lat)
        return np.column_stack((lon, lat)), piece

    def save(self, path: Path) -> None:
        """Write the network as an uncompressed .npz (loads by reading arrays, nothing to parse)."""
        arrays = {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), np.ndarray)}
        meta = {"format": FORMAT_VERSION, "profile": str(self.profile), "source": self.source,
                "stats": {f.name: getattr(self.stats, f.name) for f in fields(self.stats)}}
        with path.open("wb") as out:
            np.savez(out, meta=np.array(json.dumps(meta)), **arrays)

    @classmethod
    def load(cls, path: Path) -> RoadNetwork:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            if meta.get("format") != FORMAT_VERSION:
                raise ValueError(f"{path}: road network format {meta.get('format')}, expected {FORMAT_VERSION}")
            arrays: dict[str, Any] = {name: npz[name] for name in npz.files if name != "meta"}
        return cls(profile=Profile(meta["profile"]), source=meta["source"], stats=ImportStats(**meta["stats"]),
                   **arrays)


# -- import ------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Way:
    osm_id: int
    rules: WayRules
    name: str
    runs: list[list[int]]  # stretches of consecutive node ids that are all in the file


def _osm_id(obj: osmium.osm.Way) -> int:
    # A file rebuilt from vector tiles carries synthetic ids and the real one in "@id".
    original = obj.tags.get("@id")
    return int(original) if original is not None and original.lstrip("-").isdigit() else int(obj.id)


def _read(path: Path, profile: Profile) -> tuple[dict[int, tuple[float, float]], set[int], list[_Way], int, int]:
    """Node positions, signal node ids, the profile's ways, refused ways and missing node references.

    Positions are kept by hand rather than with pyosmium's location index, which drops negative node ids
    (files rebuilt from other sources use them).
    """
    locations: dict[int, tuple[float, float]] = {}
    signals: set[int] = set()
    ways: list[_Way] = []
    refused = missing = 0
    for obj in osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY):
        if isinstance(obj, osmium.osm.Node):
            if obj.location.valid():
                locations[obj.id] = (obj.location.lon, obj.location.lat)
                if obj.tags.get("highway") == "traffic_signals":
                    signals.add(obj.id)
            continue
        if not isinstance(obj, osmium.osm.Way) or "highway" not in obj.tags:
            continue
        rules = way_rules(profile, {tag.k: tag.v for tag in obj.tags})
        if rules is None:
            refused += 1
            continue
        runs: list[list[int]] = [[]]
        for ref in (n.ref for n in obj.nodes):
            if ref in locations:
                runs[-1].append(ref)
            else:
                missing += 1
                runs.append([])
        runs = [run for run in runs if len(run) >= 2]
        if runs:
            ways.append(_Way(_osm_id(obj), rules, obj.tags.get("name") or "", runs))
    return locations, signals, ways, refused, missing


def import_road_network(path: Path, profile: Profile = Profile.CAR) -> RoadNetwork:
    """Build the profile's network from an OSM PBF (or .osm XML) file."""
    locations, signals, ways, refused, missing = _read(path, profile)
    # A vertex becomes a node where ways meet or end, where a way touches itself, and at signals.
    uses: Counter[int] = Counter()
    for way in ways:
        for run in way.runs:
            uses.update(run)
            uses[run[0]] += 1
            uses[run[-1]] += 1
    node_of: dict[int, int] = {}
    shape_refs: list[int] = []
    link_ptr = [0]
    link_way: list[int] = []
    link_ends: list[tuple[int, int]] = []
    for w, way in enumerate(ways):
        for run in way.runs:
            start = 0
            for i in range(1, len(run)):
                ref = run[i]
                if uses[ref] >= 2 or ref in signals or i == len(run) - 1:
                    shape_refs.extend(run[start : i + 1])
                    link_ptr.append(len(shape_refs))
                    link_way.append(w)
                    tail = node_of.setdefault(run[start], len(node_of))
                    link_ends.append((tail, node_of.setdefault(ref, len(node_of))))
                    start = i
    if not link_way:
        raise ValueError(f"{path} has no ways for the {profile} profile")
    return _assemble(path, profile, locations, signals, ways, node_of, shape_refs, link_ptr, link_way,
                     link_ends, ImportStats(len(ways), refused, missing, len(signals), 0))


def _assemble(
    path: Path, profile: Profile, locations: dict[int, tuple[float, float]], signals: set[int], ways: list[_Way],
    node_of: dict[int, int], shape_refs: list[int], link_ptr: list[int], link_way_list: list[int],
    link_ends: list[tuple[int, int]], stats: ImportStats,
) -> RoadNetwork:
    shape = np.array([locations[ref] for ref in shape_refs], dtype=np.float64)
    shape_ptr = np.array(link_ptr, dtype=np.int32)
    n_links = len(link_way_list)
    # Chainage: each segment's great-circle length, with the step between two links set to LINK_GAP_M.
    step = np.zeros(shape.shape[0])
    step[1:] = _segment_lengths(shape)
    step[shape_ptr[1:-1]] = LINK_GAP_M
    chain = np.cumsum(step)
    link_length = chain[shape_ptr[1:] - 1] - chain[shape_ptr[:-1]]

    link_way = np.array(link_way_list, dtype=np.int32)
    ends = np.array(link_ends, dtype=np.int32).reshape(n_links, 2)
    forward_ok = np.array([ways[w].rules.forward for w in link_way_list], dtype=np.bool_)
    backward_ok = np.array([ways[w].rules.backward for w in link_way_list], dtype=np.bool_)
    speed = np.array([ways[w].rules.speed_kmh for w in link_way_list], dtype=np.float64)
    links = np.concatenate((np.flatnonzero(forward_ok), np.flatnonzero(backward_ok))).astype(np.int32)
    forward = np.concatenate((np.ones(int(forward_ok.sum()), np.bool_), np.zeros(int(backward_ok.sum()), np.bool_)))
    edge_from = np.where(forward, ends[links, 0], ends[links, 1])
    edge_to = np.where(forward, ends[links, 1], ends[links, 0])
    order = np.argsort(edge_from, kind="stable")
    links, forward, edge_from, edge_to = links[order], forward[order], edge_from[order], edge_to[order]
    n_nodes = len(node_of)
    edge_ptr = np.zeros(n_nodes + 1, dtype=np.int32)
    np.cumsum(np.bincount(edge_from, minlength=n_nodes), out=edge_ptr[1:])
    length = link_length[links]
    edge_speed = speed[links]
    time_s = np.maximum(length / (edge_speed / 3.6), MIN_EDGE_TIME_S)

    node_refs = np.empty(n_nodes, dtype=np.int64)
    for ref, index in node_of.items():
        node_refs[index] = ref
    node_xy = np.array([locations[int(ref)] for ref in node_refs], dtype=np.float64).reshape(n_nodes, 2)
    node_signal = np.isin(node_refs, np.fromiter(signals, dtype=np.int64, count=len(signals)))
    classes = sorted({way.rules.road_class for way in ways})
    names = sorted({way.name for way in ways if way.name})
    class_index = {c: i for i, c in enumerate(classes)}
    name_index = {n: i for i, n in enumerate(names)}
    return RoadNetwork(
        profile=profile,
        source=path.name,
        stats=ImportStats(stats.ways, stats.ways_refused, stats.missing_refs, stats.signals, int(node_signal.sum())),
        node_lon=node_xy[:, 0].copy(),
        node_lat=node_xy[:, 1].copy(),
        node_osm_id=node_refs,
        node_signal=node_signal,
        edge_ptr=edge_ptr,
        edge_from=edge_from.astype(np.int32),
        edge_to=edge_to.astype(np.int32),
        edge_link=links,
        edge_forward=forward,
        edge_length_m=length.astype(np.float32),
        edge_speed_kmh=edge_speed.astype(np.float32),
        edge_time_s=time_s.astype(np.float32),
        link_way=link_way,
        link_shape_ptr=shape_ptr,
        shape_lon=shape[:, 0].copy(),
        shape_lat=shape[:, 1].copy(),
        shape_chain_m=chain,
        way_osm_id=np.array([way.osm_id for way in ways], dtype=np.int64),
        way_class=np.array([class_index[way.rules.road_class] for way in ways], dtype=np.int32),
        way_name=np.array([name_index[way.name] if way.name else -1 for way in ways], dtype=np.int32),
        class_names=np.array(classes, dtype=np.str_),
        names=np.array(names if names else [""], dtype=np.str_),
    )


def _segment_lengths(shape: FloatArray) -> FloatArray:
    """Great-circle length of each step between consecutive vertices (shape[i-1] → shape[i])."""
    lon, lat = np.radians(shape[:, 0]), np.radians(shape[:, 1])
    dlat, dlon = np.diff(lat), np.diff(lon)
    a = np.sin(dlat / 2) ** 2 + np.cos(lat[:-1]) * np.cos(lat[1:]) * np.sin(dlon / 2) ** 2
    return np.asarray(2 * EARTH_RADIUS_M * np.arcsin(np.minimum(1.0, np.sqrt(a))), dtype=np.float64)
