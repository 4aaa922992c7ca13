import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const root = resolve(import.meta.dirname, '../..');
const json = (file: string) => JSON.parse(readFileSync(resolve(root, file), 'utf8')) as Record<string, unknown>;

/**
 * `npm install` runs no install script (CI installs with --ignore-scripts, and the README says
 * none is needed); npm 11 warns about every package with one that `allowScripts` does not
 * name. Each is named, and denied, so a reader's install prints no such warning.
 */
describe('install scripts', () => {
  it('every package of the lockfile with an install script is named in allowScripts, and denied', () => {
    const lock = json('package-lock.json') as { packages: Record<string, { hasInstallScript?: boolean }> };
    const allow = json('package.json').allowScripts as Record<string, boolean>;
    const withScripts = Object.entries(lock.packages)
      .filter(([, p]) => p.hasInstallScript)
      .map(([path]) => path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length));
    expect(withScripts.length).to.be.greaterThan(0);
    for (const name of new Set(withScripts)) expect(allow, `${name} has an install script`).to.have.property(name, false);
  });
});
