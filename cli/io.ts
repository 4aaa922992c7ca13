/** Where the CLI reads its environment and writes its output: the process, or a test's capture. */
export interface OutStream {
  write(chunk: string): unknown;
  isTTY?: boolean;
}

export interface Io {
  stdout: OutStream;
  stderr: OutStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export const processIo = (): Io => ({ stdout: process.stdout, stderr: process.stderr, env: process.env, cwd: process.cwd() });

/** Colours on a terminal only; NO_COLOR turns them off, FORCE_COLOR on (https://no-color.org). */
export function colorsWanted(stream: OutStream, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR) return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== '0') return true;
  return !!stream.isTTY && env.TERM !== 'dumb';
}

/** A spinner is drawn only on an interactive terminal (not when CI is set, as yocto-spinner decides too). */
export const interactive = (stream: OutStream, env: NodeJS.ProcessEnv): boolean => !!stream.isTTY && env.TERM !== 'dumb' && !('CI' in env);
