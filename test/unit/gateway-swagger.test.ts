import { expect } from 'chai';
import { BadRequestError } from '../../common/errors.ts';
import { addEndpoint, checkPath, checkResponseType, checkSwagger, emptySwagger, matchPath, operations, removeEndpoint, responseTypeOf } from '../../controller/gateway/swagger.ts';

const ORIGIN = 'https://swirl.example';
const endpoint = (relPath: string, verb: string, name = 'echo', responseType: 'json' | 'http' = 'json') => ({ basePath: '/shop', relPath, verb, action: { namespace: 'guest', name }, responseType });

describe('API gateway swagger documents', () => {
  it('adds endpoints as OpenWhisk writes them: x-openwhisk names the web action, its url the response type; path parameters listed', () => {
    const api = addEndpoint(addEndpoint(emptySwagger('/shop', 'Shop'), endpoint('/items/{id}', 'get', 'tools/item', 'http'), ORIGIN), endpoint('/items/{id}', 'put'), ORIGIN);
    expect(api.info).to.deep.equal({ title: 'Shop', version: '1.0.0' });
    const get = api.paths['/items/{id}']!.get!;
    expect(get['x-openwhisk']).to.deep.equal({ namespace: 'guest', package: 'tools', action: 'item', url: `${ORIGIN}/api/v1/web/guest/tools/item.http` });
    expect(get.parameters).to.deep.equal([{ name: 'id', in: 'path', description: "Default description for 'id'", required: true, type: 'string' }]);
    expect(responseTypeOf(get)).to.equal('http');
    expect(responseTypeOf(api.paths['/items/{id}']!.put!)).to.equal('json');
    expect(api.paths['/items/{id}']!.put!['x-openwhisk'].url).to.equal(`${ORIGIN}/api/v1/web/guest/default/echo.json`);
    expect(operations(api).map((o) => `${o.verb} ${o.relPath}`)).to.deep.equal(['get /items/{id}', 'put /items/{id}']);
  });

  it('removes one verb, then the path; a missing one is undefined', () => {
    const api = addEndpoint(addEndpoint(emptySwagger('/shop'), endpoint('/a', 'get'), ORIGIN), endpoint('/a', 'post'), ORIGIN);
    const one = removeEndpoint(api, '/a', 'post')!;
    expect(Object.keys(one.paths['/a']!)).to.deep.equal(['get']);
    expect(removeEndpoint(one, '/a', 'get')!.paths).to.deep.equal({});
    expect(removeEndpoint(api, '/a')!.paths).to.deep.equal({});
    expect(removeEndpoint(api, '/b')).to.equal(undefined);
    expect(removeEndpoint(api, '/a', 'delete')).to.equal(undefined);
  });

  it('matches paths against templates, giving the parameters decoded', () => {
    expect(matchPath('/items/{id}', '/items/a%20b')).to.deep.equal({ id: 'a b' });
    expect(matchPath('/items/{id}/parts/{part}', '/items/1/parts/2')).to.deep.equal({ id: '1', part: '2' });
    expect(matchPath('/items', '/items')).to.deep.equal({});
    expect(matchPath('/items/{id}', '/items/')).to.equal(undefined);
    expect(matchPath('/items/{id}', '/items/1/2')).to.equal(undefined);
    expect(matchPath('/items/{id}', '/other/1')).to.equal(undefined);
    expect(matchPath('/items/{id}', '/items/a%2Fb')).to.deep.equal({ id: 'a/b' });
    expect(matchPath('/items/{id}', '/items/%zz')).to.equal(undefined);
  });

  it('checks what a user imports or names, with messages that say what is wrong', () => {
    expect(checkPath('base path', '/shop/')).to.equal('/shop');
    expect(checkPath('base path', '/')).to.equal('/');
    expect(() => checkPath('base path', 'shop')).to.throw(BadRequestError, "The base path 'shop' is not valid");
    expect(() => checkPath('relative path', '/a//b')).to.throw(BadRequestError);
    expect(checkResponseType(undefined)).to.equal('json');
    expect(() => checkResponseType('xml')).to.throw(BadRequestError, "The response type 'xml' is not valid");
    expect(() => checkSwagger('{')).to.throw(BadRequestError, 'swagger field cannot be parsed. Ensure it is valid JSON.');
    expect(() => checkSwagger({ paths: {}, info: {} })).to.throw(BadRequestError, 'swagger is missing the basePath field.');
    expect(() => checkSwagger({ basePath: '/x', info: {} })).to.throw(BadRequestError, 'swagger is missing the paths field.');
    expect(() => checkSwagger({ basePath: '/x', paths: {} })).to.throw(BadRequestError, 'swagger is missing the info field.');
    expect(() => checkSwagger({ basePath: '/x', info: {}, paths: { '/a': { get: { responses: {} } } } })).to.throw(BadRequestError, 'swagger operation GET /a is missing its x-openwhisk');
    const api = checkSwagger(JSON.stringify({ swagger: '2.0', basePath: '/x', info: { title: 'X', version: '2' }, paths: { '/a': { get: { 'x-openwhisk': { namespace: '_', action: 'echo', url: 'https://h/api/v1/web/_/default/echo.text' } }, parameters: [] } } }));
    expect(api.info).to.deep.equal({ title: 'X', version: '2' });
    expect(operations(api).map((o) => [o.verb, responseTypeOf(o.op)])).to.deep.equal([['get', 'text']]);
  });
});
