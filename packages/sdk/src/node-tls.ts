/**
 * A `fetch` over Node's https module with TLS client options — a client certificate for mTLS, our CA to
 * trust the server — which the global fetch of Node 20 does not take. Loaded only when a client is given
 * `tls` options (never in a browser, where the browser's own TLS and certificate store apply).
 */

/** TLS options of a Node.js client: PEM text or bytes. */
export type TlsClientOptions = {
  /** Client certificate (PEM) for mTLS; with `key`, requests need no app secret. */
  cert?: string | Uint8Array;
  /** Its private key (PEM). */
  key?: string | Uint8Array;
  /** CA certificate(s) the server's certificate must chain to (PEM); default: Node's bundled roots. */
  ca?: string | Uint8Array | (string | Uint8Array)[];
  /** The host name to check the server certificate against, when the URL names an address. */
  servername?: string;
};

const text = (v: string | Uint8Array) => (typeof v === 'string' ? v : new TextDecoder().decode(v));

/** A fetch function for Node.js that connects with `tls` (HTTPS URLs only). */
export async function tlsFetch(tls: TlsClientOptions): Promise<typeof fetch> {
  const https = await import('node:https');
  const { Readable } = await import('node:stream');
  const agent = new https.Agent({
    keepAlive: true,
    ...(tls.cert ? { cert: text(tls.cert) } : {}),
    ...(tls.key ? { key: text(tls.key) } : {}),
    ...(tls.ca ? { ca: (Array.isArray(tls.ca) ? tls.ca : [tls.ca]).map(text) } : {}),
  });
  return (input, init) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
      if (url.protocol !== 'https:') {
        reject(new TypeError(`TLS options need an https:// URL, not ${url.protocol}`));
        return;
      }
      const headers: Record<string, string> = {};
      new Headers(init?.headers).forEach((v, k) => (headers[k] = v));
      const req = https.request(
        url,
        {
          method: init?.method ?? 'GET',
          headers,
          agent,
          ...(tls.servername ? { servername: tls.servername } : {}),
          ...(init?.signal ? { signal: init.signal } : {}),
        },
        (res) => {
          const h = new Headers();
          for (const [k, v] of Object.entries(res.headers))
            if (v !== undefined) for (const x of Array.isArray(v) ? v : [v]) h.append(k, x);
          const status = res.statusCode ?? 502;
          const empty = status === 204 || status === 304 || init?.method === 'HEAD';
          if (empty) res.resume();
          resolve(
            new Response(empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>), {
              status,
              headers: h,
            }),
          );
        },
      );
      req.on('error', reject);
      const body = init?.body;
      if (body === undefined || body === null) req.end();
      else if (typeof body === 'string' || body instanceof Uint8Array) req.end(body);
      else {
        req.destroy();
        reject(new TypeError('the TLS fetch sends string or byte bodies only'));
      }
    });
}
