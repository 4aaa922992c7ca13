import type Dockerode from 'dockerode';
import { selfContainerId } from './owner.ts';

/** The Docker network action containers join, as the firewall needs to know it. */
export interface ActionsNetwork {
  name: string;
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
  Driver: string;
  Options?: Record<string, string>;
}

const bridgeOf = (n: NetworkInfo): string => n.Options?.[BRIDGE_NAME] ?? `br-${n.Id.slice(0, 12)}`;

/**
 * The actions network, created when missing: a bridge whose containers cannot reach each
 * other (inter-container communication off), labelled as swirl's. An existing network is
 * used only when it is such a bridge, so that a misconfiguration (Docker's default
 * `bridge`, a compose project network) fails at start instead of silently letting
 * tenants reach each other's containers.
 */
export async function ensureActionsNetwork(docker: Dockerode, name: string): Promise<ActionsNetwork> {
  let info = await inspect(docker, name);
  if (!info) {
    try {
      await docker.createNetwork({ Name: name, Driver: 'bridge', CheckDuplicate: true, Options: { [ICC]: 'false' }, Labels: { 'swirl.network': 'actions' } });
    } catch (e) {
      // another invoker on this host created it at the same moment
      if ((e as { statusCode?: number }).statusCode !== 409) throw e;
    }
    info = await inspect(docker, name);
    if (!info) throw new Error(`Docker network '${name}' could not be created`);
  }
  if (info.Driver !== 'bridge') throw new UnsafeNetworkError(name, `its driver is ${info.Driver}, not bridge`);
  if (info.Options?.[ICC] !== 'false') throw new UnsafeNetworkError(name, `its containers can reach each other (create it with -o ${ICC}=false)`);
  return { name: info.Name, bridge: bridgeOf(info) };
}

async function inspect(docker: Dockerode, name: string): Promise<NetworkInfo | undefined> {
  try {
    return (await docker.getNetwork(name).inspect()) as NetworkInfo;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return undefined;
    throw e;
  }
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
    const n = await inspect(docker, net.NetworkID || name);
    if (n?.Driver === 'bridge') bridges.push(bridgeOf(n));
  }
  return bridges;
}
