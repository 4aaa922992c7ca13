import { createHash } from 'node:crypto';
import type Dockerode from 'dockerode';
import { resolve } from 'node:path';
import type { Config } from '../../common/config.ts';
import type { ContainerFactory } from '../../common/container.ts';
import type { Logger } from '../../common/logger.ts';
import { ensureImages, localProxy, requireImages, RUNTIME_KINDS, runtimeImage } from '../../runtimes/index.ts';
import { DockerContainerFactory } from './docker.ts';
import { loadDockerode } from './dockerode.ts';
import { ProcessContainerFactory } from './process.ts';

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

/**
 * The container factory the configuration asks for: Docker, local processes, or (auto)
 * Docker when a daemon answers and local processes otherwise. With Docker, missing
 * runtime images are built before the factory is returned (progress in the log), so an
 * invocation never fails for want of a runtime image; with `runtimeImages: require` (an
 * invoker in a container) they must already be there.
 */
export async function selectFactory(config: FactoryConfig, log: Logger, onProgress?: (line: string) => void, apiHost?: string): Promise<ContainerFactory> {
  const progress = onProgress ?? ((line: string) => log.info({ images: line }, 'runtime images'));
  if (config.containerFactory !== 'process') {
    const docker = new (loadDockerode())();
    const reachable = await docker.ping().then(
      () => true,
      (e: Error) => {
        if (config.containerFactory === 'docker') throw new Error(`SWIRL_CONTAINER_FACTORY is docker but the Docker daemon does not answer: ${e.message}`);
        return false;
      },
    );
    if (reachable) {
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
    log.warn('no Docker daemon answers: actions will run as local processes');
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
