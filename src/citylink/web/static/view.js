// The responder view: a grant link opened on a patrol-car terminal or a fire-engine tablet. It shows only the
// granted cameras, live, with the incident and a countdown; it checks the grant every second and stops the
// video within 2 s of a revocation or expiry. The grant token in the URL is the only credential.

import { createCityMap, drawBasemap, incidentIconHtml, serviceOf } from './board.js';
import {
  api, ApiError, applyStatic, bindLangSwitch, errorText, escapeHtml, formatDuration, formatTime, getLang,
  onLangChange, setTimeZone, t,
} from './i18n.js';

const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);

const token = decodeURIComponent(window.location.pathname.replace(/^\/view\//, '').replace(/\/+$/, ''));
const view = {
  data: null,
  ended: false,
  clockOffsetMs: 0, // server time − local time, from the Date header: the countdown follows the server's clock
  map: null,
  marker: null,
  cameraLayer: null,
  basemapTried: false,
  live: [], // camera ids whose picture is streaming
};

function serverNow() {
  return Date.now() + view.clockOffsetMs;
}

async function poll() {
  try {
    const { data, response } = await api(`/api/v1/view/${encodeURIComponent(token)}`);
    const date = Date.parse(response.headers.get('date') || '');
    if (!Number.isNaN(date)) view.clockOffsetMs = date - Date.now();
    view.data = data;
    if (data.timezone) setTimeZone(data.timezone);
    $('view-state').classList.remove('offline');
    render();
    if (view.ended) return; // revoked or expired for good: nothing more to ask
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 403 || err.status === 404)) {
      end('invalid', errorText(err));
      return; // an invalid link stays invalid: stop polling
    }
    // Network trouble: keep trying; the video endpoint stops on its own if the grant ends meanwhile.
    $('view-state').textContent = t('view.offline');
    $('view-state').classList.add('offline');
  }
  setTimeout(poll, POLL_MS);
}

function render() {
  const d = view.data;
  applyStatic(document);
  if (!d) return;
  renderIncident(d.incident);
  $('view-grant').innerHTML = `<dt>${escapeHtml(t('view.granted_to'))}</dt><dd>${escapeHtml(d.agency)}</dd>`
    + `<dt>${escapeHtml(t('view.purpose'))}</dt><dd>${escapeHtml(d.purpose || '')}</dd>`;
  if (d.status !== 'live') {
    end(d.status, d.reason);
    return;
  }
  if (view.ended) return; // ended here already (the countdown ran out): an ended view never comes back
  $('view-state').textContent = t('view.live');
  $('view-state').className = 'view-state live';
  renderCountdown();
  renderCameras(d.cameras || []);
  renderMap(d);
}

function renderIncident(incident) {
  if (!incident) return;
  const service = serviceOf(incident.code);
  const name = getLang() === 'ko' ? incident.name : (incident.name_en || incident.name);
  $('view-incident').innerHTML = `<div class="panel-title"><span class="code code-${service}">${escapeHtml(incident.code)}</span>`
    + (incident.grade === '10' ? `<span class="tag tag-urgent">${escapeHtml(t('grade.10'))}</span>` : '')
    + `<span class="status status-${escapeHtml(incident.status)}">${escapeHtml(t(`status.${incident.status}`))}</span></div>`
    + `<h1 data-testid="view-incident-name">${escapeHtml(name)}</h1>`
    + `<p class="view-place">${escapeHtml(incident.place || '')}</p>`
    + `<p class="view-opened">${escapeHtml(t('panel.opened'))} ${escapeHtml(formatTime(incident.opened_at))}</p>`;
}

function renderCountdown() {
  const d = view.data;
  if (!d || view.ended) return;
  const left = Date.parse(d.expires_at) - serverNow();
  $('countdown').hidden = false;
  $('countdown-value').textContent = formatDuration(left);
  $('countdown').classList.toggle('soon', left < 5 * 60_000);
  if (left <= 0) end('expired', '');
}

function videoSrc(cameraId) {
  return `/video/${encodeURIComponent(cameraId)}.mjpeg?jwt=${encodeURIComponent(token)}`;
}

// A browser keeps at most 6 connections to one server and each live picture holds one: four pictures leave
// room for the grant check every second (which must never starve) and one more call.
const MAX_LIVE_VIDEO = 4;
const STILL_REFRESH_MS = 3000;

