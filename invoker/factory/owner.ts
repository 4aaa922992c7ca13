import { readFileSync } from 'node:fs';
import { type ProcessState, processState, selfProcess } from '../../common/process-identity.ts';
import type Dockerode from 'dockerode';

/**
 * Who made a container, precisely enough that any invoker on the same Docker host can tell
 * whether that maker is still alive: then, and only then, its containers are leftovers
 * to remove. Two forms, kept in the `swirl.owner` label:
 *
 *   container:<id>                               an invoker running in a container
 *   process:<boot id>:<pid namespace>:<pid>:<start time>   an invoker running as a process
 *
 * A pid alone is reused; with the process's start time (in clock ticks since boot) and the
 * boot it belongs to, it names one process for all time. A process owner can only be
 * checked from the same pid namespace (another one sees other pids), so from elsewhere it
 * counts as alive: a leftover is then left, never a live container removed.
 */
export type OwnerState = ProcessState;

/** The id of the Docker container this process runs in, or undefined on a host. */
export function selfContainerId(): string | undefined {
  let info: string;
  try {
    info = readFileSync('/proc/self/mountinfo', 'utf8');
  } catch {
    return undefined;
  }
  // Docker bind-mounts /etc/hostname (and resolv.conf, hosts) from its containers/<id>/ directory
  // (a /.dockerenv file alone proves nothing: machines are made from images too)
  return /\/containers\/([0-9a-f]{64})\/(?:hostname|hosts|resolv\.conf)\s/.exec(info)?.[1];
}

/** This process as an owner. */
export function selfOwner(): string {
  const container = selfContainerId();
  if (container) return `container:${container}`;
  return selfProcess();
}

/** Whether the owner named by a label is still running. */
export async function ownerState(owner: string, docker: Pick<Dockerode, 'getContainer'>): Promise<OwnerState> {
  const [form, ...rest] = owner.split(':');
  if (form === 'container' && rest[0]) {
    try {
      const info = await docker.getContainer(rest[0]).inspect();
      return info.State.Running || info.State.Restarting ? 'alive' : 'dead';
    } catch (e) {
      return (e as { statusCode?: number }).statusCode === 404 ? 'dead' : 'unknown';
    }
  }
  if (form === 'process') return processState(owner);
  return 'unknown';
}
