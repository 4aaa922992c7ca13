import { execFileSync, spawn } from 'node:child_process';

/**
 * A host "outside" this machine, for tests of what action containers reach beyond it: a
 * network namespace of the test's own, joined to this host by a veth pair on a /30 of
 * 198.51.100.0/24 (TEST-NET-2, never routed), serving TCP on one port. Needs root.
 */
export interface OutsideHost {
  ip: string;
  port: number;
  close(): Promise<void>;
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'pipe', 'pipe'] });

export async function startOutsideHost(port = 8000): Promise<OutsideHost> {
  const n = Math.floor(Math.random() * 64);
  const tag = `${process.pid % 1000}x${n}`;
  const ns = `swirl-out-${tag}`;
  const [hostEnd, nsEnd] = [`swo${tag}h`, `swo${tag}n`];
  const [hostIp, nsIp] = [`198.51.100.${n * 4 + 1}`, `198.51.100.${n * 4 + 2}`];
  ip('netns', 'add', ns);
  const teardown = () => {
    try {
      ip('link', 'del', hostEnd);
    } catch {
      // gone with the namespace
    }
    try {
      ip('netns', 'del', ns);
    } catch {
      // already gone
    }
  };
  try {
    ip('link', 'add', hostEnd, 'type', 'veth', 'peer', 'name', nsEnd);
    ip('link', 'set', nsEnd, 'netns', ns);
    ip('addr', 'add', `${hostIp}/30`, 'dev', hostEnd);
    ip('link', 'set', hostEnd, 'up');
    ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', nsEnd);
    ip('netns', 'exec', ns, 'ip', 'link', 'set', nsEnd, 'up');
    ip('netns', 'exec', ns, 'ip', 'route', 'add', 'default', 'via', hostIp);
  } catch (e) {
    teardown();
    throw e;
  }
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e', `require('node:net').createServer((s) => s.on('error', () => {}).end('outside\\n')).listen(${port}, '${nsIp}', () => console.log('listening'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((ok, fail) => {
    server.stdout.once('data', () => ok());
    server.once('exit', (code) => fail(new Error(`the outside host's server exited with ${code}`)));
  });
  return {
    ip: nsIp,
    port,
    async close() {
      if (server.exitCode === null && server.signalCode === null) {
        const exited = new Promise((r) => server.once('exit', r));
        server.kill('SIGKILL');
        await exited;
      }
      teardown();
    },
  };
}
