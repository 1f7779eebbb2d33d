// The situation board: every open incident on one map and in one list, live from the SSE feed,
// with the incident's cameras, their video, its grants and the operator's actions in a side panel.
//
// It also exports the base-map drawing and the camera geometry, which the responder view reuses.

import {
  api, ApiError, applyStatic, bindLangSwitch, errorText, escapeHtml, formatTime, getLang, onLangChange,
  setTimeZone, t,
} from './i18n.js';
import { clearPlans, drawPlans, initPlanLayers, renderPlansPanel } from './plans.js';
import { bindUnitLegend, initUnitLayer, loadUnits, removeUnit, unitLegendHtml, unitOnMap, upsertUnit } from './units.js';
import {
  bindSensorLegend, clearEnvironment, initSensorLayer, loadSensors, onSensorIncident, renderEnvironment, sensorLegendHtml,
  sensorOnMap,
} from './environment.js';

// --- services, colours and geometry (shared with the responder view) ------------------------------------

export const SERVICES = ['police', 'fire', 'disaster', 'sos', 'other'];

/** Which linked service an event code belongs to, for its colour and icon. */
export function serviceOf(code) {
  if (code.startsWith('112') || code === 'BNRCP140' || code === 'LPRUM120') return 'police';
  if (code.startsWith('119')) return 'fire';
  if (code === 'DUCDP110' || code === 'WESEN110' || code === 'APLEN110') return 'disaster';
  if (['WPSSF110', 'POCCP103', 'EBSCP110', 'SEBSF110', 'STLSF110'].includes(code)) return 'sos';
  return 'other';
}

const GLYPHS = {
  police: '<path d="M12 3.5l6.5 2.6v4.7c0 4.2-2.7 7.6-6.5 9.4-3.8-1.8-6.5-5.2-6.5-9.4V6.1z" fill="#fff"/>',
  fire: '<path d="M12.4 3.5c.6 3 4.6 5.1 4.6 9.6a5 5 0 0 1-10 0c0-2.3 1.2-3.8 2.3-4.8.1 1.8.8 3 2 3.3-.9-2.9.2-5.6 1.1-8.1z" fill="#fff"/>',
  disaster: '<path d="M12 4.2l8.3 15H3.7z" fill="#fff"/><rect x="11" y="9" width="2" height="5.5" fill="currentColor"/><rect x="11" y="15.6" width="2" height="2" fill="currentColor"/>',
  sos: '<text x="12" y="15.2" text-anchor="middle" font-size="7.6" font-weight="700" font-family="system-ui,sans-serif" fill="#fff">SOS</text>',
  other: '<circle cx="12" cy="12" r="4" fill="#fff"/>',
};

export const SERVICE_COLOURS = { police: '#1f5fd1', fire: '#d63a2f', disaster: '#ea7a12', sos: '#8a3fd1', other: '#6b7280' };
const GLYPH_PATHS = {
  police: ['M12 3.5l6.5 2.6v4.7c0 4.2-2.7 7.6-6.5 9.4-3.8-1.8-6.5-5.2-6.5-9.4V6.1z'],
  fire: ['M12.4 3.5c.6 3 4.6 5.1 4.6 9.6a5 5 0 0 1-10 0c0-2.3 1.2-3.8 2.3-4.8.1 1.8.8 3 2 3.3-.9-2.9.2-5.6 1.1-8.1z'],
  disaster: ['M12 4.2l8.3 15H3.7z'],
  other: ['M16 12a4 4 0 1 1-8 0 4 4 0 0 1 8 0z'],
};
let glyphCache = null;

/** Draw an incident's icon (service colour and glyph; a ring when urgent) on a canvas at point p. */
export function drawIncidentIcon(ctx, p, incident, radius) {
  const service = serviceOf(incident.code);
  const colour = SERVICE_COLOURS[service];
  if (!glyphCache) {
    glyphCache = Object.fromEntries(Object.entries(GLYPH_PATHS).map(([k, paths]) => [k, paths.map((d) => new Path2D(d))]));
  }
  ctx.save();
  if (incident.grade === '10') {
    ctx.beginPath();
    ctx.arc(p.x, p.y, radius + 2.5, 0, Math.PI * 2);
    ctx.lineWidth = 2;
    ctx.strokeStyle = colour;
    ctx.stroke();
  }
  ctx.beginPath();
  ctx.arc(p.x, p.y, radius, 0, Math.PI * 2);
  ctx.fillStyle = colour;
  ctx.fill();
  ctx.lineWidth = 2;
  ctx.strokeStyle = '#fff';
  ctx.stroke();
  const scale = (radius * 1.5) / 24;
  ctx.translate(p.x - 12 * scale, p.y - 12 * scale);
  ctx.scale(scale, scale);
  ctx.fillStyle = '#fff';
  if (service === 'sos') {
    ctx.font = '700 7.6px system-ui, sans-serif';
    ctx.textAlign = 'center';
    ctx.fillText('SOS', 12, 15.2);
  } else {
    for (const path of glyphCache[service]) ctx.fill(path);
    if (service === 'disaster') {
      ctx.fillStyle = colour;
      ctx.fillRect(11, 9, 2, 5.5);
      ctx.fillRect(11, 15.6, 2, 2);
    }
  }
  ctx.restore();
}

let IncidentDot = null;

/** A canvas layer per incident: thousands of DOM markers would each be a compositing layer, too slow. */
export function incidentDot(incident, options) {
  if (!IncidentDot) {
    IncidentDot = L.CircleMarker.extend({
      _updatePath() {
        const renderer = this._renderer;
        if (!renderer._drawing || this._empty()) return;
        drawIncidentIcon(renderer._ctx, this._point, this.options.incident, this._radius);
      },
    });
  }
  const radius = incident.grade === '10' ? 12 : 10;
  return new IncidentDot([incident.location.lat, incident.location.lon], { ...options, radius, incident, weight: 4 });
}

export function incidentIconHtml(incident, { isNew = false, selected = false } = {}) {
  const service = serviceOf(incident.code);
  const urgent = incident.grade === '10';
  const cls = ['inc', `inc-${service}`, urgent ? 'inc-urgent' : 'inc-normal', isNew ? 'inc-new' : '', selected ? 'inc-selected' : ''];
  return `<div class="${cls.join(' ')}" data-testid="incident-marker" data-id="${escapeHtml(incident.id)}">`
    + `<svg viewBox="0 0 24 24" aria-hidden="true">${GLYPHS[service]}</svg></div>`;
}

const M_PER_DEG_LAT = 110_540;
const M_PER_DEG_LON_EQ = 111_320;

/** The point distance_m away from (lat, lon) towards bearing_deg (small distances; metres, degrees). */
export function offsetLatLon(lat, lon, bearingDeg, distanceM) {
  const b = (bearingDeg * Math.PI) / 180;
  return [lat + (distanceM * Math.cos(b)) / M_PER_DEG_LAT,
    lon + (distanceM * Math.sin(b)) / (M_PER_DEG_LON_EQ * Math.cos((lat * Math.PI) / 180))];
}

export function distanceM(lat1, lon1, lat2, lon2) {
  const dy = (lat2 - lat1) * M_PER_DEG_LAT;
  const dx = (lon2 - lon1) * M_PER_DEG_LON_EQ * Math.cos((((lat1 + lat2) / 2) * Math.PI) / 180);
  return Math.hypot(dx, dy);
}

/** A camera's view cone: its position, then an arc of direction ± fov/2 at view_range_m. */
export function conePoints(camera) {
  const fov = Math.min(camera.fov_deg || 90, 359);
  const range = camera.view_range_m || 150;
  const steps = Math.max(4, Math.round(fov / 12));
  const points = [[camera.lat, camera.lon]];
  for (let i = 0; i <= steps; i += 1) {
    points.push(offsetLatLon(camera.lat, camera.lon, camera.direction_deg - fov / 2 + (fov * i) / steps, range));
  }
  return points;
}

// --- the base map ---------------------------------------------------------------------------------------

// [width at zoom 16 in px, fill, casing]; the casing is drawn 2 px wider underneath.
const ROAD_STYLE = {
  motorway: [9, '#f6b26b', '#c8843a'], trunk: [8, '#f8c47a', '#c99048'], primary: [7, '#fbd78f', '#cfa455'],
  secondary: [6, '#fcefb0', '#c9b56b'], tertiary: [5, '#ffffff', '#c2b9a9'],
  unclassified: [4, '#ffffff', '#c8c0b3'], residential: [4, '#ffffff', '#c8c0b3'], living_street: [4, '#f4f4f0', '#c8c0b3'],
  road: [4, '#ffffff', '#c8c0b3'], service: [2.6, '#ffffff', '#cfc8bc'], pedestrian: [4, '#eeedf3', '#c6c3d3'],
};
const PATH_CLASSES = new Set(['footway', 'cycleway', 'path', 'steps']);
const ROAD_ORDER = ['service', 'pedestrian', 'living_street', 'road', 'unclassified', 'residential', 'tertiary',
  'secondary', 'primary', 'trunk', 'motorway'];

