/**
 * The TSA wiring: finds the units `medsign init` created (a `service:tsa:<alg>` key with a valid `tsa`
 * certificate from the `<alg>-issuing` CA), gives each a keystore session signer (audited once per
 * session — the token archive is the per-token record, see docs/tsa.md), and answers requests through
 * the @medsign/tsa core with the store's group-committed archive.
 */

import { randomBytes } from 'node:crypto';
import type { IssuingCa } from '@medsign/ca';
import type { KeyStore } from '@medsign/keystore';
import { DomainError } from '@medsign/errors';
import { sm3 } from '@medsign/gm';
import { buildTimeStampReq, buildTimeStampResp, ParsedCertificate } from '@medsign/pki';
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
import type { TimeStamper } from '@medsign/sign';
import type { TsaConfig } from './config.js';

/** What the HTTP routes, the CLI and the benchmark use of the TSA. */
export type TsaService = {
  /** The units this installation has (loaded once; their session signers are opened then). */
  units(): Promise<ReadonlyMap<TsaUnitId, TsaUnit>>;
  /** The units' certificates and chains, without opening their keys (trust export). */
  certificates(): Promise<TsaUnitCertificate[]>;
  /** The unit `/tsa` uses: SM2 (always created by init). */
  readonly defaultUnit: TsaUnitId;
  /** Answers one request with `unit`; never throws on request bytes (see @medsign/tsa respondTimeStamp). */
  respond(unit: TsaUnit, request: Uint8Array, requester?: string): Promise<TimeStampOutcome>;
  /**
   * The same, with the token archived in the database's shared group transaction (the signing service's
   * time-stamps: their nonce, audit and record writes go through the same groups; see tsaTimeStamper).
   */
  respondInGroup(unit: TsaUnit, request: Uint8Array, requester?: string): Promise<TimeStampOutcome>;
};

/** The token archive port on the store's tsa_tokens table. */
export function storeTokenArchive(store: Store): TokenArchive {
  return {
    archive: (t) => store.tsaTokens.archive({ ...t, requester: t.requester ?? null }),
  };
}

/** A unit's certificate and chain, as found in the database (no key opened). */
export type TsaUnitCertificate = {
  id: TsaUnitId;
  keyId: string;
  certificate: ParsedCertificate;
  /** Issuing CA first, root last. */
  chain: ParsedCertificate[];
};

/** Finds the TSA units of an installation: one per algorithm that has a TSA key and a usable certificate. */
async function findUnits(
  store: Store,
  keystore: KeyStore,
  cas: readonly IssuingCa[],
  now: () => Date,
): Promise<TsaUnitCertificate[]> {
  const keys = await keystore.list();
  const out: TsaUnitCertificate[] = [];
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
    if (certificate) out.push({ id, keyId: key.id, certificate, chain: [ca.certificate, ...ca.chain] });
  }
  return out;
}

async function loadUnits(
  found: readonly TsaUnitCertificate[],
  keystore: KeyStore,
  config: TsaConfig,
): Promise<Map<TsaUnitId, TsaUnit>> {
  const units = new Map<TsaUnitId, TsaUnit>();
  for (const u of found) {
    const signer = await keystore.sessionSigner(u.keyId, `time-stamp tokens (unit ${u.id})`);
    units.set(
      u.id,
      createTsaUnit({
        id: u.id,
        signer,
        certificate: u.certificate,
        chain: u.chain,
        policy: config.policy,
        acceptedPolicies: config.acceptedPolicies,
      }),
    );
  }
  return units;
}

/**
 * CSPRNG bytes drawn from a 4 KiB buffer refilled from the OS: one call per token serial was a system
 * call each (5 % of a token's main-thread time). Bytes are handed out once and never reused.
 */
