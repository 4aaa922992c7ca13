import type { HubParameter } from './manifest.ts';

/**
 * The hub's answers as the controller gives them and the CLI and dashboard read them: one
 * definition for both sides (the CLI may not import controller/).
 */

/** How a published package's own examples fared (run once per version and digest). */
export interface ExampleFigures {
  total: number;
  passed: number;
  failed: number;
  /** Epoch ms. */
  ranAt: number;
}

/** A published package's figures, from its instance's activation records. */
export interface HubFigures {
  invocations30d: number;
  namespaces30d: number;
  /** 0..1; null when it never ran. */
  successRate: number | null;
  p50Ms: number | null;
  /** null until the examples have run (or when there are none). */
  examples: ExampleFigures | null;
}

/** A published package as a catalog lists it (`/hub/v1/catalog`, `/hub/v1/search`). */
export interface HubSummary {
  ref: string;
  instance: string;
  owner: string;
  name: string;
  version: string;
  description: string;
  kinds: string[];
  license: string;
  digest: string;
  actions: string[];
  parameters: HubParameter[];
  codeVisible: boolean;
  downloadable: boolean;
  figures: HubFigures;
  updated: number;
}

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
