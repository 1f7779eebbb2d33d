// Environment sensors on the situation board: a dot per sensor on the map (red in alarm, green reporting,
// grey down), and in an environment alarm's panel its sensors' values over time against the measure's levels.
//
// Sensor levels move with readings, which the feed does not carry: the register (/api/v1/sensors) is read
// again every 30 s and soon after an alarm or sensor-down incident opens, changes or ends. Only alarms raised
// from citylink's own sensors (sender system ENV) have a series (/api/v1/incidents/{id}/environment); the
// chart is hand-written SVG, so nothing more has to be shipped to a board that runs offline.

import { escapeHtml, formatClock, onLangChange, t } from './i18n.js';
import { ageText } from './units.js';

export const ALARM_CODES = new Set(['APLEN110', 'WESEN110']);
const SENSOR_CODES = new Set([...ALARM_CODES, 'MTSUC220']);
const RELOAD_MS = 30_000;
const SERIES_MAX_AGE_MS = 30_000; // an alarm that does not change still gets readings: redraw at most this late
const COLOURS = ['#1c7ed6', '#e8590c', '#2f9e44', '#ae3ec9', '#c2255c', '#0c8599', '#5f3dc4', '#846358'];

const env = {
  map: null, call: null, layer: null, shown: true, loading: 0, reloadTimer: null,
  active: () => true, // false while the login screen shows: a timed read must not bring up a 401 again
  markers: new Map(), // id → L.marker (its sensor as the API gives it in .sensor)
  measures: null, // name → {label, unit, levels}, read once
  series: new Map(), // incident id → {updated, at, data}; data null: no series for it
  pending: new Set(),
  shownId: null, // the incident whose chart the panel shows
};

/** The pane and layer for sensors on the board's map; `active()` says whether a timed reload may run. */
export function initSensorLayer(map, { call, active }) {
  env.map = map;
  env.call = call;
  if (active) env.active = active;
  // Above the incidents' canvas (430), which would take the pointer and so the tooltips; below the units.
  map.createPane('sensors').style.zIndex = 433;
  env.layer = L.layerGroup();
  if (env.shown) env.layer.addTo(map);
  setInterval(() => { if (env.active()) loadSensors().catch(() => {}); }, RELOAD_MS); // the next round retries
  onLangChange(() => { for (const marker of env.markers.values()) restyle(marker); });
}

/** Read the register and redraw: new sensors added, removed ones dropped, every state as it is now. */
export async function loadSensors() {
  if (!env.layer) return;
  const generation = ++env.loading;
  const [{ data }] = await Promise.all([env.call('/api/v1/sensors'), env.measures ? null : loadMeasures()]);
  if (generation !== env.loading) return; // a newer read is under way
  const keep = new Set();
  for (const sensor of Array.isArray(data?.sensors) ? data.sensors : []) {
    if (sensor?.id != null && upsert(sensor)) keep.add(String(sensor.id));
  }
  for (const [id, marker] of env.markers) {
    if (keep.has(id)) continue;
    env.layer.removeLayer(marker);
    env.markers.delete(id);
  }
}

async function loadMeasures() {
  try {
    const { data } = await env.call('/api/v1/environment/measures');
    env.measures = new Map((data?.measures || []).map((m) => [m.name, m]));
  } catch { /* values show without their units; asked again on the next read */ }
}

/** A feed message about an incident: an environment alarm or a sensor down moves sensors' states. */
export function onSensorIncident(summary) {
  if (!summary || !SENSOR_CODES.has(summary.code)) return;
  clearTimeout(env.reloadTimer);
  env.reloadTimer = setTimeout(() => loadSensors().catch(() => {}), 250);
}

