import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command } from 'commander';
import type { Cli } from '../context.ts';
import { CliError } from '../errors.ts';

/** What OpenWhisk's route management answers for an API (gwApiUrl: the routes' URL up to the base path). */
interface ApiValue {
  gwApiUrl: string;
  apidoc: { basePath: string; info: { title: string }; paths: Record<string, Record<string, { 'x-openwhisk'?: { namespace: string; package: string; action: string } }>> };
}

const MGMT = '/web/whisk.system/apimgmt';
const VERBS = new Set(['get', 'put', 'post', 'delete', 'patch', 'head', 'options']);

/** Each route of an API: its action (`/ns/pkg/action`), verb, the API's name and the route's URL. */
function routesOf(api: ApiValue): Array<{ relPath: string; action: string; verb: string; name: string; url: string }> {
  const base = api.gwApiUrl.replace(/\/$/, '');
  return Object.entries(api.apidoc.paths).flatMap(([relPath, ops]) =>
    Object.entries(ops)
      .filter(([verb]) => VERBS.has(verb))
      .map(([verb, op]) => {
        const x = op['x-openwhisk'];
        return { relPath, action: x ? `/${x.namespace}/${x.package ? `${x.package}/` : ''}${x.action}` : '', verb, name: api.apidoc.info.title, url: `${base}${relPath}` };
      }),
  );
}

/** A JSON value as YAML (block style; strings JSON-quoted, which YAML reads as they are). */
export function toYaml(v: unknown, indent = ''): string {
  if (Array.isArray(v)) return v.length ? v.map((e) => `${indent}- ${toYaml(e, `${indent}  `).trimStart()}`).join('\n') : `${indent}[]`;
  if (typeof v === 'object' && v !== null) {
    const entries = Object.entries(v);
    if (!entries.length) return `${indent}{}`;
    return entries.map(([k, e]) => (typeof e === 'object' && e !== null && Object.keys(e).length ? `${indent}${JSON.stringify(k)}:\n${toYaml(e, `${indent}  `)}` : `${indent}${JSON.stringify(k)}: ${toYaml(e, '').trim()}`)).join('\n');
  }
  return `${indent}${JSON.stringify(v) ?? 'null'}`;
}

const table = (rows: string[][]): string[] => {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  '));
};

/** `swirl api`: wsk's `api` commands over OpenWhisk's route management (`/whisk.system/apimgmt`). */
export function apiCommand(cli: Cli): Command {
  const api = new Command('api').description('work with APIs (routes to web actions)');
  const getApis = async (cmd: Command, basepath?: string) =>
    (await cli.client(cmd).request<{ apis: Array<{ value: ApiValue }> }>('GET', `${MGMT}/getApi.http`, { query: { basepath }, what: 'get API' })).body.apis.map((a) => a.value);

  api
    .command('create')
    .description('create a route: BASE_PATH API_PATH API_VERB ACTION, or all routes of a swagger file (--config-file)')
    .argument('[base]', 'the base path of the API (/shop)')
    .argument('[path]', 'the path of the route, relative to the base path (/items/{id})')
    .argument('[verb]', 'the HTTP verb of the route (GET, POST, ...)')
    .argument('[action]', 'the web action that answers it')
    .option('-n, --apiname <name>', 'the API name (default: the base path)')
    .option('-c, --config-file <file>', 'a swagger file (JSON) describing the whole API')
    .option('--response-type <type>', 'how the action answers: json (default), http, text, html, svg')
    .action(async (base: string | undefined, path: string | undefined, verb: string | undefined, action: string | undefined, f: { apiname?: string; configFile?: string; responseType?: string }, cmd: Command) => {
      const ns = cli.namespace(cmd);
      let apidoc: Record<string, unknown>;
      if (f.configFile) {
        const text = readFileSync(resolve(cli.io.cwd, f.configFile), 'utf8');
        apidoc = { namespace: ns, swagger: text };
      } else {
        if (!base || !path || !verb || !action) throw new CliError('Invalid argument(s). Specify BASE_PATH API_PATH API_VERB ACTION, or --config-file FILE.');
        const [actionNs, name] = action.startsWith('/') ? [action.split('/')[1]!, action.split('/').slice(2).join('/')] : [ns, action];
        apidoc = { namespace: ns, gatewayBasePath: base, gatewayPath: path, gatewayMethod: verb.toUpperCase(), ...(f.apiname ? { apiName: f.apiname } : {}), action: { name, namespace: actionNs, backendMethod: 'GET', backendUrl: 'none', authkey: 'none' } };
      }
      const res = await cli.client(cmd).request<ApiValue>('POST', `${MGMT}/createApi.http`, { query: { responsetype: f.responseType }, body: { apidoc }, what: 'create API' });
      if (cli.json(cmd)) return cli.out.json(res.body);
      const routes = routesOf(res.body).filter((r) => f.configFile || (r.relPath === path!.replace(/(.)\/$/, '$1') && r.verb === verb!.toLowerCase()));
      for (const r of routes) {
        cli.out.ok(`created API ${res.body.apidoc.basePath === '/' ? '' : res.body.apidoc.basePath}${r.relPath} ${r.verb.toUpperCase()} for action ${f.configFile || !action ? r.action : action.startsWith('/') ? action : `/${ns}/${action}`}`);
        cli.out.line(r.url);
      }
    });

  api
    .command('get')
    .description('the swagger document of an API, by base path or name')
    .argument('<base>', 'the base path or name of the API')
    .option('--format <format>', 'json (default) or yaml', 'json')
    .action(async (base: string, f: { format: string }, cmd: Command) => {
      const [found] = await getApis(cmd, base);
      if (!found) throw new CliError(`Unable to get API '${base}': API does not exist`);
      if (f.format === 'yaml') return cli.out.line(toYaml(found.apidoc));
      cli.out.json(found.apidoc);
    });

  api
    .command('list')
    .description("list your APIs' routes: all, or of a base path (or name), path and verb")
    .argument('[base]', 'the base path or name of the API')
    .argument('[path]', 'a path of it')
    .argument('[verb]', 'a verb of the path')
    .action(async (base: string | undefined, path: string | undefined, verb: string | undefined, _f: unknown, cmd: Command) => {
      const apis = await getApis(cmd, base);
      const routes = apis.flatMap(routesOf).filter((r) => (!path || r.relPath === path) && (!verb || r.verb === verb.toLowerCase()));
      if (cli.json(cmd)) return cli.out.json(routes.map(({ relPath: _r, ...r }) => r));
      cli.out.ok('APIs');
      if (routes.length) cli.out.lines(table([['Action', 'Verb', 'API Name', 'URL'], ...routes.map((r) => [r.action, r.verb, r.name, r.url])]));
    });

  api
    .command('delete')
    .description('delete an API (by base path or name), one path of it, or one verb of a path')
    .argument('<base>', 'the base path or name of the API')
    .argument('[path]', 'a path of it')
    .argument('[verb]', 'a verb of the path')
    .action(async (base: string, path: string | undefined, verb: string | undefined, _f: unknown, cmd: Command) => {
      await cli.client(cmd).request('DELETE', `${MGMT}/deleteApi.http`, { query: { basepath: base, relpath: path, operation: verb?.toUpperCase(), force: true }, what: 'delete API' });
      if (cli.json(cmd)) return cli.out.json({});
      cli.out.ok(path ? `deleted ${path}${verb ? ` ${verb.toUpperCase()}` : ''} from ${base}` : `deleted API ${base}`);
    });
  return api;
}
