import { createHash } from 'node:crypto';
import { hostInputRules } from './firewall.ts';

/**
 * The pure half of the sandbox network (sandbox-net.ts): names, addresses and firewall
 * rules, derived from the installation alone so that every invoker of one installation on
 * a host computes the same ones and finds the others' leftovers.
 *
 * Each sandbox gets a network namespace joined to the host by a veth pair on a /31 (the
 * host end even, the sandbox end odd) taken from one /18 of 100.64.0.0/10 (shared address
 * space: neither Docker's 172.16/12 and 192.168/16 pools nor the usual LANs) per
 * installation: 8192 sandboxes. The host ends are named `sbx<tag><index>`, <tag> being 6
 * hex digits of the installation's hash, so one iptables interface pattern (`sbx<tag>+`)
 * names all of an installation's sandboxes and `sbx+` those of every installation.
 */
export const SANDBOX_IF = 'sbx';
const SHARED_SPACE = 0x64400000; // 100.64.0.0/10
const BLOCK_BITS = 14; // a /18
export const BLOCK_PREFIX = 32 - BLOCK_BITS;
export const BLOCK_SIZE = 1 << BLOCK_BITS;
const BLOCKS = 1 << (22 - BLOCK_BITS);
/** Sandboxes per installation: one /31 each. */
export const SLOTS = BLOCK_SIZE / 2;
/** The network namespaces' names: `swirl-sbx-<tag>-<index>-<owner>` (in /run/netns). */
const NETNS = /^swirl-sbx-([0-9a-f]{6})-(\d+)-(\d+)\.(\d+)\.(\d+)$/;

/** 6 hex digits standing for the installation in names. */
export const installationTag = (installation: string): string => createHash('sha256').update(installation).digest('hex').slice(0, 6);

/** The interface pattern (iptables' `+` suffix) of an installation's host ends. */
export const interfacePattern = (tag: string): string => `${SANDBOX_IF}${tag}+`;

export const linkName = (tag: string, index: number): string => `${SANDBOX_IF}${tag}${index.toString(36)}`;

/** The index a host end of this installation stands for, or undefined when the name is not one. */
export function linkIndex(tag: string, name: string): number | undefined {
  const prefix = `${SANDBOX_IF}${tag}`;
  if (!name.startsWith(prefix) || !/^[0-9a-z]{1,3}$/.test(name.slice(prefix.length))) return undefined;
  const index = parseInt(name.slice(prefix.length), 36);
  return index < SLOTS ? index : undefined;
}

/**
 * A netns name carries its maker (pid namespace, pid and start time, as in
 * common/process-identity.ts; the boot is this one, /run being emptied at boot), so that
 * any invoker of the installation can tell a dead one's leftovers from a live one's.
 */
export function netnsName(tag: string, index: number, owner: string): string {
  const [, , pidns, pid, started] = owner.split(':');
  return `swirl-sbx-${tag}-${index}-${pidns}.${pid}.${started}`;
}

/** What a netns name of this installation says, or undefined when it is not one. */
export function parseNetnsName(tag: string, name: string, bootId: string): { index: number; owner: string } | undefined {
  const m = NETNS.exec(name);
  if (!m || m[1] !== tag) return undefined;
  return { index: Number(m[2]), owner: `process:${bootId}:${m[3]}:${m[4]}:${m[5]}` };
}

const dotted = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');
const numeric = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);

/**
 * The metric of the installation's `unreachable` route over its whole block (less specific
 * than each sandbox's /31, so only a free address falls to it): an address whose sandbox is
 * gone answers nothing, instead of its packets leaving by the default route. The metric
 * names the installation, so that its next init knows the route for its own.
 */
export const blockMetric = (tag: string): number => parseInt(tag, 16);

/** The first address of the `attempt`-th candidate block of an installation (the hash picks the first). */
export const blockBase = (tag: string, attempt = 0): number => SHARED_SPACE + ((parseInt(tag, 16) + attempt) % BLOCKS) * BLOCK_SIZE;