function roadBase(cls) {
  return ROAD_STYLE[cls] || ROAD_STYLE[cls.replace(/_link$/, '')] || ROAD_STYLE.road;
}

/**
 * Draw the city's base map (roads by class, buildings, water, parks, rail) into its own pane on one canvas,
 * below everything else. Returns a function that rescales the road widths for the current zoom.
 */
export function drawBasemap(map, geojson) {
  const pane = map.getPane('basemap') || map.createPane('basemap');
  pane.style.zIndex = 200;
  const renderer = L.canvas({ pane: 'basemap', padding: 0.3 });
  const groups = { water: [], park: [], building: [], rail: [], path: [], road: [] };
  for (const feature of geojson.features || []) {
    const { kind, class: cls = '' } = feature.properties || {};
    if (kind === 'road') groups[PATH_CLASSES.has(cls) ? 'path' : 'road'].push(feature);
    else if (groups[kind]) groups[kind].push(feature);
  }
  const rank = (f) => ROAD_ORDER.indexOf((f.properties.class || '').replace(/_link$/, ''));
  groups.road.sort((a, b) => rank(a) - rank(b));
  const add = (features, style) => L.geoJSON({ type: 'FeatureCollection', features },
    { renderer, interactive: false, style }).addTo(map);

  add(groups.water, () => ({ stroke: false, fillColor: '#a9d3e3', fillOpacity: 1 }));
  add(groups.park, () => ({ color: '#b4d59f', weight: 0.6, fillColor: '#cde8bb', fillOpacity: 1 }));
  add(groups.building, () => ({ color: '#c6bdb0', weight: 0.6, fillColor: '#ddd6cb', fillOpacity: 1 }));
  const rail = add(groups.rail, (f) => ({ color: f.properties.class === 'tram' ? '#a49aa8' : '#7d7d7d',
    weight: f.properties.class === 'tram' ? 1.2 : 2, dashArray: f.properties.class === 'tram' ? null : '6 4' }));
  const paths = add(groups.path, () => ({ color: '#e39b86', weight: 1.2, dashArray: '3 3', opacity: 0.9 }));
  const casing = add(groups.road, (f) => ({ color: roadBase(f.properties.class)[2], weight: roadBase(f.properties.class)[0] + 2,
    lineCap: 'round', lineJoin: 'round' }));
  const fill = add(groups.road, (f) => ({ color: roadBase(f.properties.class)[1], weight: roadBase(f.properties.class)[0],
    lineCap: 'round', lineJoin: 'round' }));

  const rescale = () => {
    const k = Math.min(3, Math.max(0.35, 2 ** (map.getZoom() - 16)));
    casing.setStyle((f) => ({ weight: roadBase(f.properties.class)[0] * k + 2 }));
    fill.setStyle((f) => ({ weight: Math.max(1, roadBase(f.properties.class)[0] * k) }));
    paths.setStyle({ weight: Math.max(0.6, 1.2 * Math.min(k, 1.5)) });
    rail.setStyle((f) => ({ weight: (f.properties.class === 'tram' ? 1.2 : 2) * Math.min(Math.max(k, 0.6), 1.5) }));
  };
  map.on('zoomend', rescale);
  rescale();
  return rescale;
}

/** A Leaflet map on config.bbox, with the base map, the optional tile layer and the OSM attribution. */
export function createCityMap(element, config, { zoomControl = true, outline = true } = {}) {
  const [minLon, minLat, maxLon, maxLat] = config.bbox;
  const bounds = L.latLngBounds([minLat, minLon], [maxLat, maxLon]);
  const map = L.map(element, { preferCanvas: true, zoomControl, minZoom: 12, maxZoom: 19, zoomSnap: 0.5,
    maxBounds: bounds.pad(1.5), attributionControl: true });
  map.attributionControl.setPrefix(false);
  const attribution = [config.attribution, '© OpenStreetMap contributors'].filter(Boolean)
    .filter((v, i, all) => all.indexOf(v) === i && !(i > 0 && all[0].includes('OpenStreetMap contributors')));
  map.attributionControl.addAttribution(attribution.map(escapeHtml).join(' · '));
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { maxZoom: 19, pane: 'tilePane' }).addTo(map);
  } else if (outline) {
    // Without tiles, show where the city's data ends, so empty land is not mistaken for empty streets.
    L.rectangle(bounds, { interactive: false, fill: false, color: '#9a9184', weight: 1, dashArray: '4 4', opacity: 0.7 })
      .addTo(map);
  }
  map.fitBounds(bounds);
  return { map, bounds };
}

// --- state ----------------------------------------------------------------------------------------------

const PULSE_MS = 30_000;
const MAX_PULSING = 12;
const LIST_MAX_ROWS = 300;
const CONE_ZOOM = 16;
const CONE_MAX = 2500;
const STREAM_TYPES = ['incident.opened', 'incident.updated', 'incident.closed', 'cameras.selected', 'grant.issued',
  'grant.revoked', 'notification.created', 'camera.changed', 'incident.plan', 'unit.changed', 'unit.removed'];

const state = {
  me: null,
  config: null,
  map: null,
  cameras: new Map(), // id → camera
  cameraMarkers: new Map(), // id → circle marker
  incidents: new Map(), // id → summary (+ _opened, _updated ms)
  closed: new Set(), // ids closed since load: a stale list page must not bring them back
  markers: new Map(), // id → canvas dot
  overlays: new Map(), // id → DOM marker, only for the few pulsing and the selected incident
  newUntil: new Map(), // id → ms until which it counts as new
  pulsing: [], // ids of the newest new incidents, oldest first: these pulse on the map
  rows: new Map(), // id → {el, sig}
  selectedId: null,
  detail: null,
  watch: new Map(), // incident id → grant (token) for our own video
  agencies: null,
  filter: { service: 'all', status: 'all' },
  stream: null,
  lastEventId: null,
  streamErrored: false,
  reconnectDelay: 1000,
  renderQueued: false,
  layers: {},
};

// --- start-up -------------------------------------------------------------------------------------------

const $ = (id) => document.getElementById(id);

async function boot() {
  applyStatic(document);
  bindLangSwitch($('lang'));
  onLangChange(() => {
    state.rows.clear();
    renderHeader();
    renderFilters();
    scheduleRender();
    refreshAllMarkers();
    if (state.detail) {
      renderPanel();
      drawSelection();
    }
  });
  $('login-form').addEventListener('submit', onLogin);
  $('logout').addEventListener('click', onLogout);
  setInterval(tick, 1000);
  tick();
  try {
    const { data } = await api('/api/v1/me');
    state.me = data;
    await start();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin();
    else showLogin(errorText(err));
  }
}

function showLogin(message) {
  closeStream();
  $('app').hidden = true;
  $('login').hidden = false;
  $('logout').hidden = true;
  $('who').hidden = true;
  $('conn').hidden = true;
  const error = $('login-error');
  error.hidden = !message;
  error.textContent = message || '';
  $('login-key').focus();
}

async function onLogin(event) {
  event.preventDefault();
  const button = $('login-submit');
  const error = $('login-error');
  button.disabled = true;
  button.textContent = t('login.busy');
  error.hidden = true;
  try {
    await api('/api/v1/session', { method: 'POST', body: { key: $('login-key').value.trim() } });
    $('login-key').value = '';
    const { data } = await api('/api/v1/me');
    state.me = data;
    await start();
  } catch (err) {
    error.textContent = errorText(err);
    error.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = t('login.submit');
  }
}

async function onLogout() {
  try { await api('/api/v1/session', { method: 'DELETE' }); } catch { /* logged out either way */ }
  window.location.reload();
}

/** 401 anywhere after login means the session ended: back to the login screen. */
async function call(path, options) {
  try {
    return await api(path, options);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin(errorText(err));
    throw err;
  }
}

