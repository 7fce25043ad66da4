/**
 * The generic report document: what renderPdf draws. It knows nothing about evidence or verification —
 * the callers (the server's evidence and verification reports) fill it in. Labels are plain strings, so a
 * bilingual label is just "签名未改 Signature unaltered".
 */

/** One label/value line. Long values (hex, base64, distinguished names) wrap inside the value column. */
export type ReportRow = { label: string; value: string };

/**
 * One checked statement: `ok` true = passed (通过 PASS), false = failed (未通过 FAIL), null = not
 * checked / not applicable (未检查 N/A). The status is printed as text too, so it survives text extraction.
 */
export type ReportStatement = { ok: boolean | null; text: string };

/** A titled block: statements first, then rows. */
export type ReportSection = {
  heading: string;
  statements?: ReportStatement[];
  rows?: ReportRow[];
  /** Free text paragraph drawn after the rows (notes, methods). */
  note?: string;
};

/** A file embedded in the PDF (an EmbeddedFile in the document's EmbeddedFiles name tree). */
export type ReportAttachment = {
  /** File name shown by readers and `pdfdetach -list`, e.g. "report.json". */
  name: string;
  /** MIME type, e.g. "application/json". */
  mimeType: string;
  data: Uint8Array;
  description?: string;
};

/** A QR code drawn at the top right, with a caption under it (e.g. the report id and where to verify). */
export type ReportQr = { payload: string; caption?: string };

/** The whole report. */
export type ReportDocument = {
  title: string;
  subtitle?: string;
  /** Header rows under the title (report id, generated at, issuer…). */
  meta?: ReportRow[];
  sections: ReportSection[];
  qr?: ReportQr;
  attachments?: ReportAttachment[];
  /** Printed at the bottom of every page, left of the page number. */
  footer?: string;
  /** PDF document information (Info dictionary); Title defaults to `title`. */
  info?: { author?: string; subject?: string; keywords?: string; creator?: string };
  /** CreationDate / attachment dates (default now); pass a fixed date for reproducible output. */
  createdAt?: Date;
};
