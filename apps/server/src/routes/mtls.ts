/**
 * The TLS client certificate of a request, for mTLS authentication of signing-API applications. The server
 * asks every TLS client for a certificate but lets the handshake finish without one or with one it cannot
 * verify (`requestCert: true, rejectUnauthorized: false`): HMAC-signed requests need none, and a refused
 * certificate gets a problem+json answer with a reason instead of a bare handshake failure.
 */

import type { TLSSocket } from 'node:tls';
import type { FastifyRequest } from 'fastify';

/** The peer certificate (DER) and whether Node's TLS verified its chain to the CA list, or undefined. */
export function peerCertificate(
  request: FastifyRequest,
): { certificate: Uint8Array; handshakeVerified: boolean; handshakeError?: string } | undefined {
  const socket = request.raw.socket as Partial<TLSSocket> | undefined;
  if (!socket?.encrypted || typeof socket.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate(false);
  if (!peer || !peer.raw || peer.raw.length === 0) return undefined;
  const error = socket.authorizationError;
  return {
    certificate: new Uint8Array(peer.raw),
    handshakeVerified: socket.authorized === true,
    ...(error ? { handshakeError: String(error) } : {}),
  };
}
