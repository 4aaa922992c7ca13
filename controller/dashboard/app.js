// The dashboard: log in with a key, then the namespace's actions with their figures and
// charts, an invoke form, recent activations followed live, and for operators the invokers.
import { ApiError, client } from '/dashboard/api.js';
import { countChart, durationChart } from '/dashboard/charts.js';
import { $, node } from '/dashboard/dom.js';
import { hubPage } from '/dashboard/hub.js';

const KEY = 'swirl.key';
const RECENT = 30;

const percent = (r) => `${(r * 100).toFixed(r > 0 && r < 0.1 ? 1 : 0)}%`;
const ms = (v) => (v === undefined ? '–' : String(v));
/** `ns/pkg/name` → the path under /namespaces/_/actions/, and the name the summary uses (`pkg/name`). */
const actionName = (a) => (a.namespace.includes('/') ? `${a.namespace.split('/')[1]}/${a.name}` : a.name);
const pathOf = (record) => (record.annotations ?? []).find((a) => a.key === 'path')?.value ?? `${record.namespace}/${record.name}`;

let api;
let selected;
let streamAbort;
let summaryTimer;
let refreshSoon;
const state = { actions: [], summary: undefined, seen: new Set() };

// ------------------------------------------------------------------------------ login

async function login(key) {
  const candidate = client(key);
  // any authenticated call tells whether the key is good: the namespaces the key reaches
  const namespaces = await candidate.get('/namespaces');
  api = candidate;
  sessionStorage.setItem(KEY, key);
  $('who').textContent = `namespace ${namespaces[0] ?? '?'}`;
  for (const id of ['who', 'logout', 'app', 'nav']) $(id).hidden = false;
  $('login').hidden = true;
  hubPage(api);
  showPage();
  await Promise.all([loadActions(), loadRecent(), loadInvokers()]);
  follow();
  summaryTimer = setInterval(() => void refresh(), 15_000);
}

function logout() {
  sessionStorage.removeItem(KEY);
  streamAbort?.abort();
  clearInterval(summaryTimer);
  location.reload();
}

$('login-form').addEventListener('submit', (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  login($('key').value.trim()).catch((err) => {
    $('login-error').textContent = err instanceof ApiError && err.status === 401 ? 'That key is not known: check uuid:key.' : `Could not log in: ${err.message}`;
  });
});
$('logout').addEventListener('click', logout);

/** Two pages on one: the namespace (#namespace, the default) and the Function Hub (#hub). */
function showPage() {
  const page = location.hash === '#hub' ? 'hub' : 'namespace';
  $('app').dataset.page = page;
  for (const p of ['namespace', 'hub']) $(`nav-${p}`).classList.toggle('current', p === page);
}
window.addEventListener('hashchange', showPage);

// ------------------------------------------------------------------------------ actions and figures

async function loadActions() {
  state.actions = await api.get('/namespaces/_/actions?limit=200');
  const pick = $('invoke-action');
  const current = pick.value;
  pick.replaceChildren(...state.actions.map((a) => node('option', { value: actionName(a) }, actionName(a))));
  if (current) pick.value = current;
  await loadSummary();
}

async function loadSummary() {
  const span = Number($('window').value);
  const upto = Date.now();
  state.summary = await api.get(`/namespaces/_/dashboard/summary?since=${upto - span}&upto=${upto}&buckets=24`);
  $('summary-note').textContent = `${state.summary.activations} activations${state.summary.truncated ? ' (the newest only)' : ''}`;
  renderActions();
}

function renderActions() {
  const figures = new Map(state.summary.actions.map((a) => [a.name, a]));
  const names = [...new Set([...state.summary.actions.map((a) => a.name), ...state.actions.map(actionName)])];
  const kinds = new Map(state.actions.map((a) => [actionName(a), (a.annotations ?? []).find((x) => x.key === 'exec')?.value ?? '']));
  if (!selected || !names.includes(selected)) selected = names[0];
  $('actions').tBodies[0].replaceChildren(
    ...names.map((name) => {
      const f = figures.get(name) ?? { count: 0, errorRate: 0 };
      const row = node('tr', { 'data-action': name, class: name === selected ? 'selected' : '' },
        node('td', {}, name), node('td', {}, kinds.get(name) ?? ''), node('td', { class: 'num' }, String(f.count)),
        node('td', { class: `num${f.errorRate > 0 ? ' bad' : ''}` }, percent(f.errorRate)), node('td', { class: 'num' }, ms(f.p50)), node('td', { class: 'num' }, ms(f.p99)));
      row.addEventListener('click', () => {
        selected = name;
        renderActions();
      });
      return row;
    }),
  );
  const chosen = figures.get(selected);
  const empty = (state.summary.actions[0]?.buckets ?? []).map((b) => ({ start: b.start, count: 0, errors: 0, errorRate: 0 }));
  $('count-title').textContent = `Invocations of ${selected ?? '–'} (failed in red)`;
  $('duration-title').textContent = `Duration of ${selected ?? '–'} (p50, p99)`;
  countChart($('count-chart'), chosen?.buckets ?? empty);
  durationChart($('duration-chart'), chosen?.buckets ?? empty);
}

$('window').addEventListener('change', () => void loadSummary());

async function refresh() {
  try {
    await Promise.all([loadActions(), loadInvokers()]);
  } catch (e) {
    console.warn('refresh failed', e);
  }
}

