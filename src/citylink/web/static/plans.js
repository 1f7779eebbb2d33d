// An incident's plans on the situation board: the dispatch plan (units and stations ranked by road ETA, their
// routes, the cameras and traffic signals on them, hydrants and hazards at the scene) and the escape-route
// cordon (the roads reachable within minutes, their exits and the cameras to watch next).
//
// The plans come with the incident's detail (`plans.dispatch`, `plans.cordon`); the cordon's road network is
// read from /api/v1/incidents/{id}/cordon once per computed plan. Drawn in SVG so each shape can be styled
// (and found) by its class; everything drawn belongs to one incident and goes when another is selected.

import { escapeHtml, formatTime, t } from './i18n.js';

const WATER_KINDS = new Set(['fire_hydrant', 'water_source']);
const TIER_KEYS = { sees: 1, can_turn: 2, nearby: 3 };
const ROUTE_COLOUR = '#c2255c';
const ALT_COLOUR = '#7048e8';

const plans = {
  map: null,
  call: null,
  cameraAt: () => null,
  layer: null, // everything drawn for the selected incident
  lines: null, // SVG renderer above the incident dots: routes and small markers
  area: null, // SVG renderer below the camera cones: the cordon's roads
  reach: new Map(), // `${incident}|${computed_at}|${minutes}|${mode}` → FeatureCollection, or null (not available)
  pending: new Set(),
  incidentId: null,
  reachKey: null, // the cordon drawn now, so a late answer for an older plan is not drawn over it
};

/** The panes, renderers and layer group for plans on the board's map. `call` is the board's API call;
 * `cameraAt(id)` the register's camera (with lat, lon) or undefined. */
export function initPlanLayers(map, { call, cameraAt }) {
  plans.map = map;
  plans.call = call;
  plans.cameraAt = cameraAt;
  map.createPane('planArea').style.zIndex = 375;
  map.createPane('plans').style.zIndex = 440;
  plans.area = L.svg({ pane: 'planArea', padding: 0.3 });
  plans.lines = L.svg({ pane: 'plans', padding: 0.3 });
  plans.layer = L.layerGroup().addTo(map);
}

/** m:ss for a number of seconds (1:05, 12:40). */
export function minSec(seconds) {
  const total = Math.max(0, Math.round(Number(seconds) || 0));
  return `${Math.floor(total / 60)}:${String(total % 60).padStart(2, '0')}`;
}

const km = (m) => `${((Number(m) || 0) / 1000).toFixed(2)} km`;

function plansOf(detail) {
  const p = detail && detail.plans && typeof detail.plans === 'object' ? detail.plans : {};
  return { dispatch: p.dispatch || null, cordon: p.cordon || null };
}

function kindLabel(kind) {
  const key = `plans.nearby.${kind}`;
  const label = t(key);
  return label === key ? String(kind || '').replace(/_/g, ' ') : label;
}

function tierOf(tier) {
  if (typeof tier === 'number') return tier;
  return TIER_KEYS[tier] || Number(tier) || 3;
}

// --- the map --------------------------------------------------------------------------------------------

/** Remove every shape drawn for an incident. */
export function clearPlans() {
  plans.incidentId = null;
  plans.reachKey = null;
  if (plans.layer) plans.layer.clearLayers();
}

/**
 * Draw the incident's plans (replacing whatever was drawn). Returns the points worth keeping in view
 * (where the ranked units start), as [lat, lon].
 */
export function drawPlans(detail) {
  clearPlans();
  if (!detail || !plans.layer) return [];
  plans.incidentId = String(detail.id);
  const { dispatch, cordon } = plansOf(detail);
  const points = [];
  if (cordon) drawCordon(detail, cordon);
  if (dispatch) points.push(...drawDispatch(dispatch));
  return points;
}

function latLngsOf(line) {
  if (!line || !Array.isArray(line.coordinates)) return [];
  if (line.type === 'LineString') return line.coordinates.map(([lon, lat]) => [lat, lon]);
  if (line.type === 'MultiLineString') return line.coordinates.map((part) => part.map(([lon, lat]) => [lat, lon]));
  return [];
}

