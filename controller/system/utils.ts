import type { SystemPackage } from './packages.ts';

/**
 * `/whisk.system/utils`: OpenWhisk's small text utilities, as Node.js actions every
 * namespace can invoke or chain in sequences (`split` → `sort` → `head` → `cat`).
 */
export const utilsPackage: SystemPackage = {
  name: 'utils',
  annotations: [{ key: 'description', value: 'Building blocks that format and assemble data' }],
  actions: [
    {
      name: 'echo',
      description: 'Returns the input',
      code: `function main(params) {
  return params || {};
}`,
    },
    {
      name: 'cat',
      description: 'Concatenates input into a string',
      parameters: [{ name: 'lines', description: 'An array of strings' }],
      code: `function main(params) {
  const lines = Array.isArray(params.lines) ? params.lines : [];
  return { lines, payload: lines.join('\\n') };
}`,
    },
    {
      name: 'sort',
      description: 'Sorts an array',
      parameters: [{ name: 'lines', description: 'An array of strings' }],
      code: `function main(params) {
  const lines = Array.isArray(params.lines) ? [...params.lines] : [];
  lines.sort();
  return { lines, length: lines.length };
}`,
    },
    {
      name: 'head',
      description: 'Extracts the head of an array',
      parameters: [
        { name: 'lines', description: 'An array of strings' },
        { name: 'num', description: 'How many to keep (default 1)' },
      ],
      code: `function main(params) {
  const lines = Array.isArray(params.lines) ? params.lines : [];
  const num = Number.isInteger(params.num) && params.num >= 0 ? params.num : 1;
  const head = lines.slice(0, num);
  return { lines: head, num: head.length };
}`,
    },
    {
      name: 'split',
      description: 'Splits a string into an array of strings',
      // without a separator, lines (\n or \r\n)
      parameters: [
        { name: 'payload', description: 'A string' },
        { name: 'separator', description: 'Where to split (default: line ends)' },
      ],
      code: `function main(params) {
  const payload = typeof params.payload === 'string' ? params.payload : '';
  const lines = typeof params.separator === 'string' && params.separator !== '' ? payload.split(params.separator) : payload.split(/\\r?\\n/);
  return { lines, payload };
}`,
    },
    {
      name: 'date',
      description: 'Current date and time',
      code: `function main() {
  const now = new Date();
  return { date: now.toISOString(), epochMs: now.getTime() };
}`,
    },
  ],
};
