import { type Config, ConfigError, envName, isLoopback, loadConfig } from './config.ts';

/**
 * Configuration for a cluster process (controller or invoker): like standalone's, but the
 * parts that processes share must be shared services — a bus other than memory, and Redis
 * for invoker health and throttles. Invokers also need a CouchDB URL (the controller may
 * run the embedded store itself), controllers the master key. Exits with status 2 and the
 * offending keys otherwise.
 */
export function loadClusterConfig(role: 'controller' | 'invoker', overrides: Partial<Record<keyof Config, unknown>> = {}): Config {
  try {
    const config = loadConfig(process.env, overrides);
    const problems: string[] = [];
    if (config.bus === 'memory' || config.bus === 'local') problems.push(`${envName('bus')}: must be redis or kafka for separate processes (${config.bus} is for npm start)`);
    if (!config.redisUrl) problems.push(`${envName('redisUrl')}: required: invoker health and throttles are kept in Redis`);
    if (role === 'invoker' && !config.couchdbUrl) problems.push(`${envName('couchdbUrl')}: required: invokers read actions and write records there`);
    if (role === 'invoker' && !config.opsToken && !isLoopback(config.host)) {
      problems.push(`${envName('opsToken')}: required when the invoker's operations endpoints listen beyond loopback (${envName('host')}=${config.host}): anyone who reaches the port could drain the invoker`);
    }
    // controllers share it (one cannot make its own), and storing parameters unencrypted is
    // what it is there to prevent: no key, no start, rather than a warning nobody reads
    if (role === 'controller' && !config.masterKey) problems.push(`${envName('masterKey')}: required: parameters and server secrets are encrypted in the store with it (every controller the same; e.g. openssl rand -base64 32)`);
    if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join('\n  ')}`);
    return config;
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      process.exit(2);
    }
    throw e;
  }
}