function drawDispatch(dispatch) {
  const layer = plans.layer;
  const renderer = plans.lines;
  const ranked = Array.isArray(dispatch.ranked) ? dispatch.ranked : [];
  const points = [];
  // The others first, thin and dashed, so the fastest lies on top of them.
  ranked.slice(1).forEach((unit, i) => {
    const line = latLngsOf(unit.route);
    if (!line.length) return;
    L.polyline(line, { renderer, interactive: false, className: 'plan-route plan-route-alt', color: ALT_COLOUR,
      weight: 3, opacity: 0.8, dashArray: '7 6', lineCap: 'round' }).addTo(layer);
    addUnitMarker(unit, i + 2);
  });
  const best = ranked[0];
  if (best) {
    const line = latLngsOf(best.route);
    if (line.length) {
      L.polyline(line, { renderer, interactive: false, className: 'plan-route-casing', color: '#fff', weight: 9,
        opacity: 0.85, lineCap: 'round', lineJoin: 'round' }).addTo(layer);
      L.polyline(line, { renderer, interactive: false, className: 'plan-route plan-route-best', color: ROUTE_COLOUR,
        weight: 5.5, opacity: 0.95, lineCap: 'round', lineJoin: 'round' }).addTo(layer);
    }
    for (const c of best.cameras || []) {
      const camera = plans.cameraAt(c.id);
      if (!camera) continue;
      L.circleMarker([camera.lat, camera.lon], { renderer, className: 'plan-camera', radius: 8, color: ROUTE_COLOUR,
        weight: 2.5, fill: true, fillOpacity: 0, dashArray: null })
        .bindTooltip(escapeHtml(t('plans.map.route_camera', { name: c.name || camera.name || c.id,
          eta: `+${minSec(c.eta_s)}` })), { direction: 'top' })
        .addTo(layer);
    }
    (best.signals || []).forEach((s, i) => {
      L.circleMarker([s.lat, s.lon], { renderer, className: 'plan-signal', radius: 4.5, color: '#111', weight: 1.5,
        fillColor: '#fcc419', fillOpacity: 1 })
        .bindTooltip(t('plans.map.signal', { n: i + 1, eta: `+${minSec(s.eta_s)}` }), { direction: 'top' })
        .addTo(layer);
    });
    addUnitMarker(best, 1);
  }
  for (const unit of ranked) {
    if (Number.isFinite(unit.lat) && Number.isFinite(unit.lon)) points.push([unit.lat, unit.lon]);
  }
  for (const f of dispatch.nearby || []) {
    if (!Number.isFinite(f.lat) || !Number.isFinite(f.lon)) continue;
    const water = WATER_KINDS.has(f.kind);
    const label = `${kindLabel(f.kind)}${f.name ? ` · ${f.name}` : ''} · ${Math.round(f.distance_m || 0)} m`;
    L.circleMarker([f.lat, f.lon], { renderer, className: water ? 'plan-hydrant' : 'plan-hazard',
      radius: water ? 4 : 5.5, color: water ? '#fff' : '#5c2d00', weight: water ? 1.5 : 2,
      fillColor: water ? '#1864ab' : '#f76707', fillOpacity: 1 })
      .bindTooltip(escapeHtml(label), { direction: 'top' })
      .addTo(layer);
  }
  return points;
}

function addUnitMarker(unit, rank) {
  if (!Number.isFinite(unit.lat) || !Number.isFinite(unit.lon)) return;
  const best = rank === 1;
  const html = `<div class="plan-unit${best ? ' plan-unit-best' : ''}" data-testid="plan-unit" data-id="${escapeHtml(unit.id)}">`
    + `<span class="plan-unit-rank">${rank}</span><span class="plan-unit-label">${escapeHtml(unit.name || unit.id)}`
    + ` · ${escapeHtml(minSec(unit.eta_s))}</span></div>`;
  L.marker([unit.lat, unit.lon], { keyboard: false, zIndexOffset: best ? 2500 : 2400,
    icon: L.divIcon({ className: 'plan-unit-icon', html, iconSize: null, iconAnchor: [9, 9] }) })
    .bindTooltip(escapeHtml(t('plans.map.unit', { name: unit.name || unit.id, eta: minSec(unit.eta_s),
      km: km(unit.distance_m) })), { direction: 'top', offset: [0, -8] })
    .addTo(plans.layer);
}

