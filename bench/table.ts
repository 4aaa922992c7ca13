/** Shared helpers for the benchmarks: timing loops, percentiles, one table of figures. */
export interface Row {
  what: string;
  n: number;
  p50?: number;
  p99?: number;
  rate?: number;
  unit: string;
  /** A target the figure is read against (printed, never asserted). */
  target?: string;
}

export const rows: Row[] = [];

export const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** Record a row from samples in ms. */
export function sampled(what: string, times: number[], extra: Partial<Row> = {}): Row {
  const row: Row = { what, n: times.length, p50: pct(times, 50), p99: pct(times, 99), unit: 'ms', ...extra };
  rows.push(row);
  return row;
}

export async function timed(what: string, n: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  const times: number[] = [];
  const t0 = now();
  for (let i = 0; i < n; i++) {
    const s = now();
    await fn(i);
    times.push(now() - s);
  }
  const total = now() - t0;
  rows.push({ what, n, p50: pct(times, 50), p99: pct(times, 99), rate: (n / total) * 1000, unit: 'ops/s' });
}

/** `clients` concurrent loops sharing `n` requests. */
export async function concurrent(what: string, n: number, clients: number, fn: (i: number) => Promise<unknown>): Promise<void> {
  const times: number[] = [];
  let next = 0;
  const t0 = now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < n) {
        const i = next++;
        const s = now();
        await fn(i);
        times.push(now() - s);
      }
    }),
  );
  const total = now() - t0;
  rows.push({ what, n, p50: pct(times, 50), p99: pct(times, 99), rate: (n / total) * 1000, unit: 'req/s' });
}

export function printTable(): void {
  const f = (x?: number) => (x === undefined ? '' : x >= 100 ? x.toFixed(0) : x.toFixed(2));
  const table = [['benchmark', 'n', 'p50 ms', 'p99 ms', 'rate', 'unit', 'target'], ...rows.map((r) => [r.what, String(r.n), f(r.p50), f(r.p99), f(r.rate), r.unit, r.target ?? ''])];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  for (const [i, r] of table.entries()) {
    console.log(r.map((cell, c) => (c === 0 || c >= 5 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd());
    if (i === 0) console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  }
}
