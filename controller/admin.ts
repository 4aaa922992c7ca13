import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig } from '../common/config.ts';
import { SwirlError } from '../common/errors.ts';
import { authKey } from '../common/identity.ts';
import { assertEntityName } from '../common/names.ts';
import { attachStore, type OpenedStore } from '../common/store/open.ts';
import { newCredentials } from './bootstrap.ts';

/**
 * `npm run admin -- user create NAME`: manage identities directly in the store, like
 * OpenWhisk's wskadmin. Works beside a running standalone server (it reaches the
 * server's embedded store) and against real CouchDB (SWIRL_COUCHDB_URL).
 */
export function adminProgram(out: (line: string) => void, withStore: <T>(fn: (o: OpenedStore) => Promise<T>) => Promise<T>): Command {
  const program = new Command('swirl-admin').description('Administer swirl identities').exitOverride().showHelpAfterError();
  const user = program.command('user').description('create, list, get and delete users (subjects and their namespaces)');

  user
    .command('create')
    .description('create a user; prints its key (uuid:key)')
    .argument('<name>', 'subject name')
    .option('-n, --namespace <namespace>', 'namespace of the user (default: the name)')
    .option('-a, --auth <uuid:key>', 'use this key instead of generating one')
    .action(async (name: string, opts: { namespace?: string; auth?: string }) => {
      assertEntityName(name);
      const namespace = assertEntityName(opts.namespace ?? name, 'namespace');
      // `_` means "the caller's namespace" in paths, and CouchDB reserves ids that start with it
      if (name.startsWith('_') || namespace.startsWith('_')) throw new SwirlError(400, 'user and namespace names may not start with _');
      if (opts.auth && !/^[0-9a-f-]{36}:[A-Za-z0-9]{32,128}$/i.test(opts.auth)) throw new SwirlError(400, 'the key must be <uuid>:<key> with a key of 32 to 128 letters and digits');
      const creds = newCredentials(namespace, opts.auth);
      await withStore(async ({ store }) => {
        const existing = await store.getSubject(name);
        if (existing?.namespaces.some((n) => n.name === namespace)) throw new SwirlError(409, `user ${name} already has namespace ${namespace}`);
        await store.putSubject({ subject: name, namespaces: [...(existing?.namespaces ?? []), creds] }, existing?._rev);
      });
      out(authKey(creds));
    });

  user
    .command('list')
    .description('list users with their namespaces')
    .action(async () => {
      const subjects = await withStore(({ store }) => store.listSubjects());
      for (const s of subjects.sort((a, b) => a.subject.localeCompare(b.subject))) {
        out(`${s.subject}\t${s.namespaces.map((n) => n.name).join(',')}`);
      }
    });

  user
    .command('get')
    .description("print a user's key for a namespace")
    .argument('<name>', 'subject name')
    .option('-n, --namespace <namespace>', 'namespace (default: the first)')
    .action(async (name: string, opts: { namespace?: string }) => {
      const subject = await withStore(({ store }) => store.getSubject(name));
      const ns = subject?.namespaces.find((n) => !opts.namespace || n.name === opts.namespace);
      if (!subject || !ns) throw new SwirlError(404, `no user ${name}${opts.namespace ? ` with namespace ${opts.namespace}` : ''}`);
      out(authKey(ns));
    });

  user
    .command('delete')
    .description('delete a user and its keys (its entities stay)')
    .argument('<name>', 'subject name')
    .action(async (name: string) => {
      await withStore(({ store }) => store.deleteSubject(name));
      out(`deleted user ${name}`);
    });

  return program;
}

async function main(argv: string[]): Promise<number> {
  let opened: OpenedStore | undefined;
  const withStore = async <T>(fn: (o: OpenedStore) => Promise<T>): Promise<T> => {
    opened ??= await attachStore(loadConfig());
    return fn(opened);
  };
  try {
    await adminProgram((line) => console.log(line), withStore).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof ConfigError || e instanceof SwirlError) {
      console.error(`error: ${e.message}`);
      return e instanceof SwirlError && e.status === 404 ? 4 : 2;
    }
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    await opened?.close();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv.slice(2));
}