function reachKey(detail, cordon) {
  return `${detail.id}|${cordon.computed_at || ''}|${cordon.minutes}|${cordon.mode}`;
}

function drawCordon(detail, cordon) {
  const layer = plans.layer;
  const renderer = plans.lines;
  const key = reachKey(detail, cordon);
  plans.reachKey = key;
  if (plans.reach.has(key)) drawReach(plans.reach.get(key));
  else loadReach(detail, cordon, key);
  for (const e of cordon.exits || []) {
    if (!Number.isFinite(e.lat) || !Number.isFinite(e.lon)) continue;
    L.circleMarker([e.lat, e.lon], { renderer, className: 'plan-exit', radius: 5, color: '#fff', weight: 2,
      fillColor: '#862e9c', fillOpacity: 1 })
      .bindTooltip(escapeHtml(t('plans.map.exit', { name: e.name || t('plans.unnamed_road'), cls: e.road_class || '' })),
        { direction: 'top' })
      .addTo(layer);
  }
  for (const c of cordon.cameras || []) {
    const camera = plans.cameraAt(c.id);
    if (!camera) continue;
    L.circleMarker([camera.lat, camera.lon], { renderer, className: 'plan-watch', radius: 9, color: '#862e9c',
      weight: 3, fill: true, fillOpacity: 0 })
      .bindTooltip(escapeHtml(t('plans.map.watch', { name: c.name || camera.name || c.id, exit: c.exit || '—',
        at: minSec(c.entered_s) })), { direction: 'top' })
      .addTo(layer);
  }
}

function drawReach(reach) {
  if (!reach || !Array.isArray(reach.features)) return;
  const lines = reach.features.filter((f) => f && f.geometry
    && (f.geometry.type === 'LineString' || f.geometry.type === 'MultiLineString'));
  if (!lines.length) return;
  L.geoJSON({ type: 'FeatureCollection', features: lines }, { renderer: plans.area, interactive: false,
    style: () => ({ className: 'plan-reach', color: '#9c36b5', weight: 5, opacity: 0.24, lineCap: 'round',
      lineJoin: 'round' }) }).addTo(plans.layer);
}

/** The cordon's road network, read once per computed plan; a 409 (no road network) just draws none. */
async function loadReach(detail, cordon, key) {
  if (plans.pending.has(key)) return;
  plans.pending.add(key);
  const id = String(detail.id);
  const query = new URLSearchParams();
  if (cordon.minutes != null) query.set('minutes', String(cordon.minutes));
  if (cordon.mode) query.set('mode', String(cordon.mode));
  try {
    const { data } = await plans.call(`/api/v1/incidents/${encodeURIComponent(id)}/cordon?${query}`);
    plans.reach.set(key, data && data.reach ? data.reach : null);
  } catch {
    plans.reach.set(key, null); // no road network, or not any more: the exits and cameras still show
  } finally {
    plans.pending.delete(key);
  }
  while (plans.reach.size > 20) plans.reach.delete(plans.reach.keys().next().value);
  if (plans.incidentId === id && plans.reachKey === key) drawReach(plans.reach.get(key));
}

// --- the panel ------------------------------------------------------------------------------------------

/**
 * Fill the panel's dispatch and cordon sections (hidden when the incident has no such plan).
 * `canAdd(cameraId)` says whether a watch-next camera gets an add button; `onAddCamera(id)` adds it.
 */