/** Place and restyle a sensor's dot, or add it; false when it has no usable position (its dot goes). */
function upsert(sensor) {
  const id = String(sensor.id);
  const [lat, lon] = [Number(sensor.location?.lat), Number(sensor.location?.lon)];
  if (!Number.isFinite(lat) || !Number.isFinite(lon)) return false;
  let marker = env.markers.get(id);
  if (!marker) {
    marker = L.marker([lat, lon], { pane: 'sensors', keyboard: false, riseOnHover: true });
    // Worked out each time it opens: the last reading's age changes while the board is open.
    marker.bindTooltip(() => tooltipHtml(marker.sensor), { direction: 'top', offset: [0, -6], className: 'sensor-tooltip' });
    env.markers.set(id, marker);
    env.layer.addLayer(marker);
  }
  marker.sensor = sensor;
  marker.setLatLng([lat, lon]);
  restyle(marker);
  return true;
}

function sensorState(sensor) {
  if (sensor.down) return 'down';
  return Object.values(sensor.levels || {}).some((l) => l && l.level) ? 'alarm' : 'ok';
}

function restyle(marker) {
  const sensor = marker.sensor;
  const state = sensorState(sensor);
  const label = `${sensor.name || sensor.id} · ${t(`env.state.${state}`)}`;
  if (marker.label === label) return; // a new icon every 30 s would redraw every dot for nothing
  marker.label = label;
  const html = `<div class="sensor sensor-${state}" data-testid="sensor-marker" data-id="${escapeHtml(sensor.id)}"`
    + ` data-state="${state}" aria-label="${escapeHtml(label)}"></div>`;
  marker.setIcon(L.divIcon({ className: 'sensor-icon', html, iconSize: [12, 12], iconAnchor: [6, 6] }));
}

const measureOf = (name) => (env.measures && env.measures.get(name)) || { label: name, unit: '' };
const num = (v) => (Number.isFinite(Number(v)) ? String(+Number(v).toPrecision(4)) : String(v ?? ''));

function levelLabel(name) {
  const text = t(`env.level.${name}`);
  return text === `env.level.${name}` ? String(name).replace(/_/g, ' ') : text;
}

function tooltipHtml(sensor) {
  if (!sensor) return '';
  const state = sensorState(sensor);
  const values = Object.entries(sensor.values || {}).map(([name, value]) => {
    const m = measureOf(name);
    const level = sensor.levels?.[name]?.level;
    return `<br>${escapeHtml(m.label)}: <b>${escapeHtml(num(value))}</b> ${escapeHtml(m.unit)}`
      + (level ? ` · <span class="sensor-level">${escapeHtml(levelLabel(level))}</span>` : '');
  }).join('');
  const age = ageText(sensor.last_seen_at);
  return `<div data-testid="sensor-tooltip"><b>${escapeHtml(sensor.name || sensor.id)}</b>`
    + ` <span class="unit-agency">${escapeHtml(sensor.agency || '')}</span>${values}`
    + `<br><span class="sensor-state-${state}">${escapeHtml(t(`env.state.${state}`))}</span>`
    + ` · <span class="unit-age">${escapeHtml(age ? t('env.last_seen', { age }) : t('env.never_seen'))}</span></div>`;
}

/** The legend's sensors part: a toggle and the three states' colours. */
export function sensorLegendHtml() {
  return `<span class="legend-break" aria-hidden="true"></span>`
    + `<label class="legend-item legend-toggle"><input type="checkbox" data-testid="sensors-toggle"${env.shown ? ' checked' : ''}>`
    + `<b>${escapeHtml(t('env.legend'))}</b></label>`
    + ['ok', 'alarm', 'down'].map((s) => `<span class="legend-item"><i class="sensor-key sensor-${s}"></i>${escapeHtml(t(`env.state.${s}`))}</span>`).join('');
}

/** Hook the legend's sensors toggle up (after each time the legend is drawn; it is drawn as `shown` is). */
export function bindSensorLegend(element) {
  const box = element.querySelector('[data-testid=sensors-toggle]');
  box?.addEventListener('change', () => {
    env.shown = box.checked;
    if (env.shown) env.layer.addTo(env.map);
    else env.layer.remove();
  });
}

// A handle for tests: a sensor's dot and state, or null when it is not drawn.
export function sensorOnMap(id) {
  const marker = env.markers.get(String(id));
  if (!marker) return null;
  const { lat, lng } = marker.getLatLng();
  return { lat, lon: lng, state: sensorState(marker.sensor), shown: env.shown && env.layer.hasLayer(marker) };
}

