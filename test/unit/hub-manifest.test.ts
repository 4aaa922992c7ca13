import { expect } from 'chai';
import { strFromU8, strToU8, unzipSync, zipSync } from 'fflate';
import type { Action, Package } from '../../common/entities.ts';
import { actionCode, buildBundle, bundleZip, canonicalJson, HubBundleError, hubSettings, manifestDigest, readBundle, sha256Hex } from '../../common/hub/manifest.ts';
import { defaultLimits } from '../../common/limits.ts';

const SECRET = 's3cr3t-value-never-published';

function pkg(annotations: Package['annotations'] = []): Package {
  return {
    namespace: 'alice',
    name: 'tools',
    version: '0.0.2',
    publish: false,
    updated: 1,
    binding: {},
    parameters: [{ key: 'apiKey', value: SECRET }],
    annotations: [
      { key: 'hub-publish', value: true },
      { key: 'description', value: 'Image tools' },
      { key: 'hub-license', value: 'MIT' },
      { key: 'parameters', value: [{ name: 'apiKey', description: 'your key', required: true, default: SECRET }] },
      { key: 'hub-examples', value: [{ action: 'echo', params: { a: 1 }, expect: { a: 1 } }, { nonsense: true }] },
      { key: 'internal-note', value: SECRET },
      ...annotations,
    ],
  };
}

function action(name: string, code: string, extra: Partial<Action> = {}): Action {
  return {
    namespace: 'alice/tools',
    name,
    version: '0.0.1',
    publish: false,
    updated: 1,
    exec: { kind: 'nodejs:20', code, binary: false },
    parameters: [{ key: 'token', value: SECRET }],
    annotations: [{ key: 'exec', value: 'nodejs:20' }, { key: 'web-export', value: true }, { key: 'secret-ann', value: SECRET }],
    limits: defaultLimits(),
    ...extra,
  };
}

const zipB64 = Buffer.from(zipSync({ 'index.js': strToU8('exports.main = () => ({})') })).toString('base64');
const actions = (): Action[] => [
  action('echo', 'function main(p) { return p }'),
  action('zipped', zipB64, { exec: { kind: 'nodejs:20', code: zipB64, binary: true, main: 'main' } }),
  action('seq', '', { exec: { kind: 'sequence', binary: false, components: ['/alice/tools/echo'] } }),
];

