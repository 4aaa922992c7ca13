/**
 * The stdio runtime proxy: any executable that reads the parameters as JSON on stdin and
 * writes the result as JSON on stdout (OpenFaaS watchdog style). Forked per run, or — when
 * the executable contains the marker `swirl:loop` — started once and fed one JSON line per
 * run. Runs are serialized.
 */
import { activationEnv, applyEnv, type InitValue, initEnv, type RunMessage } from '../common/protocol.ts';
import { type ActionRuntime, serve } from '../common/server.ts';
import { type Executable, prepareExecutable } from './executable.ts';
import { forkRun } from './fork.ts';
import { LoopRunner } from './loop.ts';

/** The variables that stay the same across an action's activations; a long-lived process keeps them. */
const STABLE = ['__OW_NAMESPACE', '__OW_ACTION_NAME', '__OW_ACTION_VERSION', '__OW_API_KEY'];
const stableKey = (env: NodeJS.ProcessEnv) => JSON.stringify(STABLE.map((k) => env[k] ?? null));

class StdioRuntime implements ActionRuntime {
  private exe: Executable | undefined;
  private loop: LoopRunner | undefined;

  async init(value: InitValue): Promise<void> {
    applyEnv(process.env, initEnv(value));
    this.exe = prepareExecutable(value);
    if (this.exe.loop) {
      this.loop = new LoopRunner(this.exe);
      this.loop.start(process.env, stableKey(process.env));
    }
  }

  run(msg: RunMessage): Promise<unknown> {
    const env = { ...process.env };
    const changes = activationEnv(msg);
    if (!this.loop) {
      applyEnv(env, changes);
      return forkRun(this.exe!, msg.value ?? {}, env);
    }
    // a long-lived process cannot see per-activation values (id, deadline, transaction): only the stable ones
    applyEnv(env, Object.fromEntries(STABLE.map((k) => [k, changes[k]])));
    return this.loop.run(msg.value ?? {}, env, stableKey(env));
  }
}

// rehearsed on a throwaway runtime (server.ts) with a script that echoes its parameters: a fork per run, as a real action's
void serve(new StdioRuntime(), { serial: true }, { runtime: new StdioRuntime(), action: { name: 'rehearsal', code: '#!/bin/sh\nexec cat\n' } });
