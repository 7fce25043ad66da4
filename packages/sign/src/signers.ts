/**
 * Signers: people (doctors, nurses, pharmacists) whose signing key the server holds. Enrolment generates the
 * key inside the keystore and has the CA issue its certificate; the key is usable only with the signer's PIN,
 * kept as a slow salted hash. Wrong PINs in a row lock the key; only an administrator unlocks it. Every step
 * is audited, never with the PIN.
 */

import { randomUUID } from 'node:crypto';
import { DomainError } from '@medsign/errors';
import type { KeyType } from '@medsign/pki';
import type {
  AuditSink,
  CertificateIssuer,
  Clock,
  PinHasher,
  SignerRecord,
  SigningKeys,
  SignStore,
} from './ports.js';

export type SignerDeps = {
  clock: Clock;
  store: SignStore;
  keys: SigningKeys;
  issuer: CertificateIssuer;
  pins: PinHasher;
  audit: AuditSink;
  /** Wrong PINs in a row that lock the key (default 5). */
  maxPinFailures?: number;
};

export const DEFAULT_MAX_PIN_FAILURES = 5;
/** Key types a signer may have: SM2 by default; RSA and ECDSA for systems that need them. */
export const SIGNER_KEY_TYPES = ['sm2', 'rsa-2048', 'ec-p256'] as const satisfies readonly KeyType[];
export type SignerKeyType = (typeof SIGNER_KEY_TYPES)[number];

export type NewSigner = {
  name: string;
  employeeNo: string;
  departmentCode: string;
  pin: string;
  /** Certificate profile (default "doctor"). */
  profile?: string;
  keyType?: SignerKeyType;
};

/** A signer as shown to people (no PIN hash, no key id). */
export type SignerView = Omit<SignerRecord, 'pinHash' | 'keyId'>;

export function signerView(s: SignerRecord): SignerView {
  return {
    id: s.id,
    employeeNo: s.employeeNo,
    name: s.name,
    departmentCode: s.departmentCode,
    profile: s.profile,
    caId: s.caId,
    certSerial: s.certSerial,
    certificate: s.certificate,
    failedPins: s.failedPins,
    locked: s.locked,
    createdAt: s.createdAt,
    updatedAt: s.updatedAt,
  };
}

function invalid(detail: string): DomainError {
  return new DomainError('SIGN_SIGNER_INVALID', detail);
}

function checkField(value: unknown, name: string, pattern: RegExp, what: string): string {
  if (typeof value !== 'string' || !pattern.test(value)) throw invalid(`${name} must be ${what}`);
  return value;
}

/** The PIN policy: 6–32 characters, no control characters. */
export function checkPin(pin: unknown): string {
  // eslint-disable-next-line no-control-regex
  return checkField(pin, 'the PIN', /^[^\u0000-\u001f\u007f]{6,32}$/u, '6–32 characters');
}

/** Enrols a signer: key in the keystore, certificate from the CA, PIN hash; audited as `signer.enrol`. */
export async function enrolSigner(
  input: NewSigner,
  actor: string,
  deps: SignerDeps,
): Promise<{ signer: SignerView; certificatePem: string }> {
  // eslint-disable-next-line no-control-regex
  const name = checkField(input.name?.trim(), 'the name', /^[^\u0000-\u001f]{1,64}$/u, '1–64 characters');
  const employeeNo = checkField(
    input.employeeNo,
    'the employee number',
    /^[A-Za-z0-9._-]{1,32}$/,
    '1–32 characters [A-Za-z0-9._-]',
  );
  const departmentCode = checkField(
    input.departmentCode,
    'the department code',
    /^[A-Za-z0-9._-]{1,32}$/,
    '1–32 characters [A-Za-z0-9._-]',
  );
  const pin = checkPin(input.pin);
  const keyType = input.keyType ?? 'sm2';
  if (!(SIGNER_KEY_TYPES as readonly string[]).includes(keyType))
    throw invalid(`the key type must be one of ${SIGNER_KEY_TYPES.join(', ')}`);
  const profileId = input.profile ?? 'doctor';
  if (await deps.store.getSignerByEmployeeNo(employeeNo))
    throw new DomainError('SIGN_SIGNER_EXISTS', `employee number ${employeeNo} is already a signer`);

  const id = randomUUID();
  const pinHash = await deps.pins.hash(pin);
  const key = await deps.keys.generate(keyType, `signer:${employeeNo}:${id}`, {
    role: 'signer',
    signerId: id,
  });
  const publicKeyInfo = key.publicKeyInfo;
  const issued = await deps.issuer.issue({
    profileId,
    publicKeyInfo,
    applicant: { name, employeeNo, department: departmentCode },
    actor,
  });
  const now = deps.clock.now();
  const record: SignerRecord = {
    id,
    employeeNo,
    name,
    departmentCode,
    profile: profileId,
    keyId: key.id,
    caId: issued.caId,
    certSerial: issued.serial,
    certificate: issued.certificate.der,
    pinHash,
    failedPins: 0,
    locked: false,
    createdAt: now,
    updatedAt: now,
  };
  if (!(await deps.store.insertSigner(record)))
    throw new DomainError('SIGN_SIGNER_EXISTS', `employee number ${employeeNo} is already a signer`);
  await deps.audit.append({
    actor,
    action: 'signer.enrol',
    target: id,
    detail: { employeeNo, departmentCode, profile: profileId, caId: issued.caId, serial: issued.serial },
  });
  return { signer: signerView(record), certificatePem: issued.certificate.toPem() };
}

