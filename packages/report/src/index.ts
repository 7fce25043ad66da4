/**
 * @medsign/report — signed PDF reports: the ReportDocument model, renderPdf (CJK subset font, QR code,
 * JSON attachments), signPdf (PAdES B-T through pki's Signer port and CMS code) and readPdfSignatures.
 */

export * from './model.js';
export { renderPdf } from './render.js';
export { qrMatrix } from './qr.js';
export {
  signPdf,
  signPdfDetailed,
  pdfDate,
  parsePdfDate,
  type SignPdfOptions,
  type SignedPdf,
} from './sign.js';
export {
  readPdfSignatures,
  verifyPdfSignatures,
  type PdfSignatureInfo,
  type PdfVerificationReport,
  type ReadPdfSignaturesOptions,
} from './read.js';
export { PdfSyntaxError } from './pdf-syntax.js';
