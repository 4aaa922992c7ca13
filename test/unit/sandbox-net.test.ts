import { execFileSync } from 'node:child_process';
import { expect } from 'chai';
import { chainNames, firewallScript } from '../../invoker/factory/firewall.ts';
import {
  addressesOf,
  blockBase,
  blockCidr,
  blockMetric,
  chooseBlock,
  installationTag,
  linkIndex,
  linkName,
  netnsName,
  overlaps,
  parseNetnsName,
  sandboxChains,
  sandboxFirewallRules,
  sandboxFirewallScript,
  sandboxResolvConf,
  SLOTS,
} from '../../invoker/factory/sandbox-net-plan.ts';

describe('sandbox network plan: names and addresses', () => {
  const tag = installationTag('store:/var/lib/swirl');
  const owner = 'process:0b9d3c1e-7f0a-4c43-9d0e-3c1f2e4a5b6c:4026531836:4242:987654';

  it('names an installation by 6 hex digits, the same in every invoker, different for another installation', () => {
    expect(tag).to.match(/^[0-9a-f]{6}$/);
    expect(installationTag('store:/var/lib/swirl')).to.equal(tag);
    expect(installationTag('store:/var/lib/other')).not.to.equal(tag);
  });

  it('gives each sandbox a /31 of the installation block: the host end even, the sandbox end odd, none shared', () => {
    const base = blockBase(tag);
    expect(blockCidr(base)).to.match(/^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\.\d+\.0\/18$/);
    const first = addressesOf(base, 0);
    const last = addressesOf(base, SLOTS - 1);
    expect(overlaps(`${first.sandbox}/32`, blockCidr(base)) && overlaps(`${last.sandbox}/32`, blockCidr(base))).to.equal(true);
    expect(overlaps(`${first.host}/31`, `${addressesOf(base, 1).host}/31`)).to.equal(false);
    const ends = new Set([0, 1, 2, 1000, SLOTS - 1].flatMap((i) => Object.values(addressesOf(base, i))));
    expect(ends.size).to.equal(10);
    expect(Number(first.host.split('.')[3]) % 2).to.equal(0);
    expect(Number(first.sandbox.split('.')[3])).to.equal(Number(first.host.split('.')[3]) + 1);
    expect(() => addressesOf(base, SLOTS)).to.throw(/no sandbox address slot/);
    expect(() => addressesOf(base, -1)).to.throw(/no sandbox address slot/);
  });

  it('names host ends within the 15 characters of an interface name and reads their index back, only for its own installation', () => {
    for (const i of [0, 35, 36, SLOTS - 1]) {
      expect(linkName(tag, i).length).to.be.at.most(15);
      expect(linkIndex(tag, linkName(tag, i))).to.equal(i);
    }
    const other = installationTag('another');
    expect(linkIndex(tag, linkName(other, 3))).to.equal(undefined);
    expect(linkIndex(tag, 'eth0')).to.equal(undefined);
  });

  it("names a namespace after its maker, so that a successor can tell a dead invoker's from a live one's", () => {
    const name = netnsName(tag, 17, owner);
    expect(parseNetnsName(tag, name, '0b9d3c1e-7f0a-4c43-9d0e-3c1f2e4a5b6c')).to.deep.equal({ index: 17, owner });
    expect(parseNetnsName(installationTag('another'), name, 'x')).to.equal(undefined);
    expect(parseNetnsName(tag, 'swirl-out-1x2', 'x')).to.equal(undefined);
  });

  it("moves to the next block when a route not of the installation's own sandboxes covers it: another installation's, a VPN's", () => {
    const own = blockBase(tag);
    expect(chooseBlock(tag, [{ dst: 'default', dev: 'eth0' }, { dst: '192.0.2.0/24', dev: 'eth0' }])).to.equal(own);
    expect(chooseBlock(tag, [{ dst: `${addressesOf(own, 4).host}/31`, dev: linkName(tag, 4) }])).to.equal(own);
    expect(chooseBlock(tag, [{ dst: `${addressesOf(own, 4).host}/31`, dev: 'sbxffffff4' }])).to.equal(blockBase(tag, 1));
    expect(chooseBlock(tag, [{ dst: blockCidr(own), dev: 'wg0' }])).to.equal(blockBase(tag, 1));
    expect(() => chooseBlock(tag, [{ dst: '100.64.0.0/10', dev: 'tailscale0' }])).to.throw(/no free \/18/);
    // the unreachable route over a block is the installation's own when its metric names it
    expect(chooseBlock(tag, [{ dst: blockCidr(own), type: 'unreachable', metric: blockMetric(tag) }])).to.equal(own);
    expect(chooseBlock(tag, [{ dst: blockCidr(own), type: 'unreachable', metric: blockMetric('ffffff') }])).to.equal(blockBase(tag, 1));
  });
});