/** The signer with this employee number; SIGN_SIGNER_NOT_FOUND otherwise. */
export async function findSigner(employeeNo: string, store: SignStore): Promise<SignerRecord> {
  const s = typeof employeeNo === 'string' ? await store.getSignerByEmployeeNo(employeeNo) : undefined;
  if (!s) throw new DomainError('SIGN_SIGNER_NOT_FOUND', `no signer with employee number ${employeeNo}`);
  return s;
}

/**
 * Checks a signer's PIN (the signer's intent for one request). A wrong PIN is counted and audited; the
 * count reaching the limit locks the key (audited `signer.locked`). A locked key is refused before the
 * PIN is even looked at, so a locked key cannot be probed.
 */
export async function checkSignerPin(
  signer: SignerRecord,
  pin: unknown,
  actor: string,
  deps: Pick<SignerDeps, 'clock' | 'store' | 'pins' | 'audit' | 'maxPinFailures'>,
): Promise<void> {
  if (signer.locked) throw new DomainError('SIGN_SIGNER_LOCKED');
  const ok = typeof pin === 'string' && pin.length <= 64 && (await deps.pins.verify(pin, signer.pinHash));
  const now = deps.clock.now();
  if (ok) {
    if (signer.failedPins > 0) await deps.store.clearWrongPins(signer.id, now);
    return;
  }
  const max = deps.maxPinFailures ?? DEFAULT_MAX_PIN_FAILURES;
  const after = await deps.store.recordWrongPin(signer.id, max, now);
  await deps.audit.append({
    actor,
    action: 'signer.pin-wrong',
    target: signer.id,
    detail: { employeeNo: signer.employeeNo, failures: after.failedPins },
  });
  if (after.locked) {
    await deps.audit.append({
      actor,
      action: 'signer.locked',
      target: signer.id,
      detail: { employeeNo: signer.employeeNo, after: max },
    });
    throw new DomainError('SIGN_SIGNER_LOCKED', `${max} wrong PINs in a row: the signing key is now locked`);
  }
  throw new DomainError(
    'SIGN_PIN_WRONG',
    `wrong PIN (${max - after.failedPins} attempt(s) left before lock)`,
  );
}

/** Unlocks a locked signing key (an administrator action, audited `signer.unlock`). */
export async function unlockSigner(
  employeeNo: string,
  actor: string,
  deps: Pick<SignerDeps, 'clock' | 'store' | 'audit'>,
): Promise<SignerView> {
  const s = await findSigner(employeeNo, deps.store);
  if (!(await deps.store.unlockSigner(s.id, deps.clock.now())))
    throw new DomainError('SIGN_SIGNER_NOT_LOCKED', `the key of ${employeeNo} is not locked`);
  await deps.audit.append({ actor, action: 'signer.unlock', target: s.id, detail: { employeeNo } });
  return signerView({ ...s, locked: false, failedPins: 0 });
}
