// Service usage drawn: events handled per service and the delay from event to grant or alert (p50, p99),
// from GET /api/v1/statistics/services. Uses the board's login (session cookie); plain SVG, nothing fetched
// from outside citylink.

const SVG = 'http://www.w3.org/2000/svg';
const ROW = 26;
const LABEL_W = 190;
const VALUE_W = 90;

function el(name, attrs, text) {
  const node = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Horizontal bars: one row per service, value(s) scaled to the widest. */
function drawBars(svg, services, value, extra) {
  svg.replaceChildren();
  const width = svg.clientWidth || 900;
  const plot = Math.max(width - LABEL_W - VALUE_W, 50);
  const top = Math.max(...services.map((s) => Math.max(value(s), extra ? extra(s) : 0)), 1);
  svg.setAttribute('height', String(services.length * ROW + 6));
  services.forEach((s, i) => {
    const y = i * ROW + 4;
    svg.append(el('text', { x: 0, y: y + 15, class: 'label' }, s.service));
    svg.append(el('rect', { x: LABEL_W, y: y + 2, width: Math.max((value(s) / top) * plot, 1), height: 16,
                            class: 'bar', 'data-testid': 'bar', 'data-service': s.service, 'data-value': value(s) }));
    if (extra) {  // on top of the p50 bar, so that a p99 equal to the p50 still shows
      svg.append(el('rect', { x: LABEL_W, y: y + 8, width: (extra(s) / top) * plot, height: 4, class: 'bar-p99',
                              'data-testid': 'bar-p99', 'data-service': s.service }));
    }
    const shown = extra ? `${value(s)} / ${extra(s)}` : String(value(s));
    svg.append(el('text', { x: LABEL_W + plot + 6, y: y + 15, class: 'value' }, shown));
  });
}

function fillTable(services) {
  const body = document.getElementById('rows');
  body.replaceChildren(...services.map((s) => {
    const tr = document.createElement('tr');
    tr.dataset.testid = 'stats-row';
    for (const v of [s.service, s.events, s.p50_ms, s.p90_ms, s.p99_ms, s.max_ms]) {
      const td = document.createElement('td');
      td.textContent = String(v);
      tr.append(td);
    }
    return tr;
  }));
}

async function load() {
  const hours = Number(document.getElementById('hours').value);
  const since = new Date(Date.now() - hours * 3600 * 1000).toISOString();
  const message = document.getElementById('message');
  const response = await fetch(`/api/v1/statistics/services?since=${encodeURIComponent(since)}`,
                               { credentials: 'same-origin' });
  if (response.status === 401) {
    message.hidden = false;
    message.innerHTML = 'Log in on the <a href="/board">situation board</a> first.';
    return;
  }
  if (!response.ok) {
    message.hidden = false;
    message.textContent = (await response.json()).detail || `HTTP ${response.status}`;
    return;
  }
  message.hidden = true;
  const data = await response.json();
  const services = data.services;
  document.getElementById('range').textContent =
    `${new Date(data.since).toLocaleString()} – ${new Date(data.until).toLocaleString()}`;
  drawBars(document.getElementById('events'), services, (s) => s.events);
  drawBars(document.getElementById('delays'), services, (s) => s.p50_ms, (s) => s.p99_ms);
  fillTable(services);
  document.body.dataset.ready = 'true';
}

document.getElementById('hours').addEventListener('change', () => { load(); });
load();
