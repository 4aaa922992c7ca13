import { resolveKind } from '../common/kinds.ts';
import type { ResolvedAction } from './resolver.ts';

/** A component of a pipelined sequence, resolved, with the activation id it runs under. */
export interface PipelineComponent {
  resolved: ResolvedAction;
  activationId: string;
}

/** The one kind whose actions pipe: any executable, JSON in on stdin and out on stdout. */
const PIPED_KIND = 'stdio';

/**
 * Whether a sequence's components, all resolved, run as one pipeline on one invoker rather
 * than one invoke after the other through the controller: two or more, every one a stdio
 * action (a nested sequence or another kind runs the ordinary way), and all of them within
 * the sequence's limit of atomic actions (`atomicSoFar` of them ran already in the sequences
 * around this one). The records and the result are the same either way.
 */
export function pipes(components: readonly ResolvedAction[], atomicSoFar: number, limit: number): boolean {
  return components.length >= 2 && atomicSoFar + components.length <= limit && components.every((c) => resolveKind(c.action.exec.kind)?.kind === PIPED_KIND);
}
