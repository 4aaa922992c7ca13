import { expect } from 'chai';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CgroupTree, sharesToWeight } from '../../invoker/factory/cgroups.ts';

/**
 * What a sandbox's cgroup is given, on both layouts, written to a directory tree shaped as
 * the kernel's (the real v1 hierarchy is exercised by test/integration/sandbox.test.ts; this
 * host has no v2 to try).
 */
describe('sandbox cgroups', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(join(tmpdir(), 'swirl-cgroups-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));
  const read = (...p: string[]) => readFileSync(join(root, ...p), 'utf8');

  it('v1: memory and swap together, pids and CPU shares in each controller\'s hierarchy; the pid goes into every one', () => {
    for (const c of ['memory', 'pids', 'cpu', 'freezer']) {
      mkdirSync(join(root, c));
      writeFileSync(join(root, c, 'cgroup.procs'), '');
    }
    const tree = new CgroupTree(root, 'swirl-x', 1);
    expect(tree.missing()).to.deep.equal([]);
    tree.prepare();
    // the kernel makes these files in every new memory cgroup (memsw where swap is accounted)
    mkdirSync(join(root, 'memory', 'swirl-x', 'a'));
    writeFileSync(join(root, 'memory', 'swirl-x', 'a', 'memory.memsw.limit_in_bytes'), '');
    const cgroup = tree.create('a', { memoryMb: 128, pidsLimit: 64, cpuShares: 64 });
    expect(read('memory', 'swirl-x', 'a', 'memory.limit_in_bytes')).to.equal(String(128 * 1024 * 1024));
    expect(read('memory', 'swirl-x', 'a', 'memory.memsw.limit_in_bytes')).to.equal(String(128 * 1024 * 1024));
    expect(read('pids', 'swirl-x', 'a', 'pids.max')).to.equal('64');
    expect(read('cpu', 'swirl-x', 'a', 'cpu.shares')).to.equal('64');
    expect(cgroup.procsFiles()).to.deep.equal(['memory', 'pids', 'cpu', 'freezer'].map((c) => join(root, c, 'swirl-x', 'a', 'cgroup.procs')));
    expect(tree.children()).to.deep.equal(['a']);
  });

  it('v2: one directory with memory.max, no swap, pids.max and the cpu.weight of the shares; the controllers enabled for the children', () => {
    writeFileSync(join(root, 'cgroup.controllers'), 'cpuset cpu io memory hugetlb pids rdma misc\n');
    const tree = new CgroupTree(root, 'swirl-x', 2);
    expect(tree.missing()).to.deep.equal([]);
    tree.prepare();
    mkdirSync(join(root, 'swirl-x', 'a'));
    writeFileSync(join(root, 'swirl-x', 'a', 'memory.swap.max'), 'max');
    const cgroup = tree.create('a', { memoryMb: 256, pidsLimit: 512, cpuShares: 128 });
    expect(read('cgroup.subtree_control')).to.match(/^\+(memory|pids|cpu)$/); // (a real file takes each write; this one keeps the last)
    expect(read('swirl-x', 'a', 'memory.max')).to.equal(String(256 * 1024 * 1024));
    expect(read('swirl-x', 'a', 'memory.swap.max')).to.equal('0');
    expect(read('swirl-x', 'a', 'pids.max')).to.equal('512');
    expect(read('swirl-x', 'a', 'cpu.weight')).to.equal(String(sharesToWeight(128)));
    expect(cgroup.procsFiles()).to.deep.equal([join(root, 'swirl-x', 'a', 'cgroup.procs')]);
  });

  it('converts CPU shares to weights as runc does: 2 → 1, 1024 → 39, 262144 → 10000', () => {
    expect([2, 1024, 262144].map(sharesToWeight)).to.deep.equal([1, 39, 10000]);
  });

  it('names what is missing: no cgroup filesystem, or the controllers a sandbox needs', () => {
    expect(new CgroupTree(join(root, 'none'), 'g', 1).missing()).to.deep.equal([`no cgroup filesystem at ${join(root, 'none')}`]);
    mkdirSync(join(root, 'memory'));
    writeFileSync(join(root, 'memory', 'cgroup.procs'), '');
    expect(new CgroupTree(root, 'g', 1).missing()).to.deep.equal(['pids', 'cpu', 'freezer'].map((c) => `the cgroup v1 '${c}' controller (${join(root, c)})`));
    writeFileSync(join(root, 'cgroup.controllers'), 'cpu memory\n');
    expect(new CgroupTree(root, 'g', 2).missing()).to.deep.equal([`the cgroup v2 'pids' controller (${root}/cgroup.controllers)`]);
  });
});
