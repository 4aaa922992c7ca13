/**
 * A GET load generator in a process of its own, so the client's CPU is not the server's:
 * `node --import tsx bench/get-load.ts <url-prefix> <authorization> <requests> <clients> <names>`
 * GETs `<url-prefix><i mod names>` over `clients` keep-alive connections and prints one JSON
 * line: `{"rate", "p50", "p99", "statuses"}` (ms, requests/s, count per status).
 */
import http from 'node:http';

const [prefix, authorization, requests, clients, names] = [process.argv[2]!, process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]), Number(process.argv[6])];
const agent = new http.Agent({ keepAlive: true, maxSockets: clients });
const times: number[] = [];
const statuses: Record<number, number> = {};

const get = (i: number): Promise<void> =>
  new Promise((ok, fail) => {
    const start = performance.now();
    http
      .get(`${prefix}${i % names}`, { agent, headers: { authorization } }, (res) => {
        statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
        res.resume();
        res.on('end', () => {
          times.push(performance.now() - start);
          ok();
        });
      })
      .on('error', fail);
  });

let next = 0;
const t0 = performance.now();
await Promise.all(
  Array.from({ length: clients }, async () => {
    while (next < requests) await get(next++);
  }),
);
const elapsed = performance.now() - t0;
agent.destroy();
times.sort((a, b) => a - b);
const at = (p: number) => times[Math.min(times.length - 1, Math.floor((p / 100) * times.length))]!;
console.log(JSON.stringify({ rate: (requests / elapsed) * 1000, p50: at(50), p99: at(99), statuses }));
