import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** cgroup2's filesystem magic (statfs f_type): /sys/fs/cgroup is the unified hierarchy. */
const CGROUP2_MAGIC = 0x63677270;
/** The v1 controllers a sandbox needs, each its own hierarchy under the cgroup root. */
const V1_CONTROLLERS = ['memory', 'pids', 'cpu', 'freezer'] as const;
const V2_CONTROLLERS = ['memory', 'pids', 'cpu'] as const;
const MiB = 1024 * 1024;

export interface CgroupLimits {
  memoryMb: number;
  pidsLimit: number;
  /** CPU weight as Docker's --cpu-shares (2..262144); cgroup v2 gets the equivalent cpu.weight. */
  cpuShares: number;
}

const read = (path: string): string => readFileSync(path, 'utf8');
const write = (path: string, value: string | number): void => writeFileSync(path, String(value));

/** cpu.shares (v1, 2..262144) as cpu.weight (v2, 1..10000), as runc converts it. */
export const sharesToWeight = (shares: number): number => Math.floor(1 + ((shares - 2) * 9999) / 262142);

/**
 * The cgroups of one group of sandboxes (`swirl-<installation>`): one directory per
 * controller on cgroup v1 (memory, pids, cpu, freezer), one on v2. Each sandbox gets a
 * child cgroup with its memory (swap included), pids and CPU limits, frozen to pause it.
 */
export class CgroupTree {
  readonly version: 1 | 2;

  /** `version`: the hierarchy's layout, found from the filesystem at `root` unless given (tests). */
  constructor(
    private readonly root: string,
    readonly group: string,
    version?: 1 | 2,
  ) {
    this.version = version ?? (isUnified(root) ? 2 : 1);
  }

  /** What this host lacks for sandboxes' cgroups (empty when all is there). */
  missing(): string[] {
    if (!existsSync(this.root)) return [`no cgroup filesystem at ${this.root}`];
    if (this.version === 2) {
      const available = readOr(join(this.root, 'cgroup.controllers')).split(/\s+/);
      return V2_CONTROLLERS.filter((c) => !available.includes(c)).map((c) => `the cgroup v2 '${c}' controller (${this.root}/cgroup.controllers)`);
    }
    return V1_CONTROLLERS.filter((c) => !existsSync(join(this.root, c, 'cgroup.procs'))).map((c) => `the cgroup v1 '${c}' controller (${join(this.root, c)})`);
  }

  /** The group's directories (made when missing; on v2 with the controllers enabled for its children). */
  prepare(): void {
    if (this.version === 2) {
      enable(this.root);
      mkdirOnce(join(this.root, this.group));
      enable(join(this.root, this.group));
    } else for (const c of V1_CONTROLLERS) mkdirOnce(join(this.root, c, this.group));
  }

  /** The group's parent directories, one per hierarchy. */
  private bases(): string[] {
    return this.version === 2 ? [join(this.root, this.group)] : V1_CONTROLLERS.map((c) => join(this.root, c, this.group));
  }

  /** A sandbox's cgroup, made with its limits. */
  create(name: string, limits: CgroupLimits): Cgroup {
    if (!/^[\w.-]+$/.test(name)) throw new Error(`invalid cgroup name '${name}'`);
    // (again: another invoker of the installation that closed may have removed the group meanwhile)
    this.prepare();
    const cgroup = new Cgroup(this.version, this.bases().map((b) => join(b, name)));
    try {
      cgroup.limit(limits);
    } catch (e) {
      cgroup.remove();
      throw e;
    }
    return cgroup;
  }

  /** The names of the sandbox cgroups in this group now. */
  children(): string[] {
    const names = new Set<string>();
    for (const base of this.bases()) {
      if (!existsSync(base)) continue;
      for (const entry of readdirSync(base, { withFileTypes: true })) if (entry.isDirectory()) names.add(entry.name);
    }
    return [...names];
  }

  /** Remove the group's directories where no sandbox (of any invoker) is left in them. */
  removeIfEmpty(): void {
    for (const base of this.bases()) {
      try {
        rmdirSync(base);
      } catch {
        // another invoker's sandboxes are in it, or it is gone
      }
    }
  }

  /** A sandbox cgroup of this group by name (e.g. a leftover's). */
  existing(name: string): Cgroup {
    return new Cgroup(this.version, this.bases().map((b) => join(b, name)));
  }
}

/** One sandbox's cgroup: a directory per hierarchy. */
export class Cgroup {
  constructor(
    readonly version: 1 | 2,
    readonly dirs: string[],
  ) {}

  private dir(controller: string): string {
    if (this.version === 2) return this.dirs[0]!;
    return this.dirs.find((d) => d.includes(`/${controller}/`))!;
  }

