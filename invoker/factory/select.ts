import { createHash } from 'node:crypto';
import type Dockerode from 'dockerode';
import { resolve } from 'node:path';
import type { Config } from '../../common/config.ts';
import type { ContainerFactory } from '../../common/container.ts';
import type { Logger } from '../../common/logger.ts';
import { ensureImages, localProxy, requireImages, RUNTIME_KINDS, runtimeImage } from '../../runtimes/index.ts';
import { DockerContainerFactory, portOf } from './docker.ts';
import { loadDockerode } from './dockerode.ts';
import { ProcessContainerFactory } from './process.ts';
import { SandboxContainerFactory, sandboxSupport } from './sandbox.ts';
import { SandboxNetwork } from './sandbox-net.ts';

type FactoryConfig = Pick<Config, 'containerFactory' | 'invokerId' | 'containerPidsLimit' | 'dataDir'> &
  Partial<Pick<Config, 'dockerNetwork' | 'runtimeImages' | 'actionFirewall' | 'actionOutbound' | 'actionTmpMb' | 'invokerMemoryMb' | 'couchdbUrl' | 'dbPrefix'>>;

const shortHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16);

/** The actions network of an installation that names none: one per data directory. */
export const defaultActionsNetwork = (dataDir: string): string => `swirl-actions-${shortHash(resolve(dataDir)).slice(0, 8)}`;

/**
 * What makes an installation one: its store — the embedded one in a data directory, or a
 * CouchDB (its address without credentials) and database prefix. Invokers that share it
 * remove each other's leftovers; nothing else is theirs.
 */
export function installationId(config: Pick<FactoryConfig, 'dataDir' | 'couchdbUrl' | 'dbPrefix'>): string {
  if (!config.couchdbUrl) return shortHash(`embedded:${resolve(config.dataDir)}:${config.dbPrefix ?? ''}`);
  const u = new URL(config.couchdbUrl);
  return shortHash(`couchdb:${u.host}${u.pathname}:${config.dbPrefix ?? ''}`);
}

/** What the host offers, asked only when the choice depends on it. */
export interface FactoryProbes {
  /** Resolves when a Docker daemon answers; rejects with why not. */
  docker(): Promise<void>;
  /** What the host lacks to run sandboxes (empty: it has it all). */
  sandbox(): string[];
}

/**
 * Which factory runs actions: the one configured, or (auto) Docker when a daemon answers,
 * else sandboxes when the host supports them, else local processes (not isolated). A
 * factory named outright whose requirements are missing stops start-up, saying what lacks.
 */
export async function chooseFactory(wanted: Config['containerFactory'], probes: FactoryProbes, log: Logger): Promise<ContainerFactory['name']> {
  if (wanted === 'process') return 'process';
  if (wanted === 'docker' || wanted === 'auto') {
    const answer = await probes.docker().then(
      () => undefined,
      (e: Error) => e,
    );
    if (!answer) return 'docker';
    if (wanted === 'docker') throw new Error(`SWIRL_CONTAINER_FACTORY is docker but the Docker daemon does not answer: ${answer.message}`);
  }
  const missing = probes.sandbox();
  if (missing.length === 0) {
    if (wanted === 'auto') log.warn('no Docker daemon answers: actions will run in sandboxes (bubblewrap and cgroups)');
    return 'sandbox';
  }
  if (wanted === 'sandbox') throw new Error(`SWIRL_CONTAINER_FACTORY is sandbox but this host cannot run sandboxes: missing ${missing.join('; ')}`);
  log.warn({ missing }, 'no Docker daemon answers and this host cannot run sandboxes: actions will run as local processes');
  return 'process';
}

/**
 * The container factory the configuration asks for (chooseFactory). With Docker, missing
 * runtime images are built before the factory is returned (progress in the log), so an
 * invocation never fails for want of a runtime image; with `runtimeImages: require` (an
 * invoker in a container) they must already be there. Sandboxes make the runtimes' root
 * filesystems under the data dir at their init, with progress too.
 */
export async function selectFactory(config: FactoryConfig, log: Logger, onProgress?: (line: string) => void, apiHost?: string, probes?: FactoryProbes): Promise<ContainerFactory> {
  const progress = onProgress ?? ((line: string) => log.info({ images: line }, 'runtime images'));
  const docker = new (loadDockerode())();
  const choice = await chooseFactory(config.containerFactory, probes ?? { docker: () => docker.ping().then(() => undefined), sandbox: () => sandboxSupport() }, log);
  if (choice === 'docker') {
    const build = config.runtimeImages !== 'require';
    if (build) await ensureImages(docker, { onProgress: progress });
    else await requireImages(docker);
    return new DockerContainerFactory(docker, {
      invokerId: config.invokerId,
      log,
      pidsLimit: config.containerPidsLimit,
      network: config.dockerNetwork ?? defaultActionsNetwork(config.dataDir),
      installation: installationId(config),
      apiHost,
      firewall: config.actionFirewall !== 'off',
      outbound: config.actionOutbound !== 'off',
      tmpMb: config.actionTmpMb,
      invokerMemoryMb: config.invokerMemoryMb,
      provideImage: (image) => provideImage(docker, image, log, progress, build),
    });
  }
  if (choice === 'sandbox') {
    const installation = installationId(config);
    const stateDir = resolve(config.dataDir, 'sandboxes');
    return new SandboxContainerFactory({
      invokerId: config.invokerId,
      log,
      stateDir,
      installation,
      network: new SandboxNetwork({ installation, outbound: config.actionOutbound !== 'off', log, stateDir: resolve(stateDir, 'network'), ...(apiHost ? { apiPorts: [portOf(apiHost)] } : {}) }),
      pidsLimit: config.containerPidsLimit,
      tmpMb: config.actionTmpMb,
      invokerMemoryMb: config.invokerMemoryMb,
      apiHost,
      onProgress: progress,
    });
  }
  return new ProcessContainerFactory({ invokerId: config.invokerId, launcher: localProxy, stateDir: resolve(config.dataDir, 'processes'), log });
}

/** A missing runtime image is (re)built; any other image (blackbox) the factory has pulled already. */
async function provideImage(docker: Dockerode, image: string, log: Logger, progress: (line: string) => void, build: boolean): Promise<boolean> {
  const kind = RUNTIME_KINDS.find((k) => runtimeImage(k) === image);
  if (!kind) return false;
  try {
    if (!build) throw new Error('runtime images are not built here (SWIRL_RUNTIME_IMAGES=require)');
    await ensureImages(docker, { kinds: [kind], onProgress: progress });
    return true;
  } catch (e) {
    log.warn({ image, err: e }, 'image unavailable');
    return false;
  }
}
