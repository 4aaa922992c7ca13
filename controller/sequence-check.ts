import { HUB_COMPONENT } from '../common/entities.ts';
import { BadRequestError, NotFoundError } from '../common/errors.ts';
import { parseQualifiedName } from '../common/names.ts';
import type { Resolver } from './resolver.ts';

/** OpenWhisk's limit on the atomic actions one sequence runs, nested sequences inlined (`actionSequenceLimit`). */
export const SEQUENCE_LIMIT = 50;

/** OpenWhisk's wording (`Messages` in ErrorResponse.scala) for what goes wrong with sequences. */
export const SequenceMessages = {
  componentNotFound: 'Sequence component does not exist.',
  cyclic: 'Sequence may not refer to itself.',
  tooLong: 'Too many actions in the sequence.',
  retrieveTimeout: (id: string) => `Timeout reached when retrieving activation ${id} for sequence component.`,
  failure: 'Sequence activation failed.',
} as const;

/**
 * Checks a sequence before it is stored, as OpenWhisk's `checkSequenceActionLimits`: every
 * component (through packages and bindings) must exist and be invokable by the caller,
 * no component may be the sequence itself directly or inside a nested sequence, and the
 * atomic actions it would run, nested sequences inlined, may be at most SEQUENCE_LIMIT.
 * `self` is where the sequence is stored (`ns` or `ns/pkg`, and its name). Throws a 400
 * naming the problem, or the resolver's 403 for a component the caller may not invoke.
 */
export async function checkSequence(resolver: Pick<Resolver, 'action'>, caller: string, self: { path: string; name: string }, components: string[]): Promise<void> {
  await countAtomic(resolver, caller, components, new Set([`${self.path}/${self.name}`]), 0);
}

/**
 * The atomic actions `components` run, added to `sofar`. `enclosing` holds the sequence
 * being checked and the nested sequences on the way here: meeting one again is a cycle
 * (also one that was stored before this check existed, which would otherwise recurse forever).
 */
async function countAtomic(resolver: Pick<Resolver, 'action'>, caller: string, components: string[], enclosing: Set<string>, sofar: number): Promise<number> {
  let count = sofar;
  for (const ref of components) {
    // a hub function is one action, fetched when the sequence first runs
    if (ref.startsWith(HUB_COMPONENT)) {
      if (++count > SEQUENCE_LIMIT) throw new BadRequestError(SequenceMessages.tooLong);
      continue;
    }
    const resolved = await resolver.action(caller, parseQualifiedName(ref, caller)).catch((e: unknown) => {
      throw e instanceof NotFoundError ? new BadRequestError(SequenceMessages.componentNotFound) : e;
    });
    const id = `${resolved.path}/${resolved.action.name}`;
    if (enclosing.has(id)) throw new BadRequestError(SequenceMessages.cyclic);
    const { exec } = resolved.action;
    count = exec.kind === 'sequence' ? await countAtomic(resolver, caller, exec.components ?? [], new Set([...enclosing, id]), count) : count + 1;
    // stop walking as soon as the answer is known
    if (count > SEQUENCE_LIMIT) throw new BadRequestError(SequenceMessages.tooLong);
  }
  return count;
}
