import jwt from 'jsonwebtoken';
import { keyDigest, keyMatches } from '../common/credentials.ts';
import { ForbiddenError, UnauthorizedError } from '../common/errors.ts';
import { type Identity, identityOf } from '../common/identity.ts';
import type { EntityStore } from '../common/store/entity-store.ts';
import type { ActionKeys } from './action-keys.ts';

const TOKEN_ISSUER = 'swirl';
/** Verified Basic credentials kept at most (then the map starts over). */
const MAX_VERIFIED = 10_000;

/**
 * What a token says: the subject and namespace, and the namespace's uuid and a digest of its
 * key hash — a user deleted and created again under the same name gets a new uuid, a new
 * key a new hash, so the tokens issued before either no longer verify.
 */
interface TokenClaims {
  sub: string;
  ns: string;
  uid: string;
  kd: string;
}

export interface IssuedToken {
  token: string;
  expires_in: number;
  namespace: string;
}

/** An Authorization header's scheme (lower case) and value, or undefined when it has no `SCHEME value` shape. */
function splitAuthorization(header: string | undefined): { scheme: string; value: string } | undefined {
  const space = header ? header.indexOf(' ') : -1;
  if (!header || space <= 0) return undefined;
  return { scheme: header.slice(0, space).toLowerCase(), value: header.slice(space + 1).trim() };
}

/**
 * Authenticates callers: `Basic base64(uuid:key)` against the key hashes of the subjects
 * database (the scheme is case-insensitive, comparisons constant-time) — the namespace's
 * key or the action key derived from it (ActionKeys) —, or `Bearer <JWT>` issued by
 * `issue()`, scoped to one namespace and valid while that namespace keeps its uuid and key.
 * Identities read from the store are cached briefly.
 */
export class Authenticator {
  private readonly cache = new Map<string, { identity: Identity; expires: number }>();
  /**
   * Basic credentials verified lately, by their exact header value: for as long as the
   * identity they prove is cached, a repeated request costs a lookup instead of the hashes.
   * Only verified credentials enter (a flood of wrong ones adds nothing); bounded.
   */
  private readonly verified = new Map<string, { identity: Identity; expires: number }>();

  constructor(
    private readonly store: EntityStore,
    private readonly secret: string,
    private readonly actionKeys: ActionKeys,
    private readonly opts: { cacheMs: number; tokenTtlSeconds: number },
  ) {}

  /**
   * The identity of Basic credentials verified lately, at once, or undefined (not verified
   * lately: authenticate them). The common request pays no promise: with the log context
   * carried by AsyncLocalStorage, every promise costs on Node 20 (issue 17).
   */
  verifiedLately(header: string | undefined): Identity | undefined {
    const credentials = splitAuthorization(header);
    return credentials?.scheme === 'basic' ? this.lately(credentials.value) : undefined;
  }

  async authenticate(header: string | undefined): Promise<Identity> {
    const credentials = splitAuthorization(header);
    if (credentials?.scheme === 'basic') return this.basic(credentials.value);
    if (credentials?.scheme === 'bearer') return this.bearer(credentials.value);
    throw new UnauthorizedError();
  }

  /** The identity of Basic credentials (the header's value) verified within the cache time, if any. */
  private lately(value: string): Identity | undefined {
    const hit = this.verified.get(value);
    return hit && hit.expires > Date.now() ? hit.identity : undefined;
  }

  private async basic(value: string): Promise<Identity> {
    const now = Date.now();
    const known = this.lately(value);
    if (known) return known;
    const identity = await this.verifyBasic(value);
    if (this.opts.cacheMs > 0) {
      if (this.verified.size >= MAX_VERIFIED) this.verified.clear();
      this.verified.set(value, { identity, expires: now + this.opts.cacheMs });
    }
    return identity;
  }

  private async verifyBasic(value: string): Promise<Identity> {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw new UnauthorizedError();
    const uuid = decoded.slice(0, colon);
    const key = decoded.slice(colon + 1);
    const identity = await this.byUuid(uuid);
    // (a namespace without a hash holds a key an older version stored: usable once a controller start has hashed it)
    if (!identity?.keyHash) throw new UnauthorizedError();
    // both checked, so that the time taken does not tell which kind of key was sent
    const [own, action] = [keyMatches(key, identity.keyHash), this.actionKeys.matches(identity, key)];
    if (!own && !action) throw new UnauthorizedError();
    return identity;
  }