// --- the alarm's chart ----------------------------------------------------------------------------------

/** Empty the chart's box (another incident is selected, or none). */
export function clearEnvironment(box) {
  env.shownId = null;
  hide(box);
}

function hide(box) {
  box.hidden = true;
  box.replaceChildren();
}

/** Draw the alarm's series in `box` (read again when the incident changed, or when it is 30 s old); the box
 * stays hidden for an incident that has none. */
export function renderEnvironment(detail, box) {
  if (!detail || !ALARM_CODES.has(detail.code) || detail.sender?.system !== 'ENV') {
    clearEnvironment(box);
    return;
  }
  const id = String(detail.id);
  env.shownId = id;
  const cached = env.series.get(id);
  if (cached?.data) draw(box, cached.data);
  if (!cached || cached.updated !== detail.updated_at || Date.now() - cached.at > SERIES_MAX_AGE_MS) {
    loadSeries(id, detail.updated_at, box);
  }
}

async function loadSeries(id, updated, box) {
  const key = `${id}|${updated}`;
  if (env.pending.has(key)) return; // a panel drawn twice in a row asks once
  env.pending.add(key);
  const asked = Date.now();
  let data = null;
  try {
    data = (await env.call(`/api/v1/incidents/${encodeURIComponent(id)}/environment`)).data;
  } catch { /* 404: not an alarm of citylink's sensors; anything else: tried again on the next update */ }
  env.pending.delete(key);
  if ((env.series.get(id)?.at || 0) > asked) return; // a later read answered first
  env.series.set(id, { updated, at: asked, data });
  while (env.series.size > 20) env.series.delete(env.series.keys().next().value);
  if (env.shownId !== id) return;
  if (data) draw(box, data);
  else hide(box);
}

function draw(box, data) {
  const measure = data.measure || {};
  const sensors = (data.sensors || []).map((s, i) => ({ id: String(s.id), name: s.name || s.id, colour: COLOURS[i % COLOURS.length],
    points: (s.points || []).map(([at, v]) => [Date.parse(at), Number(v)]).filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y)) }));
  box.hidden = false;
  box.innerHTML = `<h3>${escapeHtml(t('env.chart.title'))} <span class="sub">${escapeHtml(measure.label || measure.name || '')}`
    + ` · ${escapeHtml(measure.unit || '')}</span></h3>${chartSvg(data, measure, sensors)}`
    + (sensors.some((s) => s.points.length) ? '' : `<p class="note">${escapeHtml(t('env.chart.none'))}</p>`)
    + `<ul class="env-legend">${sensors.map((s) => `<li data-testid="env-legend-item" data-sensor="${escapeHtml(s.id)}">`
      + `<i style="background:${s.colour}"></i>${escapeHtml(s.name)}`
      + (s.points.length ? ` <b>${escapeHtml(num(s.points.at(-1)[1]))}</b>` : '') + `</li>`).join('')}</ul>`;
}

const [W, H] = [408, 190]; // the panel's width less its padding; scaled to fit by the viewBox
const PAD = { left: 40, right: 6, top: 16, bottom: 20 };
const MINUTE_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440];

function niceStep(raw) {
  const base = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 5, 10].map((k) => k * base).find((s) => s >= raw);
}

