import type { HubExample, HubParameter } from '../common/hub/manifest.ts';
import type { HubFigures, HubSummary, TrialStep } from '../common/hub/types.ts';
import { datetime, duration, table } from './format.ts';

/** How `swirl hub …` lays out what the hub API answers (the shapes of issue 20's spec); the functions return lines. */

export type { HubFigures, HubSummary } from '../common/hub/types.ts';

export interface HubAction {
  name: string;
  kind: string;
  parameters?: Array<Omit<HubParameter, 'bound'>>;
  annotations?: Array<{ key: string; value: unknown }>;
  limits?: Record<string, number>;
  code?: string;
}

export type HubDetail = Omit<HubSummary, 'actions'> & { actions: HubAction[]; examples: HubExample[] };

export interface PeerState {
  id: string;
  url: string;
  via: string;
  seenAt?: number;
}

export interface SearchAnswer {
  results: HubSummary[];
  peers: { asked: string[]; answered: string[]; down: Array<{ id: string; error: string }> };
  tookMs: number;
}

export interface TestRun {
  action: string;
  params?: Record<string, unknown>;
  expect?: Record<string, unknown>;
  passed?: boolean;
  /** The run's record, or why there is none (refused, still running). */
  activation: { activationId: string; response: { status: string; success: boolean; result?: unknown }; duration?: number; logs?: string[] } | { error: string };
}

export interface TestAnswer {
  ref: string;
  digest: string;
  /** The disposable namespace it ran in (removed). */
  namespace?: string;
  runs: TestRun[];
  cleanedUp: boolean;
}

/** `93%` (one decimal below 10% and above 90% where it tells), `-` with no invocations. */
export function rate(r: number | null | undefined): string {
  if (r === null || r === undefined) return '-';
  const p = r * 100;
  return `${p === 0 || p === 100 || (p >= 10 && p <= 90) ? p.toFixed(0) : p.toFixed(1)}%`;
}

const ms = (v: number | null | undefined): string => (v === null || v === undefined ? '-' : duration(Math.round(v)));

/** A description cut at `max` characters, its end marked. */
const cut = (s: string, max: number): string => (s.length <= max ? s : `${s.slice(0, max - 1)}…`);

/** `2/2` passed of the examples, `-` without examples. */
const examples = (f: HubFigures): string => (f.examples ? `${f.examples.passed}/${f.examples.total}` : '-');

/** `swirl hub search`: one row per package, best first, as the instance ranked them. */
export function searchTable(results: HubSummary[]): string[] {
  return table<HubSummary>(
    [
      ['REF', (s) => s.ref],
      ['Description', (s) => cut(s.description ?? '', 40)],
      ['Kinds', (s) => s.kinds.join(',')],
      ['Invocations', (s) => String(s.figures.invocations30d)],
      ['Success', (s) => rate(s.figures.successRate)],
      ['p50', (s) => ms(s.figures.p50Ms)],
      ['Examples', (s) => examples(s.figures)],
    ],
    results,
  );
}

/** What the fan-out reached: `3 instances answered in 41ms` and, when any was down, `peers down: id (why), …`. */
export function searchFooter(answer: SearchAnswer): string[] {
  const { answered, down } = answer.peers;
  const lines = [`${answered.length} instance${answered.length === 1 ? '' : 's'} answered in ${duration(answer.tookMs)}`];
  if (down.length) lines.push(`peers down: ${down.map((d) => `${d.id} (${d.error})`).join(', ')}`);
  return lines;
}

/** Label-value lines, the labels padded to one width. */
function fields(rows: Array<[string, string | undefined]>, indent = '  '): string[] {
  const shown = rows.filter((r): r is [string, string] => r[1] !== undefined && r[1] !== '');
  const width = Math.max(0, ...shown.map(([k]) => k.length));
  return shown.map(([k, v]) => `${indent}${k.padEnd(width)}  ${v}`);
}

/** `width (required): width in pixels; apiKey (bound)`: a bound one has its value set by the publisher (never published). */
const params = (list: Array<Omit<HubParameter, 'description'> & { description?: string }> | undefined): string =>
  (list ?? []).map((p) => `${p.name}${p.required ? ' (required)' : ''}${p.bound ? ' (bound)' : ''}${p.description ? `: ${p.description}` : ''}`).join('; ') || 'none described';

const json = (v: unknown): string => JSON.stringify(v ?? {});

