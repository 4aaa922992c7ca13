import { expect } from 'chai';
import { cpuShares, pullRequired, reachFromContainer } from '../../invoker/factory/docker.ts';
import { chainNames, firewallRules, firewallScript } from '../../invoker/factory/firewall.ts';
import { ownerState, selfOwner } from '../../invoker/factory/owner.ts';
import { startTime } from '../../common/process-identity.ts';

describe('actions network firewall rules', () => {
  const plan = { bridge: 'br-0123456789ab', apiPorts: [3233], trusted: [], outbound: true };

  it('lets actions reach the API port and replies, and rejects every other port of the host', () => {
    const rules = firewallRules(plan).split('\n');
    const { input } = chainNames(plan.bridge);
    expect(rules.filter((r) => r.startsWith(`-A ${input}`))).to.deep.equal([
      `-A ${input} -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
      `-A ${input} -p tcp -m tcp --dport 3233 -j ACCEPT`,
      `-A ${input} -p tcp -j REJECT --reject-with tcp-reset`,
      `-A ${input} -j REJECT --reject-with icmp-port-unreachable`,
    ]);
    // declared chains are flushed by iptables-restore --noflush: the rules replace what was there
    expect(rules.slice(0, 3)).to.deep.equal(['*filter', `:${input} - [0:0]`, `:SWIRL-FWD-${plan.bridge} - [0:0]`]);
    expect(rules.at(-2)).to.equal('COMMIT');
  });

  it('drops action-to-action traffic, admits the trusted networks, and cuts outbound only when asked', () => {
    const { forward } = chainNames(plan.bridge);
    const open = firewallRules({ ...plan, trusted: ['br-aaaaaaaaaaaa'] }).split('\n').filter((r) => r.startsWith(`-A ${forward}`));
    expect(open).to.deep.equal([
      `-A ${forward} -i br-aaaaaaaaaaaa -o ${plan.bridge} -j ACCEPT`,
      `-A ${forward} -i ${plan.bridge} -o br-aaaaaaaaaaaa -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT`,
      `-A ${forward} -i ${plan.bridge} -o ${plan.bridge} -j DROP`,
    ]);
    const closed = firewallRules({ ...plan, outbound: false }).split('\n').filter((r) => r.startsWith(`-A ${forward}`));
    expect(closed.at(-1)).to.equal(`-A ${forward} -i ${plan.bridge} -j DROP`);
  });

  it('refuses interface names that could smuggle shell or iptables syntax', () => {
    for (const bad of ['br-x; reboot', 'a b', '', 'x'.repeat(16), "br'"]) {
      expect(() => firewallRules({ ...plan, bridge: bad })).to.throw(/not a network interface name/);
      expect(() => firewallRules({ ...plan, trusted: [bad] })).to.throw(/not a network interface name/);
    }
  });

  it('jumps to its chains from INPUT and DOCKER-USER only where the jump is missing, and stops where Docker does not manage iptables', () => {
    const script = firewallScript(plan);
    expect(script).to.include(`iptables -w 5 -C INPUT -i ${plan.bridge} -j SWIRL-IN-${plan.bridge} 2>/dev/null || iptables -w 5 -I INPUT 1 -i ${plan.bridge} -j SWIRL-IN-${plan.bridge}`);
    expect(script).to.include(`iptables -w 5 -C DOCKER-USER -j SWIRL-FWD-${plan.bridge} 2>/dev/null || iptables -w 5 -I DOCKER-USER 1 -j SWIRL-FWD-${plan.bridge}`);
    expect(script).to.match(/-L DOCKER-USER -n .*exit 3/);
  });
});

describe('action containers: CPU share, API address, owners', () => {
  it('gives an action the CPU share OpenWhisk gives it: 1024 over the containers of its size the invoker holds, at least 2', () => {
    expect(cpuShares(256, 2048)).to.equal(128);
    expect(cpuShares(512, 2048)).to.equal(256);
    expect(cpuShares(128, 2048)).to.equal(64);
    expect(cpuShares(256, 256)).to.equal(1024);
    expect(cpuShares(128, 1024 * 1024)).to.equal(2);
  });

  it("pulls an action image before each start when OpenWhisk would insist: ':latest' or untagged, not another tag or a digest", () => {
    for (const image of ['alpine', 'alpine:latest', 'openwhisk/action-nodejs-v20', '127.0.0.1:5000/team/tool', 'registry.local:5000/tool:latest']) expect(pullRequired(image), image).to.equal(true);
    for (const image of ['alpine:3.19', '127.0.0.1:5000/team/tool:v1', 'alpine@sha256:' + 'a'.repeat(64)]) expect(pullRequired(image), image).to.equal(false);
  });

  it('rewrites a loopback API address to the name containers reach the host by, and keeps any other', () => {
    expect(reachFromContainer('http://127.0.0.1:3233')).to.equal('http://host.docker.internal:3233');
    expect(reachFromContainer('http://localhost:4000/')).to.equal('http://host.docker.internal:4000');
    expect(reachFromContainer('http://0.0.0.0:3233')).to.equal('http://host.docker.internal:3233');
    expect(reachFromContainer('https://swirl.example.com')).to.equal('https://swirl.example.com');
    expect(reachFromContainer('http://controller:3233')).to.equal('http://controller:3233');
  });

  it('names this process as an owner that is alive, and a process that is gone as dead', async () => {
    const docker = { getContainer: () => ({ inspect: async () => ({ State: { Running: false } }) }) } as never;
    const me = selfOwner();
    expect(me).to.match(/^process:[\w-]+:\d+:\d+:\d+$/);
    expect(await ownerState(me, docker)).to.equal('alive');
    const [, boot, ns, , started] = me.split(':');
    expect(startTime(process.pid)).to.equal(started);
    // the same pid with another start time is another (earlier) process: gone
    expect(await ownerState(`process:${boot}:${ns}:${process.pid}:1`, docker)).to.equal('dead');
    // another boot: gone; another pid namespace: cannot tell, so not gone
    expect(await ownerState(`process:not-this-boot:${ns}:${process.pid}:${started}`, docker)).to.equal('dead');
    expect(await ownerState(`process:${boot}:1:${process.pid}:${started}`, docker)).to.equal('unknown');
    expect(await ownerState('container:abc', docker)).to.equal('dead');
    expect(await ownerState('whatever', docker)).to.equal('unknown');
  });
});
