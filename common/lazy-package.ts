import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/**
 * A package loaded when it is first used rather than when the process starts (it must be
 * loadable with `require`): a run that does not use it (a CLI command that zips nothing, a
 * standalone process without Redis or Kafka) does not pay for loading it.
 */
export const lazyPackage =
  <T>(name: string): (() => T) =>
  () =>
    require(name) as T;
