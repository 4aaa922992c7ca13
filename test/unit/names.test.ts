import { expect } from 'chai';
import { BadRequestError } from '../../common/errors.ts';
import { isEntityName, parseQualifiedName, qualifiedString } from '../../common/names.ts';

describe('entity names', () => {
  it('accepts what OpenWhisk accepts', () => {
    for (const ok of ['a', '_', '9', 'hello', 'hello world', 'a@b.c', 'a&b', 'x-y_z.1', 'a'.repeat(256), 'ends.', 'ends-']) {
      expect(isEntityName(ok), ok).to.equal(true);
    }
  });

  it('rejects what OpenWhisk rejects', () => {
    for (const bad of ['', ' a', 'a ', '-a', '.a', '@a', 'a/b', 'a*b', 'a'.repeat(257), 'é', 'a\nb', 'a:b']) {
      expect(isEntityName(bad), JSON.stringify(bad)).to.equal(false);
    }
  });
});

describe('qualified names', () => {
  it('resolves relative names in the caller namespace', () => {
    expect(parseQualifiedName('act', 'guest')).to.deep.equal({ namespace: 'guest', name: 'act' });
    expect(parseQualifiedName('pkg/act', 'guest')).to.deep.equal({ namespace: 'guest', pkg: 'pkg', name: 'act' });
  });

  it('resolves absolute names and _', () => {
    expect(parseQualifiedName('/other/act', 'guest')).to.deep.equal({ namespace: 'other', name: 'act' });
    expect(parseQualifiedName('/_/pkg/act', 'guest')).to.deep.equal({ namespace: 'guest', pkg: 'pkg', name: 'act' });
    expect(qualifiedString(parseQualifiedName('/_/pkg/act', 'guest'))).to.equal('/guest/pkg/act');
  });

  it('rejects malformed references with a 400', () => {
    for (const bad of ['', '/onlyns', '/a/b/c/d', 'a/b/c', '/ns/bad*name', 'pkg/']) {
      expect(() => parseQualifiedName(bad, 'guest'), bad).to.throw(BadRequestError);
    }
  });
});
