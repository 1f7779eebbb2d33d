// UI text in Korean and English, and the helpers the board and the responder view share:
// language switching, times in the city's time zone, and API calls that turn problem+json into messages.

const TEXT = {
  en: {
    'app.board': 'Situation board',
    'app.view': 'Responder view',
    'lang.switch': '한국어',
    'login.title': 'Sign in to the situation board',
    'login.key': 'Agency API key',
    'login.hint': 'The key your agency was issued (centre, police, fire, …). It is exchanged for a session cookie and never stored in the page.',
    'login.submit': 'Sign in',
    'login.busy': 'Signing in…',
    'header.logout': 'Log out',
    'header.stats': 'Statistics',
    'conn.connecting': 'Connecting…',
    'conn.live': 'Live',
    'conn.reconnecting': 'Reconnecting…',
    'role.operator': 'operator',
    'role.supervisor': 'supervisor',
    'role.agency': 'agency',
    'role.auditor': 'auditor',
    'role.admin': 'admin',
    'list.title': 'Open incidents',
    'list.count': '{n} open',
    'list.count_filtered': '{shown} of {n} open',
    'list.more': '{n} more not shown: narrow the filter',
    'list.empty': 'No open incidents match.',
    'filter.service': 'Service',
    'filter.status': 'Status',
    'filter.all_services': 'All services',
    'filter.all_statuses': 'All statuses',
    'filter.unacknowledged': 'Not acknowledged',
    'service.police': '112 police',
    'service.fire': '119 fire / rescue',
    'service.disaster': 'Disaster',
    'service.sos': 'SOS / vulnerable',
    'service.other': 'Other',
    'grade.10': 'urgent',
    'grade.20': 'normal',
    'status.10': 'occurred',
    'status.40': 'changed',
    'status.50': 'cleared',
    'status.90': 'cancelled',
    'status.91': 'ended',
    'status.92': 'auto-ended',
    'incident.new': 'NEW',
    'incident.acked': 'acknowledged',
    'panel.close': 'Close panel',
    'panel.place': 'Place',
    'panel.opened': 'Opened',
    'panel.updated': 'Updated',
    'panel.agencies': 'Agencies',
    'panel.content': 'Report',
    'panel.ack_by': 'Acknowledged by {who} at {at}',
    'panel.not_acked': 'Not acknowledged yet',
    'panel.loading': 'Loading…',
    'panel.ended': 'This incident has ended.',
    'actions.title': 'Actions',
    'actions.ack': 'Acknowledge',
    'actions.status': 'Change status',
    'actions.status_apply': 'Apply',
    'actions.reason': 'Reason',
    'actions.close': 'Close incident',
    'actions.cancel': 'Cancel',
    'actions.close_confirm': 'Close incident {code} at {place}? Every video grant for it is revoked at once.',
    'actions.close_reason': 'closed from the situation board',
    'actions.share': 'Share video',
    'actions.share_agency': 'Agency',
    'actions.share_purpose': 'Purpose',
    'actions.share_submit': 'Share',
    'actions.done': 'Done.',
    'cameras.title': 'Cameras',
    'cameras.none': 'No cameras selected.',
    'cameras.tier.1': 'sees the spot',
    'cameras.tier.2': 'can turn',
    'cameras.tier.3': 'nearby',
    'cameras.remove': 'Remove',
    'cameras.add': 'Add camera',
    'cameras.add_pick': 'Nearby cameras…',
    'cameras.offline': 'offline',
    'video.title': 'Live video',
    'video.auditor': 'No video for auditors: the audit role never sees camera pictures.',
    'video.none': 'No cameras to show.',
    'video.loading': 'Requesting access…',
    'video.grant_until': 'Access until {at}',
    'video.watch': 'Watch live',
    'grants.title': 'Video grants',
    'grants.none': 'No grants.',
    'grants.until': 'until {at}',
    'grants.revoked': 'revoked {at}',
    'grants.live': 'live',
    'grants.expired': 'expired',
    'grants.link': 'responder link',
    'history.title': 'Event history',
    'notes.title': 'Notifications',
    'audit.title': 'Audit trail',
    'audit.none': 'No audit records.',
    'error.prefix': 'Error',
    'error.network': 'The server cannot be reached.',
    'camera.direction': 'looks {deg}°',
    'camera.no_direction': 'direction unknown',
    'camera.ptz': 'PTZ',
    'map.cones_hint': 'Zoom in to see every camera\u2019s view cone',
    'plans.computed': 'computed {at}',
    'plans.kind.fire': 'fire',
    'plans.kind.police': 'police',
    'plans.kind.hospital': 'hospital',
    'plans.source.unit': 'unit',
    'plans.source.station': 'station',
    'plans.mode.car': 'by car',
    'plans.mode.foot': 'on foot',
    'plans.unnamed_road': 'unnamed road',
    'plans.dispatch.title': 'Dispatch plan',
    'plans.dispatch.none': 'No unit or station can be ranked.',
    'plans.dispatch.eta': 'Arrival by road (m:ss)',
    'plans.dispatch.meta': '{road} by road · {straight} straight · {cameras} CCTV · {signals} signals',
    'plans.dispatch.unreachable': 'Cannot reach by road: {names}',
    'plans.dispatch.stale': 'Not ranked, last position too old: {names}',
    'plans.signals.title': 'Signal priority · {name}',
    'plans.signals.item': 'Signal {n}',
    'plans.signals.none': 'No traffic signals on the route.',
    'plans.nearby.title': 'Hydrants and hazards within 200 m',
    'plans.nearby.none': 'None mapped.',
    'plans.nearby.fire_hydrant': 'Fire hydrant',
    'plans.nearby.water_source': 'Water source',
    'plans.nearby.fuel_station': 'Fuel station',
    'plans.nearby.fuel': 'Fuel station',
    'plans.nearby.storage_tank': 'Storage tank',
    'plans.nearby.gas_holder': 'Gas holder',
    'plans.cordon.title': 'Cordon',
    'plans.cordon.summary': '{minutes} min {mode} · {km} of road',
    'plans.cordon.exits': 'Exits ({n})',
    'plans.cordon.no_exits': 'No exits.',
    'plans.cordon.watch': 'Cameras to watch next',
    'plans.cordon.no_cameras': 'No camera covers an exit.',
    'plans.cordon.camera_meta': '{exit} · reached after {at} · {m} m from the exit',
    'plans.cordon.add': 'Add',
    'plans.cordon.selected': 'selected',
    'plans.map.unit': '{name} · ETA {eta} · {km}',
    'plans.map.signal': 'Signal {n} · passed at {eta}',
    'plans.map.route_camera': 'On the route: {name} · {eta}',
    'plans.map.exit': 'Exit: {name} {cls}',
    'plans.map.watch': 'Watch next: {name} · {exit} · after {at}',
    'units.legend': 'Units',
    'units.kind.fire_engine': 'Fire engine',
    'units.kind.ambulance': 'Ambulance',
    'units.kind.patrol_car': 'Patrol car',
    'units.glyph.fire_engine': 'F',
    'units.glyph.ambulance': 'A',
    'units.glyph.patrol_car': 'P',
    'units.state.available': 'available',
    'units.state.dispatched': 'dispatched',
    'units.state.busy': 'busy',
    'units.state.off_duty': 'off duty',
    'units.position_age': 'position {age}',
    'units.position_unknown': 'position time unknown',
    'units.age.now': 'just now',
    'units.age.min': '{n} min ago',
    'units.age.h': '{n} h ago',
    'units.age.d': '{n} d ago',
    'units.incident': 'incident {id}',
    'env.legend': 'Sensors',
    'env.state.ok': 'normal',
    'env.state.alarm': 'in alarm',
    'env.state.down': 'not reporting',
    'env.last_seen': 'last reading {age}',
    'env.never_seen': 'no reading yet',
    'env.chart.title': 'Sensor readings',
    'env.chart.aria': '{measure} in {unit} at {sensors}, {from} to {to}, with its alarm levels',
    'env.chart.opened': 'opened',
    'env.chart.ended': 'lifted',
    'env.chart.none': 'No readings in this period.',
    'env.level.advisory': 'advisory',
    'env.level.warning': 'warning',
    'env.level.serious_warning': 'serious warning',
    'env.level.bad': 'bad',
    'env.level.very_bad': 'very bad',
    'env.level.heat_advisory': 'heat advisory',
    'env.level.heat_warning': 'heat warning',
    'env.level.rain_advisory': 'rain advisory',
    'env.level.rain_warning': 'rain warning',
    'view.live': 'Live access',
    'view.expires_in': 'Access expires in',
    'view.granted_to': 'Granted to',
    'view.purpose': 'Purpose',
    'view.cameras': 'Granted cameras',
    'view.expired': 'Access expired',
    'view.revoked': 'Access revoked',
    'view.ended_hint': 'Video access for this link has ended. Ask the operations centre for a new link if you still need it.',
    'view.invalid': 'This link is not valid.',
    'view.offline': 'Connection lost, retrying…',
  },
  ko: {
    'app.board': '통합 상황판',
    'app.view': '현장 대응 화면',
    'lang.switch': 'English',
    'login.title': '상황판 로그인',
    'login.key': '기관 API 키',
    'login.hint': '기관에 발급된 키(통합센터, 112, 119 …)를 입력하세요. 세션 쿠키로 교환되며 페이지에 저장되지 않습니다.',
    'login.submit': '로그인',
    'login.busy': '로그인 중…',
    'header.logout': '로그아웃',
    'header.stats': '통계',
    'conn.connecting': '연결 중…',
    'conn.live': '실시간',
    'conn.reconnecting': '재연결 중…',
    'role.operator': '관제요원',
    'role.supervisor': '관제팀장',
    'role.agency': '연계기관',
    'role.auditor': '감사',
    'role.admin': '관리자',
    'list.title': '진행 중 상황',
    'list.count': '{n}건',
    'list.count_filtered': '{n}건 중 {shown}건',
    'list.more': '{n}건 더 있음: 필터를 좁히세요',
    'list.empty': '조건에 맞는 상황이 없습니다.',
    'filter.service': '서비스',
    'filter.status': '상태',
    'filter.all_services': '전체 서비스',
    'filter.all_statuses': '전체 상태',
    'filter.unacknowledged': '미확인',
    'service.police': '112 경찰',
    'service.fire': '119 소방·구조',
    'service.disaster': '재난',
    'service.sos': '사회적약자 SOS',
    'service.other': '기타',
    'grade.10': '긴급',
    'grade.20': '일반',
    'status.10': '발생',
    'status.40': '변경',
    'status.50': '해제',
    'status.90': '취소',
    'status.91': '종료',
    'status.92': '자동종료',
    'incident.new': '신규',
    'incident.acked': '확인됨',
    'panel.close': '패널 닫기',
    'panel.place': '장소',
    'panel.opened': '발생',
    'panel.updated': '갱신',
    'panel.agencies': '관계 기관',
    'panel.content': '내용',
    'panel.ack_by': '{who} 확인 ({at})',
    'panel.not_acked': '아직 확인되지 않음',
    'panel.loading': '불러오는 중…',
    'panel.ended': '종료된 상황입니다.',
    'actions.title': '조치',
    'actions.ack': '확인',
    'actions.status': '상태 변경',
    'actions.status_apply': '적용',
    'actions.reason': '사유',
    'actions.close': '상황 종료',
    'actions.cancel': '취소',
    'actions.close_confirm': '{place}의 {code} 상황을 종료할까요? 이 상황의 영상 권한이 모두 즉시 회수됩니다.',
    'actions.close_reason': '상황판에서 종료',
    'actions.share': '영상 공유',
    'actions.share_agency': '기관',
    'actions.share_purpose': '목적',
    'actions.share_submit': '공유',
    'actions.done': '완료.',
    'cameras.title': 'CCTV',
    'cameras.none': '선택된 CCTV가 없습니다.',
    'cameras.tier.1': '현장 촬영',
    'cameras.tier.2': '회전 가능',
    'cameras.tier.3': '인근',
    'cameras.remove': '제외',
    'cameras.add': 'CCTV 추가',
    'cameras.add_pick': '인근 CCTV…',
    'cameras.offline': '오프라인',
    'video.title': '실시간 영상',
    'video.auditor': '감사 역할은 영상을 볼 수 없습니다.',
    'video.none': '표시할 CCTV가 없습니다.',
    'video.loading': '영상 권한 요청 중…',
    'video.grant_until': '{at}까지 열람 가능',
    'video.watch': '실시간 보기',
    'grants.title': '영상 권한',
    'grants.none': '권한 없음.',
    'grants.until': '{at}까지',
    'grants.revoked': '{at} 회수',
    'grants.live': '유효',
    'grants.expired': '만료',
    'grants.link': '현장 링크',
    'history.title': '이벤트 이력',
    'notes.title': '알림',
    'audit.title': '감사 기록',
    'audit.none': '감사 기록이 없습니다.',
    'error.prefix': '오류',
    'error.network': '서버에 연결할 수 없습니다.',
    'camera.direction': '{deg}° 방향',
    'camera.no_direction': '방향 미상',
    'camera.ptz': 'PTZ',
    'map.cones_hint': '확대하면 모든 CCTV의 화각이 보입니다',
    'plans.computed': '{at} 산출',
    'plans.kind.fire': '소방',
    'plans.kind.police': '경찰',
    'plans.kind.hospital': '병원',
    'plans.source.unit': '차량',
    'plans.source.station': '센터',
    'plans.mode.car': '차량',
    'plans.mode.foot': '도보',
    'plans.unnamed_road': '이름 없는 도로',
    'plans.dispatch.title': '출동 계획',
    'plans.dispatch.none': '순위를 매길 차량이나 센터가 없습니다.',
    'plans.dispatch.eta': '도로 도착 예상 (분:초)',
    'plans.dispatch.meta': '도로 {road} · 직선 {straight} · CCTV {cameras}대 · 신호 {signals}개',
    'plans.dispatch.unreachable': '도로로 도달 불가: {names}',
    'plans.dispatch.stale': '위치 정보가 오래되어 제외: {names}',
    'plans.signals.title': '신호 우선 제어 · {name}',
    'plans.signals.item': '신호 {n}',
    'plans.signals.none': '경로에 신호등이 없습니다.',
    'plans.nearby.title': '200 m 이내 소화전·위험시설',
    'plans.nearby.none': '등록된 시설 없음.',
    'plans.nearby.fire_hydrant': '소화전',
    'plans.nearby.water_source': '소방 용수',
    'plans.nearby.fuel_station': '주유소',
    'plans.nearby.fuel': '주유소',
    'plans.nearby.storage_tank': '저장 탱크',
    'plans.nearby.gas_holder': '가스 저장소',
    'plans.cordon.title': '도주로 차단',
    'plans.cordon.summary': '{mode} {minutes}분 · 도로 {km}',
    'plans.cordon.exits': '출구 ({n})',
    'plans.cordon.no_exits': '출구 없음.',
    'plans.cordon.watch': '다음에 볼 CCTV',
    'plans.cordon.no_cameras': '출구를 비추는 CCTV가 없습니다.',
    'plans.cordon.camera_meta': '{exit} · {at} 후 도달 · 출구에서 {m} m',
    'plans.cordon.add': '추가',
    'plans.cordon.selected': '선택됨',
    'plans.map.unit': '{name} · 도착 {eta} · {km}',
    'plans.map.signal': '신호 {n} · {eta} 통과',
    'plans.map.route_camera': '경로상 CCTV: {name} · {eta}',
    'plans.map.exit': '출구: {name} {cls}',
    'plans.map.watch': '다음 CCTV: {name} · {exit} · {at} 후',
    'units.legend': '출동 차량',
    'units.kind.fire_engine': '소방차',
    'units.kind.ambulance': '구급차',
    'units.kind.patrol_car': '순찰차',
    'units.glyph.fire_engine': '소',
    'units.glyph.ambulance': '구',
    'units.glyph.patrol_car': '순',
    'units.state.available': '대기',
    'units.state.dispatched': '출동',
    'units.state.busy': '현장 활동',
    'units.state.off_duty': '비번',
    'units.position_age': '위치 {age}',
    'units.position_unknown': '위치 시각 불명',
    'units.age.now': '방금',
    'units.age.min': '{n}분 전',
    'units.age.h': '{n}시간 전',
    'units.age.d': '{n}일 전',
    'units.incident': '사건 {id}',
    'env.legend': '환경 센서',
    'env.state.ok': '정상',
    'env.state.alarm': '경보 중',
    'env.state.down': '통신 두절',
    'env.last_seen': '마지막 측정 {age}',
    'env.never_seen': '측정값 없음',
    'env.chart.title': '센서 측정값',
    'env.chart.aria': '{sensors}의 {measure}({unit}), {from}부터 {to}까지, 경보 기준과 함께',
    'env.chart.opened': '발령',
    'env.chart.ended': '해제',
    'env.chart.none': '이 기간의 측정값이 없습니다.',
    'env.level.advisory': '주의보',
    'env.level.warning': '경보',
    'env.level.serious_warning': '중대경보',
    'env.level.bad': '나쁨',
    'env.level.very_bad': '매우 나쁨',
    'env.level.heat_advisory': '폭염주의보',
    'env.level.heat_warning': '폭염경보',
    'env.level.rain_advisory': '호우주의보',
    'env.level.rain_warning': '호우경보',
    'view.live': '영상 열람 중',
    'view.expires_in': '만료까지',
    'view.granted_to': '대상 기관',
    'view.purpose': '목적',
    'view.cameras': '허용된 CCTV',
    'view.expired': '접근 만료 (Access expired)',
    'view.revoked': '접근 회수 (Access revoked)',
    'view.ended_hint': '이 링크의 영상 열람이 끝났습니다. 계속 필요하면 통합관제센터에 새 링크를 요청하세요.',
    'view.invalid': '유효하지 않은 링크입니다.',
    'view.offline': '연결이 끊겼습니다. 다시 시도하는 중…',
  },
};

