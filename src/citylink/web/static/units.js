// The mobile units on the situation board: fire engines, ambulances and patrol cars where they last reported,
// one small square marker each (a letter per kind, a colour per state), live from the feed.
//
// Read once from /api/v1/units when the board starts (centre roles get every unit, an agency its own), then kept
// by the feed's `unit.changed` (registered, moved, dispatched…) and `unit.removed`. Drawn as DOM markers in
// their own pane: above the camera dots, below new and selected incidents; a unit without a position is kept
// (it may report one later) but not drawn.

import { escapeHtml, onLangChange, t } from './i18n.js';

export const UNIT_KINDS = ['fire_engine', 'ambulance', 'patrol_car'];
export const UNIT_STATES = ['available', 'dispatched', 'busy', 'off_duty'];

const units = {
  map: null,
  call: null,
  layer: null, // every unit marker; on the map unless the operator hid the units
  shown: true,
  all: new Map(), // id → unit (as the API gives it)
  markers: new Map(), // id → L.marker
  // While the list is read, the feed may already say more: what it said since the read began wins.
  streamed: new Set(),
  removed: new Set(),
  loading: 0,
  legends: new Set(), // legend elements whose toggle follows `shown`
};

/** The pane and layer for units on the board's map. `call` is the board's API call. */
export function initUnitLayer(map, { call }) {
  units.map = map;
  units.call = call;
  // Above the cameras (390) and the selection ring (420); the incidents' canvas is 430, but a canvas takes
  // every pointer event over it, so units sit just above it to keep their tooltips. New and selected incidents
  // are DOM markers in the marker pane (600), above the units.
  map.createPane('units').style.zIndex = 435;
  units.layer = L.layerGroup();
  if (units.shown) units.layer.addTo(map);
  onLangChange(refreshUnits);
}

/** Read every unit the signed-in user may see, replacing whatever was drawn (a login may be another agency's). */
export async function loadUnits() {
  if (!units.layer) return;
  const generation = ++units.loading;
  units.streamed.clear();
  units.removed.clear();
  const { data } = await units.call('/api/v1/units');
  if (generation !== units.loading) return; // a newer read is under way
  const listed = Array.isArray(data?.units) ? data.units : [];
  const keep = new Set();
  for (const unit of listed) {
    const id = String(unit.id);
    if (units.removed.has(id)) continue;
    keep.add(id);
    if (!units.streamed.has(id)) upsertUnit(unit, { fromList: true });
  }
  for (const id of [...units.all.keys()]) {
    if (!keep.has(id) && !units.streamed.has(id)) dropUnit(id);
  }
}

/** A unit from the feed (`unit.changed`) or the list: move and restyle its marker, or add it. */
export function upsertUnit(unit, { fromList = false } = {}) {
  if (!unit || unit.id == null || !units.layer) return;
  const id = String(unit.id);
  if (!fromList) {
    units.streamed.add(id);
    units.removed.delete(id);
  }
  units.all.set(id, unit);
  const at = placeOf(unit);
  const marker = units.markers.get(id);
  if (!at) {
    if (marker) {
      units.layer.removeLayer(marker);
      units.markers.delete(id);
    }
    return;
  }
  if (marker) {
    marker.unit = unit;
    marker.setLatLng(at);
    marker.setIcon(iconOf(unit));
    return;
  }
  const created = L.marker(at, { pane: 'units', icon: iconOf(unit), keyboard: false, riseOnHover: true });
  created.unit = unit;
  // Worked out each time it opens, so the position's age is always current.
  created.bindTooltip(() => tooltipHtml(created.unit), { direction: 'top', offset: [0, -9], className: 'unit-tooltip' });
  units.markers.set(id, created);
  units.layer.addLayer(created);
}

/** A unit gone from the feed (`unit.removed`). */
export function removeUnit(id) {
  if (id == null) return;
  const key = String(id);
  units.removed.add(key);
  units.streamed.delete(key);
  dropUnit(key);
}

function dropUnit(id) {
  const marker = units.markers.get(id);
  if (marker) {
    marker.closeTooltip();
    units.layer.removeLayer(marker);
  }
  units.markers.delete(id);
  units.all.delete(id);
}

/** Redraw every marker (the language changed: the kind letters are translated). */
export function refreshUnits() {
  for (const marker of units.markers.values()) marker.setIcon(iconOf(marker.unit));
}

/** Show or hide the units layer. */
export function setUnitsShown(shown) {
  units.shown = Boolean(shown);
  if (units.map && units.layer) {
    if (units.shown) units.layer.addTo(units.map);
    else units.layer.remove();
  }
  for (const legend of units.legends) {
    const box = legend.querySelector('[data-testid=units-toggle]');
    if (box) box.checked = units.shown;
  }
}

