import { z } from 'zod';
import { MAX_HOPS } from './peers.ts';

/** What the hub's consumer endpoints take (controller/hub/peer-routes.ts; the OpenAPI document is made from them too). */

/** Levels of peers-of-peers a search and the background refresh walk unless told otherwise. */
export const DEFAULT_HOPS = 2;

export const searchQuery = z.object({
  q: z.string().max(200).default(''),
  hops: z.coerce.number().int().min(0).max(MAX_HOPS).default(DEFAULT_HOPS),
});
export const installBody = z.object({ ref: z.string().min(1).max(1024).describe('a package REF: <host:port>/<owner>/<package>[@<version>]'), as: z.string().min(1).max(256).optional().describe('the name in your namespace (default: the package name)') });
export const updateBody = z.object({ name: z.string().min(1).max(256).describe('an installed package') });
export const testBody = z.object({
  ref: z.string().min(1).max(1024).describe('a package or function REF'),
  params: z.record(z.string(), z.unknown()).optional().describe('run the action with these instead of the examples'),
  action: z.string().min(1).max(256).optional().describe('the action to run (default: the REF’s, else the first)'),
});