const STORAGE_KEY = 'citylink.lang';
const listeners = new Set();
let lang = initialLang();

function initialLang() {
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (saved === 'ko' || saved === 'en') return saved;
  } catch { /* storage may be disabled */ }
  return (navigator.language || '').toLowerCase().startsWith('ko') ? 'ko' : 'en';
}

export function getLang() {
  return lang;
}

export function setLang(next) {
  lang = next === 'ko' ? 'ko' : 'en';
  try { localStorage.setItem(STORAGE_KEY, lang); } catch { /* ignore */ }
  document.documentElement.lang = lang;
  applyStatic(document);
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

/** The text for key in the current language, with {name} placeholders filled from vars. */
export function t(key, vars = {}) {
  const text = TEXT[lang][key] ?? TEXT.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`));
}

/** Fill every [data-i18n] element's text (and [data-i18n-placeholder] / [data-i18n-title] attributes). */
export function applyStatic(root) {
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll('[data-i18n-placeholder]')) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll('[data-i18n-title]')) el.title = t(el.dataset.i18nTitle);
}

/** A button that switches between the two languages. */
export function bindLangSwitch(button) {
  const label = () => { button.textContent = t('lang.switch'); };
  button.addEventListener('click', () => setLang(lang === 'ko' ? 'en' : 'ko'));
  onLangChange(label);
  label();
  document.documentElement.lang = lang;
}

// --- times in the city's time zone ----------------------------------------------------------------------

let timeZone = 'UTC';
const formatters = new Map();

export function setTimeZone(zone) {
  timeZone = zone || 'UTC';
  formatters.clear();
}

function formatter(kind) {
  const key = `${lang}|${kind}`;
  let f = formatters.get(key);
  if (!f) {
    const locale = lang === 'ko' ? 'ko-KR' : 'en-GB';
    const options = {
      time: { hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' },
      clock: { hour: '2-digit', minute: '2-digit', hourCycle: 'h23' },
      day: { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' },
      date: { year: 'numeric', month: '2-digit', day: '2-digit' },
    }[kind];
    f = new Intl.DateTimeFormat(locale, { ...options, timeZone });
    formatters.set(key, f);
  }
  return f;
}

/** 14:05:09 for today, "26 Nov, 14:05:09" otherwise; in the city's time zone. */
export function formatTime(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const sameDay = formatter('date').format(date) === formatter('date').format(new Date());
  return (sameDay ? formatter('time') : formatter('day')).format(date);
}

/** 14:05 in the city's time zone (a chart's time axis). */
export function formatClock(ms) {
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? '' : formatter('clock').format(date);
}

export function formatDuration(ms) {
  const total = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

// --- API calls ------------------------------------------------------------------------------------------

export class ApiError extends Error {
  constructor(status, title, detail, field) {
    super(detail || title || `HTTP ${status}`);
    this.status = status;
    this.title = title;
    this.field = field;
  }
}

/** fetch() on the same origin with the session cookie; JSON in and out; problem+json turned into ApiError. */
export async function api(path, { method = 'GET', body, headers = {} } = {}) {
  let response;
  try {
    response = await fetch(path, {
      method,
      credentials: 'same-origin',
      headers: { Accept: 'application/json', ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
  } catch {
    throw new ApiError(0, 'network', t('error.network'));
  }
  if (!response.ok) {
    let problem = {};
    try { problem = await response.json(); } catch { /* not JSON */ }
    throw new ApiError(response.status, problem.title || response.statusText, problem.detail || problem.title
      || `HTTP ${response.status}`, problem.field);
  }
  if (response.status === 204) return { data: null, response };
  const type = response.headers.get('content-type') || '';
  const data = type.includes('json') ? await response.json() : await response.text();
  return { data, response };
}

/** A readable one-line message for an error thrown by api(). */
export function errorText(err) {
  if (err instanceof ApiError) {
    const status = err.status ? ` ${err.status}` : '';
    const title = err.title && err.title !== err.message ? `${err.title}: ` : '';
    return `${t('error.prefix')}${status} — ${title}${err.message}`;
  }
  return `${t('error.prefix')} — ${err && err.message ? err.message : String(err)}`;
}

export function escapeHtml(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
}
