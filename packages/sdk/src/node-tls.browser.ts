/**
 * What browser bundles get in place of the Node.js-only TLS fetch (node-tls.ts, on node:https): the
 * package.json `browser` field maps one to the other, so a bundler never meets a node: import. In a browser
 * the browser's own TLS and certificate store apply; client certificates are the browser's to present.
 */

/** Not available in a browser: always rejects. */
export async function tlsFetch(_tls: unknown): Promise<typeof fetch> {
  throw new TypeError(
    'TLS client options are for Node.js; in a browser the browser makes the TLS connection',
  );
}
