import { expect } from 'chai';
import fc from 'fast-check';
import { JsonTooDeepError, PayloadTooLargeError } from '../../common/errors.ts';
import { jsonTooDeep, MAX_JSON_DEPTH, parseJson, stringifyBounded, valueTooDeep } from '../../common/json.ts';

const nestedArrays = (n: number): string => '['.repeat(n) + ']'.repeat(n);
const nestedObjects = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);

/** Depth of a parsed value, the obvious recursive way (the tests keep it shallow). */
const depthOf = (v: unknown): number => (v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v).map(depthOf)) : 0);

describe('bounded JSON', () => {
  it(`accepts ${MAX_JSON_DEPTH} levels and refuses ${MAX_JSON_DEPTH + 1} with a 400 naming the bound`, () => {
    for (const make of [nestedArrays, nestedObjects]) {
      expect(depthOf(parseJson(make(MAX_JSON_DEPTH)))).to.equal(MAX_JSON_DEPTH);
      expect(() => parseJson(make(MAX_JSON_DEPTH + 1)))
        .to.throw(JsonTooDeepError, `JSON nested more than ${MAX_JSON_DEPTH} levels deep.`)
        .with.property('status', 400);
    }
    const mixed = '{"a":[{"b":['.repeat(25) + ']}]}'.repeat(25);
    expect(depthOf(parseJson(mixed))).to.equal(100);
    expect(() => parseJson(`[${mixed}]`)).to.throw(JsonTooDeepError);
  });

  it('refuses a million levels quickly, with no stack overflow', () => {
    const started = Date.now();
    expect(() => parseJson(nestedArrays(1_000_000))).to.throw(JsonTooDeepError);
    expect(() => parseJson(Buffer.from(nestedObjects(1_000_000)))).to.throw(JsonTooDeepError);
    expect(Date.now() - started).to.be.below(1_000);
  });

  it('does not count brackets inside strings, escaped quotes and backslashes included', () => {
    const inString = JSON.stringify({ s: '['.repeat(500) + '\\"{{{' + '\\'.repeat(7) + '"[[[' });
    expect(parseJson(inString)).to.deep.equal(JSON.parse(inString));
    // an escaped backslash ends the string: the brackets after it are structure
    const afterEscapes = `["\\\\", ${nestedArrays(MAX_JSON_DEPTH)}]`;
    expect(() => parseJson(afterEscapes)).to.throw(JsonTooDeepError);
    expect(jsonTooDeep(`["\\"]]]]", ${nestedArrays(3)}]`, 4)).to.equal(false);
    expect(jsonTooDeep(`["\\"]]]]", ${nestedArrays(4)}]`, 4)).to.equal(true);
  });

  it('agrees with the depth of what JSON.parse makes, for any JSON text', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), fc.integer({ min: 0, max: 7 }), fc.boolean(), (v, max, pretty) => {
        const text = pretty ? JSON.stringify(v, null, 2) : JSON.stringify(v);
        expect(jsonTooDeep(text, max), text).to.equal(depthOf(JSON.parse(text)) > max);
        if (depthOf(v) <= MAX_JSON_DEPTH) expect(parseJson(text)).to.deep.equal(JSON.parse(text));
      }),
      { numRuns: 500 },
    );
  });

  it('leaves invalid JSON to JSON.parse (a SyntaxError), unclosed strings and stray brackets included', () => {
    for (const bad of ['{', '"abc', ']]]]', '[1,]', '{"a":1}}', '\ufeff{}', '']) expect(() => parseJson(bad), bad).to.throw(SyntaxError);
  });

  it('refuses more bytes than allowed with a 413 naming the sizes', () => {
    expect(() => parseJson('"ééé"', { maxBytes: 7, what: 'payload' }))
      .to.throw(PayloadTooLargeError, 'payload larger than allowed: 8 > 7 bytes.')
      .with.property('status', 413);
    expect(parseJson(Buffer.from('"ééé"'), { maxBytes: 8 })).to.equal('ééé');
  });

  it('walks values built in-process without recursion: deep, cyclic, and wide ones', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(valueTooDeep(deep, MAX_JSON_DEPTH)).to.equal(true);
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(valueTooDeep(cyclic, MAX_JSON_DEPTH)).to.equal(true);
    expect(valueTooDeep({ a: Array.from({ length: 100_000 }, (_, i) => ({ i })) }, 3)).to.equal(false);
    expect(valueTooDeep({ a: [{ b: 1 }] }, 2)).to.equal(true);
  });

  it('stringifies a value only within the bounds', () => {
    expect(stringifyBounded({ a: [1, 'x'] })).to.equal('{"a":[1,"x"]}');
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    expect(() => stringifyBounded(cyclic)).to.throw(JsonTooDeepError);
    expect(() => stringifyBounded({ s: 'x'.repeat(20) }, { maxBytes: 10, what: 'result' })).to.throw(PayloadTooLargeError, 'result larger than allowed: 28 > 10 bytes.');
  });
});
