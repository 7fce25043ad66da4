/**
 * signPdf: a PAdES baseline B-T signature (ETSI EN 319 142-1) added to a PDF as an incremental update
 * (ISO 32000-1 §7.5.6, §12.8): a signature dictionary (/Filter /Adobe.PPKLite, /SubFilter
 * /ETSI.CAdES.detached, /ByteRange covering every byte but /Contents, /M), an invisible signature field
 * widget on the first page, the catalog's /AcroForm with /SigFlags 3. /Contents holds a detached CMS
 * SignedData made by pki's signCms — signed attributes contentType, messageDigest and the ESS
 * signingCertificateV2 (no signingTime: PAdES takes the claimed time from /M) — with an RFC 3161
 * signature time-stamp token (RFC 3161 Appendix A) added as an unsigned attribute by addTimestampToken.
 */

import { addTimestampToken, ParsedCms, signCms, type ParsedCertificate, type Signer } from '@medsign/pki';
import { decodeText, pdf, PdfReader, readXref, serialize, type PdfValue } from './pdf-syntax.js';

/** What signPdf needs. */
export type SignPdfOptions = {
  /** The signing key (SM2, ECDSA or RSA) — a keystore, USB key or HSM behind pki's Signer port. */
  signer: Signer;
  /** The signer's certificate (its key must be the Signer's). */
  certificate: ParsedCertificate;
  /** Issuing CA certificates to embed so relying parties can build the chain. */
  chain?: readonly ParsedCertificate[];
  /** /Name, /Reason, /Location, /ContactInfo of the signature dictionary. */
  name?: string;
  reason?: string;
  location?: string;
  contactInfo?: string;
  /** /M, the claimed signing time (default now). */
  signingTime?: Date;
  /**
   * Time-stamps the signature value: returns a DER TimeStampToken whose message imprint covers the
   * bytes given (RFC 3161 Appendix A). Without it the signature is PAdES B-B.
   */
  timestamp?: (signatureValue: Uint8Array) => Promise<Uint8Array>;
  /** The signature field's name (/T); default "Signature<n>". */
  fieldName?: string;
  /** Bytes reserved for the CMS in /Contents (default: estimated; grown and re-signed once if short). */
  contentsSize?: number;
};

/** The pieces of the signed update, for callers that want to record them. */
export type SignedPdf = {
  pdf: Uint8Array;
  /** The CMS SignedData DER written into /Contents. */
  cms: Uint8Array;
  byteRange: [number, number, number, number];
};

/** Signs `pdf` (classic cross-reference table, as renderPdf writes) and returns the signed PDF. */
export async function signPdf(input: Uint8Array, opts: SignPdfOptions): Promise<Uint8Array> {
  return (await signPdfDetailed(input, opts)).pdf;
}

/** signPdf returning the CMS and ByteRange too. */
export async function signPdfDetailed(input: Uint8Array, opts: SignPdfOptions): Promise<SignedPdf> {
  if (!(input instanceof Uint8Array)) throw new TypeError('pdf must be a Uint8Array');
  if (!opts?.signer || !opts.certificate) throw new TypeError('signPdf needs a signer and its certificate');
  const estimate =
    4096 +
    opts.certificate.der.length +
    (opts.chain ?? []).reduce((n, c) => n + c.der.length, 0) +
    (opts.timestamp ? 8192 : 0);
  let size = opts.contentsSize ?? estimate;
  for (let attempt = 0; ; attempt++) {
    const r = await signOnce(input, opts, size);
    if (r.ok) return r.result;
    if (attempt > 0 || opts.contentsSize !== undefined)
      throw new RangeError(
        `the CMS (${r.needed} bytes) does not fit the ${size} bytes reserved for /Contents`,
      );
    size = r.needed + 2048;
  }
}

type Attempt = { ok: true; result: SignedPdf } | { ok: false; needed: number };

const BYTE_RANGE_WIDTH = 48; // "[0 n n n]" padded with spaces: 3 × 10-digit numbers fit

