/**
 * What the CLI exits with, as wsk does: 0 success, 1 a general error, 2 a usage error,
 * 3 a network error, and for an HTTP error status the status modulo 256 (404 → 148,
 * 409 → 153, 502 → 246); 202 when a blocking call is still running.
 */
export const EXIT = { ok: 0, general: 1, usage: 2, network: 3, accepted: 202 } as const;

export const exitForStatus = (status: number): number => status % 256;

/** An error the CLI reports as `error: <message>[ (code <txid>)]`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.general,
    readonly txid?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A mistake in the command line: exit code 2. */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, EXIT.usage);
  }
}

/** The API answered with an error status. */
export class ApiError extends CliError {
  constructor(
    readonly status: number,
    message: string,
    txid: string | undefined,
    readonly body?: unknown,
  ) {
    super(message, exitForStatus(status), txid);
  }
}
