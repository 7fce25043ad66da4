/**
 * What the record exports share (CSV and XLSX): the query-string filters and their mapping to the store's
 * search, the columns, and one record as its row of text cells. Both formats stream the store's keyset
 * batches (SigningRepository.iterateSignatures), so memory stays flat at any number of rows.
 */

import { DomainError } from '@medsign/errors';
import type { SignatureSearch } from '@medsign/store';

/** The filters of `/signatures` and the exports, as the query string names them. */
export type RecordFilterQuery = {
  signer?: string;
  department?: string;
  app?: string;
  docType?: string;
  docId?: string;
  q?: string;
  from?: string;
  to?: string;
};

/** JSON-schema properties of the export filters (the same names and limits as `/signatures`). */
export const exportFilterProperties = {
  signer: { type: 'string', maxLength: 32, description: 'employee number' },
  department: { type: 'string', maxLength: 128, description: 'department code' },
  app: { type: 'string', maxLength: 64, description: 'application id' },
  docType: { type: 'string', maxLength: 128 },
  docId: { type: 'string', maxLength: 128 },
  q: {
    type: 'string',
    minLength: 1,
    maxLength: 64,
    description:
      'fuzzy text: part of the employee number, the signer name, the document id or type, the visit reference or the record id (case-insensitive)',
  },
  from: { type: 'string', format: 'date-time', description: 'created at or after' },
  to: { type: 'string', format: 'date-time', description: 'created before' },
} as const;

function dateOf(text: string | undefined, name: string): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime()))
    throw new DomainError('REQUEST_INVALID', `${name} must be an ISO-8601 date-time`);
  return d;
}

/** The store filter of a query string (REQUEST_INVALID for an unreadable date). */
export function recordFilter(q: RecordFilterQuery): Omit<SignatureSearch, 'limit' | 'offset'> {
  const from = dateOf(q.from, 'from');
  const to = dateOf(q.to, 'to');
  return {
    ...(q.signer !== undefined ? { employeeNo: q.signer } : {}),
    ...(q.department !== undefined ? { departmentCode: q.department } : {}),
    ...(q.app !== undefined ? { appId: q.app } : {}),
    ...(q.docType !== undefined ? { docType: q.docType } : {}),
    ...(q.docId !== undefined ? { docId: q.docId } : {}),
    ...(q.q !== undefined ? { text: q.q } : {}),
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
  };
}

/** The export columns, in order. */
export const EXPORT_COLUMNS = [
  'id',
  'created_at',
  'app_id',
  'signer',
  'department_code',
  'system',
  'doc_type',
  'doc_id',
  'visit_ref',
  'format',
  'digest_algorithm',
  'digest',
  'ca_id',
  'cert_serial',
  'timestamped',
] as const;

/** The fields of a record an export shows. */
export type ExportedRecord = {
  id: string;
  createdAt: Date;
  appId: string;
  employeeNo: string;
  metadata: { system?: string; docType?: string; docId?: string; departmentCode?: string; visitRef?: string };
  format: string;
  digestAlgorithm: string;
  digest: string;
  caId: string;
  certSerial: string;
  token: Uint8Array | null;
};

/** One record as its export row (the order of {@link EXPORT_COLUMNS}). */
export function exportRow(r: ExportedRecord): (string | undefined)[] {
  return [
    r.id,
    r.createdAt.toISOString(),
    r.appId,
    r.employeeNo,
    r.metadata.departmentCode,
    r.metadata.system,
    r.metadata.docType,
    r.metadata.docId,
    r.metadata.visitRef,
    r.format,
    r.digestAlgorithm,
    r.digest,
    r.caId,
    r.certSerial,
    r.token ? 'yes' : 'no',
  ];
}

/**
 * One CSV cell (RFC 4180 quoting). A value a spreadsheet would run as a formula (= + - @, tab, CR) gets a
 * leading apostrophe: ids come from hospital systems and must not become formulas in the office's Excel.
 */
export function csvCell(value: string | undefined): string {
  if (value === undefined) return '';
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replace(/"/g, '""')}"` : safe;
}
