import { expect } from 'chai';
import { execFileSync } from 'node:child_process';

/** What a fresh process has loaded after `loadDockerode()`, and after it first uses the SSH transport. */
const script = `
import { createRequire } from 'node:module';
import { loadDockerode } from './invoker/factory/dockerode.ts';
const require = createRequire(import.meta.url);
const loaded = (name) => Object.keys(require.cache).some((k) => k.includes('/node_modules/' + name + '/'));
const Docker = loadDockerode();
new Docker();
const before = { grpc: loaded('@grpc/grpc-js'), ssh2: loaded('ssh2') };
const ssh = require(require.resolve('docker-modem/lib/ssh.js', { paths: [require.resolve('dockerode')] }));
const agent = ssh({ host: '127.0.0.1', port: 1 });
console.log(JSON.stringify({ before, after: { ssh2: loaded('ssh2') }, agent: typeof agent.createConnection }));
`;

describe('dockerode, as the invoker loads it', () => {
  it('leaves gRPC (BuildKit sessions) and ssh2 (ssh:// hosts) unloaded until used, and the SSH transport still works when used', () => {
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).to.deep.equal({ before: { grpc: false, ssh2: false }, after: { ssh2: true }, agent: 'function' });
  });
});
