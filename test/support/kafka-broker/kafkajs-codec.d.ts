// Types for the two kafkajs protocol primitives the Kafka test broker reuses. kafkajs ships
// no declarations for its internals (and has no exports map, so they import by path).
declare module 'kafkajs/src/protocol/encoder.js' {
  export default class Encoder {
    constructor(initialSize?: number);
    readonly buffer: Buffer;
    size(): number;
    writeInt8(value: number): this;
    writeInt16(value: number): this;
    writeInt32(value: number): this;
    writeInt64(value: number | bigint | string): this;
    writeBoolean(value: boolean): this;
    /** INT16 length + UTF-8; null is length -1. */
    writeString(value: string | null): this;
    /** INT32 length + bytes; null is length -1. */
    writeBytes(value: Buffer | null): this;
    /** INT32 count, then each element (Encoders are appended, numbers as INT32, strings as STRING). */
    writeArray(values: Encoder[] | number[] | string[]): this;
    writeEncoder(value: Encoder): this;
    writeBuffer(value: Buffer): this;
  }
}

declare module 'kafkajs/src/protocol/decoder.js' {
  export default class Decoder {
    constructor(buffer: Buffer);
    offset: number;
    canReadInt32(): boolean;
    canReadBytes(length: number): boolean;
    readInt8(): number;
    readInt16(): number;
    readInt32(): number;
    readInt64(): bigint;
    readBoolean(): boolean;
    readString(): string | null;
    readBytes(): Buffer | null;
    /** INT32 count (-1: null, returned as []), then `reader` per element. */
    readArray<T>(reader: (decoder: Decoder) => T): T[];
  }
}
