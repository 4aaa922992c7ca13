import type { ActivationRecord } from '../common/activation.ts';
import type { EntitySummary } from '../common/entities.ts';
import type { InvokerContainer } from '../common/health.ts';
import { annotation } from '../common/key-value.ts';

/** How wsk lays out listings and records; the functions return lines, the caller prints them. */


const pad = (s: string, width: number): string => (s.length >= width ? s : s + ' '.repeat(width - s.length));

const visibility = (e: EntitySummary): string => (e.publish ? 'shared' : 'private');

export type ListedKind = 'action' | 'trigger' | 'rule' | 'package';

/**
 * wsk's rows: the fully qualified name padded to 70 columns, then `private`/`shared`, then the
 * kind of an action or the status of a rule; swirl adds the version as the last column.
 */
export function entityRows(kind: ListedKind, entities: EntitySummary[]): string[] {
  const extra = (e: EntitySummary): string => {
    if (kind === 'action') return String(annotation(e.annotations, 'exec') ?? e.exec?.kind ?? '');
    if (kind === 'rule') return e.status ?? '';
    return '';
  };
  const width = Math.max(0, ...entities.map((e) => extra(e).length));
  return entities.map((e) => {
    const cols = [pad(`/${e.namespace}/${e.name}`, 70), pad(visibility(e), 7)];
    if (width > 0) cols.push(pad(extra(e), width));
    cols.push(e.version);
    return cols.join(' ');
  });
}

/** Sort by name (`--name-sort`); listings otherwise come newest first, as the API returns them. */
export const byName = <T extends { namespace: string; name: string }>(list: T[]): T[] => [...list].sort((a, b) => `${a.namespace}/${a.name}`.localeCompare(`${b.namespace}/${b.name}`));

const two = (n: number): string => String(n).padStart(2, '0');

/** Local time as wsk shows it: `2024-05-01 13:04:05`. */
export function datetime(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

/** A duration as Go prints it: `34ms`, `1.5s`. */
export function duration(ms: number): string {
  return ms < 1000 ? `${ms}ms` : `${Number((ms / 1000).toFixed(3))}s`;
}

const STATUS = ['success', 'application error', 'developer error', 'internal error'];

/** Middle-truncate as wsk does: `averyl...ename`. */
export function truncate(s: string, max: number): string {
  if (s.length <= max) return s;
  const keep = max - 3;
  const head = Math.ceil(keep / 2);
  return s.slice(0, head) + '...' + s.slice(s.length - (keep - head));
}

/** `wsk activation list`: Datetime, Activation ID, Kind, Start (cold/warm), Duration, Status, Entity. */
export function activationTable(records: ActivationRecord[]): string[] {
  const kind = (r: ActivationRecord) => String(annotation(r.annotations, 'kind') ?? 'unknown');
  const status = (r: ActivationRecord) => STATUS[r.response?.statusCode ?? 0] ?? r.response?.status ?? 'unknown';
  const kw = Math.max(4, ...records.map((r) => kind(r).length));
  const sw = Math.max(6, ...records.map((r) => status(r).length));
  const header = `${pad('Datetime', 19)} ${pad('Activation ID', 32)} ${pad('Kind', kw)} ${pad('Start', 5)} ${pad('Duration', 10)} ${pad('Status', sw)} Entity`;
  const rows = records.map((r) => {
    const start = annotation(r.annotations, 'initTime') !== undefined ? 'cold' : 'warm';
    const entity = `${truncate(r.namespace, 20)}/${truncate(r.name, 30)}:${truncate(r.version ?? '', 20)}`;
    return `${datetime(r.start)} ${pad(r.activationId, 32)} ${pad(kind(r), kw)} ${pad(start, 5)} ${pad(duration(r.duration ?? r.end - r.start), 10)} ${pad(status(r), sw)} ${entity}`;
  });
  return [header, ...rows];
}

/** An invoker as GET /api/v1/invokers shows it. */
export interface InvokerRow {
  id: number;
  name: string;
  state: string;
  memoryMb: number;
  usedMb: number;
  inFlight: number;
  running: number;
  queued: number;
  containers: number;
  pool?: { prewarm: number; idle: number; paused: number; busy: number; starting: number; memoryUsedMb: number };
  lastHeartbeat: number;
}

/** `2 stem, 1 warm, 3 paused, 1 busy` (what an invoker's heartbeat says of its containers); `-` from an older invoker. */
export const poolState = (p: InvokerRow['pool']): string =>
  p ? `${p.prewarm} stem, ${p.idle} warm, ${p.paused} paused, ${p.busy} busy${p.starting ? `, ${p.starting} starting` : ''}` : '-';

/** `swirl invoker list`: one row per invoker, columns as wide as their widest value. */
export function invokerTable(invokers: InvokerRow[], now: number): string[] {
  const columns: Array<[string, (i: InvokerRow) => string]> = [
    ['Invoker', (i) => i.name],
    ['State', (i) => i.state],
    ['Running', (i) => String(i.running)],
    ['Queued', (i) => String(i.queued)],
    ['In flight', (i) => String(i.inFlight)],
    ['Containers', (i) => String(i.containers)],
    ['Pool', (i) => poolState(i.pool)],
    ['Memory used/total', (i) => `${i.usedMb}/${i.memoryMb} MB`],
    ['Last heartbeat', (i) => `${duration(Math.max(0, now - i.lastHeartbeat))} ago`],
  ];
  return table(columns, invokers);
}

/** Rows under their headers, each column as wide as its widest value (the last one unpadded). */
export function table<R>(columns: Array<[string, (r: R) => string]>, rows: R[]): string[] {
  const cells = [columns.map(([h]) => h), ...rows.map((r) => columns.map(([, f]) => f(r)))];
  const widths = columns.map((_, c) => Math.max(...cells.map((row) => row[c]!.length)));
  return cells.map((row) => row.map((cell, c) => (c === row.length - 1 ? cell : pad(cell, widths[c]!))).join(' '));
}

/** A container as `GET /api/v1/invokers/{id}/containers` lists it. */
export type ContainerRow = InvokerContainer;

/**
 * `swirl invoker containers`: one row per container — its id as `docker ps` shortens it, the
 * action it serves (`/path`, and the namespace that invokes it when that is another), how it
 * started (a stem cell shows `prewarm` here while Docker still shows its stem cell's name).
 */
export function containerTable(containers: ContainerRow[], now: number): string[] {
  const action = (c: ContainerRow) => (!c.action ? '-' : c.action.name.split('/')[0] === c.action.namespace ? `/${c.action.name}` : `/${c.action.name} (by ${c.action.namespace})`);
  const columns: Array<[string, (c: ContainerRow) => string]> = [
    ['Container', (c) => c.id.slice(0, 12)],
    ['State', (c) => c.state],
    ['Kind', (c) => c.kind],
    ['Started as', (c) => c.origin],
    ['In flight', (c) => String(c.inFlight)],
    ['Memory', (c) => `${c.memoryMb} MB`],
    ['Last used', (c) => `${duration(Math.max(0, now - c.lastUsed))} ago`],
    ['Action', action],
  ];
  return table(columns, containers);
}