export const blockCidr = (base: number): string => `${dotted(base)}/${BLOCK_PREFIX}`;

/** The two ends of a sandbox's /31. */
export function addressesOf(base: number, index: number): { host: string; sandbox: string } {
  if (!Number.isInteger(index) || index < 0 || index >= SLOTS) throw new Error(`no sandbox address slot ${index}`);
  return { host: dotted(base + 2 * index), sandbox: dotted(base + 2 * index + 1) };
}

/** Whether two IPv4 CIDRs (a bare address is a /32; `default` is 0.0.0.0/0) share an address. */
export function overlaps(a: string, b: string): boolean {
  const parse = (c: string): [number, number] => {
    if (c === 'default') return [0, 0];
    const [addr, bits] = c.split('/');
    return [numeric(addr!), bits === undefined ? 32 : Number(bits)];
  };
  const [[x, xb], [y, yb]] = [parse(a), parse(b)];
  const bits = Math.min(xb, yb);
  if (bits === 0) return true;
  const mask = (0xffffffff << (32 - bits)) >>> 0;
  return ((x & mask) >>> 0) === ((y & mask) >>> 0);
}

/**
 * The first candidate block no route of the host touches but the installation's own
 * (another installation's sandboxes, a LAN, a VPN in 100.64/10); the default route does
 * not count.
 */
export function chooseBlock(tag: string, routes: Array<{ dst: string; dev?: string; type?: string; metric?: number }>): number {
  const own = `${SANDBOX_IF}${tag}`;
  const foreign = routes.filter((r) => r.dst !== 'default' && !r.dev?.startsWith(own) && !(r.type === 'unreachable' && r.metric === blockMetric(tag)));
  for (let attempt = 0; attempt < BLOCKS; attempt++) {
    const base = blockBase(tag, attempt);
    if (!foreign.some((r) => overlaps(r.dst, blockCidr(base)))) return base;
  }
  throw new Error('no free /18 left in 100.64.0.0/10 for sandbox addresses');
}

export interface SandboxFirewallPlan {
  tag: string;
  /** The installation's block, as a CIDR. */
  block: string;
  /** TCP ports of this host that sandboxes may connect to: the API (actions call swirl). */
  apiPorts: number[];
  /** Whether sandboxes reach networks beyond this host, through its NAT. */
  outbound: boolean;
}

export const sandboxChains = (tag: string) => ({ input: `SWIRLSBX-IN-${tag}`, forward: `SWIRLSBX-FWD-${tag}`, nat: `SWIRLSBX-NAT-${tag}` });

const TAG = /^[0-9a-f]{6}$/;

/**
 * The `iptables-restore --noflush` input that (re)writes an installation's three chains:
 *
 *   SWIRLSBX-IN-<tag>   (INPUT from its sandboxes) replies; the API's TCP ports; all else rejected
 *   SWIRLSBX-FWD-<tag>  (FORWARD and DOCKER-USER, to or from its sandboxes) replies to the
 *     sandboxes' own connections and nothing else in; out, never to a sandbox of any
 *     installation nor to Docker's networks (docker0, br-…); beyond that only when outbound
 *   SWIRLSBX-NAT-<tag>  (nat POSTROUTING, from its block) masquerade when outbound
 *
 * (Not `SWIRL-…`: the Docker factory's firewall removes `SWIRL-<word>-<bridge>` chains whose
 * bridge is gone, and older swirls match every such name.)
 */
