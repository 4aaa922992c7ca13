import { Messages, TooManyRequestsError } from '../common/errors.ts';

/**
 * A bound on how many request bodies of one kind are being read at once — those without
 * credentials, which web actions accept from anyone. A read holds a slot from before its
 * first byte until its last, so what such reads hold in memory is at most `slots` times the
 * body limit, however many clients send. Past the bound a request is refused at once, its
 * body unread: 429 with Retry-After.
 */
export class BodyGate {
  private reading = 0;

  constructor(readonly slots: number) {}

  /** Bodies being read now. */
  get inUse(): number {
    return this.reading;
  }

  async through<T>(read: () => Promise<T>): Promise<T> {
    if (this.reading >= this.slots) throw new TooManyRequestsError(Messages.tooManyBodies(this.reading, this.slots), 1);
    this.reading++;
    try {
      return await read();
    } finally {
      this.reading--;
    }
  }
}