describe('sandbox network plan: firewall rules', () => {
  const tag = 'a1b2c3';
  const plan = { tag, block: '100.70.0.0/18', apiPorts: [3233], outbound: true };
  const { input, forward, nat } = sandboxChains(tag);
  const lines = (p = plan) => sandboxFirewallRules(p).split('\n');

  it("lets sandboxes reach the API's port and their replies on this host, and rejects every other port", () => {
    expect(lines().filter((r) => r.startsWith(`-A ${input}`))).to.deep.equal([
      `-A ${input} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
      `-A ${input} -p tcp -m tcp --dport 3233 -j ACCEPT`,
      `-A ${input} -p tcp -j REJECT --reject-with tcp-reset`,
      `-A ${input} -j REJECT --reject-with icmp-port-unreachable`,
    ]);
  });

  it("lets nothing open a connection into a sandbox, keeps sandboxes off each other and Docker's networks, and cuts outbound when asked", () => {
    const fwd = lines().filter((r) => r.startsWith(`-A ${forward}`));
    expect(fwd.slice(0, 5)).to.deep.equal([
      `-A ${forward} -o sbx${tag}+ -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
      `-A ${forward} -o sbx${tag}+ -j DROP`,
      `-A ${forward} -i sbx${tag}+ -o sbx+ -j DROP`,
      `-A ${forward} -i sbx${tag}+ -o docker0 -j DROP`,
      `-A ${forward} -i sbx${tag}+ -o br-+ -j DROP`,
    ]);
    expect(fwd.at(-1)).to.equal(`-A ${forward} -i sbx${tag}+ -j ACCEPT`);
    expect(lines({ ...plan, outbound: false }).filter((r) => r.startsWith(`-A ${forward}`)).at(-1)).to.equal(`-A ${forward} -i sbx${tag}+ -j DROP`);
  });

  it('masquerades sandboxes behind the host only when outbound', () => {
    expect(lines()).to.include(`-A ${nat} ! -o sbx+ -j MASQUERADE`);
    expect(lines({ ...plan, outbound: false }).some((r) => r.includes('MASQUERADE'))).to.equal(false);
    // declaring the chain flushes it, so switching outbound off takes the rule away
    expect(lines({ ...plan, outbound: false })).to.include(`:${nat} - [0:0]`);
  });

  it('refuses a tag or block that could smuggle shell or iptables syntax', () => {
    expect(() => sandboxFirewallRules({ ...plan, tag: 'a1; reboot' })).to.throw(/not an installation tag/);
    expect(() => sandboxFirewallRules({ ...plan, block: '0/0 -j ACCEPT' })).to.throw(/not a CIDR/);
  });

  it('jumps to its chains where missing, from DOCKER-USER only where Docker manages the host, and drops IPv6 where the host has it', () => {
    const script = sandboxFirewallScript(plan);
    expect(script).to.include(`iptables -w 5 -C INPUT -i sbx${tag}+ -j ${input} 2>/dev/null || iptables -w 5 -I INPUT 1 -i sbx${tag}+ -j ${input}`);
    expect(script).to.include(`iptables -w 5 -t nat -C POSTROUTING -s 100.70.0.0/18 -j ${nat} 2>/dev/null || iptables -w 5 -t nat -I POSTROUTING 1 -s 100.70.0.0/18 -j ${nat}`);
    expect(script).to.match(new RegExp(`if iptables -w 5 -L DOCKER-USER -n >/dev/null 2>&1; then\\n  iptables -w 5 -C DOCKER-USER -i sbx${tag}\\+ -j ${forward}`));
    expect(script).to.include(`ip6tables -w 5 -I FORWARD 1 -i sbx${tag}+ -j DROP`);
  });
});

describe('sandbox network plan: beside the Docker firewall', () => {
  it("has chains the Docker factory's clean-up of gone bridges' chains never takes for its own (it would flush them)", () => {
    const script = firewallScript({ bridge: 'br-0123456789ab', apiPorts: [], trusted: [], outbound: true });
    const sed = /sed -n '([^']+)'/.exec(script)![1]!;
    const docker = chainNames('br-gone0000000');
    const listing = [...Object.values(sandboxChains('a1b2c3')), docker.input, docker.forward].map((c) => `-N ${c}`).join('\n');
    // the script's own sed, run on an `iptables -S` listing of both kinds of chains
    expect(execFileSync('sed', ['-n', sed], { input: listing }).toString().trim().split('\n')).to.deep.equal([docker.input, docker.forward]);
  });
});

describe('sandbox network plan: resolv.conf', () => {
  const host = 'search corp.example\nnameserver 127.0.0.53\nnameserver 10.0.0.2\nnameserver fd00::1\noptions edns0\n';

  it("keeps the host's nameservers a sandbox can reach, none on the host's loopback nor IPv6, and none at all without outbound", () => {
    expect(sandboxResolvConf(host, true)).to.equal('search corp.example\nnameserver 10.0.0.2\noptions edns0\n');
    expect(sandboxResolvConf(host, false)).to.equal('search corp.example\noptions edns0\n');
  });
});
