import { expect } from 'chai';
import { BadRequestError } from '../../common/errors.ts';
import { formatRef, instanceId, packageRefOf, parseFunctionRef, parsePackageRef, parseRef } from '../../common/hub/ref.ts';

describe('hub REF', () => {
  it('parses a package REF with and without its version', () => {
    expect(parseRef('127.0.0.1:41235/alice/tools@0.0.2')).to.deep.equal({ instance: '127.0.0.1:41235', owner: 'alice', package: 'tools', version: '0.0.2' });
    expect(parseRef('hub.example.com/alice/tools')).to.deep.equal({ instance: 'hub.example.com', owner: 'alice', package: 'tools' });
  });

  it('parses a function REF', () => {
    expect(parseFunctionRef('127.0.0.1:41235/alice/tools/resize@0.0.3')).to.deep.equal({ instance: '127.0.0.1:41235', owner: 'alice', package: 'tools', action: 'resize', version: '0.0.3' });
  });

  it('accepts the full URL form and keeps its scheme', () => {
    expect(parseRef('http://127.0.0.1:41235/alice/tools@0.0.2')).to.deep.equal({ instance: '127.0.0.1:41235', scheme: 'http', owner: 'alice', package: 'tools', version: '0.0.2' });
    expect(parseRef('HTTPS://Hub.Example.com/alice/tools/x').scheme).to.equal('https');
    expect(parseRef('HTTPS://Hub.Example.com/alice/tools/x').instance).to.equal('hub.example.com');
  });

  it('keeps an @ that is part of a name and not a version', () => {
    expect(parseRef('h:1/alice/a@b')).to.deep.equal({ instance: 'h:1', owner: 'alice', package: 'a@b' });
  });

  it('formats what it parses, without the scheme', () => {
    for (const t of ['127.0.0.1:41235/alice/tools@0.0.2', 'h:80/o/p', 'h:80/o/p/a@1.2.3', 'h:80/o/p/a']) expect(formatRef(parseRef(t))).to.equal(t);
    expect(formatRef(parseRef('http://h:80/o/p@0.0.1'))).to.equal('h:80/o/p@0.0.1');
    expect(formatRef(packageRefOf(parseRef('h:80/o/p/a@0.0.4')))).to.equal('h:80/o/p@0.0.4');
  });

  it('refuses malformed REFs with a 400 naming the REF', () => {
    for (const bad of ['', 'alice/tools', 'h:1/o', 'h:1/o/p/a/b', 'h:1//p', 'h:1/o/p*', 'bad host/o/p', 'h:1/o/-p', 'x'.repeat(2000)]) {
      expect(() => parseRef(bad), bad).to.throw(BadRequestError, /invalid hub REF/);
    }
    expect(() => parsePackageRef('h:1/o/p/a')).to.throw(BadRequestError, /a package REF was expected/);
    expect(() => parseFunctionRef('h:1/o/p')).to.throw(BadRequestError, /function REF/);
  });

  it('names an instance by its URL host:port', () => {
    expect(instanceId('http://127.0.0.1:3233')).to.equal('127.0.0.1:3233');
    expect(instanceId('http://127.0.0.1:3233/')).to.equal('127.0.0.1:3233');
    expect(instanceId('https://hub.example.com')).to.equal('hub.example.com');
    expect(() => instanceId('ftp://x')).to.throw(BadRequestError);
    expect(() => instanceId('not a url')).to.throw(BadRequestError);
  });
});
