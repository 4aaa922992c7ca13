/**
 * The error catalogue. Every error a user can see is one of these classes; the HTTP layer
 * turns them into OpenWhisk's `{"error": "...", "code": "<transaction id>"}` shape with the
 * class's status. Anything else that escapes is an internal error: logged, never returned.
 */
export class SwirlError extends Error {
  /** Response headers that go with the error (Retry-After...). */
  headers?: Record<string, string>;

  constructor(
    readonly status: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}

export const Messages = {
  resourceDoesNotExist: 'The requested resource does not exist.',
  routeNotFound: 'The requested resource could not be found.',
  conflict: 'Concurrent modification to resource detected.',
  entityExists: 'resource already exists',
  conformance: 'Resource by this name exists but is not in this collection.',
  unauthenticated: 'The supplied authentication is invalid.',
  notAuthorized: 'The supplied authentication is not authorized to access this resource.',
  notAuthorizedFor: (what: string) => `The supplied authentication is not authorized to access '${what}'.`,
  internal: 'An internal error occurred. The transaction id identifies it in the server logs.',
  unavailable: (what: string) => `${what} is currently unavailable; try again later.`,
  entityTooBig: (field: string, size: number, allowed: number) => `${field} larger than allowed: ${size} > ${allowed} bytes.`,
  malformedBody: (why: string) => `The request content was malformed:\n${why}`,
  tooDeep: (maxDepth: number) => `JSON nested more than ${maxDepth} levels deep.`,
  listLimitOutOfRange: (collection: string, value: string, max: number) =>
    `The value '${value}' is not in the range of 0 to ${max} for ${collection}.`,
  listSkipOutOfRange: (collection: string, value: string) =>
    `The value '${value}' is not greater than or equal to 0 for ${collection}.`,
  argumentNotInteger: (collection: string, value: string) => `The value '${value}' is not an integer for ${collection}.`,
  entityNameIllegal: 'The name of the entity contains illegal characters.',
  namespaceIllegal: 'The namespace contains illegal characters.',
  headersTooLarge: (max: number) => `The request headers are larger than allowed: ${max} bytes.`,
  requestUnparsable: 'The request is not well-formed HTTP.',
  hostMissing: 'The request has no Host header.',
  methodNotAllowed: 'The method is not allowed for this resource.',
  requestTimeout: 'The request was not received in time.',
  tooManyBodies: (count: number, allowed: number) =>
    `Too many request bodies without credentials are being received (count: ${count}, allowed: ${allowed}); try again later.`,
  chunkExtensionsTooLarge: 'The request chunk extensions are larger than allowed.',
  packageNotEmpty: (n: number) => `Package not empty (contains ${n} ${n === 1 ? 'entity' : 'entities'}). Set force param or delete package contents.`,
  notAllowedOnBinding: 'Operation not permitted on package binding.',
} as const;

export class BadRequestError extends SwirlError {
  constructor(message: string) {
    super(400, message);
  }
}
/** JSON nested deeper than the bound (common/json.ts): refused before anything recursive sees it. */
export class JsonTooDeepError extends BadRequestError {
  constructor(readonly maxDepth: number) {
    super(Messages.malformedBody(Messages.tooDeep(maxDepth)));
  }
}
export class UnauthorizedError extends SwirlError {
  constructor(message: string = Messages.unauthenticated) {
    super(401, message);
  }
}
export class ForbiddenError extends SwirlError {
  constructor(message: string = Messages.notAuthorized) {
    super(403, message);
  }
}
export class NotFoundError extends SwirlError {
  constructor(message: string = Messages.resourceDoesNotExist) {
    super(404, message);
  }
}
/** A write lost an optimistic-concurrency race, or the name is taken. */
export class ConflictError extends SwirlError {
  constructor(message: string = Messages.conflict) {
    super(409, message);
  }
}
export class PayloadTooLargeError extends SwirlError {
  constructor(message: string) {
    super(413, message);
  }
}
export class TooManyRequestsError extends SwirlError {
  constructor(message: string, retryAfterSeconds?: number) {
    super(429, message);
    if (retryAfterSeconds !== undefined) this.headers = { 'Retry-After': String(retryAfterSeconds) };
  }
}
/** A backing service (store, bus, health store) cannot be reached. */
export class ServiceUnavailableError extends SwirlError {
  constructor(message: string, options?: ErrorOptions) {
    super(503, message, options);
  }
}
/**
 * Something kept encrypted at rest (parameters, the server's secrets) does not open with the
 * configured master key: it was encrypted with another key, or altered. A configuration
 * error of the operator's, said plainly rather than answered with garbage.
 */
export class UnsealError extends SwirlError {
  constructor(what: string) {
    super(500, `${what} cannot be decrypted with the configured master key (SWIRL_MASTER_KEY): it was encrypted with another key, or altered.`);
  }
}
