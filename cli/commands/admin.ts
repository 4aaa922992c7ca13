import { Command } from 'commander';
import { AUTH_KEY, newCredentials } from '../../common/credentials.ts';
import { SwirlError } from '../../common/errors.ts';
import { authKey } from '../../common/identity.ts';
import { assertEntityName } from '../../common/names.ts';
import type { OpenedStore } from '../../common/store/open.ts';
import type { Cli } from '../context.ts';
import { UsageError } from '../errors.ts';
import { integer } from './options.ts';

/**
 * Run `fn` on the store named by the SWIRL_* configuration: the embedded store of a running
 * standalone server (reached through its data directory), or real CouchDB. Loaded only
 * here, so other commands do not pay for the store's modules.
 */
async function withStore<T>(env: NodeJS.ProcessEnv, fn: (o: OpenedStore) => Promise<T>): Promise<T> {
  const [{ ConfigError, loadConfig }, { attachStore }] = await Promise.all([import('../../common/config.ts'), import('../../common/store/open.ts')]);
  let config;
  try {
    config = loadConfig(env);
  } catch (e) {
    throw e instanceof ConfigError ? new UsageError(e.message) : e;
  }
  const opened = await attachStore(config);
  try {
    return await fn(opened);
  } finally {
    await opened.close();
  }
}

function userCommand(cli: Cli): Command {
  const user = new Command('user').description('create, list, get and delete users (subjects and their namespaces), in the store that SWIRL_* names');
  const env = cli.io.env;

  user
    .command('create')
    .description('create a user; prints its key (uuid:key)')
    .argument('<name>', 'subject name')
    .option('-n, --namespace <namespace>', 'namespace of the user (default: the name)')
    .option('--auth <uuid:key>', 'use this key instead of generating one')
    .action(async (name: string, opts: { namespace?: string; auth?: string }, cmd: Command) => {
      assertEntityName(name);
      const namespace = assertEntityName(opts.namespace ?? name, 'namespace');
      // `_` means "the caller's namespace" in paths, and CouchDB reserves ids that start with it
      if (name.startsWith('_') || namespace.startsWith('_')) throw new SwirlError(400, 'user and namespace names may not start with _');
      if (opts.auth && !AUTH_KEY.test(opts.auth)) throw new SwirlError(400, 'the key must be <uuid>:<key> with a key of 32 to 128 letters and digits');
      const creds = newCredentials(namespace, opts.auth);
      await withStore(env, async ({ store }) => {
        const existing = await store.getSubject(name);
        if (existing?.namespaces.some((n) => n.name === namespace)) throw new SwirlError(409, `user ${name} already has namespace ${namespace}`);
        await store.putSubject({ subject: name, namespaces: [...(existing?.namespaces ?? []), creds] }, existing?._rev);
      });
      if (cli.json(cmd)) return cli.out.json({ subject: name, namespace, uuid: creds.uuid, key: creds.key });
      cli.out.line(authKey(creds));
    });

  user
    .command('list')
    .description('list users with their namespaces')
    .action(async (_f: unknown, cmd: Command) => {
      const subjects = (await withStore(env, ({ store }) => store.listSubjects())).sort((a, b) => a.subject.localeCompare(b.subject));
      if (cli.json(cmd)) return cli.out.json(subjects.map((s) => ({ subject: s.subject, namespaces: s.namespaces.map((n) => n.name) })));
      for (const s of subjects) cli.out.line(`${s.subject}\t${s.namespaces.map((n) => n.name).join(',')}`);
    });

  user
    .command('get')
    .description("print a user's key for a namespace")
    .argument('<name>', 'subject name')
    .option('-n, --namespace <namespace>', 'namespace (default: the first)')
    .action(async (name: string, opts: { namespace?: string }) => {
      const subject = await withStore(env, ({ store }) => store.getSubject(name));
      const ns = subject?.namespaces.find((n) => !opts.namespace || n.name === opts.namespace);
      if (!subject || !ns) throw new SwirlError(404, `no user ${name}${opts.namespace ? ` with namespace ${opts.namespace}` : ''}`);
      cli.out.line(authKey(ns));
    });

  user
    .command('delete')
    .description('delete a user and its keys (its entities stay)')
    .argument('<name>', 'subject name')
    .action(async (name: string) => {
      await withStore(env, ({ store }) => store.deleteSubject(name));
      cli.out.ok(`deleted user ${name}`);
    });
  return user;
}

export function adminCommand(cli: Cli): Command {
  const admin = new Command('admin').description('administer swirl: users (in the store) and tokens (through the API)');
  admin.addCommand(userCommand(cli));
  admin
    .command('token')
    .description('get a Bearer token for your key (use it as --auth, or as AUTH in the props file)')
    .option('--expires-in <seconds>', 'lifetime of the token (the server caps it)', integer)
    .action(async (f: { expiresIn?: number }, cmd: Command) => {
      const res = await cli.client(cmd).request<{ token: string; expires_in: number; namespace: string }>('POST', '/token', {
        body: f.expiresIn ? { expiresIn: f.expiresIn } : {},
        what: 'get a token',
      });
      if (cli.json(cmd)) return cli.out.json(res.body);
      cli.out.line(res.body.token);
    });
  return admin;
}
