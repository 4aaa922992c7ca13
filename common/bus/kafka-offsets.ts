/**
 * Progress of one partition for a consumer with handlers running out of order. A message
 * is settled when its handler's promise settles; the committed offset may only advance over
 * the contiguous prefix of settled messages, so a crash never skips an unsettled one.
 *
 * Offsets arrive in increasing order per partition (the fetch order), so insertion order
 * of `open` is offset order; gaps (compaction, control records) are stepped over.
 */
export class PartitionProgress {
  /** Begun and not yet part of the settled prefix: offset → settled. */
  private readonly open = new Map<number, boolean>();
  /** Offset after the settled prefix (what a commit sends); undefined before the first message. */
  private next: number | undefined;
  private committed: number | undefined;
  /** False once the partition was taken away by a rebalance: what settles later is ignored. */
  attached = true;

  /** Whether this offset was begun already (a re-fetch after a rebalance that kept the partition). */
  seen(offset: number): boolean {
    return this.next !== undefined && (offset < this.next || this.open.has(offset));
  }

  begin(offset: number): void {
    if (this.next === undefined) {
      // where this member started reading: committed already, or the group's starting point
      this.next = offset;
      this.committed = offset;
    }
    this.open.set(offset, false);
  }

  /** Mark a message settled; true when the settled prefix grew. */
  settle(offset: number): boolean {
    if (!this.open.has(offset)) return false;
    this.open.set(offset, true);
    let grew = false;
    for (const [o, settled] of this.open) {
      if (!settled) break;
      this.open.delete(o);
      this.next = o + 1;
      grew = true;
    }
    return grew;
  }

  /** The offset to commit, when it moved since the last commit. */
  uncommitted(): number | undefined {
    return this.next !== undefined && this.next !== this.committed ? this.next : undefined;
  }

  markCommitted(offset: number): void {
    this.committed = offset;
  }

  /** After a rejoin: commit the prefix again (the previous commit may not have reached the group). */
  forgetCommitted(): void {
    if (this.next !== undefined) this.committed = undefined;
  }
}
