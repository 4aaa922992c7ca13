import { runCli } from './main.ts';

/** `npm run admin -- user create NAME`: the CLI's `swirl admin` commands. */
process.exitCode = await runCli(['admin', ...process.argv.slice(2)]);
