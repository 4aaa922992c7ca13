import { randomBytes } from 'node:crypto';
import { chmodSync, constants, copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEEP_MODES } from '../../common/private-files.ts';
import { runtimeRecipe } from './ensure.ts';
import type { RootfsPlan } from './rootfs.ts';
import type { TarEntry } from './tar.ts';

/** A kind's runtime as a directory to mount as `/`, with what its image's config says. */
export interface RuntimeRoot {
  /** The root filesystem, complete (never changed once there). */
  dir: string;
  /** The image's environment (its base's and its Dockerfile's ENV). */
  env: Record<string, string>;
  /** The image's CMD. */
  cmd: string[];
  /** The image's USER (`uid:gid`). */
  user: string;
}

/** What a runtime Dockerfile (with its base's instructions before it) asks of a root filesystem. */
export interface ImageSteps {
  env: Record<string, string>;
  copies: Array<{ from: string; to: string }>;
  cmd: string[];
  user: string;
}

/** Instructions that say nothing about the files or the process: the base is made from host files here, the port is the runtime's. */
const IGNORED = new Set(['ARG', 'FROM', 'EXPOSE', 'LABEL']);

/**
 * The steps of a runtime Dockerfile, for the few instructions swirl's runtime Dockerfiles
 * use (ENV KEY=VALUE, COPY <file> <path>, USER, CMD [json]); anything else (RUN, WORKDIR, …)
 * is refused rather than silently left out of the sandbox's root filesystem.
 */