export function renderPlansPanel(detail, { dispatchBox, cordonBox, selected, canAdd, onAddCamera }) {
  const { dispatch, cordon } = plansOf(detail);
  dispatchBox.hidden = !dispatch;
  cordonBox.hidden = !cordon;
  dispatchBox.dataset.computed = dispatch?.computed_at || '';
  cordonBox.dataset.computed = cordon?.computed_at || '';
  if (dispatch) dispatchBox.innerHTML = dispatchHtml(dispatch);
  else dispatchBox.replaceChildren();
  if (cordon) {
    cordonBox.innerHTML = cordonHtml(cordon, selected, canAdd);
    for (const button of cordonBox.querySelectorAll('[data-add-camera]')) {
      button.addEventListener('click', () => {
        button.disabled = true;
        onAddCamera(button.dataset.addCamera);
      });
    }
  } else {
    cordonBox.replaceChildren();
  }
}

function dispatchHtml(dispatch) {
  const ranked = Array.isArray(dispatch.ranked) ? dispatch.ranked : [];
  const kind = dispatch.kind ? t(`plans.kind.${dispatch.kind}`) : '';
  let html = `<h3>${escapeHtml(t('plans.dispatch.title'))} <span class="sub">${escapeHtml(kind)}`
    + `${dispatch.computed_at ? ` · ${escapeHtml(t('plans.computed', { at: formatTime(dispatch.computed_at) }))}` : ''}</span></h3>`;
  if (dispatch.note || !ranked.length) {
    html += `<p class="note plan-note" data-testid="dispatch-note">${escapeHtml(dispatch.note || t('plans.dispatch.none'))}</p>`;
  }
  if (ranked.length) {
    html += `<ol class="plan-list" data-testid="dispatch-ranked">${ranked.map((u, i) => `<li class="plan-row${i === 0 ? ' plan-best' : ''}"`
      + ` data-testid="dispatch-unit" data-id="${escapeHtml(u.id)}" data-rank="${i + 1}">`
      + `<span class="plan-rank">${i + 1}</span>`
      + `<div class="plan-main"><div class="plan-name">${escapeHtml(u.name || u.id)}`
      + ` <span class="plan-source">${escapeHtml(t(`plans.source.${u.source === 'station' ? 'station' : 'unit'}`))}</span></div>`
      + `<div class="plan-meta">${escapeHtml(t('plans.dispatch.meta', { road: km(u.distance_m), straight: km(u.straight_m),
        cameras: (u.cameras || []).length, signals: (u.signals || []).length }))}</div></div>`
      + `<span class="plan-eta" data-testid="dispatch-eta" title="${escapeHtml(t('plans.dispatch.eta'))}">${escapeHtml(minSec(u.eta_s))}</span>`
      + `</li>`).join('')}</ol>`;
  }
  const cannot = [...(dispatch.unreachable || []), ...(dispatch.off_network || [])];
  if (cannot.length) {
    html += `<p class="note" data-testid="dispatch-unreachable">${escapeHtml(t('plans.dispatch.unreachable',
      { names: cannot.map((f) => f.name || f.id).join(', ') }))}</p>`;
  }
  const stale = dispatch.stale_units || [];
  if (stale.length) {
    html += `<p class="note" data-testid="dispatch-stale">${escapeHtml(t('plans.dispatch.stale',
      { names: stale.map((u) => u.name || u.id).join(', ') }))}</p>`;
  }
  const best = ranked[0];
  if (best) {
    const signals = best.signals || [];
    html += `<h4>${escapeHtml(t('plans.signals.title', { name: best.name || best.id }))}</h4>`;
    html += signals.length
      ? `<ol class="plan-signals" data-testid="dispatch-signals">${signals.map((s, i) => `<li data-testid="dispatch-signal"`
        + ` data-osm="${escapeHtml(s.osm_id)}"><span class="plan-sig-dot"></span>`
        + `<span>${escapeHtml(t('plans.signals.item', { n: i + 1 }))}</span>`
        + `<span class="plan-sig-eta">+${escapeHtml(minSec(s.eta_s))}</span>`
        + `<span class="plan-sig-along">${Math.round(s.along_m || 0)} m</span></li>`).join('')}</ol>`
      : `<p class="note">${escapeHtml(t('plans.signals.none'))}</p>`;
  }
  const nearby = [...(dispatch.nearby || [])].sort((a, b) => (a.distance_m || 0) - (b.distance_m || 0));
  html += `<h4>${escapeHtml(t('plans.nearby.title'))}</h4>`;
  html += nearby.length
    ? `<ul class="plan-nearby" data-testid="dispatch-nearby">${nearby.map((f) => `<li data-testid="nearby-item"`
      + ` data-kind="${escapeHtml(f.kind)}"><i class="${WATER_KINDS.has(f.kind) ? 'plan-key-hydrant' : 'plan-key-hazard'}"></i>`
      + `<span>${escapeHtml(kindLabel(f.kind))}${f.name ? ` · ${escapeHtml(f.name)}` : ''}</span>`
      + `<span class="plan-dist">${Math.round(f.distance_m || 0)} m</span></li>`).join('')}</ul>`
    : `<p class="note">${escapeHtml(t('plans.nearby.none'))}</p>`;
  return html;
}

