import { expect } from 'chai';
import fc from 'fast-check';
import { LOG_SENTINEL } from '../../common/container.ts';
import { LogCollector } from '../../invoker/log-collector.ts';

/**
 * The collector against output split in every way a pipe may split it, and against output
 * no activation may keep (lines longer than any log limit, floods of lines), which must cost
 * time and memory in proportion to the output and show as a truncation.
 */
const strip = (lines: string[]) => lines.map((l) => l.replace(/^\S+ /, ''));
const END = `${LOG_SENTINEL}\n`;
const MiB = 1024 * 1024;

/** Feed `text` to `stream` in pieces cut at `cuts` (positions, any order, duplicates allowed). */
function feedSplit(c: LogCollector, stream: 'stdout' | 'stderr', text: string, cuts: number[]): void {
  const at = [...new Set(cuts.map((x) => x % (text.length + 1)))].sort((a, b) => a - b);
  let from = 0;
  for (const to of [...at, text.length]) {
    if (to > from) c.feed(stream, text.slice(from, to));
    from = to;
  }
}

/** Feed `bytes` characters without a newline, in pipe-sized chunks. */
function feedLong(c: LogCollector, bytes: number, chunk = 64 * 1024): void {
  const piece = 'x'.repeat(chunk);
  for (let sent = 0; sent < bytes; sent += chunk) c.feed('stdout', sent + chunk <= bytes ? piece : piece.slice(0, bytes - sent));
}

describe('log collector: splits, floods and limits', () => {
  it('gives the same segments however the output is split, CRLF and the sentinel across chunks included', async () => {
    const line = fc.stringMatching(/^[a-z \t\r]{0,12}$/);
    await fc.assert(
      fc.asyncProperty(fc.array(line, { maxLength: 6 }), fc.array(line, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 20 }), fc.boolean(), async (first, second, cuts, crlf) => {
        const nl = crlf ? '\r\n' : '\n';
        const text = [...first, LOG_SENTINEL, ...second, LOG_SENTINEL].map((l) => l + nl).join('');
        const expected = (ls: string[]) => ls.map((l) => `stdout: ${crlf || !l.endsWith('\r') ? l : l.slice(0, -1)}`);
        const c = new LogCollector();
        feedSplit(c, 'stdout', text, cuts);
        c.feed('stderr', END + END);
        expect(strip((await c.take(1000, 50)).lines)).to.deep.equal(expected(first));
        expect(strip((await c.take(1000, 50)).lines)).to.deep.equal(expected(second));
      }),
      { numRuns: 300 },
    );
  });

  it('cuts at a sentinel split one character at a time, and strips a CR whose LF comes in the next chunk', async () => {
    const c = new LogCollector();
    for (const ch of `a\r\nb\n${LOG_SENTINEL}\r\nnext\n`) c.feed('stdout', ch);
    c.feed('stderr', END);
    const seg = await c.take(1000, 50);
    expect(strip(seg.lines)).to.deep.equal(['stdout: a', 'stdout: b']);
    expect(seg.complete).to.equal(true);
  });

  it('takes 40 MB without a newline in linear time, keeping none of it, and says the logs were truncated', async () => {
    const c = new LogCollector();
    c.feed('stdout', 'before\n');
    const started = Date.now();
    feedLong(c, 40 * MiB);
    c.feed('stdout', `\n${END}`);
    c.feed('stderr', END);
    const seg = await c.take(10 * MiB, 50);
    // the old collector joined the partial line with every chunk: minutes for this
    expect(Date.now() - started).to.be.below(2_000);
    expect(strip(seg.lines)).to.deep.equal(['stdout: before']);
    expect(seg).to.deep.include({ truncated: true, complete: true });
    // and the next activation's logs are whole
    c.feed('stdout', `after\n${END}`);
    c.feed('stderr', END);
    expect(strip((await c.take(10 * MiB, 50)).lines)).to.deep.equal(['stdout: after']);
  });

  it('costs time in proportion to the output: twice the output, about twice the time', () => {
    const time = (bytes: number) => {
      const c = new LogCollector({ maxBuffered: 16 * MiB, maxLine: 64 * MiB });
      const t0 = process.hrtime.bigint();
      feedLong(c, bytes, 16 * 1024);
      c.feed('stdout', '\n');
      return Number(process.hrtime.bigint() - t0) / 1e6;
    };
    time(4 * MiB); // warm up
    // the fastest of three: a busy machine stretches single runs, never shortens them
    const best = (bytes: number) => Math.min(time(bytes), time(bytes), time(bytes));
    const small = best(8 * MiB);
    const large = best(32 * MiB);
    // quadratic work would take 16 times as long for 4 times the output
    expect(large / Math.max(small, 1)).to.be.below(8);
  });

  it('keeps a long line that fits the limit whole, and drops one longer than any limit as it streams', async () => {
    const c = new LogCollector({ maxBuffered: 16 * MiB, maxLine: MiB });
    feedLong(c, MiB - 10, 1000);
    c.feed('stdout', '\n');
    feedLong(c, MiB + 10, 1000);
    c.feed('stdout', `\nlast\n${END}`);
    c.feed('stderr', END);
    const seg = await c.take(4 * MiB, 50);
    expect(seg.lines).to.have.length(1);
    expect(seg.lines[0]!.endsWith(`stdout: ${'x'.repeat(MiB - 10)}`)).to.equal(true);
    expect(seg.truncated).to.equal(true);
  });

  it('keeps lines up to the limit in bytes of text, then marks the segment truncated', async () => {
    const c = new LogCollector();
    c.feed('stdout', `${'é'.repeat(30)}\n${'a'.repeat(41)}\n${'b'.repeat(10)}\n${END}`);
    c.feed('stderr', END);
    const seg = await c.take(100, 50);
    expect(strip(seg.lines)).to.deep.equal([`stdout: ${'é'.repeat(30)}`]);
    expect(seg.truncated).to.equal(true);
  });

  it('bounds what a flood of empty lines holds, says so, and still cuts at the sentinel', async () => {
    const c = new LogCollector({ maxBuffered: 64 * 1024 });
    c.feed('stdout', '\n'.repeat(1_000_000));
    c.feed('stdout', END);
    c.feed('stderr', END);
    const seg = await c.take(10 * MiB, 50);
    expect(seg.lines.length).to.be.below(1_100);
    expect(seg).to.deep.include({ truncated: true, complete: true });
    c.feed('stdout', `next\n${END}`);
    c.feed('stderr', END);
    expect(strip((await c.take(10 * MiB, 50)).lines)).to.deep.equal(['stdout: next']);
  });
});

