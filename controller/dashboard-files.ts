import { readFile } from 'node:fs/promises';

/**
 * The dashboard's static files (controller/dashboard/), by the name they are served under.
 * The folder is found beside this file's folder: a source file and a bundle in dist/ are both
 * one level under the root.
 */
const FOLDER = new URL('../controller/dashboard/', import.meta.url);

const TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
  svg: 'image/svg+xml',
};

/** Only these are served: no path from a request reaches the file system. */
export const DASHBOARD_FILES = ['index.html', 'app.js', 'api.js', 'charts.js', 'dom.js', 'hub.js', 'style.css', 'favicon.svg'] as const;

export interface StaticFile {
  type: string;
  body: Buffer;
}

const cache = new Map<string, Promise<StaticFile>>();

/** One of DASHBOARD_FILES, read once; undefined for any other name. */
export function dashboardFile(name: string): Promise<StaticFile> | undefined {
  if (!(DASHBOARD_FILES as readonly string[]).includes(name)) return undefined;
  let file = cache.get(name);
  if (!file) {
    file = readFile(new URL(name, FOLDER)).then((body) => ({ type: TYPES[name.split('.').pop()!]!, body }));
    file.catch(() => cache.delete(name));
    cache.set(name, file);
  }
  return file;
}

/**
 * A page that holds a key: its own scripts and styles only (no inline script), no framing,
 * no referrer, requests to this origin only.
 */
export const DASHBOARD_HEADERS = {
  'Content-Security-Policy': "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};
