import { BlockList, isIP } from 'node:net';

/**
 * Where the hub may connect (SSRF bounds). A hub instance is reached over http(s) at an
 * address that is `public`, or `private` (loopback, RFC 1918, CGNAT, IPv6 unique-local) when
 * whoever named it may name such addresses: this instance's operator (SWIRL_HUB_PEERS) or a
 * peer that is itself at a private address. Never `forbidden`: link-local (cloud metadata at
 * 169.254.169.254 lives there), unspecified, multicast. IPv4-mapped IPv6 addresses count as
 * their IPv4 address (node's BlockList matches them so). Pure: unit-tested in
 * test/unit/hub-address.test.ts.
 */

export type AddressClass = 'forbidden' | 'private' | 'public';
/** What a peer may be reached at: `private` also allows private addresses, `public` only public ones. */
export type Reach = 'private' | 'public';

const list = (subnets: Array<[string, number, 'ipv4' | 'ipv6']>): BlockList => {
  const b = new BlockList();
  for (const [net, prefix, type] of subnets) b.addSubnet(net, prefix, type);
  return b;
};

const FORBIDDEN = list([
  ['0.0.0.0', 8, 'ipv4'], // unspecified ("this network")
  ['169.254.0.0', 16, 'ipv4'], // link-local: cloud metadata
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['255.255.255.255', 32, 'ipv4'], // broadcast
  ['::', 128, 'ipv6'], // unspecified
  ['fe80::', 10, 'ipv6'], // link-local
  ['ff00::', 8, 'ipv6'], // multicast
]);

const PRIVATE = list([
  ['127.0.0.0', 8, 'ipv4'],
  ['10.0.0.0', 8, 'ipv4'],
  ['172.16.0.0', 12, 'ipv4'],
  ['192.168.0.0', 16, 'ipv4'],
  ['100.64.0.0', 10, 'ipv4'], // carrier-grade NAT
  ['::1', 128, 'ipv6'],
  ['fc00::', 7, 'ipv6'], // unique local
]);

/** An IP address without the brackets of a URL's host (`[::1]` → `::1`), or undefined for a name. */
export function ipLiteral(host: string): string | undefined {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  return isIP(bare) ? bare : undefined;
}

/** The class of an IP address (see the module comment); anything that is no IP address is forbidden. */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (!family) return 'forbidden';
  const type = family === 4 ? 'ipv4' : 'ipv6';
  if (FORBIDDEN.check(address, type)) return 'forbidden';
  return PRIVATE.check(address, type) ? 'private' : 'public';
}

/** Why `address` may not be connected to with `reach`, or undefined when it may. */
export function addressRefusal(address: string, reach: Reach): string | undefined {
  const cls = classifyAddress(address);
  if (cls === 'forbidden') return `${address} is a link-local, unspecified or multicast address`;
  if (cls === 'private' && reach === 'public') return `${address} is a loopback or private address, and the instance was made known by a peer at a public address`;
  return undefined;
}

/** Host names that are loopback by definition (RFC 6761), whatever a resolver says. */
const LOCAL_NAME = /^(localhost|.*\.localhost)\.?$/i;

/**
 * Why a peer URL learned from a peer (`teller`: the class of the address that peer answered
 * from) is not taken, or undefined when it is: http(s) only; an address literal is checked
 * now, a host name when connecting (controller/hub/remote.ts resolves it and checks each address).
 */
export function learnedUrlRefusal(url: string, teller: Reach): string | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return 'not a URL';
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return `${u.protocol} is not http or https`;
  const ip = ipLiteral(u.hostname);
  if (ip) return addressRefusal(ip, teller);
  if (LOCAL_NAME.test(u.hostname) && teller === 'public') return `${u.hostname} is a loopback name, and the peer that named it is at a public address`;
  return undefined;
}

/** What a peer at `address` (the address it answered from) may make known: private addresses only when it is at one itself. */
export const reachOf = (address: string | undefined): Reach => (address !== undefined && classifyAddress(address) === 'private' ? 'private' : 'public');