async function start() {
  // A second start is a login after the session ended, maybe as another agency: forget what the last one saw.
  if (state.selectedId) closePanel();
  state.watch.clear();
  state.agencies = null;
  $('login').hidden = true;
  $('app').hidden = false;
  $('logout').hidden = false;
  renderHeader();
  renderFilters();
  performance.mark('citylink:login');

  const { data: config } = await call('/api/v1/config');
  state.config = config;
  setTimeZone(config.timezone);
  $('city').textContent = config.city ? `· ${config.city}` : '';
  if (!state.map) createBoardMap(config);

  // The stream opens before the list is read, so nothing that happens in between is missed.
  openStream();
  // Incidents and the base map first: that is what an operator looks at.
  const basemap = state.basemapDrawn ? Promise.resolve() : call('/api/v1/basemap').then(({ data }) => {
    drawBasemap(state.map, data);
    state.basemapDrawn = true;
  }).catch((err) => showBoardError(err));
  const incidents = loadIncidents().catch((err) => showBoardError(err));
  // The camera register is asked for at once, but drawn only after the incidents.
  const cameras = loadCameras(incidents).catch((err) => showBoardError(err));
  const units = loadUnits().catch((err) => showBoardError(err));
  const sensors = loadSensors().catch((err) => showBoardError(err));
  await incidents;
  renderList();
  await basemap;
  await nextFrame();
  performance.mark('citylink:incidents'); // list drawn, incidents and base map on the map
  document.body.dataset.incidents = 'true';
  await cameras;
  await units;
  await sensors;
  await nextFrame();
  performance.mark('citylink:usable'); // and every camera
  document.body.dataset.ready = 'true';
}

function nextFrame() {
  return new Promise((resolve) => { requestAnimationFrame(() => resolve()); });
}

function renderHeader() {
  const who = $('who');
  if (state.me) {
    who.hidden = false;
    who.innerHTML = `<span class="who-agency">${escapeHtml(state.me.agency)}</span>`
      + `<span class="role role-${escapeHtml(state.me.role)}" data-testid="role">${escapeHtml(t(`role.${state.me.role}`))}</span>`;
  }
  setConn(state.connState || 'connecting');
}

function tick() {
  const clock = $('clock');
  if (state.config) clock.textContent = formatTime(new Date().toISOString());
  const now = Date.now();
  for (const [id, until] of state.newUntil) {
    if (until <= now) {
      forgetNew(id);
      scheduleRender();
    }
  }
}

function showBoardError(err) {
  const box = $('board-error');
  box.textContent = errorText(err);
  box.hidden = false;
  clearTimeout(showBoardError.timer);
  showBoardError.timer = setTimeout(() => { box.hidden = true; }, 15_000);
}

// --- the map --------------------------------------------------------------------------------------------

function createBoardMap(config) {
  const { map } = createCityMap($('map'), config);
  state.map = map;
  for (const [name, z] of [['cones', 380], ['cameras', 390], ['selection', 420], ['incidents', 430]]) {
    map.createPane(name).style.zIndex = z;
  }
  const layers = state.layers;
  layers.coneRenderer = L.canvas({ pane: 'cones', padding: 0.2 });
  layers.cameraRenderer = L.canvas({ pane: 'cameras', padding: 0.2, tolerance: 3 });
  layers.selectionRenderer = L.canvas({ pane: 'selection', padding: 0.3 });
  layers.incidentRenderer = L.canvas({ pane: 'incidents', padding: 0.2, tolerance: 2 });
  layers.cones = L.layerGroup().addTo(map);
  layers.cameras = L.featureGroup().addTo(map);
  layers.selection = L.layerGroup().addTo(map);
  layers.incidents = L.featureGroup().addTo(map);
  layers.overlays = L.layerGroup().addTo(map);
  initPlanLayers(map, { call, cameraAt: (id) => state.cameras.get(id) });
  initUnitLayer(map, { call });
  initSensorLayer(map, { call, active: () => !$('app').hidden });
  layers.cameras.on('click', (e) => showCameraPopup(e.layer.camera, e.latlng));
  layers.incidents.on('click', (e) => select(e.layer.incidentId));
  const hover = L.tooltip({ direction: 'top', offset: [0, -12], className: 'incident-tooltip' });
  layers.incidents.on('mouseover', (e) => {
    const incident = state.incidents.get(e.layer.incidentId);
    if (!incident) return;
    hover.setLatLng(e.layer.getLatLng()).setContent(`<b>${escapeHtml(incident.code)}</b> ${escapeHtml(incidentName(incident))}`
      + `<br>${escapeHtml(incident.place || '')} · ${escapeHtml(formatTime(incident.opened_at))}`);
    map.openTooltip(hover);
  });
  layers.incidents.on('mouseout', () => map.closeTooltip(hover));
  map.on('moveend zoomend', scheduleCones);
  addLegend(map);
}

