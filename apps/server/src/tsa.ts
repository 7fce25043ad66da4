/**
 * The TSA wiring: finds the units `medsign init` created (a `service:tsa:<alg>` key with a valid `tsa`
 * certificate from the `<alg>-issuing` CA), gives each a keystore session signer (audited once per
 * session — the token archive is the per-token record, see docs/tsa.md), and answers requests through
 * the @medsign/tsa core with the store's group-committed archive.
 */

import { randomBytes } from 'node:crypto';
import type { IssuingCa } from '@medsign/ca';
import type { KeyStore } from '@medsign/keystore';
import { ParsedCertificate } from '@medsign/pki';
import type { Store } from '@medsign/store';
import {
  createTsaUnit,
  respondTimeStamp,
  TSA_UNIT_IDS,
  type TimeSource,
  type TimeStampOutcome,
  type TokenArchive,
  type TsaUnit,
  type TsaUnitId,
} from '@medsign/tsa';
import type { TsaConfig } from './config.js';

/** What the HTTP routes, the CLI and the benchmark use of the TSA. */
export type TsaService = {
  /** The units this installation has (loaded once; their session signers are opened then). */
  units(): Promise<ReadonlyMap<TsaUnitId, TsaUnit>>;
  /** The unit `/tsa` uses: SM2 (always created by init). */
  readonly defaultUnit: TsaUnitId;
  /** Answers one request with `unit`; never throws on request bytes (see @medsign/tsa respondTimeStamp). */
  respond(unit: TsaUnit, request: Uint8Array, requester?: string): Promise<TimeStampOutcome>;
};

/** The token archive port on the store's tsa_tokens table. */
export function storeTokenArchive(store: Store): TokenArchive {
  return {
    archive: (t) => store.tsaTokens.archive({ ...t, requester: t.requester ?? null }),
  };
}

/** Finds the TSA units of an installation: one per algorithm that has a TSA key and a usable certificate. */
async function loadUnits(
  store: Store,
  keystore: KeyStore,
  cas: readonly IssuingCa[],
  config: TsaConfig,
  now: () => Date,
): Promise<Map<TsaUnitId, TsaUnit>> {
  const keys = await keystore.list();
  const units = new Map<TsaUnitId, TsaUnit>();
  for (const id of TSA_UNIT_IDS) {
    const key = keys.find((k) => k.label === `service:tsa:${id}`);
    const ca = cas.find((c) => c.id === `${id}-issuing`);
    if (!key || !ca) continue;
    const spki = Buffer.from(key.publicKeyInfo).toString('hex');
    const page = await store.certificates.search({
      caId: ca.id,
      profile: 'tsa',
      status: 'good',
      limit: 1000,
    });
    const certificate = page.items
      .map((r) => ParsedCertificate.parse(r.der))
      .filter((c) => Buffer.from(c.publicKeyInfo).toString('hex') === spki && c.isValidAt(now()))
      .sort((a, b) => b.notBefore.getTime() - a.notBefore.getTime())[0];
    if (!certificate) continue;
    const signer = await keystore.sessionSigner(key.id, `time-stamp tokens (unit ${id})`);
    units.set(
      id,
      createTsaUnit({
        id,
        signer,
        certificate,
        chain: [ca.certificate, ...ca.chain],
        policy: config.policy,
        acceptedPolicies: config.acceptedPolicies,
      }),
    );
  }
  return units;
}

/** Builds the TSA service; units are loaded on first use (the CLI's CA commands never open TSA keys). */
export function openTsa(deps: {
  store: Store;
  keystore: KeyStore;
  cas: readonly IssuingCa[];
  config: TsaConfig;
  timeSource: () => TimeSource;
  now: () => Date;
}): TsaService {
  let loading: Promise<Map<TsaUnitId, TsaUnit>> | undefined;
  const archive = storeTokenArchive(deps.store);
  const core = {
    clock: { now: deps.now },
    archive,
    randomBytes: (n: number) => new Uint8Array(randomBytes(n)),
  };
  return {
    defaultUnit: 'sm2',
    units() {
      loading ??= loadUnits(deps.store, deps.keystore, deps.cas, deps.config, deps.now);
      loading.catch(() => (loading = undefined));
      return loading;
    },
    respond: (unit, request, requester) =>
      respondTimeStamp(
        unit,
        request,
        { ...core, timeSource: deps.timeSource() },
        requester !== undefined ? { requester } : {},
      ),
  };
}
