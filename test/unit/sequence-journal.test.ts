import { expect } from 'chai';
import type { ActivationRecord } from '../../common/activation.ts';
import type { MessageBus } from '../../common/bus.ts';
import { MemoryBus } from '../../common/bus/memory.ts';
import { ServiceUnavailableError } from '../../common/errors.ts';
import { silentLogger } from '../../common/logger.ts';
import { SequenceJournal, SequenceJournalMessages, type SequenceStart } from '../../controller/sequence-journal.ts';

const sleep = (ms: number) => new Promise((ok) => setTimeout(ok, ms));

/**
 * The sequence journal on one memory bus: closing a journal drops its consumer as a crash
 * would, and a journal started after it with the same controller id is the restarted
 * controller, which gets the unacknowledged starts again.
 */
describe('SequenceJournal', () => {
  let bus: MessageBus;
  let written: ActivationRecord[];
  let stored: Set<string>;

  const journal = () =>
    SequenceJournal.start({
      bus,
      controllerId: '0',
      store: { getActivation: async (_ns: string, id: string) => (stored.has(id) ? ({ activationId: id } as ActivationRecord) : undefined) } as never,
      records: {
        write: async (r: ActivationRecord) => {
          written.push(r);
        },
      },
      log: silentLogger,
    });
  const start = (id: string): SequenceStart => ({ activationId: id, identity: { namespace: 'ns', subject: 'alice' }, name: 'chain', version: '0.0.1', path: 'ns/pkg/chain', start: 1_000 });

  beforeEach(() => {
    bus = new MemoryBus({ log: silentLogger });
    written = [];
    stored = new Set();
  });
  afterEach(() => bus.close());

  it('after a restart, records a sequence that had not finished as interrupted, and nothing for one that had', async () => {
    const before = await journal();
    const finished = await before.began(start('a'.repeat(32)));
    await before.began(start('b'.repeat(32))); // never settled: still running at the crash
    finished(Promise.resolve());
    await sleep(20);
    await before.close();
    expect(written, 'nothing written while the controller runs').to.deep.equal([]);

    await journal();
    await sleep(20);
    expect(written.map((r) => r.activationId)).to.deep.equal(['b'.repeat(32)]);
    const [r] = written;
    expect(r!.response).to.deep.include({ status: 'whisk internal error', statusCode: 3, success: false, result: { error: SequenceJournalMessages.interrupted } });
    expect(r).to.deep.include({ namespace: 'ns', subject: 'alice', name: 'chain', version: '0.0.1', start: 1_000 });
    expect(r!.annotations).to.deep.include.members([
      { key: 'path', value: 'ns/pkg/chain' },
      { key: 'kind', value: 'sequence' },
    ]);
  });

  it('writes nothing for an interrupted sequence whose record was stored before the crash', async () => {
    const before = await journal();
    await before.began(start('c'.repeat(32)));
    stored.add('c'.repeat(32));
    await before.close();
    await journal();
    await sleep(20);
    expect(written).to.deep.equal([]);
  });

  it('rejects the start when the bus cannot take it, so the sequence does not run', async () => {
    const j = await journal();
    await bus.close();
    let err: unknown;
    await j.began(start('d'.repeat(32))).catch((e: unknown) => (err = e));
    expect(err).to.be.instanceOf(ServiceUnavailableError);
  });
});