  limit(limits: CgroupLimits): void {
    for (const dir of this.dirs) mkdirOnce(dir);
    const bytes = limits.memoryMb * MiB;
    if (this.version === 2) {
      const dir = this.dirs[0]!;
      write(join(dir, 'memory.max'), bytes);
      if (existsSync(join(dir, 'memory.swap.max'))) write(join(dir, 'memory.swap.max'), 0);
      write(join(dir, 'pids.max'), limits.pidsLimit);
      write(join(dir, 'cpu.weight'), sharesToWeight(limits.cpuShares));
      return;
    }
    const memory = this.dir('memory');
    const [mem, memsw] = [join(memory, 'memory.limit_in_bytes'), join(memory, 'memory.memsw.limit_in_bytes')];
    // memory and swap together, where the kernel accounts swap (swapaccount=1): no swap beyond the limit.
    // The kernel keeps memsw ≥ memory at every step: a limit raised (a cgroup limited again) takes memsw first
    const order = !existsSync(memsw) ? [mem] : bytes > Number(readOr(mem)) ? [memsw, mem] : [mem, memsw];
    for (const file of order) write(file, bytes);
    write(join(this.dir('pids'), 'pids.max'), limits.pidsLimit);
    write(join(this.dir('cpu'), 'cpu.shares'), limits.cpuShares);
  }

  /**
   * Where the cgroup's memory files are, and where a process in its cgroup namespace looks
   * for them (libuv, and so Node's heap sizing, reads the limit there).
   */
  memoryView(): { dir: string; at: string } {
    return this.version === 2 ? { dir: this.dirs[0]!, at: '/sys/fs/cgroup' } : { dir: this.dir('memory'), at: '/sys/fs/cgroup/memory' };
  }

  /** The files a process writes its pid to, to join this cgroup in every hierarchy. */
  procsFiles(): string[] {
    return this.dirs.map((d) => join(d, 'cgroup.procs'));
  }

  /** The pids in the cgroup. */
  pids(): number[] {
    const text = readOr(join(this.version === 2 ? this.dirs[0]! : this.dir('pids'), 'cgroup.procs'));
    return text.split('\n').filter(Boolean).map(Number);
  }

  /** Stop every process of the cgroup, resolving once all are frozen. */
  async freeze(): Promise<void> {
    if (this.version === 2) {
      write(join(this.dirs[0]!, 'cgroup.freeze'), 1);
      await until(() => /^frozen 1$/m.test(readOr(join(this.dirs[0]!, 'cgroup.events'))));
    } else {
      const state = join(this.dir('freezer'), 'freezer.state');
      write(state, 'FROZEN');
      await until(() => readOr(state).trim() === 'FROZEN');
    }
  }

  thaw(): void {
    if (this.version === 2) write(join(this.dirs[0]!, 'cgroup.freeze'), 0);
    else write(join(this.dir('freezer'), 'freezer.state'), 'THAWED');
  }

  /** SIGKILL every process of the cgroup (thawed, so the kill lands), until none is left. */
  async kill(): Promise<void> {
    if (!this.dirs.every((d) => existsSync(d))) return;
    const killFile = this.version === 2 ? join(this.dirs[0]!, 'cgroup.kill') : undefined;
    await until(() => {
      if (killFile && existsSync(killFile)) write(killFile, 1);
      else
        for (const pid of this.pids()) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // gone already
          }
        }
      tryThaw(this);
      return this.pids().length === 0;
    }, 5_000);
  }

  /** Remove the cgroup's directories (it must be empty); missing ones are fine. */
  remove(): void {
    for (const dir of this.dirs) {
      try {
        rmdirSync(dir);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      }
    }
  }
}

function tryThaw(cgroup: Cgroup): void {
  try {
    cgroup.thaw();
  } catch {
    // removed meanwhile
  }
}

function isUnified(root: string): boolean {
  try {
    return statfsSync(root).type === CGROUP2_MAGIC;
  } catch {
    return false;
  }
}

function readOr(path: string): string {
  try {
    return read(path);
  } catch {
    return '';
  }
}

function mkdirOnce(dir: string): void {
  try {
    mkdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
}

/** On cgroup v2, let a cgroup's children use the sandbox controllers. */
function enable(dir: string): void {
  const on = readOr(join(dir, 'cgroup.subtree_control')).split(/\s+/);
  for (const c of V2_CONTROLLERS) if (!on.includes(c)) write(join(dir, 'cgroup.subtree_control'), `+${c}`);
}

/** Poll until `done` holds (or throw after `timeoutMs`). */
async function until(done: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 1; !done(); delay = Math.min(delay * 2, 20)) {
    if (Date.now() > deadline) throw new Error('the cgroup did not reach the state asked for in time');
    await new Promise((r) => setTimeout(r, delay));
  }
}
