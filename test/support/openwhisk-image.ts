import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type Dockerode from 'dockerode';
import { freePort, waitForPort } from '../../invoker/factory/ports.ts';
import { ensureImages, runtimeImage } from '../../runtimes/index.ts';
import { followJson } from '../../runtimes/images/progress.ts';
import { type TarEntry, tarStream } from '../../runtimes/images/tar.ts';

const HERE = join(dirname(fileURLToPath(import.meta.url)), 'openwhisk-image');

/** The stand-in for OpenWhisk's runtime images (openwhisk-image/proxy.mjs), under a tag of the tests' own. */
export const CONTRACT_IMAGE = 'swirl-test/openwhisk-contract:1';
/** The image's own executable (openwhisk-image/exec.js): as an action's code, /init puts it in the image's place. */
export const CONTRACT_EXEC = readFileSync(join(HERE, 'exec.js'), 'utf8');

/**
 * Build an image from the stand-in proxy, on the nodejs runtime image (built here first when
 * missing, from whatever base this host has). `exec` replaces the image's own executable.
 */
export async function buildContractImage(docker: Dockerode, tag = CONTRACT_IMAGE, exec?: string): Promise<string> {
  await ensureImages(docker, { kinds: ['nodejs:20'] });
  const now = Date.now();
  const file = (path: string, data: string | Buffer, mode = 0o644): TarEntry => ({ type: 'file', path, mode, mtime: now, data: Buffer.from(data) });
  const dockerfile = [
    'ARG BASE',
    'FROM ${BASE}',
    // as OpenWhisk's images: root, no NODE_PATH of swirl's runtime
    'USER root',
    'ENV NODE_PATH=',
    'COPY proxy.mjs /openwhisk/proxy.mjs',
    'COPY exec /action/exec',
    'CMD ["node", "/openwhisk/proxy.mjs"]',
  ].join('\n');
  const entries = [file('Dockerfile', dockerfile), file('proxy.mjs', readFileSync(join(HERE, 'proxy.mjs'))), file('exec', exec ?? CONTRACT_EXEC, 0o755)];
  const stream = await docker.buildImage(tarStream(entries), { t: tag, buildargs: { BASE: runtimeImage('nodejs:20') }, rm: true, forcerm: true });
  await followJson(stream, () => undefined);
  return tag;
}

/** A Docker registry (Debian's docker-registry, distribution 2.8) on a loopback port with its own storage. */
export class LocalRegistry {
  private constructor(
    readonly host: string,
    private readonly child: ChildProcess,
    private readonly exited: Promise<void>,
    private readonly dir: string,
  ) {}

  static readonly BINARY = '/usr/bin/docker-registry';
  static available = (): boolean => existsSync(LocalRegistry.BINARY);

  static async start(): Promise<LocalRegistry> {
    const dir = mkdtempSync(join(tmpdir(), 'swirl-registry-'));
    const port = await freePort();
    const config = join(dir, 'config.yml');
    writeFileSync(config, `version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, 'data')}\nhttp:\n  addr: 127.0.0.1:${port}\n`);
    const child = spawn(LocalRegistry.BINARY, ['serve', config], { stdio: 'ignore' });
    const exited = new Promise<void>((ok) => child.once('exit', () => ok()));
    await waitForPort('127.0.0.1', port, 10_000, exited);
    return new LocalRegistry(`127.0.0.1:${port}`, child, exited, dir);
  }

  /** Push `image` as `<registry>/<name>`; the local tag made for the push is removed again. */
  async push(docker: Dockerode, image: string, name: string): Promise<string> {
    const target = `${this.host}/${name}`;
    const [repo, tag] = splitTag(target);
    await docker.getImage(image).tag({ repo, tag });
    // a registry without auth: the daemon still wants the header
    await followJson((await docker.getImage(target).push({ authconfig: {} } as never)) as unknown as NodeJS.ReadableStream, () => undefined);
    await docker.getImage(target).remove({ noprune: true });
    return target;
  }

  async stop(): Promise<void> {
    this.child.kill('SIGTERM');
    await this.exited;
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** `repo` and `tag` of an image reference (`latest` when it has none). */
export function splitTag(image: string): [string, string] {
  const slash = image.lastIndexOf('/');
  const colon = image.lastIndexOf(':');
  return colon > slash ? [image.slice(0, colon), image.slice(colon + 1)] : [image, 'latest'];
}
