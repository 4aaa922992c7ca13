import { type ActivationRecord, newActivationId } from '../../common/activation.ts';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Dockerode from 'dockerode';
import type { ContainerFactory } from '../../common/container.ts';
import type { Action } from '../../common/entities.ts';
import { defaultLimits, type ActionLimits } from '../../common/limits.ts';
import { silentLogger } from '../../common/logger.ts';
import type { ActivationJob } from '../../invoker/activation-runner.ts';
import type { InvokerConfig } from '../../invoker/invoker.ts';
import { DockerContainerFactory } from '../../invoker/factory/docker.ts';
import { ProcessContainerFactory } from '../../invoker/factory/process.ts';
import { SandboxContainerFactory, sandboxSupport } from '../../invoker/factory/sandbox.ts';
import { SandboxNetwork } from '../../invoker/factory/sandbox-net.ts';
import { ensureImages, localProxy } from '../../runtimes/index.ts';

export type FactoryName = 'docker' | 'sandbox' | 'process';

/**
 * Docker must be reachable for the docker tiers, bubblewrap and cgroups for the sandbox
 * tier: when they are not, the suite fails (CI installs them); outside CI,
 * SWIRL_TEST_NO_DOCKER=1 and SWIRL_TEST_NO_SANDBOX=1 leave those tiers out on a machine
 * without them.
 */
export const factoryNames = (): FactoryName[] => {
  const skip = (name: string) => !!process.env[`SWIRL_TEST_NO_${name.toUpperCase()}`] && !process.env.CI;
  return (['docker', 'sandbox', 'process'] as const).filter((n) => n === 'process' || !skip(n));
};

/** The installation of the tests' sandbox factories (one block of sandbox addresses for all test runs on this host). */
export const TEST_SANDBOX_INSTALLATION = 'swirl-test-sandbox';

let imagesReady: Promise<void> | undefined;

/** The actions network of the tests' Docker factories (created, with its firewall, by the first one). */
export const TEST_NETWORK = 'swirl-test-actions';

export interface FactoryOptions {
  /** The API as the invoker's host sees it (what actions may reach). */
  apiHost?: string;
  network?: string;
  /** The installation label of the Docker factory's containers (default: the network's). */
  installation?: string;
  outbound?: boolean;
  /** Where the process factory keeps its pid files, the sandbox factory its root filesystems (a dead invoker's successor must use the same). */
  stateDir?: string;
  /** Sandbox factory: most processes per sandbox, size of /tmp (MB). */
  pidsLimit?: number;
  tmpMb?: number;
}

/** A factory of the named kind, with a unique invoker id so tests never touch each other's containers. */
export async function makeFactory(name: FactoryName, invokerId = String(1000 + Math.floor(Math.random() * 8999)), opts: FactoryOptions = {}): Promise<ContainerFactory> {
  if (name === 'docker') {
    const docker = new Dockerode();
    await docker.ping().catch((e: Error) => {
      throw new Error(`Docker is required for this test tier and does not answer (${e.message}); start dockerd or set SWIRL_TEST_NO_DOCKER=1`);
    });
    imagesReady ??= ensureImages(docker);
    await imagesReady;
    return new DockerContainerFactory(docker, { invokerId, log: silentLogger, network: opts.network ?? TEST_NETWORK, installation: opts.installation, apiHost: opts.apiHost, outbound: opts.outbound });
  }
  if (name === 'sandbox') {
    const missing = sandboxSupport();
    if (missing.length) throw new Error(`this test tier runs sandboxes and the host lacks ${missing.join('; ')}; install them or set SWIRL_TEST_NO_SANDBOX=1`);
    const installation = opts.installation ?? TEST_SANDBOX_INSTALLATION;
    const network = new SandboxNetwork({ installation, outbound: opts.outbound ?? true, log: silentLogger, stateDir: join(opts.stateDir ?? processStateDir(), 'sandbox-net'), ...(opts.apiHost ? { apiPorts: [Number(new URL(opts.apiHost).port)] } : {}) });
    // the runtimes' root filesystems (~250 MB, one per content) are shared by every test run on this host
    return new SandboxContainerFactory({ invokerId, log: silentLogger, stateDir: SANDBOX_ROOTS, installation, network, apiHost: opts.apiHost, pidsLimit: opts.pidsLimit, tmpMb: opts.tmpMb });
  }
  return new ProcessContainerFactory({ invokerId, launcher: localProxy, stateDir: opts.stateDir ?? processStateDir(), log: silentLogger });
}

/** Where the tests' sandbox factories keep the runtimes' root filesystems. */
export const SANDBOX_ROOTS = join(tmpdir(), 'swirl-test-sandboxes');

let stateDir: string | undefined;
export const processStateDir = (): string => (stateDir ??= mkdtempSync(join(tmpdir(), 'swirl-proc-state-')));

/** An action entity as the store would hold it. */
export function testAction(code: string, over: { kind?: string; name?: string; main?: string; binary?: boolean; image?: string; limits?: Partial<ActionLimits>; annotations?: Action['annotations'] } = {}): Action {
  return {
    namespace: 'guest',
    name: over.name ?? 'hello',
    version: '0.0.1',
    publish: false,
    annotations: over.annotations ?? [],
    updated: Date.now(),
    exec: { kind: over.kind ?? 'nodejs:20', code, binary: over.binary ?? false, ...(over.main ? { main: over.main } : {}), ...(over.image ? { image: over.image } : {}) },
    parameters: [],
    limits: { ...defaultLimits(), ...over.limits },
  };
}

export { newActivationId };

export function testJob(action: Action, params: Record<string, unknown> = {}, over: Partial<ActivationJob> = {}): ActivationJob {
  return {
    activationId: newActivationId(),
    transactionId: 'tid-test',
    namespace: 'guest',
    subject: 'guest',
    action,
    rev: over.rev ?? '1-test',
    params,
    receivedAt: Date.now(),
    ...over,
  };
}

/** An invoker's configuration for tests: 1 GB, no stem cells, a short pause grace. */
export const invokerConfig = (over: Partial<InvokerConfig> = {}): InvokerConfig => ({
  containerFactory: 'auto',
  invokerId: '0',
  containerPidsLimit: 512,
  dataDir: '/tmp',
  invokerMemoryMb: 1024,
  prewarm: [],
  pauseGraceMs: 50,
  idleContainerTimeoutMs: 600_000,
  ...over,
});

/** An annotation of a record. */
export const ann = (r: ActivationRecord, key: string): unknown => r.annotations.find((a) => a.key === key)?.value;

/** A record's log lines without their timestamps (`stdout: text`). */
export const logText = (r: ActivationRecord): string[] => r.logs.map((l) => l.replace(/^\S+ /, ''));