describe('hub manifest', () => {
  it('canonical JSON sorts keys recursively and drops whitespace and undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { z: 1, y: undefined, x: 'é' }], c: null } })).to.equal('{"a":{"c":null,"d":[3,{"x":"é","z":1}]},"b":1}');
    expect(canonicalJson({ b: 1, a: 2 })).to.equal(canonicalJson({ a: 2, b: 1 }));
  });

  it('reads the publisher settings with their defaults', () => {
    expect(hubSettings({ annotations: [] })).to.deep.equal({ published: false, description: '', license: 'unspecified', codeVisible: false, downloadable: false, examples: [] });
    const s = hubSettings(pkg([{ key: 'hub-code', value: 'visible' }, { key: 'hub-download', value: 'true' }]));
    expect(s).to.include({ published: true, license: 'MIT', codeVisible: true, downloadable: true, description: 'Image tools' });
    expect(s.examples).to.deep.equal([{ action: 'echo', params: { a: 1 }, expect: { a: 1 } }]);
  });

  it('builds a manifest of names and descriptions, never parameter values', () => {
    const b = buildBundle('127.0.0.1:41235', pkg(), actions());
    const m = b.manifest;
    expect(m.format).to.equal('swirl-hub/1');
    expect(m.ref).to.equal('127.0.0.1:41235/alice/tools@0.0.2');
    expect(m.package).to.include({ owner: 'alice', name: 'tools', version: '0.0.2', description: 'Image tools', license: 'MIT' });
    expect(m.package.parameters).to.deep.equal([{ name: 'apiKey', description: 'your key', required: true, bound: true }]);
    expect(m.actions.map((a) => a.name)).to.deep.equal(['echo', 'zipped']);
    expect(m.actions[0]).to.include({ kind: 'nodejs:20', binary: false, file: 'actions/echo' });
    expect(m.actions[0]!.parameters).to.deep.equal([{ name: 'token', description: '' }]);
    expect(m.actions[0]!.annotations).to.deep.equal([{ key: 'web-export', value: true }]);
    expect(m.actions[1]).to.include({ binary: true, main: 'main', sha256: sha256Hex(Buffer.from(zipB64, 'base64')) });
    expect(JSON.stringify(b.manifest)).not.to.include(SECRET);
    expect(b.digest).to.match(/^sha256:[0-9a-f]{64}$/).and.equal(manifestDigest(m));
  });

  it('zips and reads back a bundle whose digest verifies, with the code intact', () => {
    const b = buildBundle('h:1', pkg(), actions());
    const zip = bundleZip(b);
    expect(bundleZip(b)).to.deep.equal(zip);
    const back = readBundle(zip, b.digest);
    expect(back.digest).to.equal(b.digest);
    expect(actionCode(back, back.manifest.actions[0]!)).to.equal('function main(p) { return p }');
    expect(actionCode(back, back.manifest.actions[1]!)).to.equal(zipB64);
    expect(Object.keys(unzipSync(zip)).sort()).to.deep.equal(['actions/echo', 'actions/zipped', 'manifest.json']);
  });

  it('changing code changes the digest', () => {
    const a = buildBundle('h:1', pkg(), actions());
    const changed = actions();
    changed[0]!.exec.code = 'function main() { return {} }';
    expect(buildBundle('h:1', pkg(), changed).digest).not.to.equal(a.digest);
  });

  it('detects a tampered file, a tampered manifest and an unexpected file', () => {
    const b = buildBundle('h:1', pkg(), actions());
    const files = unzipSync(bundleZip(b));
    const tamperedCode = zipSync({ ...files, 'actions/echo': strToU8('function main() { return { pwned: true } }') });
    expect(() => readBundle(tamperedCode, b.digest)).to.throw(HubBundleError, /h:1\/alice\/tools@0.0.2: digest mismatch for actions\/echo: expected sha256:/);

    const m = JSON.parse(strFromU8(files['manifest.json']!));
    m.package.description = 'altered';
    const tamperedManifest = zipSync({ ...files, 'manifest.json': strToU8(JSON.stringify(m)) });
    expect(() => readBundle(tamperedManifest, b.digest)).to.throw(HubBundleError, `digest mismatch: expected ${b.digest}, got sha256:`);
    // without an expected digest the manifest alone cannot be caught, but its files still are
    expect(readBundle(tamperedManifest).digest).not.to.equal(b.digest);

    expect(() => readBundle(zipSync({ ...files, 'actions/extra': strToU8('x') }))).to.throw(HubBundleError, /does not name: actions\/extra/);
  });

  it('refuses what is no bundle', () => {
    expect(() => readBundle(strToU8('not a zip'))).to.throw(HubBundleError, /not a valid zip/);
    expect(() => readBundle(zipSync({ 'a.txt': strToU8('x') }))).to.throw(HubBundleError, /no manifest.json/);
    expect(() => readBundle(zipSync({ 'manifest.json': strToU8('{"format":"other"}') }))).to.throw(HubBundleError, /malformed/);
    const evil = { format: 'swirl-hub/1', ref: 'h:1/o/p@0.0.1', package: { owner: 'o', name: 'p', version: '0.0.1' }, actions: [{ name: 'a', kind: 'nodejs:20', binary: false, file: '../../etc/passwd', sha256: 'x' }], examples: [] };
    expect(() => readBundle(zipSync({ 'manifest.json': strToU8(JSON.stringify(evil)) }))).to.throw(HubBundleError, /file must be actions\/<name>/);
  });
});