  /**
   * The identity that owns `uuid` and the secret its AWS Signature Version 4 requests are
   * signed with (controller/lambda/): the namespace's action key (ActionKeys), which the server
   * can compute again — the key itself is kept only hashed, and SigV4 needs the secret on both
   * sides. Undefined for an unknown or blocked uuid.
   */
  async signingSecret(uuid: string): Promise<{ identity: Identity; secret: string } | undefined> {
    const identity = await this.byUuid(uuid);
    if (!identity?.keyHash) return undefined;
    return { identity, secret: this.actionKeys.keyFor(identity).slice(uuid.length + 1) };
  }

  private async bearer(token: string): Promise<Identity> {
    let claims: TokenClaims;
    try {
      claims = jwt.verify(token, this.secret, { algorithms: ['HS256'], issuer: TOKEN_ISSUER }) as TokenClaims;
    } catch {
      throw new UnauthorizedError();
    }
    if (typeof claims.sub !== 'string' || typeof claims.ns !== 'string') throw new UnauthorizedError();
    // the subject must still own the namespace, with the uuid and key the token was issued
    // for: deleting a user (even if one of that name is created again) or replacing its key
    // revokes its tokens
    const subject = await this.store.getSubject(claims.sub);
    const ns = subject?.namespaces.find((n) => n.name === claims.ns);
    if (!subject || !ns || subject.blocked || ns.uuid !== claims.uid || !ns.keyHash || keyDigest(ns.keyHash) !== claims.kd) throw new UnauthorizedError();
    return identityOf(subject, ns);
  }

  private byUuid(uuid: string): Promise<Identity | undefined> {
    return this.cached(uuid, async () => {
      const found = await this.store.subjectByUuid(uuid);
      return found && !found.subject.blocked ? identityOf(found.subject, found.subject.namespaces.find((n) => n.uuid === uuid)!) : undefined;
    });
  }

  /**
   * The identity that owns a namespace, or undefined (no owner, or blocked): what runs
   * on its behalf without a caller of its own — web actions, feeds firing its triggers.
   */
  ownerOf(namespace: string): Promise<Identity | undefined> {
    return this.cached(`ns:${namespace}`, async () => {
      const subject = await this.store.subjectByNamespace(namespace);
      const ns = subject?.namespaces.find((n) => n.name === namespace);
      return subject && ns && !subject.blocked ? identityOf(subject, ns) : undefined;
    });
  }

  private async cached(key: string, load: () => Promise<Identity | undefined>): Promise<Identity | undefined> {
    const now = Date.now();
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return hit.identity;
    const identity = await load();
    if (!identity) {
      this.cache.delete(key);
      return undefined;
    }
    if (this.opts.cacheMs > 0) this.cache.set(key, { identity, expires: now + this.opts.cacheMs });
    return identity;
  }

  /** Forget cached identities (after an admin change in this process). */
  invalidate(): void {
    this.cache.clear();
    this.verified.clear();
  }

  /**
   * Issue a token for the caller's namespace. Only a caller that proved its key may get
   * one, so a token cannot be used to extend itself.
   */
  issue(identity: Identity, viaKey: boolean, expiresIn?: number): IssuedToken {
    if (!viaKey) throw new ForbiddenError('A token can only be issued to a caller authenticated with its key.');
    const ttl = Math.min(expiresIn ?? this.opts.tokenTtlSeconds, this.opts.tokenTtlSeconds);
    const claims: Omit<TokenClaims, 'sub'> = { ns: identity.namespace, uid: identity.uuid, kd: keyDigest(identity.keyHash) };
    const token = jwt.sign(claims, this.secret, {
      algorithm: 'HS256',
      subject: identity.subject,
      issuer: TOKEN_ISSUER,
      expiresIn: ttl,
    });
    return { token, expires_in: ttl, namespace: identity.namespace };
  }
}
