import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** The encryption a sealed value names (OpenWhisk's name for AES-256-GCM parameter encryption). */
export const SEALED_WITH = 'aes-256';

const IV_BYTES = 12;
const TAG_BYTES = 16;

/**
 * AES-256-GCM with a random IV per value, in OpenWhisk's layout for encrypted parameters:
 * base64 of (IV length as a 32-bit big-endian integer, IV, ciphertext, tag). The associated
 * data names what the value belongs to (a parameter of one entity, one server secret), so a
 * sealed value copied elsewhere does not open there. The keys are derived from the master key
 * (HKDF-SHA256), not the master key itself, so other uses of the master key stay apart.
 */
export class Sealer {
  private readonly key: Buffer;
  private readonly ivKey: Buffer;

  constructor(masterKey: Buffer) {
    if (masterKey.length !== 32) throw new Error('the master key must be 32 bytes');
    const derive = (purpose: string) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), purpose, 32));
    this.key = derive('swirl store v1');
    this.ivKey = derive('swirl store v1 synthetic iv');
  }

  /**
   * Seal with a random IV (what is stored), or, `stable`, with an IV derived from the value
   * and its associated data (HMAC-SHA256, as synthetic-IV schemes do): the same value of the
   * same parameter then seals the same every time — what the API shows, so that reading an
   * entity twice gives the same answer. An IV repeats only for the very same value and
   * associated data, which GCM tolerates (it gives the same ciphertext).
   */
  seal(plain: string, aad: string, stable = false): string {
    const iv = stable ? createHmac('sha256', this.ivKey).update(aad).update('\0').update(plain).digest().subarray(0, IV_BYTES) : randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(Buffer.from(aad, 'utf8'));
    const head = Buffer.alloc(4);
    head.writeUInt32BE(IV_BYTES);
    return Buffer.concat([head, iv, cipher.update(plain, 'utf8'), cipher.final(), cipher.getAuthTag()]).toString('base64');
  }

  /** The plain text, or undefined when `sealed` does not open with this key and `aad`. */
  open(sealed: string, aad: string): string | undefined {
    const bytes = Buffer.from(sealed, 'base64');
    if (bytes.length < 4) return undefined;
    const ivLength = bytes.readUInt32BE(0);
    if (ivLength !== IV_BYTES || bytes.length < 4 + ivLength + TAG_BYTES) return undefined;
    const iv = bytes.subarray(4, 4 + ivLength);
    const body = bytes.subarray(4 + ivLength, bytes.length - TAG_BYTES);
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, iv, { authTagLength: TAG_BYTES });
      decipher.setAAD(Buffer.from(aad, 'utf8'));
      decipher.setAuthTag(bytes.subarray(bytes.length - TAG_BYTES));
      return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8');
    } catch {
      return undefined;
    }
  }
}