function addLegend(map) {
  const legend = L.control({ position: 'bottomleft' });
  legend.onAdd = () => {
    const div = L.DomUtil.create('div', 'legend');
    div.dataset.testid = 'legend';
    const draw = () => {
      div.innerHTML = SERVICES.map((s) => `<span class="legend-item"><i class="dot dot-${s}"></i>${escapeHtml(t(`service.${s}`))}</span>`).join('')
        + `<span class="legend-item"><i class="cam cam-online"></i>CCTV</span>`
        + `<span class="legend-item"><i class="cam cam-offline"></i>${escapeHtml(t('cameras.offline'))}</span>`
        + [1, 2, 3].map((n) => `<span class="legend-item"><i class="tier tier-${n}"></i>${escapeHtml(t(`cameras.tier.${n}`))}</span>`).join('')
        + unitLegendHtml() + sensorLegendHtml();
      bindUnitLegend(div);
      bindSensorLegend(div);
    };
    draw();
    onLangChange(draw);
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  legend.addTo(map);
}

// Pages the API serves at most; the first two are asked for at once (a city's register is rarely smaller),
// the rest, if any, in parallel once the total is known.
const CAMERA_PAGE = 10_000;
const INCIDENT_PAGE = 1000;

async function loadPaged(url, pageSize, totalOf, onPage) {
  const page = (offset) => call(`${url}${url.includes('?') ? '&' : '?'}limit=${pageSize}&offset=${offset}`)
    .then((answer) => { onPage(answer); return answer; });
  const [first] = await Promise.all([page(0), page(pageSize)]);
  const rest = [];
  for (let offset = 2 * pageSize; offset < totalOf(first); offset += pageSize) rest.push(page(offset));
  await Promise.all(rest);
  return first;
}

async function loadCameras(after) {
  const drawn = [];
  await loadPaged('/api/v1/cameras', CAMERA_PAGE, (first) => first.data.total, ({ data }) => {
    drawn.push(after.then(() => { for (const camera of data.cameras) addCamera(camera); }));
  });
  await Promise.all(drawn);
  scheduleCones();
}

function cameraStyle(camera) {
  const offline = camera.status !== 'online';
  return { renderer: state.layers.cameraRenderer, radius: 3.2, weight: 1, color: offline ? '#8a8f98' : '#0b3d5c',
    fillColor: offline ? '#c9ccd1' : '#1c7fb8', fillOpacity: 0.95, opacity: 0.9 };
}

function addCamera(camera) {
  state.cameras.set(camera.id, camera);
  const existing = state.cameraMarkers.get(camera.id);
  if (existing) {
    existing.camera = camera;
    existing.setLatLng([camera.lat, camera.lon]);
    existing.setStyle(cameraStyle(camera));
    return;
  }
  const marker = L.circleMarker([camera.lat, camera.lon], cameraStyle(camera));
  marker.camera = camera;
  state.cameraMarkers.set(camera.id, marker);
  state.layers.cameras.addLayer(marker);
}

function cameraDescription(camera) {
  const parts = [camera.status === 'online' ? '' : t('cameras.offline'),
    camera.direction_deg == null ? t('camera.no_direction') : t('camera.direction', { deg: Math.round(camera.direction_deg) }),
    camera.ptz ? t('camera.ptz') : ''];
  return parts.filter(Boolean).join(' · ');
}

function showCameraPopup(camera, latlng) {
  if (!camera) return;
  L.popup({ className: 'camera-popup' }).setLatLng(latlng)
    .setContent(`<strong>${escapeHtml(camera.name || camera.id)}</strong><br><code>${escapeHtml(camera.id)}</code>`
      + `<br>${escapeHtml(cameraDescription(camera))}`)
    .openOn(state.map);
}

let conesQueued = false;
function scheduleCones() {
  if (conesQueued) return;
  conesQueued = true;
  requestAnimationFrame(() => { conesQueued = false; drawCones(); });
}

/** View cones of the cameras in view, from zoom 16 on (at 20,000 cameras they would bury the map further out). */
function drawCones() {
  const { map, layers } = state;
  layers.cones.clearLayers();
  const hint = $('map-hint');
  if (map.getZoom() < CONE_ZOOM) {
    hint.hidden = state.cameras.size === 0;
    hint.textContent = t('map.cones_hint');
    return;
  }
  hint.hidden = true;
  const view = map.getBounds().pad(0.2);
  let drawn = 0;
  for (const camera of state.cameras.values()) {
    if (camera.direction_deg == null || !view.contains([camera.lat, camera.lon])) continue;
    if (drawn >= CONE_MAX) break;
    const offline = camera.status !== 'online';
    layers.cones.addLayer(L.polygon(conePoints(camera), { renderer: layers.coneRenderer, interactive: false,
      weight: 0.5, color: offline ? '#9aa0a8' : '#1c7fb8', opacity: 0.3, fillColor: offline ? '#b9bdc3' : '#3d9bd1',
      fillOpacity: 0.06 }));
    drawn += 1;
  }
}

// --- incidents: state -----------------------------------------------------------------------------------

function upsertIncident(summary, { fromStream = false } = {}) {
  if (!summary || summary.id == null) return;
  const id = String(summary.id);
  if (summary.ended_at) {
    removeIncident(id);
    return;
  }
  if (!fromStream && state.closed.has(id)) return;
  const current = state.incidents.get(id);
  const updated = Date.parse(summary.updated_at) || 0;
  if (current && current._updated > updated) return; // an older copy (a list page read before an update)
  const incident = { ...summary, id, _opened: Date.parse(summary.opened_at) || 0, _updated: updated };
  state.incidents.set(id, incident);
  state.closed.delete(id);
  if (incident.acknowledged_at) forgetNew(id);
  else if (!current) {
    const until = fromStream ? Date.now() + PULSE_MS : incident._opened + PULSE_MS;
    if (until > Date.now()) markNew(id, until);
  }
  refreshMarker(id);
  scheduleRender();
}

/** New for PULSE_MS (the list tags it); only the newest MAX_PULSING pulse on the map, so a flood stays legible. */
function markNew(id, until) {
  state.newUntil.set(id, until);
  state.pulsing.push(id);
  while (state.pulsing.length > MAX_PULSING) refreshMarker(state.pulsing.shift());
}

function forgetNew(id) {
  state.newUntil.delete(id);
  const at = state.pulsing.indexOf(id);
  if (at >= 0) state.pulsing.splice(at, 1);
  refreshMarker(id);
}

function removeIncident(id) {
  state.closed.add(id);
  state.incidents.delete(id);
  forgetNew(id);
  const marker = state.markers.get(id);
  if (marker) {
    state.layers.incidents.removeLayer(marker);
    state.markers.delete(id);
  }
  state.rows.delete(id);
  scheduleRender();
}

async function loadIncidents() {
  const seen = new Set();
  await loadPaged('/api/v1/incidents?open=true', INCIDENT_PAGE,
    (first) => Number(first.response.headers.get('X-Total-Count') || first.data.length), ({ data }) => {
      for (const summary of data) {
        seen.add(String(summary.id));
        upsertIncident(summary);
      }
    });
  // After a reconnect: whatever is no longer open has closed while we were away.
  for (const id of [...state.incidents.keys()]) {
    if (!seen.has(id)) removeIncident(id);
  }
}

function isNew(id) {
  return (state.newUntil.get(id) || 0) > Date.now();
}

function matchesFilter(incident) {
  const { service, status } = state.filter;
  if (service !== 'all' && serviceOf(incident.code) !== service) return false;
  if (status === 'unack') return !incident.acknowledged_at;
  if (status !== 'all' && incident.status !== status) return false;
  return true;
}

function byUrgencyThenNewest(a, b) {
  if (a.grade !== b.grade) return a.grade < b.grade ? -1 : 1;
  return b._opened - a._opened || (a.id < b.id ? 1 : -1);
}

function incidentName(incident) {
  return getLang() === 'ko' ? incident.name : (incident.name_en || incident.name);
}

// --- incidents: map markers -----------------------------------------------------------------------------

function refreshMarker(id) {
  const layers = state.layers;
  if (!layers.incidents || id == null) return;
  const incident = state.incidents.get(id);
  let dot = state.markers.get(id);
  if (!incident || !matchesFilter(incident)) {
    if (dot) layers.incidents.removeLayer(dot);
    setOverlay(id, null);
    return;
  }
  const sig = `${incident.code}|${incident.grade}|${incident.location.lat}|${incident.location.lon}`;
  if (!dot || dot.sig !== sig) {
    if (dot) layers.incidents.removeLayer(dot);
    dot = incidentDot(incident, { renderer: layers.incidentRenderer });
    dot.incidentId = id;
    dot.sig = sig;
    state.markers.set(id, dot);
  }
  dot.options.incident = incident;
  if (!layers.incidents.hasLayer(dot)) {
    layers.incidents.addLayer(dot);
    if (incident.grade === '10') dot.bringToFront();
    else dot.bringToBack();
  }
  const pulsing = state.pulsing.includes(id) && isNew(id);
  setOverlay(id, pulsing || id === state.selectedId ? incident : null, { pulsing });
}

/** The DOM marker over an incident's dot: the pulse of a new one, the highlight of the selected one. */
function setOverlay(id, incident, { pulsing = false } = {}) {
  let overlay = state.overlays.get(id);
  if (!incident) {
    if (overlay) {
      state.layers.overlays.removeLayer(overlay);
      state.overlays.delete(id);
    }
    return;
  }
  const selected = id === state.selectedId;
  const size = incident.grade === '10' ? 30 : 26;
  const sig = `${pulsing}|${selected}|${incident.code}|${incident.grade}`;
  if (!overlay) {
    overlay = L.marker([incident.location.lat, incident.location.lon], { keyboard: false });
    overlay.on('click', () => select(id));
    state.overlays.set(id, overlay);
  }
  if (overlay.sig !== sig) {
    overlay.setIcon(L.divIcon({ className: 'inc-icon', iconSize: [size, size],
      html: incidentIconHtml(incident, { isNew: pulsing, selected }) }));
    overlay.sig = sig;
  }
  overlay.setLatLng([incident.location.lat, incident.location.lon]);
  overlay.setZIndexOffset(selected ? 3000 : incident.grade === '10' ? 2000 : 1000);
  if (!state.layers.overlays.hasLayer(overlay)) state.layers.overlays.addLayer(overlay);
}

function refreshAllMarkers() {
  for (const id of state.incidents.keys()) refreshMarker(id);
}

// --- incidents: the list --------------------------------------------------------------------------------

function renderFilters() {
  const chips = $('service-filter');
  const counts = { all: 0, police: 0, fire: 0, disaster: 0, sos: 0, other: 0 };
  for (const incident of state.incidents.values()) {
    counts.all += 1;
    counts[serviceOf(incident.code)] += 1;
  }
  const chip = (key, label) => `<button type="button" class="chip chip-${key}${state.filter.service === key ? ' active' : ''}"`
    + ` data-service="${key}" data-testid="filter-service-${key}" aria-pressed="${state.filter.service === key}">`
    + `${key === 'all' ? '' : `<i class="dot dot-${key}"></i>`}${escapeHtml(label)} <b>${counts[key]}</b></button>`;
  const html = chip('all', t('filter.all_services')) + SERVICES.map((s) => chip(s, t(`service.${s}`))).join('');
  if (chips.dataset.html !== html) {
    chips.innerHTML = html;
    chips.dataset.html = html;
    for (const button of chips.querySelectorAll('button')) {
      button.addEventListener('click', () => { state.filter.service = button.dataset.service; onFilterChange(); });
    }
  }
  const select = $('status-filter');
  const options = [['all', t('filter.all_statuses')], ['10', t('status.10')], ['40', t('status.40')],
    ['unack', t('filter.unacknowledged')]];
  const optionsHtml = options.map(([v, label]) => `<option value="${v}">${escapeHtml(label)}</option>`).join('');
  if (select.dataset.html !== optionsHtml) {
    select.innerHTML = optionsHtml;
    select.dataset.html = optionsHtml;
    select.onchange = () => { state.filter.status = select.value; onFilterChange(); };
  }
  select.value = state.filter.status;
}

function onFilterChange() {
  renderFilters();
  refreshAllMarkers();
  scheduleRender();
}

function scheduleRender() {
  if (state.renderQueued) return;
  state.renderQueued = true;
  const run = () => { if (state.renderQueued) { state.renderQueued = false; renderList(); } };
  requestAnimationFrame(run);
  setTimeout(run, 100); // rAF does not run in a hidden tab; the list must still be current when it shows
}

function rowHtml(incident) {
  const service = serviceOf(incident.code);
  const fresh = isNew(incident.id);
  const acked = Boolean(incident.acknowledged_at);
  return `<span class="row-bar bar-${service}"></span>`
    + `<div class="row-main"><div class="row-top">`
    + `<span class="code code-${service}">${escapeHtml(incident.code)}</span>`
    + (incident.grade === '10' ? `<span class="tag tag-urgent">${escapeHtml(t('grade.10'))}</span>` : '')
    + (fresh ? `<span class="tag tag-new" data-testid="new-tag">${escapeHtml(t('incident.new'))}</span>` : '')
    + `<span class="row-time">${escapeHtml(formatTime(incident.opened_at))}</span></div>`
    + `<div class="row-name">${escapeHtml(incidentName(incident))}</div>`
    + `<div class="row-sub"><span class="row-place">${escapeHtml(incident.place || '')}</span>`
    + `<span class="status status-${escapeHtml(incident.status)}">${escapeHtml(t(`status.${incident.status}`))}</span>`
    + (acked ? `<span class="acked" title="${escapeHtml(t('incident.acked'))}">✓</span>` : '')
    + `</div></div>`;
}

/** Make parent's children exactly `wanted`, in order, moving as few nodes as possible: under a stream of new
 * incidents most renders insert one row at the top, and re-adding all 300 would re-lay out the whole list. */
function syncChildren(parent, wanted) {
  const keep = new Set(wanted);
  for (const child of [...parent.children]) if (!keep.has(child)) child.remove();
  wanted.forEach((node, i) => {
    if (parent.children[i] !== node) parent.insertBefore(node, parent.children[i] || null);
  });
}

function renderList() {
  const list = $('incident-list');
  const matching = [];
  for (const incident of state.incidents.values()) if (matchesFilter(incident)) matching.push(incident);
  matching.sort(byUrgencyThenNewest);
  const shown = matching.slice(0, LIST_MAX_ROWS);
  const rows = shown.map((incident) => {
    const sig = `${incident._updated}|${incident.acknowledged_at}|${isNew(incident.id)}|${incident.id === state.selectedId}`;
    let row = state.rows.get(incident.id);
    if (!row || row.sig !== sig) {
      const el = row ? row.el : document.createElement('li');
      if (!row) {
        el.dataset.testid = 'incident-row';
        el.dataset.id = incident.id;
        el.tabIndex = 0;
        el.addEventListener('click', () => select(incident.id));
        el.addEventListener('keydown', (e) => { if (e.key === 'Enter') select(incident.id); });
      }
      el.className = `incident-row${incident.grade === '10' ? ' urgent' : ''}${isNew(incident.id) ? ' is-new' : ''}`
        + `${incident.id === state.selectedId ? ' selected' : ''}`;
      el.dataset.service = serviceOf(incident.code);
      el.dataset.status = incident.status;
      el.innerHTML = rowHtml(incident);
      row = { el, sig };
      state.rows.set(incident.id, row);
    }
    return row.el;
  });
  if (!rows.length) {
    const empty = document.createElement('li');
    empty.className = 'empty';
    empty.textContent = t('list.empty');
    list.replaceChildren(empty);
  } else {
    syncChildren(list, rows);
  }
  const total = state.incidents.size;
  $('count').textContent = matching.length === total ? t('list.count', { n: total })
    : t('list.count_filtered', { shown: matching.length, n: total });
  $('list-foot').textContent = matching.length > shown.length ? t('list.more', { n: matching.length - shown.length }) : '';
  renderFilters();
}

// --- the selected incident ------------------------------------------------------------------------------

async function select(id) {
  const previous = state.selectedId;
  state.selectedId = id;
  if (previous !== id) {
    state.detail = null;
    stopVideo();
    state.layers.selection.clearLayers();
    clearPlans();
    clearEnvironment($('panel-environment'));
    if (previous) refreshMarker(previous);
  }
  refreshMarker(id);
  scheduleRender();
  $('panel').hidden = false;
  state.map.invalidateSize();
  setPanelMessage('');
  if (!state.detail) {
    $('audit-section').hidden = true;
    $('panel-head').innerHTML = `<p class="loading">${escapeHtml(t('panel.loading'))}</p>`;
    for (const part of ['panel-summary', 'panel-actions', 'panel-cameras', 'panel-grants', 'panel-history']) $(part).replaceChildren();
    for (const part of ['plan-dispatch', 'plan-cordon']) {
      $(part).hidden = true;
      $(part).replaceChildren();
    }
  }
  await loadDetail(id, { focus: previous !== id });
}

async function loadDetail(id, { focus = false } = {}) {
  try {
    const { data } = await call(`/api/v1/incidents/${encodeURIComponent(id)}`);
    if (state.selectedId !== id) return;
    state.detail = data;
    const held = state.watch.get(id);
    if (held && held.id && (data.grants || []).some((g) => g.id === held.id && (g.revoked || grantState(g) !== 'live'))) {
      state.watch.delete(id); // our own grant was revoked or ran out: ask again (if the incident still runs)
    }
    renderPanel();
    drawSelection({ focus });
    if (canReadAudit()) loadAudit(id);
    if (state.me.role !== 'auditor') await ensureWatch(id);
  } catch (err) {
    if (state.selectedId !== id) return;
    if (err instanceof ApiError && err.status === 404) {
      // Gone for us (closed and pruned, or not ours to see).
      removeIncident(id);
    }
    setPanelMessage(errorText(err), 'error');
  }
}

let detailTimer = null;
function refreshDetailSoon() {
  if (!state.selectedId) return;
  clearTimeout(detailTimer);
  detailTimer = setTimeout(() => loadDetail(state.selectedId), 120);
}

function closePanel() {
  const previous = state.selectedId;
  state.selectedId = null;
  state.detail = null;
  $('panel').hidden = true;
  stopVideo();
  state.layers.selection.clearLayers();
  clearPlans();
  clearEnvironment($('panel-environment'));
  if (previous) refreshMarker(previous);
  scheduleRender();
  state.map.invalidateSize();
}

function setPanelMessage(text, kind = 'info') {
  const msg = $('panel-msg');
  msg.hidden = !text;
  msg.textContent = text || '';
  msg.className = `msg msg-${kind}`;
  msg.dataset.kind = kind;
}

const canAct = () => ['operator', 'supervisor', 'admin', 'agency'].includes(state.me.role);
const canEditCameras = () => ['operator', 'supervisor', 'admin'].includes(state.me.role);
const canShare = () => ['supervisor', 'admin'].includes(state.me.role);
const canReadAudit = () => ['auditor', 'admin'].includes(state.me.role);

function renderPanel() {
  const d = state.detail;
  if (!d) return;
  const service = serviceOf(d.code);
  const ended = Boolean(d.ended_at);
  $('panel-head').innerHTML = `<div class="panel-title"><span class="code code-${service}">${escapeHtml(d.code)}</span>`
    + (d.grade === '10' ? `<span class="tag tag-urgent">${escapeHtml(t('grade.10'))}</span>` : `<span class="tag">${escapeHtml(t('grade.20'))}</span>`)
    + `<span class="status status-${escapeHtml(d.status)}" data-testid="panel-status">${escapeHtml(t(`status.${d.status}`))}</span></div>`
    + `<h2 data-testid="panel-name">${escapeHtml(incidentName(d))}</h2>`
    + `<button type="button" class="btn btn-ghost panel-x" data-testid="panel-close" title="${escapeHtml(t('panel.close'))}">✕</button>`;
  $('panel-head').querySelector('.panel-x').addEventListener('click', closePanel);

  const ack = d.acknowledged_at
    ? t('panel.ack_by', { who: d.acknowledged_by || '', at: formatTime(d.acknowledged_at) }) : t('panel.not_acked');
  $('panel-summary').innerHTML = `<dl class="facts">`
    + `<dt>${escapeHtml(t('panel.place'))}</dt><dd>${escapeHtml(d.place || '—')} <span class="coords">${d.location.lat.toFixed(5)}, ${d.location.lon.toFixed(5)}</span></dd>`
    + `<dt>${escapeHtml(t('panel.opened'))}</dt><dd>${escapeHtml(formatTime(d.opened_at))}</dd>`
    + `<dt>${escapeHtml(t('panel.updated'))}</dt><dd>${escapeHtml(formatTime(d.updated_at))}</dd>`
    + `<dt>${escapeHtml(t('panel.agencies'))}</dt><dd>${escapeHtml((d.agencies || []).join(', ') || '—')}</dd>`
    + (d.content ? `<dt>${escapeHtml(t('panel.content'))}</dt><dd>${escapeHtml(d.content)}</dd>` : '')
    + `</dl><p class="ack${d.acknowledged_at ? ' ack-done' : ''}" data-testid="panel-ack">${escapeHtml(ack)}</p>`
    + (ended ? `<p class="msg msg-info">${escapeHtml(t('panel.ended'))}</p>` : '');

  renderActions(d, ended);
  renderCameras(d, ended);
  renderPlans(d, ended);
  renderEnvironment(d, $('panel-environment'));
  renderGrants(d);
  renderHistory(d);
  renderVideo();
}

function renderActions(d, ended) {
  const box = $('panel-actions');
  if (!canAct() || ended) {
    box.replaceChildren();
    delete box.dataset.key;
    box.hidden = true;
    return;
  }
  box.hidden = false;
  // Re-rendered only when the incident changes, so nothing typed into its fields is lost on a live update.
  const key = `${d.id}|${getLang()}|${state.agencies ? state.agencies.length : 0}`;
  if (box.dataset.key !== key) {
    box.dataset.key = key;
    const statusOptions = ['40', '50', '90'].map((s) => `<option value="${s}">${s} · ${escapeHtml(t(`status.${s}`))}</option>`).join('');
    box.innerHTML = `<h3>${escapeHtml(t('actions.title'))}</h3>`
      + `<div class="action-row"><button type="button" class="btn btn-primary" data-testid="action-ack">${escapeHtml(t('actions.ack'))}</button>`
      + `<button type="button" class="btn btn-danger" data-testid="action-close">${escapeHtml(t('actions.close'))}</button></div>`
      + `<div class="action-row"><select data-testid="status-select" aria-label="${escapeHtml(t('actions.status'))}">${statusOptions}</select>`
      + `<input type="text" data-testid="status-reason" maxlength="4096" placeholder="${escapeHtml(t('actions.reason'))}">`
      + `<button type="button" class="btn" data-testid="action-status">${escapeHtml(t('actions.status_apply'))}</button></div>`
      + (canShare() ? `<div class="action-row share-row"><select data-testid="share-agency" aria-label="${escapeHtml(t('actions.share_agency'))}">`
        + (state.agencies || []).filter((a) => a.id !== state.me.agency)
          .map((a) => `<option value="${escapeHtml(a.id)}">${escapeHtml(a.id)} — ${escapeHtml(a.name)}</option>`).join('')
        + `</select><input type="text" data-testid="share-purpose" maxlength="128" placeholder="${escapeHtml(t('actions.share_purpose'))}">`
        + `<button type="button" class="btn" data-testid="action-share">${escapeHtml(t('actions.share_submit'))}</button></div>` : '');
    box.querySelector('[data-testid=action-ack]').addEventListener('click', onAck);
    box.querySelector('[data-testid=action-close]').addEventListener('click', onClose);
    box.querySelector('[data-testid=action-status]').addEventListener('click', onStatus);
    if (canShare()) {
      box.querySelector('[data-testid=action-share]').addEventListener('click', onShare);
      if (!state.agencies) loadAgencies();
    }
  }
  const ackButton = box.querySelector('[data-testid=action-ack]');
  ackButton.disabled = Boolean(d.acknowledged_at);
  ackButton.textContent = d.acknowledged_at ? `✓ ${t('incident.acked')}` : t('actions.ack');
}

async function loadAgencies() {
  try {
    const { data } = await call('/api/v1/agencies');
    state.agencies = data;
    if (state.detail) renderActions(state.detail, Boolean(state.detail.ended_at));
  } catch (err) {
    setPanelMessage(errorText(err), 'error');
  }
}

function tierLabel(tier) {
  return t(`cameras.tier.${tier}`);
}

function renderCameras(d, ended) {
  const list = $('panel-cameras');
  const cameras = d.cameras || [];
  $('camera-count').textContent = cameras.length ? `(${cameras.length})` : '';
  const note = $('selection-note');
  note.hidden = !d.selection_note;
  note.textContent = d.selection_note || '';
  if (!cameras.length) {
    list.innerHTML = `<li class="empty">${escapeHtml(t('cameras.none'))}</li>`;
  } else {
    list.innerHTML = cameras.map((c) => {
      const known = state.cameras.get(c.id);
      return `<li class="camera-row" data-testid="panel-camera" data-id="${escapeHtml(c.id)}" data-tier="${c.tier}">`
        + `<span class="tier tier-${c.tier}" title="${escapeHtml(tierLabel(c.tier))}">${c.tier}</span>`
        + `<div class="camera-main"><div class="camera-name">${escapeHtml(known?.name || c.id)}`
        + `<span class="camera-meta">${Math.round(c.distance_m)} m · ${Math.round(c.bearing_deg)}° · ${escapeHtml(tierLabel(c.tier))}</span></div>`
        + `<div class="camera-reason">${escapeHtml(c.reason || '')}</div></div>`
        + (canEditCameras() && !ended ? `<button type="button" class="btn btn-small" data-remove="${escapeHtml(c.id)}" data-testid="remove-camera">${escapeHtml(t('cameras.remove'))}</button>` : '')
        + `</li>`;
    }).join('');
    for (const button of list.querySelectorAll('[data-remove]')) {
      button.addEventListener('click', () => editCameras({ remove: [button.dataset.remove] }));
    }
  }
  const add = $('add-camera');
  add.hidden = !canEditCameras() || ended;
  if (!add.hidden) {
    const selected = new Set(cameras.map((c) => c.id));
    const near = [];
    for (const camera of state.cameras.values()) {
      if (selected.has(camera.id)) continue;
      const dist = distanceM(d.location.lat, d.location.lon, camera.lat, camera.lon);
      if (dist <= 600) near.push([dist, camera]);
    }
    near.sort((a, b) => a[0] - b[0]);
    const select = $('add-camera-select');
    const options = `<option value="">${escapeHtml(t('cameras.add_pick'))}</option>`
      + near.slice(0, 40).map(([dist, c]) => `<option value="${escapeHtml(c.id)}">${Math.round(dist)} m · ${escapeHtml(c.name || c.id)}`
        + `${c.status !== 'online' ? ` (${escapeHtml(t('cameras.offline'))})` : ''}</option>`).join('');
    if (select.dataset.options !== options) {
      // A live update must not undo the operator's pick.
      const picked = select.value;
      select.innerHTML = options;
      select.dataset.options = options;
      if ([...select.options].some((o) => o.value === picked)) select.value = picked;
    }
    const button = $('add-camera-btn');
    button.textContent = t('cameras.add');
    button.onclick = () => { if (select.value) editCameras({ add: [select.value] }); };
  }
}

function renderPlans(d, ended) {
  renderPlansPanel(d, {
    dispatchBox: $('plan-dispatch'),
    cordonBox: $('plan-cordon'),
    selected: new Set((d.cameras || []).map((c) => c.id)),
    canAdd: () => canEditCameras() && !ended,
    onAddCamera: (id) => editCameras({ add: [id] }),
  });
}

function grantState(g) {
  if (g.revoked) return 'revoked';
  return Date.parse(g.expires_at) <= Date.now() ? 'expired' : 'live';
}

function renderGrants(d) {
  const list = $('panel-grants');
  const grants = d.grants || [];
  if (!grants.length) {
    list.innerHTML = `<li class="empty">${escapeHtml(t('grants.none'))}</li>`;
    return;
  }
  list.innerHTML = grants.map((g) => {
    const st = grantState(g);
    const when = st === 'revoked' ? t('grants.revoked', { at: formatTime(g.revoked_at) }) : t('grants.until', { at: formatTime(g.expires_at) });
    return `<li class="grant grant-${st}" data-testid="grant" data-agency="${escapeHtml(g.agency)}" data-state="${st}">`
      + `<span class="grant-agency">${escapeHtml(g.agency)}</span>`
      + `<span class="grant-state">${escapeHtml(t(`grants.${st}`))}</span>`
      + `<span class="grant-when">${escapeHtml(when)}${g.revoke_reason ? ` · ${escapeHtml(g.revoke_reason)}` : ''}</span>`
      + `<span class="grant-purpose">${escapeHtml(g.purpose || '')} · ${(g.cameras || []).length} CCTV`
      + (g.token && st === 'live' ? ` · <a href="/view/${encodeURIComponent(g.token)}" target="_blank" rel="noopener" data-testid="grant-link">${escapeHtml(t('grants.link'))}</a>` : '')
      + `</span></li>`;
  }).join('');
}

function renderHistory(d) {
  const events = [...(d.events || [])].sort((a, b) => (Date.parse(b.received_at) || 0) - (Date.parse(a.received_at) || 0));
  $('panel-history').innerHTML = events.map((e) => {
    const content = e.event?.content || '';
    return `<li data-testid="history-item"><span class="h-time">${escapeHtml(formatTime(e.time))}</span>`
      + `<span class="status status-${escapeHtml(e.status)}">${escapeHtml(t(`status.${e.status}`))}</span>`
      + `<span class="h-by">${escapeHtml(e.received_by || '')}</span>`
      + (content ? `<div class="h-content">${escapeHtml(content)}</div>` : '')
      + (e.effect ? `<div class="h-effect">${escapeHtml(e.effect)}</div>` : '')
      + `</li>`;
  }).join('');
  const notes = d.notifications || [];
  $('notes-section').hidden = !notes.length;
  $('panel-notes').innerHTML = notes.map((n) => `<li><span class="h-time">${escapeHtml(formatTime(n.created_at))}</span>`
    + ` ${escapeHtml(n.recipient)} · ${escapeHtml(n.channel)} · <b>${escapeHtml(n.status)}</b>`
    + `<div class="h-content">${escapeHtml(n.message || '')}</div></li>`).join('');
}

/** The incident's audit trail (its own records and its grants'), for auditors and admins. */
async function loadAudit(id) {
  const d = state.detail;
  const subjects = [id, ...(d.grants || []).map((g) => g.id)];
  try {
    const pages = await Promise.all(subjects.map((subject) => call(`/api/v1/audit?subject=${encodeURIComponent(subject)}&limit=500`)));
    if (state.selectedId !== id) return;
    const records = pages.flatMap(({ data }) => data).sort((a, b) => b.seq - a.seq);
    $('audit-section').hidden = false;
    $('panel-audit').innerHTML = records.length ? records.map((r) => `<li data-testid="audit-record" data-action="${escapeHtml(r.action)}">`
      + `<span class="h-time">${escapeHtml(formatTime(r.at))}</span><b>${escapeHtml(r.action)}</b>`
      + `<span class="h-by">${escapeHtml(r.actor)} · #${r.seq}</span>`
      + `<div class="h-effect">${escapeHtml(auditDetail(r.detail))}</div></li>`).join('')
      : `<li class="empty">${escapeHtml(t('audit.none'))}</li>`;
  } catch (err) {
    setPanelMessage(errorText(err), 'error');
  }
}

function auditDetail(detail) {
  if (!detail || typeof detail !== 'object') return '';
  return Object.entries(detail).map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : typeof v === 'object' && v ? JSON.stringify(v) : v}`)
    .join(' · ').slice(0, 300);
}

// --- video ----------------------------------------------------------------------------------------------

async function ensureWatch(id) {
  const d = state.detail;
  if (!d || d.ended_at || !(d.cameras || []).length) {
    renderVideo();
    return;
  }
  const held = state.watch.get(id);
  const wanted = (d.cameras || []).map((c) => c.id);
  const covered = held && !held.revoked && Date.parse(held.expires_at) > Date.now() + 5000
    && wanted.every((c) => (held.cameras || []).includes(c));
  if (covered) {
    renderVideo();
    return;
  }
  if (state.watchPending === id) return;
  state.watchPending = id;
  renderVideo();
  try {
    const { data } = await call(`/api/v1/incidents/${encodeURIComponent(id)}/watch`, { method: 'POST' });
    state.watch.set(id, data);
  } catch (err) {
    state.watch.set(id, { error: errorText(err) });
  } finally {
    state.watchPending = null;
  }
  if (state.selectedId === id) renderVideo();
}

function stopVideo() {
  const box = $('panel-video');
  for (const img of box.querySelectorAll('img')) img.removeAttribute('src'); // closes the streams
  box.replaceChildren();
  state.liveVideo = [];
}

/** The URL to show a camera with: its own http(s) stream when it has one, else citylink's MJPEG endpoint. */
export function videoUrl(camera, token) {
  const own = (camera.stream_urls || []).find((u) => /^https?:\/\//i.test(u) && !/\.m3u8(\?|$)/i.test(u));
  const base = own || `/video/${encodeURIComponent(camera.id)}.mjpeg`;
  return `${base}${base.includes('?') ? '&' : '?'}jwt=${encodeURIComponent(token)}`;
}

// A browser keeps at most 6 HTTP/1.1 connections to one server, and each MJPEG picture holds one open, as
// does the live feed. Three live pictures leave two connections for the board's own calls; the others show a
// still refreshed every few seconds (one short request each), and picking one makes it live instead of the
// picture watched longest.
export const MAX_LIVE_VIDEO = 3;
const STILL_REFRESH_MS = 3000;

function stillUrl(cameraId, token) {
  return `/video/${encodeURIComponent(cameraId)}.jpg?jwt=${encodeURIComponent(token)}&t=${Date.now()}`;
}

setInterval(() => {
  const grant = state.detail && state.watch.get(state.detail.id);
  if (!grant || !grant.token || grant.revoked) return;
  for (const fig of document.querySelectorAll('#panel-video figure.paused[data-camera]')) {
    fig.querySelector('img').src = stillUrl(fig.dataset.camera, grant.token);
  }
}, STILL_REFRESH_MS);

function renderVideo() {
  const box = $('panel-video');
  const d = state.detail;
  if (state.me.role === 'auditor') {
    if (!box.querySelector('.no-video')) {
      box.innerHTML = `<p class="no-video" data-testid="no-video">${escapeHtml(t('video.auditor'))}</p>`;
    }
    return;
  }
  if (!d) return;
  const grant = state.watch.get(d.id);
  const cameras = d.ended_at ? [] : (d.cameras || []);
  const live = grant && !grant.error && !grant.revoked ? grant : null;
  if (!live || !cameras.length) {
    let message = t('video.loading');
    if (!cameras.length) message = d.ended_at ? t('panel.ended') : t('video.none');
    else if (grant?.error) message = grant.error;
    for (const img of box.querySelectorAll('img')) img.removeAttribute('src');
    box.innerHTML = `<p class="video-msg${grant?.error ? ' msg-error' : ''}" data-testid="video-message">${escapeHtml(message)}</p>`;
    state.liveVideo = [];
    return;
  }
  const ids = cameras.map((c) => c.id);
  state.liveVideo = (state.liveVideo || []).filter((id) => ids.includes(id));
  for (const id of ids) {
    if (state.liveVideo.length >= MAX_LIVE_VIDEO) break;
    if (!state.liveVideo.includes(id)) state.liveVideo.push(id);
  }
  // Keep the <img> of a camera that stays live, so its stream is not restarted on every update.
  const existing = new Map([...box.querySelectorAll('figure[data-camera]')].map((f) => [f.dataset.camera, f]));
  const figures = cameras.map((c) => {
    const camera = state.cameras.get(c.id) || { id: c.id, stream_urls: [] };
    let fig = existing.get(c.id);
    if (!fig) {
      fig = document.createElement('figure');
      fig.dataset.camera = c.id;
      fig.className = 'video';
      fig.innerHTML = `<img data-testid="video" alt="${escapeHtml(camera.name || c.id)}" hidden>`
        + `<button type="button" class="video-paused" data-testid="video-paused" hidden></button>`
        + `<figcaption><span class="tier tier-${c.tier}">${c.tier}</span>${escapeHtml(camera.name || c.id)}</figcaption>`;
      fig.querySelector('.video-paused').addEventListener('click', () => watchCamera(c.id));
    }
    fig.querySelector('.video-paused').textContent = `▶ ${t('video.watch')}`;
    const img = fig.querySelector('img');
    if (state.liveVideo.includes(c.id)) {
      const url = videoUrl(camera, live.token);
      if (img.dataset.mode !== 'live' || img.dataset.token !== live.token) {
        img.src = url;
        img.dataset.token = live.token;
        img.dataset.mode = 'live';
      }
      img.hidden = false;
      fig.querySelector('.video-paused').hidden = true;
      fig.classList.remove('paused');
    } else {
      if (img.dataset.mode !== 'still' || img.dataset.token !== live.token) {
        img.src = stillUrl(c.id, live.token);
        img.dataset.token = live.token;
        img.dataset.mode = 'still';
      }
      img.hidden = false;
      fig.querySelector('.video-paused').hidden = false;
      fig.classList.add('paused');
    }
    return fig;
  });
  for (const [id, fig] of existing) {
    if (!ids.includes(id)) fig.querySelector('img').removeAttribute('src');
  }
  const foot = document.createElement('p');
  foot.className = 'video-foot';
  foot.textContent = t('video.grant_until', { at: formatTime(live.expires_at) });
  box.replaceChildren(...figures, foot);
}

function watchCamera(id) {
  state.liveVideo = (state.liveVideo || []).filter((c) => c !== id);
  if (state.liveVideo.length >= MAX_LIVE_VIDEO) state.liveVideo.shift();
  state.liveVideo.push(id);
  renderVideo();
}

// --- selection on the map -------------------------------------------------------------------------------

const TIER_COLOURS = { 1: '#1a9e5f', 2: '#e0a106', 3: '#7b8794' };

function drawSelection({ focus = false } = {}) {
  const d = state.detail;
  const layer = state.layers.selection;
  layer.clearLayers();
  if (!d) {
    clearPlans();
    return;
  }
  const renderer = state.layers.selectionRenderer;
  const spot = [d.location.lat, d.location.lon];
  if (d.area && d.area.type === 'Polygon') {
    L.geoJSON(d.area, { renderer, interactive: false,
      style: { color: '#e8590c', weight: 2, dashArray: '6 4', fillColor: '#ff922b', fillOpacity: 0.1 } }).addTo(layer);
  } else if (d.radius_m) {
    L.circle(spot, { radius: d.radius_m, renderer, interactive: false, color: '#e8590c', weight: 1.5, dashArray: '6 4',
      fillOpacity: 0.05 }).addTo(layer);
  }
  const points = [spot];
  for (const c of d.cameras || []) {
    const camera = state.cameras.get(c.id);
    if (!camera) continue;
    const colour = TIER_COLOURS[c.tier] || TIER_COLOURS[3];
    const at = [camera.lat, camera.lon];
    points.push(at);
    if (camera.direction_deg != null) {
      L.polygon(conePoints(camera), { renderer, interactive: false, color: colour, weight: 1.2, fillColor: colour,
        fillOpacity: 0.22 }).addTo(layer);
    } else {
      L.circle(at, { radius: Math.min(camera.view_range_m || 60, 60), renderer, interactive: false, color: colour,
        weight: 1, dashArray: '2 3', fillOpacity: 0.06 }).addTo(layer);
    }
    L.polyline([at, spot], { renderer, interactive: false, color: colour, weight: 1.6, dashArray: '4 4', opacity: 0.9 }).addTo(layer);
    L.circleMarker(at, { renderer, radius: 6, color: '#fff', weight: 2, fillColor: colour, fillOpacity: 1 })
      .bindTooltip(`${c.tier} · ${camera.name || camera.id} · ${Math.round(c.distance_m)} m`, { direction: 'top' })
      .addTo(layer);
  }
  // Routes, signals, hydrants and the cordon: where the ranked units start is kept in view too.
  points.push(...drawPlans(d));
  if (focus) {
    const bounds = L.latLngBounds(points).pad(0.25);
    const view = state.map.getBounds();
    // Keep the operator's overview when the incident is already in sight; otherwise go to it.
    if (!view.contains(bounds) || state.map.getZoom() < 14.5) {
      state.map.flyToBounds(bounds, { maxZoom: 16.5, duration: 0.5 });
    }
  }
}

// --- actions --------------------------------------------------------------------------------------------

async function act(fn, successText) {
  setPanelMessage('');
  try {
    const result = await fn();
    if (successText) setPanelMessage(successText, 'ok');
    return result;
  } catch (err) {
    setPanelMessage(errorText(err), 'error');
    return undefined;
  }
}

async function onAck() {
  const id = state.selectedId;
  const summary = await act(async () => (await call(`/api/v1/incidents/${encodeURIComponent(id)}/ack`, { method: 'POST' })).data);
  if (summary) {
    forgetNew(String(summary.id));
    upsertIncident(summary);
    if (state.detail && state.detail.id === id) {
      state.detail = { ...state.detail, ...summary };
      renderPanel();
    }
  }
}

async function onStatus() {
  const box = $('panel-actions');
  const status = box.querySelector('[data-testid=status-select]').value;
  const reason = box.querySelector('[data-testid=status-reason]');
  await changeStatus(status, reason.value.trim());
  reason.value = '';
}

async function changeStatus(status, content) {
  const id = state.selectedId;
  const done = await act(() => call(`/api/v1/incidents/${encodeURIComponent(id)}/status`,
    { method: 'POST', body: { status, content } }), t('actions.done'));
  if (done) await loadDetail(id);
}

function confirmDialog(text) {
  const dialog = $('confirm');
  $('confirm-text').textContent = text;
  dialog.querySelector('[value=cancel]').textContent = t('actions.cancel');
  dialog.querySelector('[value=ok]').textContent = t('actions.close');
  dialog.returnValue = '';
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'ok'), { once: true });
  });
}

async function onClose() {
  const d = state.detail;
  if (!d) return;
  if (!(await confirmDialog(t('actions.close_confirm', { code: d.code, place: d.place || d.id })))) return;
  await changeStatus('91', t('actions.close_reason'));
}

async function onShare() {
  const box = $('panel-actions');
  const agency = box.querySelector('[data-testid=share-agency]').value;
  const purposeInput = box.querySelector('[data-testid=share-purpose]');
  const purpose = purposeInput.value.trim() || 'shared from the situation board';
  const id = state.selectedId;
  const grant = await act(() => call(`/api/v1/incidents/${encodeURIComponent(id)}/grants`,
    { method: 'POST', body: { agency, purpose } }), `${t('actions.done')} → ${agency}`);
  if (grant) {
    purposeInput.value = '';
    await loadDetail(id);
  }
}

async function editCameras(change) {
  const id = state.selectedId;
  const detail = await act(async () => (await call(`/api/v1/incidents/${encodeURIComponent(id)}/cameras`,
    { method: 'POST', body: { add: [], remove: [], ...change } })).data, t('actions.done'));
  if (detail && state.selectedId === id) {
    state.detail = detail;
    renderPanel();
    drawSelection();
    await ensureWatch(id);
  }
}

// --- the live feed --------------------------------------------------------------------------------------

function setConn(kind) {
  state.connState = kind;
  const el = $('conn');
  if (!state.me) return;
  el.hidden = false;
  el.className = `conn conn-${kind}`;
  el.dataset.state = kind;
  el.querySelector('.conn-text').textContent = t(`conn.${kind === 'live' ? 'live' : kind}`);
}

function closeStream() {
  if (state.stream) state.stream.close();
  state.stream = null;
  clearTimeout(state.reconnectTimer);
}

function openStream() {
  closeStream();
  const url = state.lastEventId ? `/api/v1/stream?last_event_id=${encodeURIComponent(state.lastEventId)}` : '/api/v1/stream';
  const source = new EventSource(url, { withCredentials: true });
  state.stream = source;
  setConn(state.streamErrored ? 'reconnecting' : 'connecting');
  source.onopen = () => {
    state.reconnectDelay = 1000;
    setConn('live');
    if (state.streamErrored) {
      // Back after a drop: re-read the open incidents so nothing missed stays missing.
      state.streamErrored = false;
      loadIncidents().then(() => { if (state.selectedId) refreshDetailSoon(); }).catch(showBoardError);
      loadUnits().catch(showBoardError);
      loadSensors().catch(showBoardError);
    }
  };
  source.onerror = () => {
    state.streamErrored = true;
    setConn('reconnecting');
    if (source.readyState === EventSource.CLOSED && state.stream === source) {
      // The browser gave up (an HTTP error such as a 502 from a proxy, or 401): retry ourselves, with backoff.
      state.reconnectTimer = setTimeout(async () => {
        try {
          await call('/api/v1/me');
          openStream();
        } catch (err) {
          if (!(err instanceof ApiError && err.status === 401)) {
            state.reconnectDelay = Math.min(state.reconnectDelay * 2, 15_000);
            openStream();
          }
        }
      }, state.reconnectDelay);
    }
  };
  for (const type of STREAM_TYPES) source.addEventListener(type, onStreamMessage);
}

function onStreamMessage(event) {
  const id = Number(event.lastEventId);
  if (Number.isFinite(id) && id > 0) {
    if (state.lastEventId && id <= state.lastEventId) return; // already seen (a replay overlap)
    state.lastEventId = id;
  }
  let data;
  try { data = JSON.parse(event.data); } catch { return; }
  const incidentId = data.incident_id != null ? String(data.incident_id) : data.id != null ? String(data.id) : null;
  switch (event.type) {
    case 'incident.opened':
    case 'incident.updated':
      upsertIncident(data, { fromStream: true });
      onSensorIncident(data);
      break;
    case 'incident.closed':
      if (incidentId) removeIncident(incidentId);
      onSensorIncident(data);
      break;
    case 'camera.changed':
      if (data.camera) addCamera(data.camera);
      else if (data.id && data.lat != null) addCamera(data);
      scheduleCones();
      return;
    case 'unit.changed':
      upsertUnit(data);
      return;
    case 'unit.removed':
      removeUnit(data.id);
      return;
    default:
      break;
  }
  if (incidentId && incidentId === state.selectedId) refreshDetailSoon();
}

if (document.body && document.body.dataset.page === 'board') {
  // A handle for tests and benchmarks (e.g. to cut the live feed as a network drop would); nothing more.
  window.__citylinkBoard = {
    stream: () => state.stream,
    incidents: () => state.incidents.size,
    onMap: (id) => Boolean(state.markers.get(id) && state.layers.incidents.hasLayer(state.markers.get(id))),
    unit: (id) => unitOnMap(id),
    sensor: (id) => sensorOnMap(id),
  };
  boot();
}
