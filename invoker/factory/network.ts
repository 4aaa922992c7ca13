import type Dockerode from 'dockerode';
import { selfContainerId } from './owner.ts';

/** The Docker network action containers join, as the firewall needs to know it. */
export interface ActionsNetwork {
  name: string;
  id: string;
  /** The host interface of the network. */
  bridge: string;
}

const ICC = 'com.docker.network.bridge.enable_icc';
const BRIDGE_NAME = 'com.docker.network.bridge.name';

/** The network exists with inter-container traffic on: actions could reach each other. */
export class UnsafeNetworkError extends Error {
  constructor(name: string, why: string) {
    super(`Docker network '${name}' cannot hold action containers: ${why}. Name another one with SWIRL_DOCKER_NETWORK, or let swirl create it.`);
    this.name = 'UnsafeNetworkError';
  }
}

interface NetworkInfo {
  Id: string;
  Name: string;
  Created: string;
  Driver: string;
  Options?: Record<string, string>;
}

/** `Created` (RFC 3339 with up to 9 digits of fraction, trailing zeros cut) as a string that sorts in time order. */
const createdKey = (n: NetworkInfo): string => {
  const m = /^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(.*)$/.exec(n.Created);
  return m ? `${new Date(`${m[1]}${m[3]}`).toISOString().slice(0, 19)}.${(m[2] ?? '').padEnd(9, '0')}` : n.Created;
};

const bridgeOf = (n: NetworkInfo): string => n.Options?.[BRIDGE_NAME] ?? `br-${n.Id.slice(0, 12)}`;

/**
 * The actions network, created when missing: a bridge whose containers cannot reach each
 * other (inter-container communication off), labelled as swirl's. An existing network is
 * used only when it is such a bridge, so that a misconfiguration (Docker's default
 * `bridge`, a compose project network) fails at start instead of silently letting
 * tenants reach each other's containers.
 */
export async function ensureActionsNetwork(docker: Dockerode, name: string): Promise<ActionsNetwork> {
  let found = await byName(docker, name);
  if (found.length === 0) {
    try {
      await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Options: { [ICC]: 'false' }, Labels: { 'swirl.network': 'actions' } });
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 409) throw e;
    }
    found = await byName(docker, name);
  }
  // invokers starting together can each create it (Docker does not prevent that): all keep the
  // first one made, which is the one any invoker that looked earlier saw alone
  found.sort((a, b) => createdKey(a).localeCompare(createdKey(b)) || a.Id.localeCompare(b.Id));
  for (const extra of found.slice(1)) await docker.getNetwork(extra.Id).remove().catch(() => undefined);
  const info = found[0];
  if (!info) throw new Error(`Docker network '${name}' could not be created`);
  if (info.Driver !== 'bridge') throw new UnsafeNetworkError(name, `its driver is ${info.Driver}, not bridge`);
  if (info.Options?.[ICC] !== 'false') throw new UnsafeNetworkError(name, `its containers can reach each other (create it with -o ${ICC}=false)`);
  return { name: info.Name, id: info.Id, bridge: bridgeOf(info) };
}

/** The networks of exactly this name (the API's name filter also matches parts of names). */
async function byName(docker: Dockerode, name: string): Promise<NetworkInfo[]> {
  const list = (await docker.listNetworks({ filters: { name: [name] } })) as NetworkInfo[];
  const found = await Promise.all(list.filter((n) => n.Name === name).map((n) => docker.getNetwork(n.Id).inspect().catch(() => undefined) as Promise<NetworkInfo | undefined>));
  return found.filter((n): n is NetworkInfo => n !== undefined);
}

/**
 * The bridges of the networks this process's own container is on (none on a host): an
 * invoker in a container reaches the actions from there, through the host.
 */
export async function ownBridges(docker: Dockerode, except: string): Promise<string[]> {
  const self = selfContainerId();
  if (!self) return [];
  const info = await docker.getContainer(self).inspect();
  const bridges: string[] = [];
  for (const [name, net] of Object.entries(info.NetworkSettings.Networks ?? {})) {
    if (name === except) continue;
    const n = (await docker.getNetwork(net.NetworkID).inspect()) as NetworkInfo;
    if (n.Driver === 'bridge') bridges.push(bridgeOf(n));
  }
  return bridges;
}