// ------------------------------------------------------------------------------ invoke

$('invoke-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  const out = $('invoke-result');
  let params;
  try {
    params = JSON.parse($('invoke-params').value || '{}');
    if (params === null || typeof params !== 'object' || Array.isArray(params)) throw new Error('not an object');
  } catch (err) {
    out.className = 'result bad';
    out.textContent = `The parameters must be a JSON object: ${err.message}`;
    return;
  }
  const name = $('invoke-action').value;
  const blocking = $('invoke-blocking').checked;
  out.className = 'result';
  out.textContent = `invoking ${name}…`;
  const r = await api.call('POST', `/namespaces/_/actions/${name.split('/').map(encodeURIComponent).join('/')}?blocking=${blocking}`, params);
  out.className = `result${r.status >= 400 ? ' bad' : ''}`;
  const body = r.data?.response ? { activationId: r.data.activationId, status: r.data.response.status, duration: r.data.duration, result: r.data.response.result } : r.data;
  out.textContent = `${r.status}\n${JSON.stringify(body, null, 2)}`;
});

// ------------------------------------------------------------------------------ recent activations, live

function activationItem(record, live) {
  const ok = record.response ? record.response.success : record.statusCode === 0;
  const status = record.response?.status ?? (ok ? 'success' : 'failed');
  const details = node('div', { class: 'details' });
  const item = node('li', { class: `activation${ok ? '' : ' failed'}${live ? ' new' : ''}`, 'data-id': record.activationId },
    node('span', { class: 'time' }, new Date(record.start).toLocaleTimeString()),
    node('span', { class: 'name' }, pathOf(record)),
    node('span', { class: `status${ok ? '' : ' bad'}` }, status),
    node('span', { class: 'duration' }, `${record.duration ?? '?'} ms`),
    node('code', { class: 'id' }, record.activationId),
    details);
  const show = (r) => {
    details.replaceChildren(node('h4', {}, 'Result'), node('pre', {}, JSON.stringify(r.response?.result ?? {}, null, 2)), node('h4', {}, 'Logs'), node('pre', { class: 'logs' }, (r.logs ?? []).join('\n') || '(none)'));
  };
  if (record.logs) show(record);
  item.addEventListener('click', async (e) => {
    if (e.target.closest('.details')) return;
    item.classList.toggle('open');
    if (!record.logs) show(await api.get(`/namespaces/_/activations/${record.activationId}`));
  });
  return item;
}

function addActivation(record, live) {
  if (state.seen.has(record.activationId)) return;
  state.seen.add(record.activationId);
  const list = $('activations');
  list.prepend(activationItem(record, live));
  while (list.children.length > RECENT) list.lastChild.remove();
}

async function loadRecent() {
  const records = await api.get(`/namespaces/_/activations?limit=${RECENT}&docs=true`);
  for (const r of records.reverse()) addActivation(r, false);
}

function setLive(on, text) {
  $('live').className = `live ${on ? 'on' : 'off'}`;
  $('live').textContent = text;
}

/** Follow the namespace's activation stream; reconnect after a pause when it drops. */
function follow() {
  streamAbort = new AbortController();
  api
    .stream('/namespaces/_/activations/stream', {
      signal: streamAbort.signal,
      onOpen: () => setLive(true, 'live'),
      onEvent: (e) => {
        if (e.event !== 'activation') return;
        addActivation(JSON.parse(e.data), true);
        // the figures follow, at most every 2 s
        refreshSoon ??= setTimeout(() => {
          refreshSoon = undefined;
          void loadSummary();
        }, 2000);
      },
    })
    .then(
      () => setLive(false, 'reconnecting…'),
      (err) => setLive(false, err.name === 'AbortError' ? 'stopped' : `reconnecting… (${err.message})`),
    )
    .finally(() => {
      if (!streamAbort.signal.aborted) setTimeout(follow, 3000);
    });
}

// ------------------------------------------------------------------------------ invokers (operators)

/** What the invoker's heartbeat says of its containers (as `swirl invoker list` prints it). */
const poolState = (p) => (p ? `${p.prewarm} stem, ${p.idle} warm, ${p.paused} paused, ${p.busy} busy${p.starting ? `, ${p.starting} starting` : ''}` : '–');

async function loadInvokers() {
  const r = await api.call('GET', '/invokers');
  // only an admin's key may read them: the panel stays hidden for everyone else
  if (r.status !== 200 || !Array.isArray(r.data)) return;
  $('invokers-panel').hidden = false;
  $('invokers').tBodies[0].replaceChildren(
    ...r.data.map((i) =>
      node('tr', {},
        node('td', {}, i.name), node('td', { class: `state ${i.state}` }, i.state), node('td', { class: 'num' }, String(i.running)),
        node('td', { class: 'num' }, String(i.queued)), node('td', { class: 'num' }, String(i.inFlight)), node('td', { class: 'num' }, String(i.containers)), node('td', { class: 'pool' }, poolState(i.pool)),
        node('td', { class: 'num' }, `${i.usedMb} / ${i.memoryMb}`), node('td', {}, new Date(i.lastHeartbeat).toLocaleTimeString())),
    ),
  );
}

// ------------------------------------------------------------------------------ start

const kept = sessionStorage.getItem(KEY);
if (kept) login(kept).catch(() => sessionStorage.removeItem(KEY));