async function signOnce(input: Uint8Array, opts: SignPdfOptions, contentsSize: number): Promise<Attempt> {
  const r = new PdfReader(input);
  const x = readXref(r);
  if (x.trailer.has('/Encrypt')) throw new RangeError('encrypted PDFs are not supported');
  const rootRef = x.trailer.get('/Root');
  if (rootRef?.kind !== 'ref') throw new RangeError('PDF trailer has no /Root reference');
  const load = (ref: PdfValue | undefined, what: string) => {
    if (ref?.kind !== 'ref') throw new RangeError(`${what} is not an indirect object`);
    const at = x.offsets.get(ref.num);
    if (!at) throw new RangeError(`${what} (object ${ref.num}) is not in a classic cross-reference table`);
    const o = r.objectAt(at.offset, ref.num);
    return { ...o, gen: at.gen };
  };
  const catalog = load(rootRef, 'the catalog');
  if (catalog.value.kind !== 'dict') throw new RangeError('the catalog is not a dictionary');
  const page = firstPage(catalog.value, load);

  let next = x.size;
  const sigNum = next++;
  const widgetNum = next++;
  const updated: { num: number; gen: number; body: string }[] = [];

  // AcroForm: append the field to /Fields (inline or indirect AcroForm), SigFlags 3 (signatures exist,
  // append only).
  const cat = catalog.value;
  const acro = cat.entries.get('/AcroForm');
  let fieldCount = 0;
  const addField = (form: PdfValue & { kind: 'dict' }) => {
    const fields = form.entries.get('/Fields');
    if (fields && fields.kind !== 'array')
      throw new RangeError('indirect /AcroForm /Fields are not supported');
    fieldCount = fields?.kind === 'array' ? fields.items.length : 0;
    form.entries.set(
      '/Fields',
      pdf.array([...(fields?.kind === 'array' ? fields.items : []), pdf.ref(widgetNum)]),
    );
    form.entries.set('/SigFlags', pdf.num(3));
  };
  if (acro?.kind === 'ref') {
    const form = load(acro, 'the /AcroForm');
    if (form.value.kind !== 'dict' || form.hasStream)
      throw new RangeError('the /AcroForm is not a dictionary');
    addField(form.value);
    updated.push({ num: form.num, gen: form.gen, body: serialize(form.value) });
  } else if (acro?.kind === 'dict') {
    addField(acro);
  } else {
    const form = pdf.dict([]);
    addField(form);
    cat.entries.set('/AcroForm', form);
  }
  updated.push({ num: catalog.num, gen: catalog.gen, body: serialize(cat) });

  // The page's /Annots gets the widget.
  const pageDict = page.value as PdfValue & { kind: 'dict' };
  const annots = pageDict.entries.get('/Annots');
  if (annots?.kind === 'ref') {
    const a = load(annots, 'the page /Annots');
    if (a.value.kind !== 'array') throw new RangeError('the page /Annots is not an array');
    a.value.items.push(pdf.ref(widgetNum));
    updated.push({ num: a.num, gen: a.gen, body: serialize(a.value) });
  } else {
    pageDict.entries.set(
      '/Annots',
      pdf.array([...(annots?.kind === 'array' ? annots.items : []), pdf.ref(widgetNum)]),
    );
  }
  updated.push({ num: page.num, gen: page.gen, body: serialize(pageDict) });

  const fieldName = opts.fieldName ?? `Signature${fieldCount + 1}`;
  const widget = pdf.dict([
    ['Type', pdf.name('Annot')],
    ['Subtype', pdf.name('Widget')],
    ['FT', pdf.name('Sig')],
    ['T', pdf.text(fieldName)],
    ['V', pdf.ref(sigNum)],
    ['F', pdf.num(132)], // Print | Locked
    ['Rect', pdf.raw('[0 0 0 0]')], // invisible signature: listed in the signature panel only
    ['P', pdf.ref(page.num, page.gen)],
  ]);

  const signingTime = opts.signingTime ?? new Date();
  const placeholderRange = '[0 0 0 0]'.padEnd(BYTE_RANGE_WIDTH, ' ');
  const sigEntries: [string, PdfValue][] = [
    ['Type', pdf.name('Sig')],
    ['Filter', pdf.name('Adobe.PPKLite')],
    ['SubFilter', pdf.name('ETSI.CAdES.detached')],
    ['ByteRange', pdf.raw(placeholderRange)],
    ['M', pdf.text(pdfDate(signingTime))],
  ];
  if (opts.name) sigEntries.push(['Name', pdf.text(opts.name)]);
  if (opts.reason) sigEntries.push(['Reason', pdf.text(opts.reason)]);
  if (opts.location) sigEntries.push(['Location', pdf.text(opts.location)]);
  if (opts.contactInfo) sigEntries.push(['ContactInfo', pdf.text(opts.contactInfo)]);
  sigEntries.push(['Prop_Build', pdf.raw('<< /App << /Name /medsign >> >>')]);
  // /Contents last, so the ByteRange placeholder before it has a fixed position.
  sigEntries.push(['Contents', pdf.raw(`<${'0'.repeat(contentsSize * 2)}>`)]);
  const sigDict = serialize(pdf.dict(sigEntries));

  // Assemble the update.
  const base = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  let text = base[base.length - 1] === 0x0a || base[base.length - 1] === 0x0d ? '' : '\n';
  const entries: { num: number; gen: number; offset: number }[] = [];
  const addObject = (num: number, gen: number, body: string) => {
    entries.push({ num, gen, offset: base.length + text.length });
    text += `${num} ${gen} obj\n${body}\nendobj\n`;
  };
  for (const u of updated) addObject(u.num, u.gen, u.body);
  addObject(widgetNum, 0, serialize(widget));
  const sigOffset = base.length + text.length;
  addObject(sigNum, 0, sigDict);
  const xrefOffset = base.length + text.length;
  text += 'xref\n';
  for (const e of entries.sort((a, b) => a.num - b.num))
    text += `${e.num} 1\n${String(e.offset).padStart(10, '0')} ${String(e.gen).padStart(5, '0')} n\r\n`;
  const trailer: [string, PdfValue][] = [
    ['Size', pdf.num(next)],
    ['Root', pdf.ref(catalog.num, catalog.gen)],
  ];
  const info = x.trailer.get('/Info');
  if (info) trailer.push(['Info', info]);
  const id = x.trailer.get('/ID');
  if (id) trailer.push(['ID', id]);
  trailer.push(['Prev', pdf.num(x.startxref)]);
  text += `trailer\n${serialize(pdf.dict(trailer))}\nstartxref\n${xrefOffset}\n%%EOF\n`;

  const out = Buffer.concat([base, Buffer.from(text, 'latin1')]);
  // Locate the placeholders inside the signature object just written.
  const sigText = out.toString('latin1', sigOffset, xrefOffset);
  const rangeAt = sigOffset + sigText.indexOf(placeholderRange);
  const contentsAt = sigOffset + sigText.indexOf('/Contents <') + '/Contents '.length;
  const contentsEnd = contentsAt + contentsSize * 2 + 2;
  const byteRange: [number, number, number, number] = [0, contentsAt, contentsEnd, out.length - contentsEnd];
  const rangeText = `[${byteRange.join(' ')}]`;
  if (rangeText.length > BYTE_RANGE_WIDTH) throw new RangeError('PDF too large for the ByteRange field');
  out.write(rangeText.padEnd(BYTE_RANGE_WIDTH, ' '), rangeAt, 'latin1');

  const covered = Buffer.concat([out.subarray(0, contentsAt), out.subarray(contentsEnd)]);
  let cms = await signCms({
    content: covered,
    detached: true,
    signers: [{ signer: opts.signer, certificate: opts.certificate }],
    certificates: [opts.certificate, ...(opts.chain ?? [])],
    omitSigningTime: true,
  });
  if (opts.timestamp) {
    const signature = ParsedCms.parse(cms).signerInfos[0]!.signature;
    cms = addTimestampToken(cms, 0, await opts.timestamp(signature));
  }
  if (cms.length > contentsSize) return { ok: false, needed: cms.length };
  out.write(Buffer.from(cms).toString('hex'), contentsAt + 1, 'latin1');
  return { ok: true, result: { pdf: new Uint8Array(out), cms, byteRange } };
}