function pooledRandomBytes(): (n: number) => Uint8Array {
  let pool = new Uint8Array(0);
  let offset = 0;
  return (n) => {
    if (n > 1024) return new Uint8Array(randomBytes(n));
    if (offset + n > pool.length) {
      pool = new Uint8Array(randomBytes(4096));
      offset = 0;
    }
    const out = pool.slice(offset, offset + n);
    pool.fill(0, offset, offset + n);
    offset += n;
    return out;
  };
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
  const core = { clock: { now: deps.now }, archive, randomBytes: pooledRandomBytes() };
  const groupCore = {
    ...core,
    archive: {
      archive: (t) => deps.store.tsaTokens.archiveInGroup({ ...t, requester: t.requester ?? null }),
    } satisfies TokenArchive,
  };
  const status = certificateStatus(deps.store, deps.now);
  const answer = async (
    c: typeof core,
    unit: TsaUnit,
    request: Uint8Array,
    requester: string | undefined,
  ): Promise<TimeStampOutcome> => {
    // A unit whose certificate was revoked (by any process) stops within a minute, without a query per token.
    if (!status.current(unit)) {
      return {
        der: buildTimeStampResp({
          status: 'rejection',
          failInfo: ['systemFailure'],
          statusString: `the certificate of TSA unit ${unit.id} has been revoked or put on hold`,
        }),
        granted: false,
        failInfo: 'systemFailure',
      };
    }
    return respondTimeStamp(
      unit,
      request,
      { ...c, timeSource: deps.timeSource() },
      requester !== undefined ? { requester } : {},
    );
  };
  return {
    defaultUnit: 'sm2',
    certificates: () => findUnits(deps.store, deps.keystore, deps.cas, deps.now),
    units() {
      loading ??= findUnits(deps.store, deps.keystore, deps.cas, deps.now).then((found) =>
        loadUnits(found, deps.keystore, deps.config),
      );
      loading.catch(() => (loading = undefined));
      return loading;
    },
    respond: (unit, request, requester) => answer(core, unit, request, requester),
    respondInGroup: (unit, request, requester) => answer(groupCore, unit, request, requester),
  };
}

/** How often a unit's certificate status is looked up again in the inventory. */
export const TSA_CERT_STATUS_MS = 60_000;

/**
 * The inventory status of each unit's certificate, refreshed in the background at most once per
 * TSA_CERT_STATUS_MS as requests come in. `current` answers from the cache (good until seen otherwise).
 */
function certificateStatus(store: Store, now: () => Date) {
  const seen = new Map<TsaUnit, { good: boolean; checkedAt: number; checking: boolean }>();
  return {
    current(unit: TsaUnit): boolean {
      let s = seen.get(unit);
      if (!s) seen.set(unit, (s = { good: true, checkedAt: now().getTime(), checking: false }));
      const t = now().getTime();
      if (!s.checking && t - s.checkedAt >= TSA_CERT_STATUS_MS) {
        s.checking = true;
        const entry = s;
        const caId = `${unit.id}-issuing`;
        store.certificates
          .findBySerial(caId, unit.certificate.serialNumber)
          .then(
            (r) => (entry.good = r === undefined || r.status === 'good'),
            () => undefined, // the database is down: the archive insert will fail the request anyway
          )
          .finally(() => {
            entry.checkedAt = now().getTime();
            entry.checking = false;
          });
      }
      return s.good;
    },
  };
}

/**
 * The signing service's time-stamps from this installation's own TSA (default unit, SM3 imprint of the
 * signature value, certReq, a fresh nonce), in process — the same core, archive and time-source gate as
 * `POST /tsa`. A refusal (e.g. timeNotAvailable while the clock is not trusted) fails the signing request
 * with SIGN_TIMESTAMP_UNAVAILABLE: nothing is signed without the token that was asked for.
 */
export function tsaTimeStamper(tsa: TsaService): TimeStamper {
  return {
    async timestamp(signatureValue) {
      const unit = (await tsa.units()).get(tsa.defaultUnit);
      if (!unit)
        throw new DomainError(
          'SIGN_TIMESTAMP_UNAVAILABLE',
          `the TSA unit ${tsa.defaultUnit} is not configured`,
        );
      const nonce = BigInt('0x' + randomBytes(8).toString('hex'));
      const imprint = sm3(signatureValue);
      const request = buildTimeStampReq({ hash: 'sm3', imprint, nonce, certReq: true });
      const outcome = await tsa.respondInGroup(unit, request, 'sign-service');
      const token = outcome.granted ? outcome.token : undefined;
      if (!token)
        throw new DomainError(
          'SIGN_TIMESTAMP_UNAVAILABLE',
          `the time-stamp authority refused (${outcome.failInfo ?? 'no token'})`,
        );
      // The TimeStamper contract: the token covers this value. The core copies the request's imprint into
      // TSTInfo; check its DER carries it (OCTET STRING of the SM3) without parsing the token's certificate.
      if (!Buffer.from(token).includes(Buffer.concat([Buffer.from([0x04, 0x20]), imprint])))
        throw new DomainError(
          'SIGN_TIMESTAMP_UNAVAILABLE',
          'the time-stamp authority answered a token that does not cover this signature value',
        );
      return token;
    },
  };
}
