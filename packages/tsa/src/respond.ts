/**
 * The request handler of the TSA (RFC 3161 §2.4, GB/T 20520): request bytes in, TimeStampResp bytes out.
 * It never throws on what a client sends — a malformed request, an unsupported hash, an unaccepted policy
 * or critical extension, or an unusable clock all become a `rejection` with the matching failInfo — and a
 * granted token leaves only after the archive has durably recorded it.
 */

import { bytesToHex, sm3 } from '@medsign/gm';
import {
  buildTimeStampResp,
  DecodeError,
  hashLength,
  parseTimeStampReq,
  signTimeStampToken,
  type Accuracy,
  type HashName,
  type PkiFailureInfoName,
  type TimeStampRequest,
} from '@medsign/pki';
import type { TsaDeps } from './ports.js';
import type { TsaUnit } from './unit.js';

/** The hash algorithms a message imprint may use; anything else is refused with badAlg. */
export const TSA_HASHES: readonly HashName[] = ['sm3', 'sha256', 'sha384', 'sha512'];

/** Largest TimeStampReq medsign reads (a request is about 100 bytes; extensions could add a few). */
export const MAX_REQUEST_BYTES = 16 * 1024;

/** How often a colliding serial is replaced by a fresh one before giving up (systemFailure). */
const SERIAL_ATTEMPTS = 3;

/** What one request produced. */
export type TimeStampOutcome = {
  /** DER TimeStampResp: always present, granted or not. */
  der: Uint8Array;
  granted: boolean;
  /** For a rejection: why (one failInfo bit). */
  failInfo?: PkiFailureInfoName;
  /** For a granted token: the TimeStampToken itself (the ContentInfo inside `der`), its serial and time. */
  token?: Uint8Array;
  serial?: bigint;
  genTime?: Date;
  /** An internal failure (signer, archive) behind a systemFailure answer, for the server's log. */
  error?: unknown;
};

/** Context of one request. */
export type TimeStampContext = {
  /** Requester address for the archive. */
  requester?: string;
};

/** Accuracy ::= seconds + millis for an accuracy in milliseconds; undefined for 0. */
export function accuracyOf(ms: number): Accuracy | undefined {
  const total = Math.ceil(ms);
  if (!Number.isFinite(total) || total <= 0) return undefined;
  const seconds = Math.floor(total / 1000);
  const millis = total % 1000;
  return { ...(seconds ? { seconds } : {}), ...(millis ? { millis } : {}) };
}

/** A positive serial of 127 random bits (16 bytes, top bit clear; RFC 3161 wants unique, ≥ 64 bits is our floor). */
export function randomTokenSerial(randomBytes: (n: number) => Uint8Array): bigint {
  for (;;) {
    const b = randomBytes(16);
    b[0]! &= 0x7f;
    const serial = BigInt(`0x${bytesToHex(b)}`);
    if (serial > 0n) return serial;
  }
}

function rejection(failInfo: PkiFailureInfoName, text: string, error?: unknown): TimeStampOutcome {
  return {
    der: buildTimeStampResp({ status: 'rejection', failInfo: [failInfo], statusString: text }),
    granted: false,
    failInfo,
    ...(error !== undefined ? { error } : {}),
  };
}

/** The first reason to refuse a parsed request, or undefined when it is acceptable. */
function refuse(
  req: TimeStampRequest,
  unit: TsaUnit,
): { failInfo: PkiFailureInfoName; text: string } | undefined {
  const mi = req.messageImprint;
  if (!mi.hash || !TSA_HASHES.includes(mi.hash))
    return {
      failInfo: 'badAlg',
      text: `hash algorithm ${mi.hashAlgorithm} is not accepted (SM3, SHA-256, SHA-384, SHA-512)`,
    };
  if (mi.hashedMessage.length !== hashLength(mi.hash))
    return {
      failInfo: 'badDataFormat',
      text: `hashedMessage is ${mi.hashedMessage.length} bytes; a ${mi.hash} value has ${hashLength(mi.hash)}`,
    };
  if (req.reqPolicy !== undefined && !unit.acceptedPolicies.has(req.reqPolicy))
    return { failInfo: 'unacceptedPolicy', text: `policy ${req.reqPolicy} is not offered by this TSA` };
  const critical = req.extensions.find((e) => e.critical);
  if (critical)
    return { failInfo: 'unacceptedExtension', text: `critical extension ${critical.oid} is not supported` };
  return undefined;
}

