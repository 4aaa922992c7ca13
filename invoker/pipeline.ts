import { type ActivationRecord, hasError } from '../common/activation.ts';

/**
 * One stage of a pipeline: run the component on `input`, calling `onResponse` once with its
 * record as soon as its result is known (before its logs are collected and it is stored);
 * the promise settles once it is stored.
 */
export type Stage = (input: Record<string, unknown>, onResponse: (record: ActivationRecord) => void) => Promise<unknown>;

/**
 * Run a sequence's components one after the other on this invoker (ActivationMessage.pipeline),
 * as the controller runs a sequence: the first on `params`, each next one on the previous
 * result as soon as that is known — while the previous one's logs are still being collected
 * and its record stored — and none after a result that carries an `error`. `answered`
 * resolves with the records of the stages that ran, once the last one's result is known;
 * `done` once every one of them has settled (stored, or failed to be).
 */
export function runPipeline(stages: readonly Stage[], params: Record<string, unknown>): { answered: Promise<ActivationRecord[]>; done: Promise<void> } {
  const records: ActivationRecord[] = [];
  const runs: Promise<unknown>[] = [];
  const answered = new Promise<ActivationRecord[]>((ok) => {
    const start = (i: number, input: Record<string, unknown>) => {
      let responded = false;
      const run = stages[i]!(input, (record) => {
        if (responded) return;
        responded = true;
        records.push(record);
        if (i + 1 < stages.length && !hasError(record.response)) start(i + 1, (record.response.result ?? {}) as Record<string, unknown>);
        else ok(records);
      });
      // a stage that ends without a response ends the pipeline with what ran before it (its error is the stage's to report)
      runs.push(run.catch(() => undefined).finally(() => !responded && ok(records)));
    };
    if (stages.length) start(0, params);
    else ok(records);
  });
  const done = answered.then(() => Promise.allSettled(runs)).then(() => undefined);
  return { answered, done };
}
