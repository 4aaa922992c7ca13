import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The CLI's settings, as wsk keeps them: `KEY=VALUE` lines in `~/.wskprops` (or the file
 * named by WSK_CONFIG_FILE). Each can also come from the environment (the variables
 * OpenWhisk sets inside actions, and the openwhisk npm client reads) or a flag; a flag
 * wins over the environment, the environment over the file.
 */
export const PROPS = {
  apihost: { file: 'APIHOST', env: '__OW_API_HOST', label: 'whisk API host' },
  auth: { file: 'AUTH', env: '__OW_API_KEY', label: 'whisk auth' },
  namespace: { file: 'NAMESPACE', env: '__OW_NAMESPACE', label: 'whisk namespace' },
} as const;

export type PropName = keyof typeof PROPS;
export const PROP_NAMES = Object.keys(PROPS) as PropName[];

export const DEFAULT_NAMESPACE = '_';

export function propsPath(env: NodeJS.ProcessEnv, cwd: string): string {
  return env.WSK_CONFIG_FILE ? resolve(cwd, env.WSK_CONFIG_FILE) : join(env.HOME || homedir(), '.wskprops');
}

/** `KEY=VALUE` lines; other lines (comments, keys the CLI does not know) are kept as they are. */
export function readPropsFile(path: string): Map<string, string> {
  const props = new Map<string, string>();
  if (!existsSync(path)) return props;
  for (const line of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const i = line.indexOf('=');
    if (i > 0) props.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return props;
}

/** Set (a string) or remove (undefined) keys, keeping every other line. The file holds a key: mode 600. */
export function updatePropsFile(path: string, changes: Partial<Record<PropName, string | undefined>>): void {
  const lines = existsSync(path) ? readFileSync(path, 'utf8').split(/\r?\n/) : [];
  if (lines.at(-1) === '') lines.pop();
  for (const [name, value] of Object.entries(changes) as [PropName, string | undefined][]) {
    const key = PROPS[name].file;
    const at = lines.findIndex((l) => l.slice(0, l.indexOf('=')).trim() === key);
    if (value === undefined) {
      if (at >= 0) lines.splice(at, 1);
    } else if (at >= 0) lines[at] = `${key}=${value}`;
    else lines.push(`${key}=${value}`);
  }
  writeFileSync(path, lines.length ? lines.join('\n') + '\n' : '', { mode: 0o600 });
  chmodSync(path, 0o600);
}

export interface Resolved {
  value?: string;
  source: 'flag' | 'env' | 'file' | 'default';
}

/** One setting: flag, then environment, then the props file. */
export function resolveProp(name: PropName, flag: string | undefined, env: NodeJS.ProcessEnv, file: Map<string, string>): Resolved {
  if (flag) return { value: flag, source: 'flag' };
  const fromEnv = env[PROPS[name].env];
  if (fromEnv) return { value: fromEnv, source: 'env' };
  const fromFile = file.get(PROPS[name].file);
  if (fromFile) return { value: fromFile, source: 'file' };
  return name === 'namespace' ? { value: DEFAULT_NAMESPACE, source: 'default' } : { source: 'default' };
}
