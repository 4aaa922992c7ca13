import type { SystemPackage } from './packages.ts';
import { utilsPackage } from './utils.ts';

/** Every package of `/whisk.system`, installed by each controller at start. */
export const SYSTEM_PACKAGES: readonly SystemPackage[] = [utilsPackage];
