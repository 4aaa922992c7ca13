import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createRegistry } from '../../common/metrics.ts';
import { timedStore } from '../../common/store/timed-store.ts';
import { ControllerMetrics } from '../../controller/metrics.ts';
import { InvokerMetrics } from '../../invoker/metrics.ts';
import { requireTool, runTool } from '../support/deploy.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const ANSIBLE = join(ROOT, 'ansible');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');
/** Where the ansible role and the compose file put the ops token for Prometheus (the longer first: it holds the other). */
const TOKEN_FILES = ['/etc/prometheus/ops-token', '/prometheus/ops-token'];
const SECRETS = { COUCHDB_PASSWORD: 'a1b2c3d4e5f6', SWIRL_REDIS_PASSWORD: 'a1b2c3d4e5f6', SWIRL_OPS_TOKEN: 'monitoring-test-ops-token-0123', SWIRL_MASTER_KEY: 'a'.repeat(44) };

const targets = (config: string): string[] => [...config.matchAll(/"([\w.-]+:\d+)"/g)].map((m) => m[1]!);

/** Every metric name (with a histogram's series) that a standalone swirl serves. */
async function servedNames(): Promise<Set<string>> {
  const registry = createRegistry();
  new ControllerMetrics(registry).watchHealth({ states: () => [] });
  const invoker = new InvokerMetrics(registry);
  invoker.watchPool({ stats: () => ({ containers: 0, busy: 0, idle: 0, paused: 0, prewarm: 0, starting: 0, memoryUsedMb: 0, queued: 0 }), memoryMb: 0 });
  invoker.watchState({ state: 'up', inFlight: 0 });
  timedStore({ ping: async () => true }, registry);
  const names = new Set<string>();
  for (const m of await registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const s of ['_bucket', '_count', '_sum']) names.add(m.name + s);
  }
  return names;
}

/**
 * The monitoring files, checked where their images cannot be pulled: Prometheus' scrape
 * configuration (docker-compose's, and ansible's rendered for both inventories) by promtool,
 * against the processes each file deploys; the Grafana dashboard's queries by promtool, and
 * against the metrics swirl serves.
 */
