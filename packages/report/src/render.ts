/**
 * renderPdf: draws a ReportDocument on A4 pages with PDFKit — the Noto Sans SC TrueType font embedded as
 * a subset (only the glyphs used, with a ToUnicode map so text extraction and search work), the QR code
 * as vector modules, statements with a printed status, label/value rows whose long values wrap, page
 * breaks between rows, a footer with page numbers on every page, and the attachments as EmbeddedFiles.
 */

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import PDFDocument from 'pdfkit';
import { qrMatrix } from './qr.js';
import type { ReportDocument, ReportRow, ReportStatement } from './model.js';

const require = createRequire(import.meta.url);
const FONT_PACKAGE = '@expo-google-fonts/noto-sans-sc';

let fonts: { regular: Buffer; bold: Buffer } | undefined;

/** The Noto Sans SC TrueType files (SIL OFL 1.1), read once per process. */
function loadFonts(): { regular: Buffer; bold: Buffer } {
  fonts ??= {
    regular: readFileSync(require.resolve(`${FONT_PACKAGE}/400Regular/NotoSansSC_400Regular.ttf`)),
    bold: readFileSync(require.resolve(`${FONT_PACKAGE}/700Bold/NotoSansSC_700Bold.ttf`)),
  };
  return fonts;
}

// Layout (points; A4 is 595.28 × 841.89).
const MARGIN = 50;
const FOOTER_SPACE = 28;
const LABEL_WIDTH = 150;
const GAP = 10;
const QR_SIZE = 92;
const COLOR = {
  text: '#1f2328',
  muted: '#57606a',
  rule: '#d0d7de',
  band: '#eef3f8',
  accent: '#1f4e79',
  pass: '#1a7f37',
  fail: '#cf222e',
  none: '#6e7781',
} as const;

const STATUS = {
  pass: { text: '通过 PASS', color: COLOR.pass },
  fail: { text: '未通过 FAIL', color: COLOR.fail },
  none: { text: '未检查 N/A', color: COLOR.none },
} as const;

function statusOf(s: ReportStatement) {
  return s.ok === true ? STATUS.pass : s.ok === false ? STATUS.fail : STATUS.none;
}

