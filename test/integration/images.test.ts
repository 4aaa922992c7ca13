import Dockerode from 'dockerode';
import { expect } from 'chai';
import { LOG_SENTINEL } from '../../common/container.ts';
import { ensureImages, RUNTIME_KINDS, RUNTIME_PORT, runtimeImage } from '../../runtimes/index.ts';
import { count, post, waitForPort } from '../support/runtime.ts';

/**
 * The runtime images, built by ensureImages (on a base imported from host files where no
 * base image can be pulled), run by Docker: each serves the protocol on its bridge address.
 */

const TEST_LABEL = 'swirl.test';
const TEST_VALUE = 'runtime-images';

/** A small action per kind: logs a line on each stream, answers with its params and who ran it. */
const ACTIONS: Record<string, { code: string }> = {
  'nodejs:20': { code: 'function main(p) { console.log("out line"); console.error("err line"); return { p, runtime: process.version } }' },
  'python:3': { code: 'import sys\ndef main(p):\n    print("out line")\n    print("err line", file=sys.stderr)\n    return {"p": p, "runtime": sys.version.split()[0]}\n' },
  stdio: { code: '#!/bin/sh\n# swirl:loop\nwhile read -r p; do echo "err line" >&2; echo "{\\"p\\": $p, \\"runtime\\": \\"sh $$\\"}"; done\n' },
};

async function removeTestContainers(docker: Dockerode): Promise<void> {
  const leftovers = await docker.listContainers({ all: true, filters: { label: [`${TEST_LABEL}=${TEST_VALUE}`] } });
  await Promise.all(leftovers.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

/** stdout and stderr of a container, from Docker's multiplexed log stream. */
async function containerLogs(container: Dockerode.Container): Promise<{ stdout: string; stderr: string }> {
  const raw = (await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
  const out = { stdout: '', stderr: '' };
  for (let at = 0; at + 8 <= raw.length; ) {
    const size = raw.readUInt32BE(at + 4);
    const text = raw.subarray(at + 8, at + 8 + size).toString();
    if (raw[at] === 2) out.stderr += text;
    else out.stdout += text;
    at += 8 + size;
  }
  return out;
}

describe('runtime images (Docker)', function () {
  this.timeout(120_000);
  let docker: Dockerode;

  before(async function () {
    docker = new Dockerode();
    try {
      await docker.ping();
    } catch (e) {
      // as the container tiers: only SWIRL_TEST_NO_DOCKER outside CI leaves them out
      if (process.env.CI || !process.env.SWIRL_TEST_NO_DOCKER) throw new Error(`Docker is required for the image tests and does not answer: ${(e as Error).message}`, { cause: e });
      return this.skip();
    }
    await removeTestContainers(docker);
    await ensureImages(docker);
  });

  after(async () => {
    if (docker) await removeTestContainers(docker);
  });

  it('ensureImages is idempotent: a second call builds nothing', async () => {
    const before = await Promise.all(RUNTIME_KINDS.map(async (k) => (await docker.getImage(runtimeImage(k)).inspect()).Id));
    const lines: string[] = [];
    await ensureImages(docker, { onProgress: (l) => lines.push(l) });
    expect(lines).to.deep.equal(RUNTIME_KINDS.map((k) => `${runtimeImage(k)}: up to date`));
    const after = await Promise.all(RUNTIME_KINDS.map(async (k) => (await docker.getImage(runtimeImage(k)).inspect()).Id));
    expect(after).to.deep.equal(before);
  });

  it('rebuilds an image whose tag points at something else (a stale image), with progress', async () => {
    const tag = runtimeImage('stdio');
    const [repo, version] = tag.split(':') as [string, string];
    const good = await docker.getImage(tag).inspect();
    // an image without the hash label of the current proxy under the runtime's tag: an ancestor of the runtime image
    let older = good;
    while (older.Config.Labels?.['swirl.runtime.hash'] && older.Parent) older = await docker.getImage(older.Parent).inspect();
    await docker.getImage(older.Id).tag({ repo, tag: version });
    const stale = await docker.getImage(tag).inspect();
    expect(stale.Config.Labels?.['swirl.runtime.hash']).to.not.equal(good.Config.Labels?.['swirl.runtime.hash']);
    const lines: string[] = [];
    await ensureImages(docker, { kinds: ['stdio'], onProgress: (l) => lines.push(l) });
    expect(lines[0]).to.equal(`${tag}: building (its Dockerfile or what it copies changed)`);
    expect(lines.some((l) => /^\s+Step \d+\/\d+ : COPY dist\/stdio\.mjs/.test(l))).to.equal(true);
    expect(lines.at(-1)).to.match(new RegExp(`^${tag}: built in [\\d.]+ s on \\S+, image [\\d.]+ MB$`));
    expect((await docker.getImage(tag).inspect()).Config.Labels?.['swirl.runtime.hash']).to.equal(good.Config.Labels?.['swirl.runtime.hash']);
  });

  for (const kind of RUNTIME_KINDS) {
    it(`${kind}: the image serves /init and /run on ${RUNTIME_PORT} at its bridge address, sentinels in docker logs`, async () => {
      const container = await docker.createContainer({
        Image: runtimeImage(kind),
        Labels: { [TEST_LABEL]: TEST_VALUE },
        HostConfig: { Memory: 256 * 1024 * 1024 },
      });
      try {
        await container.start();
        const ip = Object.values((await container.inspect()).NetworkSettings.Networks)[0]?.IPAddress;
        expect(ip, 'bridge address').to.match(/^\d+\.\d+\.\d+\.\d+$/);
        await waitForPort(ip!, RUNTIME_PORT, 15_000);
        const base = `http://${ip}:${RUNTIME_PORT}`;
        expect(await post(base, '/init', { value: { name: 't', main: 'main', ...ACTIONS[kind] } })).to.deep.equal({ status: 200, body: { ok: true } });
        const first = await post(base, '/run', { value: { n: 1 }, activation_id: 'a1', namespace: 'guest', deadline: String(Date.now() + 10_000) });
        const second = await post(base, '/run', { value: { n: 2 }, activation_id: 'a2', namespace: 'guest', deadline: String(Date.now() + 10_000) });
        expect(first.status).to.equal(200);
        expect(first.body.p).to.deep.equal({ n: 1 });
        expect(second.body.p).to.deep.equal({ n: 2 });
        expect(second.body.runtime).to.equal(first.body.runtime); // stdio: the same loop process
        let logs = await containerLogs(container);
        for (let i = 0; i < 50 && count(logs.stderr, LOG_SENTINEL) < 2; i++) {
          await new Promise((ok) => setTimeout(ok, 20));
          logs = await containerLogs(container);
        }
        expect(count(logs.stdout, LOG_SENTINEL), 'stdout sentinels').to.equal(2);
        expect(count(logs.stderr, LOG_SENTINEL), 'stderr sentinels').to.equal(2);
        expect(logs.stderr).to.equal(`err line\n${LOG_SENTINEL}\nerr line\n${LOG_SENTINEL}\n`);
      } finally {
        await container.remove({ force: true });
      }
    });
  }
});