function renderCameras(cameras) {
  const grid = $('view-cameras');
  $('view-count').textContent = `(${cameras.length})`;
  const ids = cameras.map((c) => c.id);
  view.live = (view.live || []).filter((id) => ids.includes(id));
  for (const id of ids) {
    if (view.live.length >= MAX_LIVE_VIDEO) break;
    if (!view.live.includes(id)) view.live.push(id);
  }
  const existing = new Map([...grid.querySelectorAll('figure[data-camera]')].map((f) => [f.dataset.camera, f]));
  const figures = cameras.map((c) => {
    let fig = existing.get(c.id);
    if (!fig) {
      fig = document.createElement('figure');
      fig.className = 'video';
      fig.dataset.camera = c.id;
      fig.innerHTML = `<img data-testid="view-video" alt="${escapeHtml(c.name || c.id)}" hidden>`
        + `<button type="button" class="video-paused" data-testid="video-paused" hidden></button>`
        + `<figcaption>${c.tier ? `<span class="tier tier-${c.tier}">${c.tier}</span>` : ''}${escapeHtml(c.name || c.id)}`
        + `${c.reason ? `<span class="why">${escapeHtml(c.reason)}</span>` : ''}</figcaption>`;
      fig.querySelector('.video-paused').addEventListener('click', () => {
        view.live = view.live.filter((id) => id !== c.id);
        if (view.live.length >= MAX_LIVE_VIDEO) view.live.shift();
        view.live.push(c.id);
        renderCameras(view.data ? view.data.cameras || [] : []);
      });
    }
    fig.querySelector('.video-paused').textContent = `▶ ${t('video.watch')}`;
    const img = fig.querySelector('img');
    const live = view.live.includes(c.id) && !view.ended;
    if (view.ended) {
      img.removeAttribute('src');
      img.dataset.mode = '';
    } else if (live) {
      if (img.dataset.mode !== 'live') img.src = videoSrc(c.id);
      img.dataset.mode = 'live';
    } else if (img.dataset.mode !== 'still' || Date.now() - Number(img.dataset.at || 0) >= STILL_REFRESH_MS) {
      // Not streaming: a still refreshed every few seconds, one short request each.
      img.src = `/video/${encodeURIComponent(c.id)}.jpg?jwt=${encodeURIComponent(token)}&t=${Date.now()}`;
      img.dataset.mode = 'still';
      img.dataset.at = String(Date.now());
    }
    img.hidden = view.ended;
    fig.classList.toggle('paused', !live && !view.ended);
    fig.querySelector('.video-paused').hidden = live || view.ended;
    return fig;
  });
  for (const [id, fig] of existing) {
    if (!ids.includes(id)) fig.querySelector('img').removeAttribute('src');
  }
  grid.replaceChildren(...figures);
}

async function renderMap(d) {
  const spot = d.incident?.location;
  if (!spot) return;
  if (!view.map) {
    const half = 0.004;
    const config = { bbox: [spot.lon - half * 2, spot.lat - half, spot.lon + half * 2, spot.lat + half], attribution: '' };
    const { map } = createCityMap($('view-map'), config, { zoomControl: true, outline: false });
    view.map = map;
    view.map.createPane('cams').style.zIndex = 420;
    view.cameraLayer = L.layerGroup().addTo(map);
  }
  if (!view.basemapTried) {
    view.basemapTried = true;
    // The grant token opens the city's base map too, while the grant lives.
    api(`/api/v1/view/${encodeURIComponent(token)}/basemap`).then(({ data }) => drawBasemap(view.map, data)).catch(() => {});
  }
  const incident = d.incident;
  const urgent = incident.grade === '10';
  const size = urgent ? 32 : 26;
  const icon = L.divIcon({ className: 'inc-icon', html: incidentIconHtml(incident), iconSize: [size, size] });
  if (!view.marker) view.marker = L.marker([spot.lat, spot.lon], { icon, keyboard: false }).addTo(view.map);
  else view.marker.setLatLng([spot.lat, spot.lon]).setIcon(icon);
  view.cameraLayer.clearLayers();
  const points = [[spot.lat, spot.lon]];
  for (const c of d.cameras || []) {
    points.push([c.lat, c.lon]);
    L.polyline([[c.lat, c.lon], [spot.lat, spot.lon]], { pane: 'cams', color: '#1a9e5f', weight: 1.5, dashArray: '4 4', interactive: false })
      .addTo(view.cameraLayer);
    L.circleMarker([c.lat, c.lon], { pane: 'cams', radius: 6, color: '#fff', weight: 2, fillColor: '#1c7fb8', fillOpacity: 1 })
      .bindTooltip(c.name || c.id).addTo(view.cameraLayer);
  }
  if (!view.fitted) {
    view.fitted = true;
    view.map.fitBounds(L.latLngBounds(points).pad(0.35), { maxZoom: 17 });
  }
}

/** The grant is over (or the link was never valid): say so, and stop every picture. */
function end(status, reason) {
  const first = !view.ended;
  view.ended = true;
  for (const img of document.querySelectorAll('#view-cameras img')) img.removeAttribute('src');
  $('view-cameras').replaceChildren();
  $('view-count').textContent = '';
  $('countdown').hidden = true;
  if (view.cameraLayer) view.cameraLayer.clearLayers();
  const banner = $('banner');
  const title = status === 'revoked' ? t('view.revoked') : status === 'expired' ? t('view.expired') : t('view.invalid');
  banner.hidden = false;
  banner.className = `banner view-ended ended-${status}`;
  banner.dataset.status = status;
  banner.innerHTML = `<strong>${escapeHtml(title)}</strong>`
    + `<span class="banner-text">${escapeHtml(status === 'invalid' ? reason : t('view.ended_hint'))}`
    + `${reason && status !== 'invalid' ? ` (${escapeHtml(reason)})` : ''}</span>`;
  $('view-state').textContent = title;
  $('view-state').className = 'view-state ended';
  document.body.classList.add('is-ended');
  if (first) document.title = `${title} · citylink`;
}

function start() {
  applyStatic(document);
  bindLangSwitch($('lang'));
  onLangChange(() => {
    if (view.ended && view.data) end(view.data.status, view.data.reason);
    else render();
  });
  // Times in the city's zone, which every view answer carries; the terminal's own zone until the first one.
  setTimeZone(Intl.DateTimeFormat().resolvedOptions().timeZone);
  setInterval(renderCountdown, 250);
  poll();
}

start();
