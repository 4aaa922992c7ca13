/**
 * The hub's answers as the controller gives them and the CLI and dashboard read them: one
 * definition for both sides (the CLI may not import controller/).
 */

/**
 * A step of a hub test, as it happens (`POST .../hub/test` with `Accept: application/x-ndjson`
 * sends one JSON line per step): the download, its verification, the deployment in the
 * disposable namespace, each run, the clean-up.
 */
export type TrialStep =
  | { step: 'fetching'; ref: string }
  | { step: 'verified'; ref: string; digest: string }
  | { step: 'deploying'; ref: string; namespace: string }
  | { step: 'running'; run: number; of: number; action: string }
  | { step: 'cleaning' };

/** The media type of a streamed hub test: one JSON value a line (steps, then `{result}` or `{error, code}`). */
export const NDJSON = 'application/x-ndjson';
