import { expect } from 'chai';
import { newer } from '../../controller/hub/install.ts';
import { peerMessage } from '../../controller/hub/remote.ts';
import { rank, type Summary } from '../../controller/hub/search.ts';

const entry = (name: string, description: string, invocations30d = 0, successRate: number | null = null): Summary => ({
  ref: `h:1/o/${name}@0.0.1`,
  instance: 'h:1',
  owner: 'o',
  name,
  description,
  figures: { invocations30d, successRate },
});
const answer = (status: number, body: string) => ({ status, headers: new Headers(), body: Buffer.from(body) });

describe('hub consumer parts', function () {
  it('ranks a match in the name over one in the description, then by invocations, then by success rate', function () {
    const ranked = rank([entry('misc', 'resize images', 900, 1), entry('resizer', 'tools', 1, 0.5), entry('resize', 'exact', 0), entry('resizer2', 'more', 1, 0.9), entry('other', 'nothing', 5000)], 'Resize');
    expect(ranked.map((s) => s.name)).to.deep.equal(['resize', 'resizer2', 'resizer', 'misc', 'other']);
    // no query: by use alone
    expect(rank([entry('a', '', 1), entry('b', '', 3), entry('c', '', 2, 1)], '').map((s) => s.name)).to.deep.equal(['b', 'c', 'a']);
  });

  it('compares versions numerically', function () {
    expect(newer('0.0.10', '0.0.9')).to.equal(true);
    expect(newer('0.1.0', '0.0.99')).to.equal(true);
    expect(newer('0.0.2', '0.0.2')).to.equal(false);
    expect(newer('0.0.1', '0.0.2')).to.equal(false);
  });

  it("relays a peer's error only from an OpenWhisk-shaped answer, on one bounded line", function () {
    expect(peerMessage(answer(404, '{"error":"no published package\\n  alice/x","code":"t"}'))).to.equal('no published package alice/x');
    expect(peerMessage(answer(500, '<html>internal page of some service</html>'))).to.equal('HTTP 500');
    expect(peerMessage(answer(404, JSON.stringify({ error: 'x'.repeat(5000) })))).to.have.length(300);
  });
});
