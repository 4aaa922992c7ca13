// The dashboard's hub page: search this instance and its peers (the public /hub/v1/search), the
// results with their figures, the peers that did not answer named; a result opens the package
// (through this instance's show proxy, which checks the digest): metadata, figures, actions,
// examples, and the code when its publisher shows it. Text only goes in as text (textContent).
import { $, node } from '/dashboard/dom.js';

/** As `swirl hub search` prints them: `91.7%`, `34ms`, `2/2`, `–` where nothing ran. */
function rate(r) {
  if (r === null || r === undefined) return '–';
  const p = r * 100;
  return `${p === 0 || p === 100 || (p >= 10 && p <= 90) ? p.toFixed(0) : p.toFixed(1)}%`;
}
const ms = (v) => (v === null || v === undefined ? '–' : `${Math.round(v)}ms`);
const examples = (f) => (f.examples ? `${f.examples.passed}/${f.examples.total}` : '–');
const params = (list) => (list ?? []).map((p) => `${p.name}${p.required ? ' (required)' : ''}${p.bound ? ' (bound)' : ''}${p.description ? `: ${p.description}` : ''}`).join('; ') || 'none described';

/** The public hub API: no key (it is the same for everyone). */
async function publicGet(path) {
  const res = await fetch(`/hub/v1${path}`, { credentials: 'omit', headers: { accept: 'application/json' } });
  const data = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(data.error ?? `HTTP ${res.status}`);
  return data;
}

function renderResults(answer, open) {
  const { answered, down } = answer.peers;
  $('hub-note').textContent = `${answer.results.length} package${answer.results.length === 1 ? '' : 's'} from ${answered.length} instance${answered.length === 1 ? '' : 's'} in ${answer.tookMs} ms`;
  $('hub-down').textContent = down.length ? `peers down: ${down.map((d) => `${d.id} (${d.error})`).join(', ')}` : '';
  $('hub-down').hidden = !down.length;
  $('hub-results').tBodies[0].replaceChildren(
    ...answer.results.map((s) => {
      const f = s.figures;
      const row = node('tr', { 'data-ref': s.ref },
        node('td', { class: 'ref' }, s.ref), node('td', {}, s.description ?? ''), node('td', {}, s.kinds.join(', ')),
        node('td', { class: 'num' }, String(f.invocations30d)), node('td', { class: 'num' }, String(f.namespaces30d)),
        node('td', { class: `num${f.successRate !== null && f.successRate < 0.9 ? ' bad' : ''}` }, rate(f.successRate)),
        node('td', { class: 'num' }, ms(f.p50Ms)), node('td', { class: 'num' }, examples(f)));
      row.addEventListener('click', () => void open(s.ref));
      return row;
    }),
  );
  if (!answer.results.length) $('hub-results').tBodies[0].replaceChildren(node('tr', {}, node('td', { colspan: '8', class: 'note' }, 'no published package matches')));
}

function fields(rows) {
  return node('dl', { class: 'fields' }, ...rows.filter(([, v]) => v !== undefined && v !== '').flatMap(([k, v]) => [node('dt', {}, k), node('dd', {}, v)]));
}

function renderDetail(d) {
  const f = d.figures;
  const parts = [
    node('h3', {}, d.ref),
    node('p', { class: 'description' }, d.description ?? ''),
    fields([
      ['owner', `${d.owner} on ${d.instance}`], ['version', d.version], ['license', d.license], ['kinds', d.kinds.join(', ')], ['digest', d.digest],
      ['code', d.codeVisible ? 'visible' : 'hidden by the publisher'], ['download', d.downloadable ? 'allowed' : 'not allowed'], ['parameters', params(d.parameters)],
    ]),
    node('h4', {}, 'Figures (30 days)'),
    fields([
      ['invocations', `${f.invocations30d} from ${f.namespaces30d} namespace${f.namespaces30d === 1 ? '' : 's'}`], ['success', rate(f.successRate)], ['p50', ms(f.p50Ms)],
      ['examples', f.examples ? `${f.examples.passed}/${f.examples.total} passed` : 'none'],
    ]),
    node('h4', {}, 'Actions'),
    node('table', { class: 'hub-actions' },
      node('thead', {}, node('tr', {}, node('th', {}, 'Action'), node('th', {}, 'Kind'), node('th', {}, 'Parameters'))),
      node('tbody', {}, ...d.actions.map((a) => node('tr', { 'data-action': a.name }, node('td', {}, a.name), node('td', {}, a.kind), node('td', {}, params(a.parameters)))))),
  ];
  if (d.examples?.length) parts.push(node('h4', {}, 'Examples'), node('ul', { class: 'examples' }, ...d.examples.map((e) => node('li', {}, node('code', {}, `${e.action} ${JSON.stringify(e.params ?? {})}${e.expect ? ` → ${JSON.stringify(e.expect)}` : ''}`)))));
  for (const a of d.actions) if (a.code !== undefined) parts.push(node('h4', {}, `Code of ${a.name}`), node('pre', { class: 'code', 'data-action': a.name }, a.code));
  $('hub-detail').replaceChildren(...parts);
  $('hub-detail').hidden = false;
}

/** Wire the hub page to `api` (the logged-in client, for the show proxy). */
export function hubPage(api) {
  const open = async (ref) => {
    for (const tr of $('hub-results').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.ref === ref);
    $('hub-detail').hidden = false;
    $('hub-detail').replaceChildren(node('p', { class: 'note' }, `getting ${ref}…`));
    try {
      renderDetail(await api.get(`/namespaces/_/hub/show?ref=${encodeURIComponent(ref)}`));
    } catch (err) {
      $('hub-detail').replaceChildren(node('p', { class: 'error' }, `Could not show ${ref}: ${err.message}`));
    }
  };
  $('hub-form').addEventListener('submit', async (e) => {
    e.preventDefault();
    const q = $('hub-q').value.trim();
    $('hub-note').textContent = `searching this instance and its peers for '${q}'…`;
    $('hub-detail').hidden = true;
    try {
      renderResults(await publicGet(`/search?q=${encodeURIComponent(q)}`), open);
    } catch (err) {
      $('hub-note').textContent = `The search failed: ${err.message}`;
    }
  });
}
