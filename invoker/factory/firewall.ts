/**
 * The host firewall around the actions network. Docker's own rules already keep action
 * containers apart (the network is created with inter-container traffic off) and off
 * Docker's other networks; what they leave open is the host itself: every port a host
 * process listens on (an invoker's ops port, a store, anything else) answers on the
 * network's gateway address. These rules close that, and let in the one thing that must
 * reach the actions, the invoker when it runs in a container of its own.
 *
 * Two chains per actions network, named after its bridge, filled atomically by
 * `iptables-restore --noflush` (declaring a chain there flushes it) and jumped to from
 * INPUT and DOCKER-USER (the chain Docker leaves to its users, evaluated before its own):
 *
 *   SWIRL-IN-<bridge>   (INPUT, packets from the actions network to this host)
 *     replies; the API's TCP ports; everything else rejected
 *   SWIRL-FWD-<bridge>  (DOCKER-USER, packets forwarded through this host)
 *     trusted networks (the invoker's) → actions; their replies; action ↔ action dropped
 *     (again, should the network's ICC option ever be lost); with outbound off, all else
 *     from the actions dropped
 *
 * Every invoker of one deployment computes the same plan, so any of them may (re)write it.
 */
export interface FirewallPlan {
  /** The host interface of the actions network (`br-…` or its com.docker.network.bridge.name). */
  bridge: string;
  /** TCP ports of this host that actions may connect to: the API (actions call swirl). */
  apiPorts: number[];
  /** Bridges whose containers may open connections to actions: the networks of an invoker that runs in a container. */
  trusted: string[];
  /** Whether actions reach networks beyond this host (the internet, other machines). */
  outbound: boolean;
}

export const chainNames = (bridge: string) => ({ input: `SWIRL-IN-${bridge}`, forward: `SWIRL-FWD-${bridge}` });

const INTERFACE = /^[A-Za-z0-9_.-]{1,15}$/;

/** A chain of packets from actions to this host: their replies; the API's TCP ports; everything else rejected. */
export function hostInputRules(chain: string, apiPorts: number[]): string[] {
  const ports = [...new Set(apiPorts)].filter((p) => Number.isInteger(p) && p > 0 && p < 65536).sort((a, b) => a - b);
  return [
    `-A ${chain} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
    ...ports.map((p) => `-A ${chain} -p tcp -m tcp --dport ${p} -j ACCEPT`),
    `-A ${chain} -p tcp -j REJECT --reject-with tcp-reset`,
    `-A ${chain} -j REJECT --reject-with icmp-port-unreachable`,
  ];
}

/** The `iptables-restore --noflush` input that (re)writes both chains. */
export function firewallRules(plan: FirewallPlan): string {
  for (const name of [plan.bridge, ...plan.trusted]) {
    if (!INTERFACE.test(name)) throw new Error(`not a network interface name: ${JSON.stringify(name)}`);
  }
  const { input, forward } = chainNames(plan.bridge);
  const br = plan.bridge;
  const trusted = [...new Set(plan.trusted)].filter((t) => t !== br);
  return [
    '*filter',
    `:${input} - [0:0]`,
    `:${forward} - [0:0]`,
    ...hostInputRules(input, plan.apiPorts),
    ...trusted.flatMap((t) => [`-A ${forward} -i ${t} -o ${br} -j ACCEPT`, `-A ${forward} -i ${br} -o ${t} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`]),
    `-A ${forward} -i ${br} -o ${br} -j DROP`,
    ...(plan.outbound ? [] : [`-A ${forward} -i ${br} -j DROP`]),
    'COMMIT',
    '',
  ].join('\n');
}

/**
 * A POSIX shell script that applies the plan with the host's own iptables (the one Docker
 * uses, whichever backend it is): the chains, then the jumps to them where missing.
 */
export function firewallScript(plan: FirewallPlan): string {
  const { input, forward } = chainNames(plan.bridge);
  const ipt = 'iptables -w 5';
  return [
    'set -e',
    // one invoker at a time on this host (several start together): no chain is flushed under another's hands, no jump doubled
    'if command -v flock >/dev/null 2>&1; then exec 9>/run/swirl-firewall.lock && flock -w 30 9; fi',
    `if ! ${ipt} -L DOCKER-USER -n >/dev/null 2>&1; then echo "no DOCKER-USER chain: Docker does not manage this host's iptables, so it cannot keep action containers apart" >&2; exit 3; fi`,
    // the chains of actions networks removed since (their bridge is gone) go, with their jumps (its own chains only: not the sandboxes')
    `for c in $(${ipt} -S | sed -n 's/^-N \\(SWIRL-\\(IN\\|FWD\\)-.*\\)$/\\1/p'); do`,
    '  b=${c#SWIRL-*-}; [ -e "/sys/class/net/$b" ] && continue',
    `  ${ipt} -D INPUT -i "$b" -j "$c" 2>/dev/null || true; ${ipt} -D DOCKER-USER -j "$c" 2>/dev/null || true; ${ipt} -F "$c" 2>/dev/null || true; ${ipt} -X "$c" 2>/dev/null || true`,
    'done',
    `iptables-restore -w 5 --noflush <<'SWIRL_RULES'`,
    firewallRules(plan) + 'SWIRL_RULES',
    `${ipt} -C INPUT -i ${plan.bridge} -j ${input} 2>/dev/null || ${ipt} -I INPUT 1 -i ${plan.bridge} -j ${input}`,
    `${ipt} -C DOCKER-USER -j ${forward} 2>/dev/null || ${ipt} -I DOCKER-USER 1 -j ${forward}`,
    '',
  ].join('\n');
}