describe('monitoring: Prometheus scrape configuration and the Grafana dashboard', function () {
  this.timeout(120_000);
  let dir: string;

  before(async function () {
    await requireTool(this, 'promtool', ['--version'], "promtool (Debian's prometheus package)");
    dir = mkdtempSync(join(tmpdir(), 'swirl-monitoring-'));
    writeFileSync(join(dir, 'ops-token'), SECRETS.SWIRL_OPS_TOKEN);
  });
  after(() => dir && rmSync(dir, { recursive: true, force: true }));

  /** promtool check config, with the token file where this test keeps one. */
  const promtoolConfig = async (config: string, name: string) => {
    expect(TOKEN_FILES.some((f) => config.includes(`credentials_file: ${f}`)), 'the ops token file').to.equal(true);
    const file = join(dir, name);
    writeFileSync(file, TOKEN_FILES.reduce((text, f) => text.replaceAll(f, join(dir, 'ops-token')), config));
    const r = await runTool('promtool', ['check', 'config', file]);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
  };

  it('docker compose: promtool accepts the configuration; it scrapes the controller and both invokers where the compose file runs them, with the token the override writes', async function () {
    const config = read('deploy/prometheus/prometheus.yml');
    await promtoolConfig(config, 'compose.yml');
    expect(targets(config)).to.deep.equal(['controller:3233', 'invoker0:3234', 'invoker1:3234']);
    const compose = read('docker-compose.yml');
    expect(compose).to.contain('"${SWIRL_PUBLISH:-3233}:3233"');
    for (const id of [0, 1]) expect(compose).to.contain(`SWIRL_INVOKER_URL: http://invoker${id}:3234`);
    const override = read('deploy/compose.monitoring.yml');
    expect(override).to.contain('> /prometheus/ops-token');
    await requireTool(this, 'docker-compose', ['version'], "Debian's docker-compose");
    const r = await runTool('docker-compose', ['-f', 'docker-compose.yml', '-f', 'deploy/compose.monitoring.yml', 'config', '-q'], { env: SECRETS });
    expect(r.code, r.stderr).to.equal(0);
    const services = await runTool('docker-compose', ['-f', 'docker-compose.yml', '-f', 'deploy/compose.monitoring.yml', 'config', '--services'], { env: SECRETS });
    expect(services.stdout.split('\n')).to.include.members(['prometheus', 'grafana']);
  });

  it('ansible: the configuration rendered for each inventory passes promtool, one target per controller and per invoker', async function () {
    await requireTool(this, 'ansible-playbook', ['--version'], "Debian's ansible");
    const env = { ANSIBLE_CONFIG: join(ANSIBLE, 'ansible.cfg') };
    const syntax = await runTool('ansible-playbook', ['--syntax-check', join(ANSIBLE, 'prometheus-config.yml')], { env });
    expect(syntax.code, syntax.stderr).to.equal(0);
    const expected = {
      single: ['swirl-controller0:3233', 'swirl-invoker0:3234', 'swirl-invoker1:3234'],
      // several machines: by address, each invoker at its published port (3234 + id)
      multi: ['10.0.0.20:3233', '10.0.0.21:3233', '10.0.0.30:3234', '10.0.0.30:3235', '10.0.0.31:3236', '10.0.0.31:3237'],
    };
    for (const [inventory, want] of Object.entries(expected)) {
      const dest = join(dir, `ansible-${inventory}.yml`);
      const r = await runTool('ansible-playbook', ['-i', join(ANSIBLE, 'inventories', inventory, 'hosts.yml'), join(ANSIBLE, 'prometheus-config.yml'), '-e', `dest=${dest}`], { env });
      expect(r.code, r.stdout + r.stderr).to.equal(0);
      const config = readFileSync(dest, 'utf8');
      await promtoolConfig(config, `checked-${inventory}.yml`);
      expect(targets(config), inventory).to.deep.equal(want);
    }
  });

  it('the Grafana dashboard: every query is valid PromQL and names only metrics swirl serves; it uses the provisioned data source', async () => {
    const dashboard = JSON.parse(read('deploy/grafana/dashboards/swirl.json')) as { uid: string; panels: { type: string; title: string; datasource?: { uid: string }; targets?: { expr: string }[] }[] };
    const panels = dashboard.panels.filter((p) => p.type !== 'row');
    expect(panels.length).to.be.greaterThan(10);
    const exprs = panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    expect(exprs.length).to.be.at.least(panels.length);
    // promtool parses each query as a recording rule's
    const rules = join(dir, 'dashboard-rules.yml');
    writeFileSync(rules, JSON.stringify({ groups: [{ name: 'dashboard', rules: exprs.map((expr, i) => ({ record: `swirl:dashboard:${i}`, expr })) }] }));
    const r = await runTool('promtool', ['check', 'rules', rules]);
    expect(r.code, r.stdout + r.stderr).to.equal(0);
    expect(r.stdout).to.contain(`SUCCESS: ${exprs.length} rules found`);
    const served = await servedNames();
    const named = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(?:swirl|process|nodejs)_\w+/g)].map((m) => m[0])));
    for (const name of named) expect(served.has(name), `${name} is not a metric swirl serves`).to.equal(true);
    // the activation, pool, bus, throttle, HTTP and store metrics all have a panel
    for (const family of ['swirl_activations_total', 'swirl_activation_end_to_end_seconds_bucket', 'swirl_pool_containers', 'swirl_pool_memory_used_bytes', 'swirl_bus_lag_seconds_bucket', 'swirl_throttle_rejections_total', 'swirl_http_requests_total', 'swirl_store_request_duration_seconds_bucket', 'swirl_invoker_health', 'swirl_container_starts_total']) {
      expect(named.has(family), family).to.equal(true);
    }
    const uid = /uid: (\S+)/.exec(read('deploy/grafana/provisioning/datasources/prometheus.yml'))![1];
    for (const p of panels) expect(p.datasource?.uid, p.title).to.equal(uid);
    expect(read('deploy/grafana/provisioning/dashboards/swirl.yml')).to.contain('path: /var/lib/grafana/dashboards');
  });
});
