/**
 * Parameters and annotations: OpenWhisk's key-value pairs. Apart from the entity model
 * (common/entities.ts) so that what reads them (the CLI) loads no schema library.
 */
export interface KeyValue {
  key: string;
  value: unknown;
  /**
   * Parameters only: the value is sealed at rest (`aes-256`), as OpenWhisk marks encrypted
   * parameters. The API shows parameters so, and takes them back so on a PUT.
   */
  encryption?: string;
}

/** The value of an annotation (or parameter) by key, or undefined. */
export const annotation = (annotations: KeyValue[] | undefined, key: string): unknown => annotations?.find((a) => a.key === key)?.value;
