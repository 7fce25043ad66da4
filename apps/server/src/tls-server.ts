/**
 * HTTPS for the server (config `tls`): the server certificate and key from PEM files, and mTLS for the
 * signing API — client certificates are requested but not required, and the TLS stack is given our ECDSA and
 * RSA CA certificates to check them against (Node's TLS cannot verify SM2 chains; TLCP is not available).
 * Whether a certificate authenticates an application is decided per request (routes/mtls.ts, @medsign/sign
 * credentials.ts): chain, status at our CA, binding.
 */

import { readFileSync } from 'node:fs';
import type { ServerOptions } from 'node:https';
import type { IssuingCa } from '@medsign/ca';
import { DomainError } from '@medsign/errors';
import type { TlsConfig } from './config.js';

function read(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new DomainError(
      'CONFIG_INVALID',
      `tls.${what}: ${path} cannot be read (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`,
    );
  }
}

/** The https.Server options of a TLS configuration, with our non-SM2 CAs as the client-certificate trust list. */
export function tlsServerOptions(tls: TlsConfig, cas: readonly IssuingCa[]): ServerOptions {
  const ca: string[] = [];
  for (const c of cas) {
    for (const cert of [c.certificate, ...c.chain]) {
      if (cert.publicKey.family === 'sm2') continue;
      const pem = cert.toPem();
      if (!ca.includes(pem)) ca.push(pem);
    }
  }
  return {
    cert: read(tls.certFile, 'certFile'),
    key: read(tls.keyFile, 'keyFile'),
    ...(ca.length ? { ca } : {}),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
  };
}
