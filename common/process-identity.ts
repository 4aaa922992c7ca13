import { readFileSync, readlinkSync } from 'node:fs';

/**
 * A process named for all time: `process:<boot id>:<pid namespace>:<pid>:<start time>`.
 * A pid alone is reused; with the process's start time (in clock ticks since boot) and the
 * boot it belongs to, it names one process. Such a name can only be checked from the same
 * pid namespace (another one sees other pids): from elsewhere its state is unknown.
 */
export type ProcessState = 'alive' | 'dead' | 'unknown';

const read = (path: string): string | undefined => {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
};

/** Fields 3 on of /proc/<pid>/stat (state first), or undefined when there is no such process. */
function statFields(pid: number): string[] | undefined {
  const stat = read(`/proc/${pid}/stat`);
  // the command name (field 2) may hold spaces and parentheses: count from the last ')'
  return stat ? stat.slice(stat.lastIndexOf(')') + 2).split(' ') : undefined;
}

/** Start time of a process in clock ticks since boot (field 22 of /proc/<pid>/stat), or undefined when there is no such process. */
export const startTime = (pid: number): string | undefined => statFields(pid)?.[19];

const bootId = (): string | undefined => read('/proc/sys/kernel/random/boot_id');

function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** This process's name. */
export const selfProcess = (): string => `process:${bootId() ?? 'unknown'}:${pidNamespace()}:${process.pid}:${startTime(process.pid) ?? '0'}`;

/** Whether the process a name (from selfProcess) stands for is still running. */
export function processState(name: string): ProcessState {
  const [form, ...rest] = name.split(':');
  if (form !== 'process' || rest.length !== 4) return 'unknown';
  const [boot, ns, pid, started] = rest as [string, string, string, string];
  const thisBoot = bootId();
  if (thisBoot && boot !== thisBoot) return 'dead'; // the machine restarted since
  if (ns !== pidNamespace()) return 'unknown';
  const fields = statFields(Number(pid));
  // a zombie (killed, not yet reaped by its parent) runs no more: it holds nothing
  return fields && fields[19] === started && fields[0] !== 'Z' && fields[0] !== 'X' ? 'alive' : 'dead';
}
