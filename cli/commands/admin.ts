import { Command } from 'commander';
import { sharedBus, Topics } from '../../common/bus.ts';
import type { Config } from '../../common/config.ts';
import { AUTH_KEY, newCredentials } from '../../common/credentials.ts';
import { ConflictError, SwirlError } from '../../common/errors.ts';
import { guestKeyPath, writeGuestKey } from '../../common/guest-key.ts';
import type { NamespaceLimits } from '../../common/identity.ts';
import { assertEntityName } from '../../common/names.ts';
import type { LocalStore } from '../../common/store/open.ts';
import type { Cli } from '../context.ts';
import { UsageError } from '../errors.ts';
import { integer } from './options.ts';

/**
 * Run `fn` on the store named by the SWIRL_* configuration: the embedded store of a running
 * standalone server (reached through its data directory), or real CouchDB. Loaded only
 * here, so other commands do not pay for the store's modules. The users `fn` says it
 * changed (`changed`) are announced to the controllers afterwards (tellControllers).
 */
async function withStore<T>(env: NodeJS.ProcessEnv, fn: (o: Pick<LocalStore, 'store'>, config: Config, changed: (subject: string) => void) => Promise<T>, cli?: Cli): Promise<T> {
  const [{ ConfigError, loadConfig }, { attachStore, NoStoreError }, { privateByDefault }] = await Promise.all([import('../../common/config.ts'), import('../../common/store/open.ts'), import('../../common/private-files.ts')]);
  // the store's files (when no server runs, this process opens them) and the key files it writes are this user's alone
  privateByDefault();
  let config;
  try {
    config = loadConfig(env);
  } catch (e) {
    throw e instanceof ConfigError ? new UsageError(e.message) : e;
  }
  const opened = await attachStore(config).catch((e: unknown) => {
    throw e instanceof NoStoreError ? new UsageError(e.message) : e;
  });
  const subjects = new Set<string>();
  let result: T;
  try {
    result = await fn(opened, config, (subject) => subjects.add(subject));
  } finally {
    await opened.close();
  }
  if (subjects.size && cli) await tellControllers(config, [...subjects], cli);
  return result;
}

/**
 * Tell the controllers of a cluster (a bus other processes read: Redis, Kafka) that users
 * changed, so that each forgets the identities and keys it verified: an old key stops
 * working at once everywhere. A standalone server's one-process bus cannot be reached from
 * here: its cache forgets within SWIRL_AUTH_CACHE_MS. The change is made either way; a bus
 * that cannot be reached is only reported.
 */
async function tellControllers(config: Config, subjects: string[], cli: Cli): Promise<void> {
  if (!sharedBus({ name: config.bus })) return;
  const [{ openBus }, { subjectsChanged }, { silentLogger }] = await Promise.all([
    import('../../common/infra.ts'),
    import('../../common/messages.ts'),
    import('../../common/logger.ts'),
  ]);
  try {
    const bus = await openBus(config, silentLogger, 'swirl-admin');
    try {
      await bus.produce(Topics.cacheInvalidation, subjects.map(subjectsChanged));
    } finally {
      await bus.close();
    }
  } catch (e) {
    cli.out.note(`the controllers were not told (${(e as Error).message}): they may take the old key for up to SWIRL_AUTH_CACHE_MS (${config.authCacheMs} ms)`);
  }
}