/** `swirl hub show`: the package, its figures over 30 days, its actions, its examples, and its code when the publisher shows it. */
export function showLines(d: HubDetail): string[] {
  const f = d.figures;
  const lines = [
    `package ${d.ref}`,
    ...fields([
      ['description', d.description],
      ['owner', `${d.owner} on ${d.instance}`],
      ['version', d.version],
      ['license', d.license],
      ['kinds', d.kinds.join(', ')],
      ['digest', d.digest],
      ['code', d.codeVisible ? 'visible' : 'hidden by the publisher'],
      ['download', d.downloadable ? 'allowed (hub get, hub install)' : 'not allowed by the publisher'],
      ['updated', d.updated ? datetime(d.updated) : undefined],
      ['parameters', params(d.parameters)],
    ]),
    'figures (30 days)',
    ...fields([
      ['invocations', `${f.invocations30d} from ${f.namespaces30d} namespace${f.namespaces30d === 1 ? '' : 's'}`],
      ['success', rate(f.successRate)],
      ['p50', ms(f.p50Ms)],
      ['examples', f.examples ? `${f.examples.passed}/${f.examples.total} passed${f.examples.ranAt ? ` (run ${datetime(f.examples.ranAt)})` : ''}` : 'none'],
    ]),
    'actions',
    ...fields(d.actions.map((a) => [a.name, `${a.kind}  parameters: ${params(a.parameters)}`])),
  ];
  if (d.examples.length) lines.push('examples', ...d.examples.map((e) => `  ${e.action} ${json(e.params)}${e.expect ? ` → expects ${json(e.expect)}` : ''}`));
  for (const a of d.actions) if (a.code !== undefined) lines.push(`code of ${a.name}`, ...a.code.replace(/\n$/, '').split('\n').map((l) => `  ${l}`));
  return lines;
}

/** `swirl hub test`: each run with its verdict, result and logs, then whether the disposable namespace was removed. */
export function testLines(t: TestAnswer): string[] {
  const lines = [`tested ${t.ref} (${t.digest})${t.namespace ? ` in the disposable namespace ${t.namespace}` : ''}`];
  t.runs.forEach((r, i) => {
    const a = r.activation;
    const head = `run ${i + 1}/${t.runs.length}: ${r.action} ${json(r.params)} →`;
    if ('error' in a) return lines.push(`${head} ${r.passed === false ? 'FAILED' : 'not run'}: ${a.error}`);
    const verdict = r.passed === undefined ? a.response.status : r.passed ? 'passed' : 'FAILED';
    lines.push(`${head} ${verdict}${a.duration !== undefined ? ` in ${duration(a.duration)}` : ''}`);
    lines.push(...fields([
      ['expected', r.expect ? json(r.expect) : undefined],
      ['result', json(a.response.result)],
      ['activation', a.activationId],
    ], '    '));
    lines.push(...(a.logs ?? []).map((l) => `    | ${l}`));
  });
  const passed = t.runs.filter((r) => r.passed).length;
  const checked = t.runs.filter((r) => r.passed !== undefined).length;
  if (checked) lines.push(`${passed}/${checked} examples passed`);
  lines.push(t.cleanedUp ? 'cleaned up: the disposable namespace, its entities and records are removed' : 'WARNING: the disposable namespace was not fully removed');
  return lines;
}

/** A step of `swirl hub test` as the instance reports it, in words (stderr: a line, or the spinner's text). */
export function stepText(s: TrialStep): string {
  switch (s.step) {
    case 'fetching':
      return `fetching ${s.ref}`;
    case 'verified':
      return `verified ${s.ref} (${s.digest})`;
    case 'deploying':
      return `deploying it in the disposable namespace ${s.namespace}`;
    case 'running':
      return `running ${s.run}/${s.of}: ${s.action}`;
    case 'cleaning':
      return 'cleaning up';
    default:
      // a step this CLI does not know yet (a newer instance): its name
      return String((s as { step?: unknown }).step);
  }
}

/** Whether every run succeeded and met what it expected. */
export const testPassed = (t: TestAnswer): boolean => t.runs.every((r) => r.passed !== false && !('error' in r.activation) && r.activation.response.success);

/** `swirl hub peers`: this instance, then each peer it knows, who told it of the peer, and when it last answered. */
export function peersTable(self: { id: string; url: string }, peers: PeerState[], now: number): string[] {
  const rows: PeerState[] = [{ ...self, via: 'this instance' }, ...peers];
  return table<PeerState>(
    [
      ['Instance', (p) => p.id],
      ['URL', (p) => p.url],
      ['Via', (p) => p.via],
      ['Last seen', (p) => (p.seenAt ? `${duration(Math.max(0, now - p.seenAt))} ago` : '-')],
    ],
    rows,
  );
}