export function imageSteps(name: string, text: string): ImageSteps {
  const steps: ImageSteps = { env: {}, copies: [], cmd: [], user: '0:0' };
  const lines = text.replace(/\\\n/g, ' ').split('\n');
  for (const raw of lines) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const [instruction = '', ...args] = line.split(/\s+/);
    const rest = line.slice(instruction.length).trim();
    const word = instruction.toUpperCase();
    if (IGNORED.has(word)) continue;
    if (word === 'ENV') {
      for (const pair of args) {
        const eq = pair.indexOf('=');
        if (eq <= 0 || /["']/.test(pair)) throw new Error(`${name}: the sandbox reads ENV only as unquoted KEY=VALUE pairs: ${line}`);
        steps.env[pair.slice(0, eq)] = pair.slice(eq + 1);
      }
    } else if (word === 'COPY' && args.length === 2 && !args[0]!.startsWith('--')) steps.copies.push({ from: args[0]!, to: args[1]! });
    else if (word === 'USER' && args.length === 1) steps.user = args[0]!;
    else if (word === 'CMD' && rest.startsWith('[')) steps.cmd = JSON.parse(rest) as string[];
    else throw new Error(`${name}: the sandbox cannot apply '${line}' (only ENV, COPY <file> <path>, USER and CMD [...])`);
  }
  return steps;
}

/** Mount points bwrap needs in a read-only root, and files a process expects. */
function sandboxSkeleton(plan: RootfsPlan): void {
  // /sys/fs/cgroup(/memory): the sandbox's own memory cgroup, read-only (cgroup v2, v1)
  for (const dir of ['/proc', '/dev', '/tmp', '/etc', '/sys/fs/cgroup/memory']) plan.addDir(dir, dir === '/tmp' ? 0o1777 : 0o755);
  // mount points of the sandbox's own (its network's names and resolver)
  plan.addFile('/etc/hosts', '');
  plan.addFile('/etc/resolv.conf', '');
}

/** Bumped when what a root filesystem holds changes without its plan changing. */
const LAYOUT = 'sandbox-4';

/**
 * The root filesystem of a kind's runtime, as its image is built (runtimes/images/ensure.ts):
 * the base made from this host's files, the files its Dockerfile copies, its ENV, USER and
 * CMD. Materialized once per content under `rootsDir` (`<kind>-<hash>`): written to a
 * partial directory and renamed when complete, so a sandbox never sees half of one and two
 * invokers making the same one at once both end with it.
 */
export async function runtimeRoot(kind: string, rootsDir: string, onProgress: (line: string) => void = () => undefined): Promise<RuntimeRoot> {
  const recipe = runtimeRecipe(kind);
  const context = await recipe.context();
  const dockerfile = context.entries.find((e) => e.path === context.dockerfile);
  if (!dockerfile || dockerfile.type !== 'file' || !('data' in dockerfile)) throw new Error(`${context.dockerfile} is missing from the build context`);
  const base = recipe.localBase();
  const steps = imageSteps(`runtimes/${context.dockerfile}`, `${base.changes.join('\n')}\n${dockerfile.data.toString()}`);
  const plan = base.plan;
  for (const { from, to } of steps.copies) {
    const file = context.entries.find((e) => e.path === from);
    if (!file || file.type !== 'file' || !('data' in file)) throw new Error(`runtimes/${context.dockerfile}: COPY ${from}: not in the build context`);
    plan.addFile(to, file.data, 0o644);
  }
  sandboxSkeleton(plan);
  const dir = join(rootsDir, `${kind.replace(/[^\w.-]/g, '-')}-${plan.fingerprint()}-${LAYOUT}`);
  const root = { dir, env: steps.env, cmd: steps.cmd, user: steps.user };
  if (intact(dir)) return root;
  const started = Date.now();
  const entries = plan.list();
  onProgress(`sandbox root of ${kind}: writing ${entries.length} entries (${base.description}) to ${dir}`);
  mkdirSync(rootsDir, { recursive: true, mode: 0o700 });
  // the data dir's privacy pass (common/private-files.ts) would make the roots unreadable to the runtime user
  writeFileSync(join(rootsDir, KEEP_MODES), 'the sandboxes\' root filesystems: copies of public host files the runtime user reads\n');
  const partial = `${dir}.partial-${randomBytes(4).toString('hex')}`;
  try {
    materialize(entries, partial);
    // one whose modes were changed behind its back goes (checked again: another invoker may have just made it whole)
    if (existsSync(dir) && !intact(dir)) rmSync(dir, { recursive: true, force: true });
    renameSync(partial, dir);
  } catch (e) {
    rmSync(partial, { recursive: true, force: true });
    // another invoker finished the same root first: that one is as good
    if (!intact(dir)) throw e;
  }
  onProgress(`sandbox root of ${kind}: ready in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return root;
}

/** A root filesystem as written: there, and still open to the runtime user (modes changed behind its back make it again). */
function intact(dir: string): boolean {
  const st = statSync(dir, { throwIfNoEntry: false });
  return !!st && (st.mode & 0o777) === 0o755;
}

/**
 * Write entries (directories before what they hold) under `dir`. Files are copied, not
 * hard-linked: a link would share its inode, mode and owner with the host's file.
 */
function materialize(entries: TarEntry[], dir: string): void {
  mkdirSync(dir, { mode: 0o755 });
  chmodSync(dir, 0o755);
  const dirModes: Array<[string, number]> = [];
  for (const e of entries) {
    const path = join(dir, e.path);
    if (e.type === 'dir') {
      mkdirSync(path, { recursive: true });
      dirModes.push([path, e.mode & 0o7777]);
    } else if (e.type === 'symlink') symlinkSync(e.target, path);
    else {
      if ('data' in e) writeFileSync(path, e.data);
      else copyFileSync(e.source, path, constants.COPYFILE_FICLONE);
      chmodSync(path, e.mode & 0o7777 & ~0o6000);
      // the host's times: Python takes a compiled module only while its source keeps the time it was compiled from
      utimesSync(path, e.mtime / 1000, e.mtime / 1000);
    }
  }
  // modes last, deepest first: a read-only directory would refuse what goes into it
  for (const [path, mode] of dirModes.reverse()) chmodSync(path, mode);
}