function userCommand(cli: Cli): Command {
  const user = new Command('user').description('create, list, get and delete users (subjects and their namespaces) and issue new keys, in the store that SWIRL_* names');
  const env = cli.io.env;

  user
    .command('create')
    .description('create a user; prints its key (uuid:key)')
    .argument('<name>', 'subject name')
    .option('-n, --namespace <namespace>', 'namespace of the user (default: the name)')
    .option('--auth <uuid:key>', 'use this key instead of generating one')
    .option('--admin', 'the user may use the operator routes (invoker health)')
    .action(async (name: string, opts: { namespace?: string; auth?: string; admin?: boolean }, cmd: Command) => {
      assertEntityName(name);
      const namespace = assertEntityName(opts.namespace ?? name, 'namespace');
      // `_` means "the caller's namespace" in paths, and CouchDB reserves ids that start with it
      if (name.startsWith('_') || namespace.startsWith('_')) throw new SwirlError(400, 'user and namespace names may not start with _');
      if (opts.auth && !AUTH_KEY.test(opts.auth)) throw new SwirlError(400, 'the key must be <uuid>:<key> with a key of 32 to 128 letters and digits');
      const { creds, auth } = newCredentials(namespace, opts.auth);
      await withStore(
        env,
        async ({ store }, _config, changed) => {
          const existing = await store.getSubject(name);
          if (existing?.namespaces.some((n) => n.name === namespace)) throw new SwirlError(409, `user ${name} already has namespace ${namespace}`);
          const admin = opts.admin || existing?.admin;
          await store.putSubject({ subject: name, namespaces: [...(existing?.namespaces ?? []), creds], ...(admin ? { admin: true } : {}) }, existing?._rev);
          // a controller may have cached that no such key exists
          changed(name);
        },
        cli,
      );
      // the only time the key is shown: the store keeps its hash
      if (cli.json(cmd)) return cli.out.json({ subject: name, namespace, uuid: creds.uuid, key: auth.slice(creds.uuid.length + 1) });
      cli.out.line(auth);
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
    .description("print a user's uuid for a namespace (keys are kept hashed: `user key` issues a new one)")
    .argument('<name>', 'subject name')
    .option('-n, --namespace <namespace>', 'namespace (default: the first)')
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
      const subject = await withStore(env, ({ store }) => store.getSubject(name));
      const ns = subject?.namespaces.find((n) => !opts.namespace || n.name === opts.namespace);
      if (!subject || !ns) throw new SwirlError(404, `no user ${name}${opts.namespace ? ` with namespace ${opts.namespace}` : ''}`);
      if (cli.json(cmd)) return cli.out.json({ subject: name, namespace: ns.name, uuid: ns.uuid, ...(subject.admin ? { admin: true } : {}) });
      cli.out.line(`${ns.uuid}\tnamespace ${ns.name}${subject.admin ? '\tadmin' : ''}`);
      cli.out.line(`the key cannot be shown: it is stored hashed. \`user key ${name}${opts.namespace ? ` -n ${ns.name}` : ''}\` issues a new one (the old one and its tokens stop working)`);
    });

  user
    .command('key')
    .description("issue a new key for a user's namespace and print it (uuid:key) once; the old key, its tokens and its action key stop working")
    .argument('<name>', 'subject name')
    .option('-n, --namespace <namespace>', 'namespace (default: the first)')
    .action(async (name: string, opts: { namespace?: string }, cmd: Command) => {
      const { auth, uuid, namespace, file } = await withStore(env, async ({ store }, config, changed) => {
        const subject = await store.getSubject(name);
        const ns = subject?.namespaces.find((n) => !opts.namespace || n.name === opts.namespace);
        if (!subject || !ns) throw new SwirlError(404, `no user ${name}${opts.namespace ? ` with namespace ${opts.namespace}` : ''}`);
        // the same uuid (what the namespace is known by), a new key
        const { creds, auth } = newCredentials(ns.name, undefined, ns.uuid);
        const { _rev, ...body } = subject;
        const namespaces = body.namespaces.map((n) => (n.name === ns.name ? { ...n, keyHash: creds.keyHash } : n));
        await store.putSubject({ ...body, namespaces }, _rev).catch((e: unknown) => {
          throw e instanceof ConflictError ? new SwirlError(409, `user ${name} was changed at the same time: try again`) : e;
        });
        changed(name);
        // the guest's key is kept where servers look for it
        const guest = name === config.guestNamespace && ns.name === config.guestNamespace;
        if (guest) writeGuestKey(config.dataDir, auth);
        return { auth, uuid: ns.uuid, namespace: ns.name, file: guest ? guestKeyPath(config.dataDir) : undefined };
      }, cli);
      if (cli.json(cmd)) return cli.out.json({ subject: name, namespace, uuid, key: auth.slice(uuid.length + 1), ...(file ? { file } : {}) });
      cli.out.line(auth);
      if (file) cli.out.note(`the guest key is kept in ${file} as well`);
    });

  user
    .command('delete')
    .description('delete a user and its keys (its entities stay)')
    .argument('<name>', 'subject name')
    .action(async (name: string) => {
      await withStore(
        env,
        async ({ store }, _config, changed) => {
          await store.deleteSubject(name);
          changed(name);
        },
        cli,
      );
      cli.out.ok(`deleted user ${name}`);
    });
  return user;
}

