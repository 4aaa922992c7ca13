import { randomUUID } from 'node:crypto';
import type { KeyValue } from './entities.ts';

/** The four outcomes of an activation, with OpenWhisk's exact strings and codes. */
export const ActivationStatus = {
  success: { status: 'success', statusCode: 0 },
  applicationError: { status: 'application error', statusCode: 1 },
  developerError: { status: 'action developer error', statusCode: 2 },
  internalError: { status: 'whisk internal error', statusCode: 3 },
} as const;

export type ActivationStatusName = (typeof ActivationStatus)[keyof typeof ActivationStatus]['status'];

export interface ActivationResponse {
  status: ActivationStatusName;
  statusCode: 0 | 1 | 2 | 3;
  success: boolean;
  result?: unknown;
}

/** OpenWhisk stops a sequence at the first component whose result carries an `error` field. */
export const hasError = (r: ActivationResponse): boolean => typeof r.result === 'object' && r.result !== null && 'error' in r.result;

export interface ActivationRecord {
  /** 32 lower-case hex characters. */
  activationId: string;
  /** The namespace the activation ran in (the caller's). */
  namespace: string;
  /** `name` or `pkg/name` */
  name: string;
  subject: string;
  version: string;
  publish: boolean;
  start: number;
  end: number;
  duration: number;
  annotations: KeyValue[];
  logs: string[];
  response: ActivationResponse;
  cause?: string;
}

export const ACTIVATION_ID = /^[0-9a-f]{32}$/;

/** A new activation id: 32 lower-case hex characters, as OpenWhisk's (from a random UUID: node keeps a pool of entropy for those, cheaper than a randomBytes call per id). */
export const newActivationId = (): string => randomUUID().replace(/-/g, '');

export interface ActivationQuery {
  /** `name` or `pkg/name` */
  name?: string;
  since?: number;
  upto?: number;
  skip: number;
  limit: number;
}

/** The name an activation is listed under: its path annotation less the namespace (`pkg/name`), else its name. */
export function activationPath(r: ActivationRecord): string {
  const path = (r.annotations ?? []).find((a) => a.key === 'path' && typeof a.value === 'string')?.value as string | undefined;
  return path === undefined ? r.name : path.split('/').slice(1).join('/');
}