function cordonHtml(cordon, selected, canAdd) {
  const mode = cordon.mode ? t(`plans.mode.${cordon.mode}`) : '';
  let html = `<h3>${escapeHtml(t('plans.cordon.title'))} <span class="sub" data-testid="cordon-summary">`
    + `${escapeHtml(t('plans.cordon.summary', { minutes: cordon.minutes ?? '—', mode, km: km(cordon.length_m) }))}`
    + `${cordon.computed_at ? ` · ${escapeHtml(t('plans.computed', { at: formatTime(cordon.computed_at) }))}` : ''}</span></h3>`;
  if (cordon.note) html += `<p class="note plan-note" data-testid="cordon-note">${escapeHtml(cordon.note)}</p>`;
  const exits = cordon.exits || [];
  html += `<h4>${escapeHtml(t('plans.cordon.exits', { n: exits.length }))}</h4>`;
  html += exits.length
    ? `<ul class="plan-exits" data-testid="cordon-exits">${exits.map((e) => `<li data-testid="cordon-exit">`
      + `${escapeHtml(e.name || t('plans.unnamed_road'))}${e.road_class ? ` <small>${escapeHtml(e.road_class)}</small>` : ''}</li>`).join('')}</ul>`
    : `<p class="note">${escapeHtml(t('plans.cordon.no_exits'))}</p>`;
  const cameras = cordon.cameras || [];
  html += `<h4>${escapeHtml(t('plans.cordon.watch'))}</h4>`;
  html += cameras.length
    ? `<ol class="plan-list" data-testid="cordon-cameras">${cameras.map((c) => {
      const tier = tierOf(c.tier);
      const taken = selected.has(c.id);
      const action = taken
        ? `<span class="plan-taken" data-testid="cordon-camera-selected">✓ ${escapeHtml(t('plans.cordon.selected'))}</span>`
        : canAdd(c.id) ? `<button type="button" class="btn btn-small" data-add-camera="${escapeHtml(c.id)}"`
          + ` data-testid="cordon-add-camera">${escapeHtml(t('plans.cordon.add'))}</button>` : '';
      return `<li class="plan-row" data-testid="cordon-camera" data-id="${escapeHtml(c.id)}">`
        + `<span class="tier tier-${tier}" title="${escapeHtml(t(`cameras.tier.${tier}`))}">${tier}</span>`
        + `<div class="plan-main"><div class="plan-name">${escapeHtml(c.name || c.id)}</div>`
        + `<div class="plan-meta">${escapeHtml(t('plans.cordon.camera_meta', { exit: c.exit || t('plans.unnamed_road'), at: minSec(c.entered_s),
          m: Math.round(c.distance_m || 0) }))}</div></div>${action}</li>`;
    }).join('')}</ol>`
    : `<p class="note">${escapeHtml(t('plans.cordon.no_cameras'))}</p>`;
  return html;
}
