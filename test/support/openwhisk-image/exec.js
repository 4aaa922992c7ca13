#!/usr/bin/env node
// The stand-in image's own executable (/action/exec): the parameters are its one argument,
// its last stdout line is the result. What it does is what the tests ask of it.
/* global process, setTimeout */
const p = JSON.parse(process.argv[2] || '{}');
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('__OW_')));
const reply = (result) => process.stdout.write(`${JSON.stringify(result)}\n`);
if (p.fail) {
  process.stderr.write('failing on purpose\n');
  process.exit(3);
} else if (p.appError) {
  reply({ error: p.appError });
} else if (p.n !== undefined) {
  process.stdout.write(`start ${p.n}\n`);
  setTimeout(() => {
    process.stderr.write(`end ${p.n}\n`);
    reply({ n: p.n, host: process.env.HOSTNAME });
  }, p.ms ?? 100);
} else {
  reply({ own: 'the image executable', host: process.env.HOSTNAME, env });
}