const LIMIT_FLAGS = [
  ['invocationsPerMinute', '--invocationsPerMinute <n>', 'invocations per minute'],
  ['concurrentInvocations', '--concurrentInvocations <n>', 'invocations running at once'],
  ['firesPerMinute', '--firesPerMinute <n>', 'trigger fires per minute'],
] as const;

/** `limits set|get|delete NAMESPACE`, as `wskadmin limits`: a namespace's throttles, kept with its identity. */
function limitsCommand(cli: Cli): Command {
  const limits = new Command('limits').description("set, get and delete a namespace's throttles (defaults: SWIRL_LIMIT_*), in the store that SWIRL_* names");
  const env = cli.io.env;
  /** Change the namespace's credentials entry in the subject that owns it. */
  const update = (namespace: string, change: (current: NamespaceLimits | undefined) => NamespaceLimits | undefined) =>
    withStore(env, async ({ store }, _config, changed) => {
      const owner = await store.subjectByNamespace(assertEntityName(namespace, 'namespace'));
      const subject = owner && (await store.getSubject(owner.subject));
      if (!subject) throw new SwirlError(404, `no namespace ${namespace}`);
      const namespaces = subject.namespaces.map((n) => {
        if (n.name !== namespace) return n;
        const { limits: current, ...rest } = n;
        const next = change(current);
        return next && Object.keys(next).length ? { ...rest, limits: next } : rest;
      });
      const { _rev, ...body } = subject;
      await store.putSubject({ ...body, namespaces }, _rev);
      changed(subject.subject);
    }, cli);

  const set = limits
    .command('set')
    .description('set throttles for a namespace (the others keep their values)')
    .argument('<namespace>', 'namespace');
  for (const [, flag, what] of LIMIT_FLAGS) set.option(flag, what, integer);
  set.action(async (namespace: string, f: NamespaceLimits) => {
    const given = Object.fromEntries(LIMIT_FLAGS.flatMap(([key]) => (f[key] === undefined ? [] : [[key, f[key]]])));
    if (Object.keys(given).length === 0) throw new UsageError(`name at least one of ${LIMIT_FLAGS.map(([, flag]) => flag.split(' ')[0]).join(', ')}`);
    for (const [key, v] of Object.entries(given)) if ((v as number) < 0) throw new UsageError(`${key} must be 0 or more`);
    await update(namespace, (current) => ({ ...current, ...given }));
    cli.out.ok(`limits set for ${namespace}`);
  });

  limits
    .command('get')
    .description("print a namespace's throttles (only those set for it; the others are the server's defaults)")
    .argument('<namespace>', 'namespace')
    .action(async (namespace: string, _f: unknown, cmd: Command) => {
      const found = await withStore(env, async ({ store }) => {
        const owner = await store.subjectByNamespace(assertEntityName(namespace, 'namespace'));
        return owner?.namespaces.find((n) => n.name === namespace);
      });
      if (!found) throw new SwirlError(404, `no namespace ${namespace}`);
      const set = found.limits ?? {};
      if (cli.json(cmd)) return cli.out.json(set);
      if (Object.keys(set).length === 0) return cli.out.line(`no limits set for ${namespace}`);
      for (const [key] of LIMIT_FLAGS) if (set[key] !== undefined) cli.out.line(`${key} = ${set[key]}`);
    });

  limits
    .command('delete')
    .description("remove a namespace's own throttles: the server's defaults apply again")
    .argument('<namespace>', 'namespace')
    .action(async (namespace: string) => {
      await update(namespace, () => undefined);
      cli.out.ok(`limits deleted for ${namespace}`);
    });
  return limits;
}

export function adminCommand(cli: Cli): Command {
  const admin = new Command('admin').description('administer swirl: users (in the store) and tokens (through the API)');
  admin.addCommand(userCommand(cli));
  admin.addCommand(limitsCommand(cli));
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
