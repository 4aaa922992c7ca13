import { ForbiddenError, NotFoundError } from '../../common/errors.ts';
import type { Reach } from '../../common/hub/address.ts';
import { type Bundle, readBundle } from '../../common/hub/manifest.ts';
import { formatRef, type HubRef, packageRefOf } from '../../common/hub/ref.ts';
import type { PeerDirectory } from './peers.ts';
import { DEFAULT_HOPS } from './requests.ts';
import { ANSWER_LIMITS, answerJson, DOWNLOAD_TIMEOUT_MS, getBounded, HubBundleMismatch, HubPeerError, peerMessage } from './remote.ts';

/**
 * A REF's instance as the consumer side talks to it: the package's detail (its current
 * version and digest) and its download, checked. Only this instance and its known peers are
 * reached, at the URL they are known by (a REF names any host:port: taken as it is, an
 * authenticated tenant could make the controller probe its network — Redis, the store,
 * invokers' ops ports, cloud metadata). Any other instance is a 403 that says how to make it
 * a peer, and no connection is made.
 */

/** A REF of an instance that is neither this one nor a known peer. */
export class HubUnknownInstance extends ForbiddenError {
  constructor(instance: string) {
    super(
      `the hub instance ${instance} is not a peer of this instance: only this instance and its known peers are reached. ` +
        `Its operator can add it to SWIRL_HUB_PEERS (comma-separated base URLs, e.g. SWIRL_HUB_PEERS=http://${instance}), or a peer that knows it makes it known (a search learns peers of peers).`,
    );
  }
}

/** What the consumer reads of a package's detail; the rest is passed on as it came. */
export interface Detail {
  ref: string;
  version: string;
  digest: string;
  downloadable?: boolean;
  [key: string]: unknown;
}

/** A downloaded, verified bundle and the detail that announced it. */
export interface Fetched {
  detail: Detail;
  bundle: Bundle;
  /** The zip as served (what `hub get` hands on). */
  zip: Buffer;
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export class Origins {
  constructor(
    private readonly peers: Pick<PeerDirectory, 'find' | 'refresh'>,
    private readonly timeoutMs: number,
  ) {}

  /**
   * Where the REF's instance is reached: this instance's own listening URL for itself, a known
   * peer's URL (a peer of a peer not learned yet is looked for first: known peers are asked
   * for theirs), else HubUnknownInstance.
   */
  async target(ref: HubRef): Promise<{ url: string; reach: Reach }> {
    const known = this.peers.find(ref.instance);
    if (known) return known;
    await this.peers.refresh(DEFAULT_HOPS);
    const learned = this.peers.find(ref.instance);
    if (!learned) throw new HubUnknownInstance(ref.instance);
    return learned;
  }

  private async packageUrl(ref: HubRef): Promise<{ url: string; reach: Reach }> {
    const { url, reach } = await this.target(ref);
    return { url: `${url}/hub/v1/packages/${encodeURIComponent(ref.owner)}/${encodeURIComponent(ref.package)}`, reach };
  }

  /** The package's detail at its instance; a REF with a version other than the current is a 404 that says which is. */
  async detail(ref: HubRef): Promise<Detail> {
    const pkg = packageRefOf(ref);
    const { url, reach } = await this.packageUrl(pkg);
    const answer = await getBounded(url, { timeoutMs: this.timeoutMs, maxBytes: ANSWER_LIMITS.detail, reach });
    if (answer.status === 404) throw new NotFoundError(`${formatRef({ ...pkg, version: undefined })} is not in the hub catalog of ${ref.instance}: ${peerMessage(answer)}`);
    if (answer.status !== 200) throw new HubPeerError(`${ref.instance} answered ${answer.status} for ${formatRef(pkg)}: ${peerMessage(answer)}`);
    const detail = answerJson(answer, url);
    if (!isRecord(detail) || typeof detail.version !== 'string' || typeof detail.digest !== 'string' || typeof detail.ref !== 'string') throw new HubPeerError(`${ref.instance} answered a package detail of another shape for ${formatRef(pkg)}`);
    if (ref.version && detail.version !== ref.version) throw new NotFoundError(`${formatRef(pkg)} is not available at ${ref.instance}: its current version is ${detail.version} (an instance keeps only its current version)`);
    return detail as Detail;
  }

  /**
   * Download the package at its current version and verify it: every file against the
   * manifest, and the manifest's digest against what the detail announced, the download's
   * `X-Swirl-Digest` header and `recorded` (the digest an install recorded, when given).
   */
  async fetch(ref: HubRef, recorded?: string): Promise<Fetched> {
    const detail = await this.detail(ref);
    const pkg = packageRefOf(ref);
    const name = formatRef({ ...pkg, version: detail.version });
    if (detail.downloadable === false) throw new ForbiddenError(`the publisher does not allow downloads of ${name}`);
    const at = await this.packageUrl(pkg);
    const answer = await getBounded(`${at.url}/download`, { timeoutMs: DOWNLOAD_TIMEOUT_MS, maxBytes: ANSWER_LIMITS.download, reach: at.reach }, 'application/zip');
    if (answer.status === 403) throw new ForbiddenError(`the publisher does not allow downloads of ${name}`);
    if (answer.status === 404) throw new NotFoundError(`${name} is not in the hub catalog of ${ref.instance}: ${peerMessage(answer)}`);
    if (answer.status !== 200) throw new HubPeerError(`${ref.instance} answered ${answer.status} for the download of ${name}: ${peerMessage(answer)}`);
    const announced = answer.headers.get('x-swirl-digest');
    for (const other of [announced, recorded]) if (other && other !== detail.digest) throw new HubBundleMismatch(name, detail.digest, other);
    let bundle: Bundle;
    try {
      bundle = readBundle(new Uint8Array(answer.body), detail.digest);
    } catch (e) {
      throw new HubBundleMismatch(name, detail.digest, undefined, e as Error);
    }
    if (bundle.manifest.package.version !== detail.version) throw new HubBundleMismatch(name, detail.digest, undefined, new Error(`the bundle holds version ${bundle.manifest.package.version}`));
    return { detail, bundle, zip: answer.body };
  }
}
