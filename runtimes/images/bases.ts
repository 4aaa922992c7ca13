import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { RootfsPlan } from './rootfs.ts';

/** A base image made from host files, for a Dockerfile's `BASE` where none can be pulled. */
export interface LocalBase {
  /** `swirl/base-node:local` */
  image: string;
  /** What it holds, for progress lines. */
  description: string;
  plan: RootfsPlan;
  /** Dockerfile instructions applied by the import. */
  changes: string[];
}

const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Small shell tools for scripts (stdio actions); those missing on the host are left out. */
const TOOLS = ['/bin/sh', '/usr/bin/env', '/bin/cat', '/bin/ls', '/bin/echo', '/bin/sleep', '/bin/date', '/usr/bin/head', '/usr/bin/tail', '/usr/bin/tr', '/usr/bin/wc', '/bin/sed', '/bin/grep', '/bin/rm', '/bin/mkdir'];

function skeleton(plan: RootfsPlan): void {
  plan.addPrograms(TOOLS.filter((t) => existsSync(t)));
  plan.addFile('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n');
  plan.addFile('/etc/group', 'root:x:0:\nnogroup:x:65534:\n');
  plan.addDir('/tmp', 0o1777);
  plan.addDir('/root', 0o700);
}

/**
 * `chroot`, which node:20-slim has too: the invoker runs its host firewall through a helper
 * container of the nodejs runtime image that chroots into the host's root filesystem
 * (invoker/factory/host-shell.ts). Actions cannot use it: they have no capabilities.
 */
const NODE_EXTRAS = ['/usr/sbin/chroot'];

/** Node.js: the node running this build (as /usr/local/bin/node, where node:20-slim has it), its libraries, a shell. */
export function nodeBase(): LocalBase {
  const plan = new RootfsPlan();
  const node = realpathSync(process.execPath);
  plan.addHostAs(node, '/usr/local/bin/node');
  plan.addLibrariesOf([node]);
  plan.addPrograms(NODE_EXTRAS.filter((t) => existsSync(t)));
  skeleton(plan);
  return {
    image: 'swirl/base-node:local',
    description: `node ${process.version} from ${node}`,
    plan,
    changes: [`ENV PATH=${PATH}`, 'ENV LANG=C.UTF-8', 'CMD ["node"]'],
  };
}

/** Parts of the standard library an action runtime never needs. */
const PYTHON_SKIP = [
  /^test$/,
  /^idlelib$/,
  /^tkinter$/,
  /^turtledemo$/,
  /^ensurepip$/,
  /^lib2to3$/,
  /^config-/, // the static libpython and build files
  /^(site|dist)-packages$/,
  // compiled modules stay (without them every cold start compiles the imports again, ~0.2 s); the optimized variants go
  /\.opt-[12]\.pyc$/,
  /^lib-dynload\/(_test|xxlimited|_xxtestfuzz|_ctypes_test)/,
];

/** Python: Debian's python3 with its standard library (less tests, GUI and build files) and the libraries of its extension modules. */
export function pythonBase(): LocalBase {
  const python = '/usr/bin/python3';
  if (!existsSync(python)) throw new Error(`no ${python} on this host to make a python base image from (install Debian's python3, or make python:3.11-slim pullable)`);
  const [version, stdlib] = execFileSync(python, ['-c', 'import sys, sysconfig; print(sys.version.split()[0]); print(sysconfig.get_paths()["stdlib"])'], { encoding: 'utf8' })
    .trim()
    .split('\n');
  const plan = new RootfsPlan();
  plan.addPrograms([python]);
  plan.addTree(stdlib!, (rel) => PYTHON_SKIP.some((re) => re.test(rel)));
  const dynload = join(stdlib!, 'lib-dynload');
  const modules = readdirSync(dynload)
    .filter((f) => f.endsWith('.so') && !PYTHON_SKIP.some((re) => re.test(`lib-dynload/${f}`)))
    .map((f) => join(dynload, f));
  plan.addLibrariesOf(modules);
  skeleton(plan);
  return {
    image: 'swirl/base-python:local',
    description: `python ${version} from ${realpathSync(python)}`,
    plan,
    changes: [`ENV PATH=${PATH}`, 'ENV LANG=C.UTF-8', 'CMD ["python3"]'],
  };
}

/** Redis: Debian's redis-server and redis-cli (/usr/bin, on PATH as in the official image) with their libraries. */
export function redisBase(): LocalBase {
  const redis = '/usr/bin/redis-server';
  if (!existsSync(redis)) throw new Error(`no ${redis} on this host to make a redis base image from (install Debian's redis-server, or make redis:7 pullable)`);
  const plan = new RootfsPlan();
  // redis-cli for health checks, where the host has it
  plan.addPrograms([redis, ...['/usr/bin/redis-cli'].filter((p) => existsSync(p))]);
  skeleton(plan);
  const version = /v=(\S+)/.exec(execFileSync(redis, ['--version'], { encoding: 'utf8' }))?.[1] ?? 'unknown';
  return {
    image: 'swirl/base-redis:local',
    description: `redis ${version} from ${redis}`,
    plan,
    changes: [`ENV PATH=${PATH}`, 'CMD ["redis-server"]'],
  };
}
