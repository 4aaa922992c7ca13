/**
 * Runtime kinds swirl can run. `family:default` resolves to the family's default kind.
 * The invoker maps each kind to its runtime image (`swirl/runtime-<image>`).
 */
export interface KindInfo {
  kind: string;
  family: string;
  image?: string;
  /** Whether actions of this kind carry code (source or zip). */
  code: 'required' | 'optional' | 'none';
  default?: boolean;
}

export const KINDS: readonly KindInfo[] = [
  { kind: 'nodejs:20', family: 'nodejs', image: 'nodejs', code: 'required', default: true },
  { kind: 'python:3', family: 'python', image: 'python', code: 'required', default: true },
  { kind: 'stdio', family: 'stdio', image: 'stdio', code: 'required', default: true },
  { kind: 'blackbox', family: 'blackbox', code: 'optional', default: true },
  { kind: 'sequence', family: 'sequence', code: 'none', default: true },
  // a function of another instance, by REF: fetched on demand (controller/hub/on-demand.ts)
  { kind: 'hub', family: 'hub', code: 'none', default: true },
];

const byKind = new Map(KINDS.map((k) => [k.kind, k]));

/** Resolve `nodejs:default` and friends; undefined for an unknown kind. */
export function resolveKind(kind: string): KindInfo | undefined {
  const direct = byKind.get(kind);
  if (direct) return direct;
  const m = /^([a-z]+):default$/.exec(kind);
  return m ? KINDS.find((k) => k.family === m[1] && k.default) : undefined;
}

export const knownKinds = (): string[] => KINDS.map((k) => k.kind);