/**
 * Answers one DER TimeStampReq with unit `unit`. Order of checks: well-formed (badDataFormat), hash
 * algorithm (badAlg) and imprint length (badDataFormat), requested policy (unacceptedPolicy), critical
 * extensions (unacceptedExtension), the time source (timeNotAvailable). A granted token carries a fresh
 * random serial, genTime in milliseconds, the configured accuracy, ordering false, the nonce echoed and
 * the TSA name; the TSA certificate and its intermediates are embedded when certReq is set.
 */
export async function respondTimeStamp(
  unit: TsaUnit,
  request: Uint8Array,
  deps: TsaDeps,
  ctx: TimeStampContext = {},
): Promise<TimeStampOutcome> {
  if (request.length > MAX_REQUEST_BYTES)
    return rejection('badDataFormat', `request larger than ${MAX_REQUEST_BYTES} bytes`);
  let req: TimeStampRequest;
  try {
    req = parseTimeStampReq(request);
  } catch (e) {
    if (!(e instanceof DecodeError) && !(e instanceof RangeError) && !(e instanceof TypeError))
      return rejection('systemFailure', 'the request could not be read', e);
    return rejection('badDataFormat', `malformed TimeStampReq: ${e.message}`);
  }
  const refusal = refuse(req, unit);
  if (refusal) return rejection(refusal.failInfo, refusal.text);
  const time = deps.timeSource.status();
  if (!time.usable) return rejection('timeNotAvailable', `time source not usable: ${time.detail}`);

  const hash = req.messageImprint.hash!;
  const policy = req.reqPolicy ?? unit.policy;
  const accuracy = accuracyOf(time.accuracyMs);
  try {
    for (let attempt = 0; attempt < SERIAL_ATTEMPTS; attempt++) {
      const serial = randomTokenSerial(deps.randomBytes);
      const genTime = deps.clock.now();
      // A unit outliving its certificate must not sign tokens no one can verify.
      if (!unit.certificate.isValidAt(genTime))
        return rejection(
          'systemFailure',
          'the TSA certificate is not valid at this time; the unit needs a new one',
        );
      const token = await signTimeStampToken(
        {
          policy,
          // The request's MessageImprint bytes, copied as received (RFC 3161 §2.4.2).
          messageImprint: {
            hash,
            hashedMessage: req.messageImprint.hashedMessage,
            der: req.messageImprint.der,
          },
          serialNumber: serial,
          genTime,
          ...(accuracy ? { accuracy } : {}),
          ordering: false,
          ...(req.nonce !== undefined ? { nonce: req.nonce } : {}),
          // The certificate's subject bytes exactly, so the name matches it byte for byte (RFC 3161 §2.4.2).
          tsaName: unit.certificate.subjectDer,
        },
        unit.signer,
        unit.certificate,
        req.certReq,
        req.certReq ? { certificates: unit.intermediates } : {},
      );
      const stored = await deps.archive.archive({
        serial,
        unit: unit.id,
        hashAlgorithm: hash,
        hashedMessage: req.messageImprint.hashedMessage,
        genTime,
        policy,
        ...(ctx.requester !== undefined ? { requester: ctx.requester } : {}),
        nonce: req.nonce !== undefined,
        tokenHash: sm3(token),
      });
      if (stored === 'stored')
        return {
          der: buildTimeStampResp({ status: 'granted', token, tokenTrusted: true }),
          granted: true,
          token,
          serial,
          genTime,
        };
    }
    return rejection('systemFailure', 'no unique token serial could be recorded; retry');
  } catch (e) {
    return rejection('systemFailure', 'the time-stamp could not be issued; retry later', e);
  }
}
