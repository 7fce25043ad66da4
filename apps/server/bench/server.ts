/**
 * What the HTTP benchmarks (sign.ts, verify-http.ts) set up alike: a fresh data directory and the real server
 * stack on 127.0.0.1 (MEDSIGN_SIGNER_THREADS passes through, so the SM2 worker pool can be compared), one
 * application without a practical rate limit, the signer D001 (PIN 123456) with a 10-hour signing
 * authorisation for it, and the HMAC-SM3 headers of a request of that application.
 */

import { randomBytes } from 'node:crypto';
import {
  AUTH_HEADERS,
  bodyDigest,
  createApp,
  enrolSigner,
  grantAuthorisation,
  signRequest,
} from '@medsign/sign';
import { tempDir } from '@medsign/testkit';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { initDataDir } from '../src/init.js';
import { openServices, type Services } from '../src/services.js';

/** The bench application (no practical rate limit) and the signer D001 (PIN 123456), authorised for it for 10 hours. */
export async function addBenchApp(deps: Services['sign']['deps']) {
  const created = await createApp(
    { name: 'bench HIS', systemType: 'HIS', rateLimit: 1_000_000 },
    'bench',
    deps,
  );
  await enrolSigner(
    { name: '张三', employeeNo: 'D001', departmentCode: '0101', pin: '123456' },
    'bench',
    deps,
  );
  await grantAuthorisation({ signer: 'D001', pin: '123456', durationMinutes: 600 }, created.app.id, deps);
  return created;
}

/** Opens the services and builds the app; `ready` then adds the application and the signer and listens. */
export async function openBenchServer(prefix: string) {
  const dir = tempDir(prefix);
  await initDataDir({ dataDir: dir.path, env: {} });
  const threads = process.env.MEDSIGN_SIGNER_THREADS;
  const services = await openServices(
    loadConfig({ dataDir: dir.path, env: threads === undefined ? {} : { MEDSIGN_SIGNER_THREADS: threads } }),
  );
  const app = await buildApp(services, { logger: false });

  async function ready() {
    const { app: his, secret } = await addBenchApp(services.sign.deps);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    const url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    /** The headers of a signed request (a new nonce each call); a JSON content type when there is a body. */
    const headersFor = (method: string, path: string, payload: string | undefined) => {
      const timestamp = Math.floor(Date.now() / 1000);
      const nonce = randomBytes(18).toString('base64url');
      return {
        ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
        [AUTH_HEADERS.appId]: his.id,
        [AUTH_HEADERS.timestamp]: String(timestamp),
        [AUTH_HEADERS.nonce]: nonce,
        [AUTH_HEADERS.signature]: signRequest(secret, {
          method,
          path,
          bodyDigest: bodyDigest(payload),
          timestamp,
          nonce,
          appId: his.id,
        }),
      };
    };
    return { url, headersFor };
  }

  async function close() {
    await app.close();
    await services.close();
    dir.cleanup();
  }

  return { services, app, ready, close };
}