describe("log collector: output without end markers (an image that follows OpenWhisk's contract)", () => {
  it('takes what came until the output went quiet, lines still arriving included, and leaves later lines to the next take', async () => {
    const c = new LogCollector({ marked: false });
    c.feed('stdout', 'one\n');
    c.feed('stderr', 'two\n');
    const t0 = Date.now();
    const taking = c.take(1000, 2_000);
    setTimeout(() => c.feed('stdout', 'late but ours\nno newline'), 10);
    const seg = await taking;
    expect(Date.now() - t0, 'promptly, not after the wait for markers').to.be.lessThan(500);
    expect(strip(seg.lines)).to.deep.equal(['stdout: one', 'stderr: two', 'stdout: late but ours', 'stdout: no newline']);
    expect(seg.complete, 'no "might be incomplete" note').to.equal(true);
    c.feed('stdout', 'next\n');
    expect(strip((await c.take(1000, 2_000)).lines)).to.deep.equal(['stdout: next']);
  });

  it('drops marker lines and stops waiting at the bound when the output never goes quiet', async () => {
    const c = new LogCollector({ marked: false });
    c.feed('stdout', `a\n${LOG_SENTINEL}\n`);
    const chatter = setInterval(() => c.feed('stderr', 'tick\n'), 5);
    const t0 = Date.now();
    const seg = await c.take(1000, 150);
    clearInterval(chatter);
    expect(Date.now() - t0).to.be.within(140, 400);
    expect(strip(seg.lines)[0]).to.equal('stdout: a');
    expect(seg.lines.join('\n')).to.not.contain(LOG_SENTINEL);
  });
});

describe("log collector: a segment taken at once (the invoker's warm path, without a promise)", () => {
  it('cuts at once when the markers came or nothing is to be waited for, and never ahead of a take that waits', async () => {
    const c = new LogCollector();
    c.feed('stdout', `first\n${END}`);
    expect(c.takeAtOnce(1000, 50), 'a marker missing on stderr: to be waited for').to.equal(undefined);
    expect(strip(c.takeAtOnce(1000, 0)!.lines), 'nothing to wait for').to.deep.equal(['stdout: first']);
    c.feed('stdout', `second\n${END}`);
    const waiting = c.take(1000, 2_000);
    c.feed('stdout', `third\n${END}`);
    c.feed('stderr', END + END);
    expect(c.takeAtOnce(1000, 0), 'an earlier take is not served yet').to.equal(undefined);
    expect(strip((await waiting).lines)).to.deep.equal(['stdout: second']);
    // the queue is served (its bookkeeping a reaction later)
    await new Promise((r) => setImmediate(r));
    expect(strip(c.takeAtOnce(1000, 50)!.lines), 'both markers came').to.deep.equal(['stdout: third']);
  });

  it('never at once for output without end markers: that waits for quiet', () => {
    const c = new LogCollector({ marked: false });
    c.feed('stdout', 'one\n');
    expect(c.takeAtOnce(1000, 0)).to.equal(undefined);
  });
});
