import { ForbiddenError, NotFoundError } from '../../common/errors.ts';
import { type Bundle, readBundle } from '../../common/hub/manifest.ts';
import { formatRef, type HubRef, instanceUrl, packageRefOf } from '../../common/hub/ref.ts';
import type { PeerDirectory } from './peers.ts';
import { ANSWER_LIMITS, answerJson, DOWNLOAD_TIMEOUT_MS, getBounded, HubBundleMismatch, HubPeerError, peerMessage } from './remote.ts';

/**
 * A REF's instance as the consumer side talks to it: the package's detail (its current
 * version and digest) and its download, checked. The URL comes from the REF (its scheme when
 * written as a URL, else a known peer's or this instance's URL with that host:port, else https).
 */

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
    private readonly peers: Pick<PeerDirectory, 'urls' | 'self' | 'localUrl'>,
    private readonly timeoutMs: number,
  ) {}

  /** Base URL of the REF's instance: this instance's own listening URL for itself. */
  baseUrl(ref: HubRef): string {
    if (!ref.scheme && ref.instance === this.peers.self().id) return this.peers.localUrl();
    return instanceUrl(ref, this.peers.urls());
  }

  private packageUrl(ref: HubRef): string {
    return `${this.baseUrl(ref)}/hub/v1/packages/${encodeURIComponent(ref.owner)}/${encodeURIComponent(ref.package)}`;
  }

  /** The package's detail at its instance; a REF with a version other than the current is a 404 that says which is. */
  async detail(ref: HubRef): Promise<Detail> {
    const pkg = packageRefOf(ref);
    const url = this.packageUrl(pkg);
    const answer = await getBounded(url, { timeoutMs: this.timeoutMs, maxBytes: ANSWER_LIMITS.detail });
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
    const url = `${this.packageUrl(pkg)}/download`;
    const answer = await getBounded(url, { timeoutMs: DOWNLOAD_TIMEOUT_MS, maxBytes: ANSWER_LIMITS.download }, 'application/zip');
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
