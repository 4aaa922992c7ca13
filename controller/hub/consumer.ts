import type { Config } from '../../common/config.ts';
import type { Logger } from '../../common/logger.ts';
import type { EntityStore } from '../../common/store/entity-store.ts';
import type { Activator } from '../activator.ts';
import { Installer } from './install.ts';
import { OnDemand } from './on-demand.ts';
import { Origins } from './origin.ts';
import { PeerDirectory } from './peers.ts';
import { DEFAULT_HOPS } from './requests.ts';
import { HubSearch } from './search.ts';


/** The consumer side of the hub on one controller: its peers, search, REFs' origins, install/update, fetch on demand. */
export interface HubPeers {
  directory: PeerDirectory;
  search: HubSearch;
  origins: Origins;
  installer: Installer;
  onDemand: OnDemand;
  /** The controller listens at `url` (its own hub API is asked there). */
  listening(url: string): void;
  close(): Promise<void>;
}

export function hubPeers(
  config: Pick<Config, 'hubPeers' | 'hubPeerTtl' | 'hubTimeoutMs'> & { hubUrl?: string | undefined },
  deps: { store: EntityStore; entities: Pick<EntityStore, 'get'>; activator: () => Pick<Activator, 'invokeResolved'>; log: Logger },
): HubPeers {
  const ttlMs = config.hubPeerTtl * 1000;
  const directory = new PeerDirectory({ peers: config.hubPeers, ...(config.hubUrl ? { publicUrl: config.hubUrl } : {}), ttlMs, timeoutMs: config.hubTimeoutMs, log: deps.log });
  const search = new HubSearch(directory, { timeoutMs: config.hubTimeoutMs, log: deps.log });
  const origins = new Origins(directory, config.hubTimeoutMs);
  const installer = new Installer(deps.store, origins);
  const onDemand = new OnDemand({ store: deps.store, entities: deps.entities, origins, activator: deps.activator, log: deps.log });
  return {
    directory,
    search,
    origins,
    installer,
    onDemand,
    listening(url) {
      directory.listening(url);
      // learned peers are asked again well before they would expire
      directory.start(Math.min(60_000, Math.max(1_000, ttlMs / 3)), DEFAULT_HOPS);
    },
    close: () => directory.close(),
  };
}
