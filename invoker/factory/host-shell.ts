import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import type Dockerode from 'dockerode';
import { selfContainerId } from './owner.ts';

/** Runs a shell script as root in the Docker host's root filesystem and network namespace. */
export interface HostShell {
  /** How it gets there, for the log. */
  readonly how: string;
  run(script: string): Promise<void>;
}

export const onPath = (program: string): boolean =>
  (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(delimiter).some((dir) => {
    try {
      accessSync(join(dir, program), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });

/**
 * The host's shell: directly when this process is root on the host itself, otherwise
 * through a short-lived helper container in the host's network namespace with the host's
 * root filesystem (`chroot /host`), so that the host's own iptables runs, the one Docker's
 * rules were written with. Only root, or whoever holds the Docker socket (which is root
 * on that host anyway), can do either.
 */
export function hostShell(docker: Dockerode, helperImage: string): HostShell {
  if (process.getuid?.() === 0 && !selfContainerId() && onPath('iptables-restore')) return directShell();
  return helperShell(docker, helperImage);
}

/** This host's shell, run directly (this process must be root on the host). */
export function directShell(): HostShell {
  return {
    how: 'iptables on this host',
    run: (script) =>
      new Promise((ok, fail) => {
        execFile('/bin/sh', ['-c', script], { timeout: 30_000 }, (err, _out, stderr) => (err ? fail(new Error(`${stderr.trim() || err.message}`)) : ok()));
      }),
  };
}

function helperShell(docker: Dockerode, image: string): HostShell {
  return {
    how: `iptables on the Docker host, through a helper container of ${image}`,
    async run(script) {
      const container = await docker.createContainer({
        Image: image,
        User: '0:0',
        Entrypoint: ['chroot', '/host', '/bin/sh', '-c', script],
        Cmd: [],
        Labels: { 'swirl.role': 'firewall' },
        // a terminal: its log is the script's output as it is, not Docker's multiplexed frames
        Tty: true,
        HostConfig: { NetworkMode: 'host', CapDrop: ['ALL'], CapAdd: ['NET_ADMIN', 'NET_RAW', 'SYS_CHROOT'], Binds: ['/:/host'], LogConfig: { Type: 'json-file', Config: {} } },
      });
      try {
        await container.start();
        const { StatusCode } = (await container.wait()) as { StatusCode: number };
        if (StatusCode !== 0) {
          const logs = (await container.logs({ stdout: true, stderr: true })) as Buffer;
          throw new Error(`the firewall helper exited with ${StatusCode}: ${logs.toString('utf8').trim()}`);
        }
      } finally {
        await container.remove({ force: true }).catch(() => undefined);
      }
    },
  };
}
