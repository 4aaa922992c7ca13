import { type Command, InvalidArgumentError } from 'commander';
import type { KeyValue } from '../../common/entities.ts';
import { collectPair } from '../params.ts';

/** Option parsers and option sets that several command groups share. */

export function integer(text: string): number {
  if (!/^-?\d+$/.test(text)) throw new InvalidArgumentError('must be an integer');
  return Number(text);
}

export interface ParamOptions {
  param?: KeyValue[];
  paramFile?: string;
}

export interface AnnotationOptions {
  annotation?: KeyValue[];
  annotationFile?: string;
}

/** `-p KEY VALUE` (repeatable; VALUE is JSON when it parses) and `-P FILE` (a JSON object). */
export const withParams = (cmd: Command, what = 'parameter'): Command =>
  cmd.option('-p, --param <key value>', `${what} KEY VALUE (repeatable; VALUE is parsed as JSON when it can be)`, collectPair).option('-P, --param-file <file>', `${what}s from a JSON file holding an object`);

/** `-a KEY VALUE` and `-A FILE`. */
export const withAnnotations = (cmd: Command): Command =>
  cmd.option('-a, --annotation <key value>', 'annotation KEY VALUE (repeatable; VALUE is parsed as JSON when it can be)', collectPair).option('-A, --annotation-file <file>', 'annotations from a JSON file holding an object');

export interface PagingOptions {
  limit?: number;
  skip?: number;
  nameSort?: boolean;
}

/** `--limit`, `--skip` and `--name-sort` of listings. */
export const withPaging = (cmd: Command): Command =>
  cmd
    .option('-l, --limit <n>', 'list at most N entities (default 30, at most 200)', integer)
    .option('-s, --skip <n>', 'skip the first N entities', integer)
    .option('-n, --name-sort', 'sort by name (default: newest first)');

export interface SharedOption {
  shared?: boolean;
}

/** `--shared yes|no`: whether other namespaces may see the entity (its `publish`). */
export const withShared = (cmd: Command): Command =>
  cmd.option('--shared <yes|no>', 'share with other namespaces (yes) or not (no)', (v: string) => {
    if (/^(yes|true)$/i.test(v)) return true;
    if (/^(no|false)$/i.test(v)) return false;
    throw new InvalidArgumentError('must be yes or no');
  });