/** Renders the report as PDF bytes (unsigned; sign with signPdf). */
export async function renderPdf(doc: ReportDocument): Promise<Uint8Array> {
  if (!doc || typeof doc.title !== 'string' || !Array.isArray(doc.sections))
    throw new TypeError('renderPdf needs a ReportDocument with a title and sections');
  const { regular, bold } = loadFonts();
  const createdAt = doc.createdAt ?? new Date();
  const pdf = new PDFDocument({
    size: 'A4',
    margins: { top: MARGIN, bottom: MARGIN + FOOTER_SPACE, left: MARGIN, right: MARGIN },
    bufferPages: true,
    autoFirstPage: true,
    pdfVersion: '1.7',
    lang: 'zh-CN',
    displayTitle: true,
    info: {
      Title: doc.title,
      ...(doc.info?.author ? { Author: doc.info.author } : {}),
      ...(doc.info?.subject ? { Subject: doc.info.subject } : {}),
      ...(doc.info?.keywords ? { Keywords: doc.info.keywords } : {}),
      Creator: doc.info?.creator ?? 'medsign',
      Producer: 'medsign @medsign/report',
      CreationDate: createdAt,
    },
  });
  const chunks: Buffer[] = [];
  pdf.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise<void>((resolve, reject) => {
    pdf.on('end', () => resolve());
    pdf.on('error', reject);
  });

  pdf.registerFont('body', regular);
  pdf.registerFont('bold', bold);
  const left = pdf.page.margins.left;
  const width = pdf.page.width - left - pdf.page.margins.right;
  const bottom = () => pdf.page.height - pdf.page.margins.bottom;
  const ensure = (h: number) => {
    if (pdf.y + h > bottom()) pdf.addPage();
  };
  /**
   * Cuts every run without spaces that is wider than `w` (hex, base64) into lines that fit, in the current
   * font: PDFKit would otherwise cut it one character at a time, measuring the rest each time (quadratic:
   * tens of seconds for a 15 000-digit value). Widths are summed per character (measured once each), with
   * a small allowance for kerning.
   */
  const prewrap = (text: string, w: number): string =>
    text.replace(/[^\s]{16,}/g, (run) => {
      const widths = new Map<string, number>();
      const widthOf = (ch: string) => {
        let x = widths.get(ch);
        if (x === undefined) widths.set(ch, (x = pdf.widthOfString(ch)));
        return x;
      };
      const limit = w * 0.95;
      const lines: string[] = [];
      let line = '';
      let lineWidth = 0;
      for (const ch of run) {
        const cw = widthOf(ch);
        if (line && lineWidth + cw > limit) {
          lines.push(line);
          line = '';
          lineWidth = 0;
        }
        line += ch;
        lineWidth += cw;
      }
      if (line) lines.push(line);
      return lines.join('\n');
    });

  // --- Header: title, subtitle, meta rows, QR code at the right.
  const qr = doc.qr ? qrMatrix(doc.qr.payload) : undefined;
  const headerWidth = qr ? width - QR_SIZE - GAP * 2 : width;
  const top = pdf.y;
  pdf.rect(left, top - 6, width, 4).fill(COLOR.accent);
  pdf.y = top + 8;
  pdf.font('bold').fontSize(18).fillColor(COLOR.text);
  pdf.text(doc.title, left, pdf.y, { width: headerWidth });
  if (doc.subtitle) {
    pdf.moveDown(0.2).font('body').fontSize(10).fillColor(COLOR.muted);
    pdf.text(doc.subtitle, left, pdf.y, { width: headerWidth });
  }
  pdf.moveDown(0.6);
  for (const row of doc.meta ?? []) drawRow(row, headerWidth, 8.5, false);
  let headerBottom = pdf.y;
  if (qr && doc.qr) {
    const x = left + width - QR_SIZE;
    const y = top + 8;
    drawQr(qr, x, y);
    if (doc.qr.caption) {
      pdf.font('body').fontSize(7).fillColor(COLOR.muted);
      pdf.text(doc.qr.caption, x - GAP, y + QR_SIZE + 4, {
        width: QR_SIZE + GAP * 2,
        align: 'center',
      });
    }
    headerBottom = Math.max(headerBottom, pdf.y);
  }
  pdf.y = headerBottom + 6;
  pdf
    .moveTo(left, pdf.y)
    .lineTo(left + width, pdf.y)
    .lineWidth(0.75)
    .strokeColor(COLOR.rule)
    .stroke();
  pdf.y += 10;

  // --- Sections.
  for (const section of doc.sections) {
    pdf.font('bold').fontSize(12);
    const headingHeight = pdf.heightOfString(section.heading, { width: width - 16 }) + 8;
    // Keep a heading with at least its first line of content.
    ensure(headingHeight + 40);
    const y = pdf.y;
    pdf.rect(left, y, width, headingHeight).fill(COLOR.band);
    pdf.rect(left, y, 3, headingHeight).fill(COLOR.accent);
    pdf.fillColor(COLOR.accent).text(section.heading, left + 10, y + 4, { width: width - 16 });
    pdf.y = y + headingHeight + 6;
    for (const s of section.statements ?? []) drawStatement(s);
    if (section.statements?.length && section.rows?.length) pdf.y += 4;
    for (const row of section.rows ?? []) drawRow(row, width, 9, true);
    if (section.note) {
      pdf.font('body').fontSize(8.5).fillColor(COLOR.muted);
      const note = prewrap(section.note, width - 1);
      ensure(pdf.heightOfString(note, { width }) + 4);
      pdf.text(note, left, pdf.y + 2, { width });
    }
    pdf.y += 12;
  }

  // --- Attachments.
  for (const a of doc.attachments ?? []) {
    if (!(a.data instanceof Uint8Array)) throw new TypeError(`attachment ${a.name}: data must be bytes`);
    pdf.file(Buffer.from(a.data), {
      name: a.name,
      type: a.mimeType,
      ...(a.description ? { description: a.description } : {}),
      creationDate: createdAt,
      modifiedDate: createdAt,
      relationship: 'Data',
    } as PDFKit.Mixins.PDFAttachmentOptions);
  }

  // --- Footer and page numbers on every page.
  const range = pdf.bufferedPageRange();
  for (let i = range.start; i < range.start + range.count; i++) {
    pdf.switchToPage(i);
    const savedBottom = pdf.page.margins.bottom;
    pdf.page.margins.bottom = 0; // writing below the bottom margin must not open a new page
    const y = pdf.page.height - MARGIN - FOOTER_SPACE + 10;
    pdf
      .moveTo(left, y)
      .lineTo(left + width, y)
      .lineWidth(0.5)
      .strokeColor(COLOR.rule)
      .stroke();
    pdf.font('body').fontSize(7.5).fillColor(COLOR.muted);
    const pageText = `第 ${i + 1} / ${range.count} 页  Page ${i + 1} of ${range.count}`;
    const pageWidth = pdf.widthOfString(pageText) + 2;
    if (doc.footer)
      pdf.text(doc.footer, left, y + 5, { width: width - pageWidth - GAP, lineBreak: true, height: 20 });
    pdf.text(pageText, left + width - pageWidth, y + 5, { width: pageWidth, lineBreak: false });
    pdf.page.margins.bottom = savedBottom;
  }
  pdf.end();
  await done;
  return new Uint8Array(Buffer.concat(chunks));

  function drawRow(row: ReportRow, w: number, size: number, ruled: boolean): void {
    const valueWidth = w - LABEL_WIDTH - GAP;
    pdf.font('body').fontSize(size);
    const value = prewrap(row.value === '' ? '—' : row.value, valueWidth - 1);
    const hLabel = pdf.heightOfString(row.label, { width: LABEL_WIDTH });
    const hValue = pdf.heightOfString(value, { width: valueWidth });
    const h = Math.max(hLabel, hValue);
    if (h < bottom() - pdf.page.margins.top) ensure(h + 4);
    const y = pdf.y;
    const page = pdf.page;
    pdf.fillColor(COLOR.muted).text(row.label, left, y, { width: LABEL_WIDTH });
    const afterLabel = pdf.y;
    pdf.fillColor(COLOR.text).text(value, left + LABEL_WIDTH + GAP, y, { width: valueWidth });
    // A value longer than a page flows onto the next page(s): then continue below it, on its last page.
    pdf.y = (pdf.page === page ? Math.max(pdf.y, afterLabel) : pdf.y) + 3;
    if (ruled) {
      pdf
        .moveTo(left, pdf.y - 1.5)
        .lineTo(left + w, pdf.y - 1.5)
        .lineWidth(0.3)
        .strokeColor(COLOR.rule)
        .stroke();
      pdf.y += 1.5;
    }
  }

  function drawStatement(s: ReportStatement): void {
    const st = statusOf(s);
    const badgeWidth = 62;
    const textWidth = width - badgeWidth - GAP;
    pdf.font('body').fontSize(9.5);
    const text = prewrap(s.text, textWidth - 1);
    const h = Math.max(pdf.heightOfString(text, { width: textWidth }), 14);
    ensure(h + 6);
    const y = pdf.y;
    pdf.roundedRect(left, y, badgeWidth, 14, 3).fill(st.color);
    pdf.font('bold').fontSize(7.5).fillColor('#ffffff');
    pdf.text(st.text, left, y + 2.2, { width: badgeWidth, align: 'center', lineBreak: false });
    pdf.font('body').fontSize(9.5).fillColor(COLOR.text);
    pdf.text(text, left + badgeWidth + GAP, y + 0.5, { width: textWidth });
    pdf.y = Math.max(pdf.y, y + 14) + 5;
  }

  function drawQr(m: boolean[][], x: number, y: number): void {
    const n = m.length;
    const quiet = 2;
    const cell = QR_SIZE / (n + quiet * 2);
    pdf.rect(x, y, QR_SIZE, QR_SIZE).fill('#ffffff');
    pdf.fillColor('#000000');
    for (let r = 0; r < n; r++)
      for (let c = 0; c < n; c++)
        if (m[r]![c]) pdf.rect(x + (c + quiet) * cell, y + (r + quiet) * cell, cell + 0.05, cell + 0.05);
    pdf.fill('#000000');
  }
}