// --- drawing --------------------------------------------------------------------------------------------

function placeOf(unit) {
  const loc = unit.location;
  if (!loc) return null;
  const lat = Number(loc.lat);
  const lon = Number(loc.lon);
  return Number.isFinite(lat) && Number.isFinite(lon) ? [lat, lon] : null;
}

const kindOf = (unit) => (UNIT_KINDS.includes(unit.kind) ? unit.kind : 'other');
const stateOf = (unit) => (UNIT_STATES.includes(unit.state) ? unit.state : 'unknown');

function label(key, fallback) {
  const text = t(key);
  return text === key ? String(fallback ?? '').replace(/_/g, ' ') : text;
}

export const kindLabel = (kind) => label(`units.kind.${kind}`, kind);
export const stateLabel = (state) => label(`units.state.${state}`, state);
const glyphOf = (kind) => label(`units.glyph.${kind}`, '?').slice(0, 2);

function iconOf(unit) {
  const kind = kindOf(unit);
  const state = stateOf(unit);
  const [lat, lon] = placeOf(unit) || [];
  const html = `<div class="unit unit-${kind} unit-${state}" data-testid="unit-marker" data-id="${escapeHtml(unit.id)}"`
    + ` data-kind="${escapeHtml(kind)}" data-state="${escapeHtml(state)}" data-lat="${lat}" data-lon="${lon}"`
    + ` aria-label="${escapeHtml(`${unit.name || unit.id} · ${kindLabel(kind)} · ${stateLabel(state)}`)}">`
    + `${escapeHtml(glyphOf(kind))}</div>`;
  return L.divIcon({ className: 'unit-icon', html, iconSize: [18, 18], iconAnchor: [9, 9] });
}

/** "just now", "2 min ago", "3 h ago", "2 d ago" for an ISO time; '' if there is none. */
export function ageText(iso, now = Date.now()) {
  if (!iso) return '';
  const at = new Date(iso).getTime();
  if (!Number.isFinite(at)) return '';
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 45) return t('units.age.now');
  if (s < 90 * 60) return t('units.age.min', { n: Math.max(1, Math.round(s / 60)) });
  if (s < 36 * 3600) return t('units.age.h', { n: Math.round(s / 3600) });
  return t('units.age.d', { n: Math.round(s / 86400) });
}

function tooltipHtml(unit) {
  if (!unit) return '';
  const kind = kindOf(unit);
  const state = stateOf(unit);
  const age = ageText(unit.position_at);
  const position = age ? t('units.position_age', { age }) : t('units.position_unknown');
  const incident = unit.incident_id != null && unit.incident_id !== ''
    ? ` · ${escapeHtml(t('units.incident', { id: unit.incident_id }))}` : '';
  return `<div data-testid="unit-tooltip"><b>${escapeHtml(unit.name || unit.id)}</b> <span class="unit-agency">${escapeHtml(unit.agency || '')}</span>`
    + `<br>${escapeHtml(kindLabel(kind))} · <span class="unit-state-text unit-state-${state}">${escapeHtml(stateLabel(state))}</span>${incident}`
    + `<br><span class="unit-age" data-testid="unit-age">${escapeHtml(position)}</span></div>`;
}

// --- the legend -----------------------------------------------------------------------------------------

/** The legend's units part: a toggle, the kinds (their letters) and the states (their colours). */
export function unitLegendHtml() {
  return `<span class="legend-break" aria-hidden="true"></span>`
    + `<label class="legend-item legend-toggle"><input type="checkbox" data-testid="units-toggle"${units.shown ? ' checked' : ''}>`
    + `<b>${escapeHtml(t('units.legend'))}</b></label>`
    + UNIT_KINDS.map((k) => `<span class="legend-item"><i class="unit unit-key unit-${k}">${escapeHtml(glyphOf(k))}</i>${escapeHtml(kindLabel(k))}</span>`).join('')
    + ['available', 'dispatched', 'busy', 'off_duty'].map((s) => `<span class="legend-item"><i class="unit-swatch unit-${s}"></i>${escapeHtml(stateLabel(s))}</span>`).join('');
}

/** Hook the legend's units toggle up (call after each time the legend is drawn). */
export function bindUnitLegend(element) {
  units.legends.add(element);
  const box = element.querySelector('[data-testid=units-toggle]');
  if (box) box.addEventListener('change', () => setUnitsShown(box.checked));
}

// A handle for tests: where a unit's marker is, or null.
export function unitOnMap(id) {
  const marker = units.markers.get(String(id));
  if (!marker || !units.layer.hasLayer(marker)) return null;
  const { lat, lng } = marker.getLatLng();
  return { lat, lon: lng, state: marker.unit.state, shown: units.shown };
}