export function sandboxFirewallRules(plan: SandboxFirewallPlan): string {
  if (!TAG.test(plan.tag)) throw new Error(`not an installation tag: ${JSON.stringify(plan.tag)}`);
  if (!/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(plan.block)) throw new Error(`not a CIDR: ${JSON.stringify(plan.block)}`);
  const { input, forward, nat } = sandboxChains(plan.tag);
  const own = interfacePattern(plan.tag);
  return [
    '*filter',
    `:${input} - [0:0]`,
    `:${forward} - [0:0]`,
    ...hostInputRules(input, plan.apiPorts),
    `-A ${forward} -o ${own} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    `-A ${forward} -o ${own} -j DROP`,
    `-A ${forward} -i ${own} -o ${SANDBOX_IF}+ -j DROP`,
    `-A ${forward} -i ${own} -o docker0 -j DROP`,
    `-A ${forward} -i ${own} -o br-+ -j DROP`,
    `-A ${forward} -i ${own} -j ${plan.outbound ? 'ACCEPT' : 'DROP'}`,
    'COMMIT',
    '*nat',
    `:${nat} - [0:0]`,
    ...(plan.outbound ? [`-A ${nat} ! -o ${SANDBOX_IF}+ -j MASQUERADE`] : []),
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * A POSIX shell script that applies the plan with the host's iptables: the chains, then
 * the jumps to them where missing (DOCKER-USER's only where Docker manages this host: it
 * is evaluated before Docker's own rules, which may be inserted above ours in FORWARD);
 * and, where the host has IPv6, drops every IPv6 packet of the sandboxes (they have no
 * IPv6 address; this keeps it so).
 */
export function sandboxFirewallScript(plan: SandboxFirewallPlan): string {
  const rules = sandboxFirewallRules(plan);
  const { input, forward, nat } = sandboxChains(plan.tag);
  const own = interfacePattern(plan.tag);
  const ipt = 'iptables -w 5';
  const jump = (cmd: string, chain: string, rule: string) => `${cmd} -C ${chain} ${rule} 2>/dev/null || ${cmd} -I ${chain} 1 ${rule}`;
  return [
    'set -e',
    'if command -v flock >/dev/null 2>&1; then exec 9>/run/swirl-firewall.lock && flock -w 30 9; fi',
    `iptables-restore -w 5 --noflush <<'SWIRL_RULES'`,
    rules + 'SWIRL_RULES',
    jump(ipt, 'INPUT', `-i ${own} -j ${input}`),
    jump(ipt, 'FORWARD', `-i ${own} -j ${forward}`),
    jump(ipt, 'FORWARD', `-o ${own} -j ${forward}`),
    `if ${ipt} -L DOCKER-USER -n >/dev/null 2>&1; then`,
    `  ${jump(ipt, 'DOCKER-USER', `-i ${own} -j ${forward}`)}`,
    `  ${jump(ipt, 'DOCKER-USER', `-o ${own} -j ${forward}`)}`,
    'fi',
    jump(`${ipt} -t nat`, 'POSTROUTING', `-s ${plan.block} -j ${nat}`),
    'if command -v ip6tables >/dev/null 2>&1 && ip6tables -w 5 -L INPUT -n >/dev/null 2>&1; then',
    `  ${jump('ip6tables -w 5', 'INPUT', `-i ${own} -j DROP`)}`,
    `  ${jump('ip6tables -w 5', 'FORWARD', `-i ${own} -j DROP`)}`,
    `  ${jump('ip6tables -w 5', 'FORWARD', `-o ${own} -j DROP`)}`,
    'fi',
    '',
  ].join('\n');
}

/**
 * The resolv.conf sandboxes get: the host's, without the nameservers on the host's
 * loopback (a local resolver the sandbox cannot reach), or with none at all when
 * sandboxes have no outbound network (then lookups fail at once).
 */
export function sandboxResolvConf(hostResolvConf: string, outbound: boolean): string {
  const lines = hostResolvConf.split('\n').filter((l) => {
    const m = /^\s*nameserver\s+(\S+)/.exec(l);
    if (!m) return /^\s*(search|domain|options)\s/.test(l);
    return outbound && !/^(127\.|::1$|0\.0\.0\.0$)/.test(m[1]!) && !m[1]!.includes(':');
  });
  return lines.join('\n') + '\n';
}
