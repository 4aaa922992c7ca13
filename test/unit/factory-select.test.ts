import { expect } from 'chai';
import { loadConfig } from '../../common/config.ts';
import { silentLogger } from '../../common/logger.ts';
import { chooseFactory, type FactoryProbes } from '../../invoker/factory/select.ts';
import { imageSteps } from '../../runtimes/images/sandbox-rootfs.ts';

/** Probes of a host: whether Docker answers and what sandboxes lack; counts what was asked. */
function host(docker: boolean, sandboxMissing: string[] = []): FactoryProbes & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    docker: async () => {
      asked.push('docker');
      if (!docker) throw new Error('connect ENOENT /var/run/docker.sock');
    },
    sandbox: () => {
      asked.push('sandbox');
      return sandboxMissing;
    },
  };
}

describe('container factory selection', () => {
  it('auto: Docker when a daemon answers, without asking about sandboxes', async () => {
    const probes = host(true);
    expect(await chooseFactory('auto', probes, silentLogger)).to.equal('docker');
    expect(probes.asked).to.deep.equal(['docker']);
  });

  it('auto: sandboxes when no daemon answers and the host runs them', async () => {
    expect(await chooseFactory('auto', host(false), silentLogger)).to.equal('sandbox');
  });

  it('auto: local processes when the host has neither', async () => {
    expect(await chooseFactory('auto', host(false, ['bubblewrap (/usr/bin/bwrap)']), silentLogger)).to.equal('process');
  });

  it('sandbox: chosen without asking Docker, even where a daemon answers', async () => {
    const probes = host(true);
    expect(await chooseFactory('sandbox', probes, silentLogger)).to.equal('sandbox');
    expect(probes.asked).to.deep.equal(['sandbox']);
  });

  it('a factory named outright that the host cannot run stops start-up, naming what is missing', async () => {
    const failure = (p: Promise<unknown>) => p.then(() => 'chosen', (e: Error) => e.message);
    expect(await failure(chooseFactory('sandbox', host(true, ['bubblewrap (/usr/bin/bwrap; Debian: apt-get install bubblewrap)']), silentLogger))).to.equal(
      'SWIRL_CONTAINER_FACTORY is sandbox but this host cannot run sandboxes: missing bubblewrap (/usr/bin/bwrap; Debian: apt-get install bubblewrap)',
    );
    expect(await failure(chooseFactory('docker', host(false), silentLogger))).to.match(/SWIRL_CONTAINER_FACTORY is docker but the Docker daemon does not answer: connect ENOENT/);
  });

  it('process: never asks the host', async () => {
    const probes = host(true);
    expect(await chooseFactory('process', probes, silentLogger)).to.equal('process');
    expect(probes.asked).to.deep.equal([]);
  });

  it('SWIRL_CONTAINER_FACTORY accepts sandbox', () => {
    expect(loadConfig({ SWIRL_CONTAINER_FACTORY: 'sandbox' }).containerFactory).to.equal('sandbox');
  });
});

describe('sandbox root filesystem: a runtime Dockerfile read as steps', () => {
  it("takes ENV, COPY, USER and CMD, with the base image's instructions before them", () => {
    const steps = imageSteps('Dockerfile', 'ENV PATH=/usr/bin LANG=C.UTF-8\nARG BASE=node:20-slim\nFROM ${BASE}\n# a comment\nENV PORT=8080 \\\n  HOME=/tmp\nCOPY dist/nodejs.mjs /proxy/proxy.mjs\nEXPOSE 8080\nUSER 10001:10001\nCMD ["node", "/proxy/proxy.mjs"]\n');
    expect(steps).to.deep.equal({ env: { PATH: '/usr/bin', LANG: 'C.UTF-8', PORT: '8080', HOME: '/tmp' }, copies: [{ from: 'dist/nodejs.mjs', to: '/proxy/proxy.mjs' }], user: '10001:10001', cmd: ['node', '/proxy/proxy.mjs'] });
  });

  it('refuses what it cannot apply rather than leave it out', () => {
    expect(() => imageSteps('Dockerfile', 'RUN apt-get install -y curl')).to.throw("Dockerfile: the sandbox cannot apply 'RUN apt-get install -y curl'");
    expect(() => imageSteps('Dockerfile', 'ENV A="b c"')).to.throw(/unquoted KEY=VALUE/);
  });
});
