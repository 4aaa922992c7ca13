import { expect } from 'chai';
import { BadRequestError, NotFoundError } from '../../common/errors.ts';
import { decodeBase64, isTextual } from '../../controller/web/media.ts';
import { actionArguments, type WebRequest } from '../../controller/web/request.ts';
import { project, splitExtension, transcode } from '../../controller/web/response.ts';

const request = (over: Partial<WebRequest> = {}): WebRequest => ({
  method: 'POST',
  headers: { 'content-type': 'text/plain', 'x-a': 'b' },
  path: '',
  rawQuery: '',
  query: new URLSearchParams(),
  contentType: '',
  body: Buffer.alloc(0),
  ...over,
});

describe('web actions: request arguments and result transcoding', () => {
  it('splits a known extension off the action name, else means .http', () => {
    expect(splitExtension('hello.json')).to.deep.equal(['hello', '.json']);
    expect(splitExtension('hello.v2')).to.deep.equal(['hello.v2', '.http']);
    expect(splitExtension('.json')).to.deep.equal(['.json', '.http']);
  });

  it('decodes only real base64', () => {
    expect(decodeBase64('aGk=')?.toString()).to.equal('hi');
    expect(decodeBase64('aGk')?.toString()).to.equal('hi');
    expect(decodeBase64('aGk', true)).to.equal(undefined);
    expect(decodeBase64('%%%')).to.equal(undefined);
    expect(isTextual('text/csv')).to.equal(true);
    expect(isTextual('image/svg+xml')).to.equal(true);
    expect(isTextual('application/pdf')).to.equal(false);
  });

  it('merges query then body, boxes them for raw-http, and refuses reserved or final names', () => {
    const args = actionArguments(request({ query: new URLSearchParams('a=q&b=q'), contentType: 'application/json', body: Buffer.from('{"b":"body"}') }), false, new Set());
    expect(args).to.deep.include({ a: 'q', b: 'body', __ow_method: 'post', __ow_path: '' });
    const raw = actionArguments(request({ rawQuery: 'a=1', query: new URLSearchParams('a=1'), contentType: 'application/pdf', body: Buffer.from([0, 255]) }), true, new Set(['a']));
    expect(raw).to.deep.include({ __ow_query: 'a=1', __ow_body: 'AP8=' });
    expect(raw).to.not.have.property('a');
    expect(() => actionArguments(request({ query: new URLSearchParams('a=1') }), false, new Set(['a']))).to.throw(BadRequestError);
    expect(() => actionArguments(request({ contentType: 'application/json', body: Buffer.from('{"__ow_path":"/x"}') }), false, new Set())).to.throw(BadRequestError);
    expect(actionArguments(request({ user: 'guest' }), false, new Set()).__ow_user).to.equal('guest');
  });

  it('projects property paths; html/svg/text default to their property', () => {
    expect(project({ a: { b: 1 } }, '.json', '/a/b')).to.equal(1);
    expect(project({ a: 1 }, '.http', '/a')).to.deep.equal({ a: 1 });
    expect(project({ html: '<p/>', body: 'x' }, '.html', '')).to.equal('<p/>');
    expect(project({ body: 'x' }, '.svg', '')).to.equal('x');
    expect(() => project({ a: 1 }, '.json', '/b')).to.throw(NotFoundError);
    expect(() => project({ a: 1 }, '.text', '')).to.throw(NotFoundError);
  });

  it('.http: status codes as numbers or strings, header values of any scalar, framing headers dropped, bodies by content type', () => {
    const r = transcode({ statusCode: '201', headers: { 'X-N': 5, 'X-L': [true, 'b'], 'Content-Length': '99' }, body: 'hi' }, '.http');
    expect(r).to.deep.equal({ status: 201, type: 'text/html; charset=utf-8', headers: [['X-N', '5'], ['X-L', 'true'], ['X-L', 'b']], body: 'hi' });
    expect(transcode({ statusCode: 200, body: '' }, '.http')).to.deep.include({ status: 200, body: '' });
    expect(transcode({ headers: { 'content-type': 'application/json' }, body: Buffer.from('{"a":1}').toString('base64') }, '.http').body.toString()).to.equal('{"a":1}');
    expect(transcode({ body: [1] }, '.http')).to.deep.include({ type: 'application/json; charset=utf-8', body: '[1]' });
    expect(() => transcode({ headers: { 'content-type': 'text/plain' }, body: { a: 1 } }, '.http')).to.throw(BadRequestError, 'did not match');
    expect(() => transcode({ headers: { 'content-type': 'nonsense' }, body: 'x' }, '.http')).to.throw(BadRequestError, 'known content-type');
    expect(() => transcode({ statusCode: 42 }, '.http')).to.throw(BadRequestError, "'message/http'");
    expect(() => transcode({ headers: { 'bad name': 'x' } }, '.http')).to.throw(BadRequestError, "'message/http'");
    expect(() => transcode('text', '.http')).to.throw(BadRequestError, "'message/http'");
    expect(transcode({ a: 1 }, '.text').body).to.equal('{\n  "a": 1\n}');
    expect(transcode(false, '.text').body).to.equal('false');
  });
});
