/**
 * The nodejs:20 runtime proxy: loads the action into this process and calls its entry
 * function per /run. Runs may overlap (an action's concurrency limit above 1).
 */
import { activationEnv, applyEnv, type InitValue, initEnv, type RunMessage } from '../common/protocol.ts';
import { type ActionRuntime, serve } from '../common/server.ts';
import { type ActionMain, loadAction } from './loader.ts';

/** What a rejection reads as in the `{error}` result: an Error's message, other values as they are. */
const rejectionValue = (reason: unknown): unknown => (reason instanceof Error ? reason.message : reason ?? {});

class NodeRuntime implements ActionRuntime {
  private main: ActionMain | undefined;

  async init(value: InitValue): Promise<void> {
    applyEnv(process.env, initEnv(value));
    this.main = await loadAction(value);
  }

  async run(msg: RunMessage): Promise<unknown> {
    applyEnv(process.env, activationEnv(msg));
    // a synchronous throw propagates (502); a rejected promise is the action's own {error} (200)
    const main = this.main!; // called as a plain function: `this` is not the runtime's business
    const result = main(msg.value ?? {});
    if (!isThenable(result)) return result === undefined ? {} : result;
    try {
      const resolved = await result;
      return resolved === undefined ? {} : resolved;
    } catch (reason) {
      return { error: rejectionValue(reason) };
    }
  }
}

const isThenable = (v: unknown): v is PromiseLike<unknown> => typeof (v as PromiseLike<unknown> | null)?.then === 'function';

// an action's forgotten promise must not take the runtime down: report it in the action's logs
process.on('unhandledRejection', (reason) => {
  process.stderr.write(`Unhandled promise rejection: ${reason instanceof Error && reason.stack ? reason.stack : String(reason)}\n`);
});

// rehearsed on a throwaway runtime (server.ts): the action's code, not the proxy's, is what its first /init compiles
void serve(new NodeRuntime(), {}, { runtime: new NodeRuntime(), action: { name: 'rehearsal', main: 'main', code: 'function main(params) { return params }' } });
