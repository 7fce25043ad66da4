/**
 * Applicant data at rest: the split between what a row keeps in clear (name, employee number,
 * department and the other non-personal fields) and what the keystore seals (ID number, phone — with a
 * keyed hash of the ID number for exact search). Applications and certificates both go through these
 * two functions, and through the keystore's PersonalDataCipher, so there is one way to do it.
 */

import type { Applicant } from '@medsign/ca';
import type { PersonalDataCipher } from '@medsign/keystore';
import type { PersonalColumns } from '@medsign/store';

/** The sealed row form of an applicant; `context` names the row (bound into each ciphertext). */
export function sealApplicant(
  cipher: PersonalDataCipher,
  applicant: Applicant,
  context: string,
): PersonalColumns {
  const fields: Record<string, string> = {};
  for (const [k, v] of Object.entries(applicant)) {
    if (v !== undefined && k !== 'idNumber' && k !== 'phone') fields[k] = v;
  }
  const id = applicant.idNumber?.trim() ? applicant.idNumber : undefined;
  const phone = applicant.phone?.trim() ? applicant.phone : undefined;
  return {
    fields,
    idNumberSealed: id === undefined ? null : cipher.seal('idNumber', id, context),
    idNumberIndex: id === undefined ? null : cipher.index('idNumber', id),
    phoneSealed: phone === undefined ? null : cipher.seal('phone', phone, context),
  };
}

/** The applicant back from its row form (personal fields opened). */
export function openApplicant(
  cipher: PersonalDataCipher,
  columns: PersonalColumns,
  context: string,
): Applicant {
  const applicant: Applicant = { name: '', ...columns.fields };
  if (columns.idNumberSealed) applicant.idNumber = cipher.open('idNumber', columns.idNumberSealed, context);
  if (columns.phoneSealed) applicant.phone = cipher.open('phone', columns.phoneSealed, context);
  return applicant;
}

/** The row context of a certificate's personal fields. */
export const certificateContext = (caId: string, serial: string) => `certificate/${caId}/${serial}`;
/** The row context of an application's personal fields. */
export const applicationContext = (id: string) => `application/${id}`;