/** The first /Page under the catalog's /Pages tree (the signature widget's page). */
function firstPage(
  catalog: PdfValue & { kind: 'dict' },
  load: (
    ref: PdfValue | undefined,
    what: string,
  ) => { num: number; gen: number; value: PdfValue; hasStream: boolean },
) {
  let node = load(catalog.entries.get('/Pages'), 'the /Pages tree');
  for (let depth = 0; depth < 32; depth++) {
    if (node.value.kind !== 'dict') throw new RangeError('a page tree node is not a dictionary');
    const type = node.value.entries.get('/Type');
    if (type?.kind === 'name' && type.raw === '/Page') return node;
    const kids = node.value.entries.get('/Kids');
    if (kids?.kind !== 'array' || kids.items.length === 0) throw new RangeError('the PDF has no pages');
    node = load(kids.items[0], 'a page tree node');
  }
  throw new RangeError('the page tree is too deep');
}

/** A PDF date (§7.9.4) in UTC: D:YYYYMMDDHHmmSSZ. */
export function pdfDate(d: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `D:${p(d.getUTCFullYear(), 4)}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
}

/** Parses a PDF date (D:YYYYMMDDHHmmSS with Z or ±HH'mm'); undefined if malformed. */
export function parsePdfDate(v: PdfValue | undefined): Date | undefined {
  const s = decodeText(v);
  const m = s && /^D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(Z|[+-]\d{2}'?\d{2}'?)?/.exec(s);
  if (!m) return undefined;
  const [y, mo = '01', d = '01', h = '00', mi = '00', se = '00'] = m.slice(1, 7) as string[];
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(se));
  const tz = m[7];
  if (tz && tz !== 'Z') {
    const sign = tz[0] === '-' ? -1 : 1;
    const digits = tz.replace(/[^0-9]/g, '');
    t -= sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2, 4) || '0')) * 60_000;
  }
  return Number.isNaN(t) ? undefined : new Date(t);
}