function chartSvg(data, measure, sensors) {
  const levels = (measure.levels || []).filter((l) => Number.isFinite(Number(l.raise_at)));
  const opened = Date.parse(data.opened_at);
  const ended = data.ended_at ? Date.parse(data.ended_at) : null;
  const points = sensors.flatMap((s) => s.points);
  const times = [...points.map((p) => p[0]), opened, Date.parse(data.until), ended].filter(Number.isFinite);
  const x1 = times.length ? Math.max(...times) : Date.now();
  const x0 = Math.min(times.length ? Math.min(...times) : x1, x1 - 60_000);
  const values = [0, ...points.map((p) => p[1]), ...levels.map((l) => Number(l.raise_at))];
  const yStep = niceStep((Math.max(...values) - Math.min(...values)) / 4 || 1);
  const y0 = Math.floor(Math.min(...values) / yStep) * yStep;
  const y1 = Math.ceil((Math.max(...values) * 1.04) / yStep) * yStep || y0 + yStep;
  const sx = (x) => (PAD.left + ((x - x0) / (x1 - x0)) * (W - PAD.left - PAD.right)).toFixed(1);
  const sy = (y) => (H - PAD.bottom - ((y - y0) / (y1 - y0)) * (H - PAD.top - PAD.bottom)).toFixed(1);
  const [top, bottom, left, right] = [PAD.top, H - PAD.bottom, PAD.left, W - PAD.right];
  let svg = '';
  if (Number.isFinite(opened)) {
    svg += `<rect class="env-alarm-span" x="${sx(opened)}" y="${top}" width="${(sx(ended ?? x1) - sx(opened)).toFixed(1)}" height="${bottom - top}"/>`;
  }
  for (let y = y0; y <= y1 + yStep / 1e6; y += yStep) {
    svg += `<line class="env-grid" x1="${left}" x2="${right}" y1="${sy(y)}" y2="${sy(y)}"/>`
      + `<text class="env-tick" x="${left - 4}" y="${sy(y)}" dy="3" text-anchor="end">${escapeHtml(num(y))}</text>`;
  }
  const xStep = 60_000 * (MINUTE_STEPS.find((m) => (x1 - x0) / (m * 60_000) <= 5) || 2880);
  for (let x = Math.ceil(x0 / xStep) * xStep; x <= x1; x += xStep) {
    svg += `<line class="env-grid" x1="${sx(x)}" x2="${sx(x)}" y1="${top}" y2="${bottom}"/>`
      + `<text class="env-tick" x="${sx(x)}" y="${bottom + 13}" text-anchor="middle">${escapeHtml(formatClock(x))}</text>`;
  }
  svg += `<text class="env-tick" x="${left - 4}" y="${top - 6}" text-anchor="end">${escapeHtml(measure.unit || '')}</text>`;
  for (const level of levels) {
    const y = sy(Number(level.raise_at));
    svg += `<line class="env-threshold env-threshold-${escapeHtml(level.grade)}" data-level="${escapeHtml(level.name)}"`
      + ` x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke-dasharray="5 4"/>`
      + `<text class="env-threshold-label" x="${left + 3}" y="${y}" dy="-3">${escapeHtml(levelLabel(level.name))}</text>`;
  }
  for (const [at, cls, key] of [[opened, 'env-opened', 'env.chart.opened'], [ended, 'env-ended', 'env.chart.ended']]) {
    if (!Number.isFinite(at)) continue;
    const x = Number(sx(at));
    // Labelled on the side with room: an alarm still open is usually at the right edge.
    svg += `<line class="${cls}" x1="${x}" x2="${x}" y1="${top}" y2="${bottom}"/><text class="env-mark-label" x="${x}"`
      + ` y="${top - 4}" dx="${x > W / 2 ? -3 : 3}" text-anchor="${x > W / 2 ? 'end' : 'start'}">${escapeHtml(t(key))}</text>`;
  }
  for (const s of sensors) {
    if (!s.points.length) continue;
    const d = s.points.map(([x, y], i) => `${i ? 'L' : 'M'}${sx(x)} ${sy(y)}`).join(' ');
    const [lx, ly] = s.points.at(-1);
    svg += `<path class="env-line" data-sensor="${escapeHtml(s.id)}" data-points="${s.points.length}" d="${d}" stroke="${s.colour}"/>`
      + `<circle class="env-dot" cx="${sx(lx)}" cy="${sy(ly)}" r="2.6" fill="${s.colour}"/>`;
  }
  const title = t('env.chart.aria', { measure: measure.label || measure.name || '', unit: measure.unit || '',
    sensors: sensors.map((s) => s.name).join(', '), from: formatClock(x0), to: formatClock(x1) });
  return `<svg class="env-chart" data-testid="env-chart" data-measure="${escapeHtml(measure.name || '')}" viewBox="0 0 ${W} ${H}"`
    + ` role="img" aria-labelledby="env-chart-title"><title id="env-chart-title">${escapeHtml(title)}</title>${svg}</svg>`;
}
