/**
 * A streaming XLSX (Office Open XML spreadsheet) writer: one sheet of text cells, written row by row into a
 * streaming ZIP, so an export of a million records holds one batch of rows in memory, never the file.
 *
 * - Cells are inline strings (`t="inlineStr"`): no shared-strings table that grows with the data, and no
 *   formula is ever written — a value such as `=HYPERLINK(…)` stays text. Cells that a person re-typing them
 *   would turn into a formula (leading = + - @) also carry a quotePrefix style, Excel's "text" marker.
 * - ZIP: each entry is deflated as it streams, with its CRC-32 and sizes in a data descriptor after the data
 *   (general-purpose flag bit 3), then the central directory. Entries stay below 4 GiB (no ZIP64): about ten
 *   million rows of the signature export; larger exports need a filter (date range).
 */

import { Readable, pipeline } from 'node:stream';
import { createDeflateRaw } from 'node:zlib';

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (ISO 3309, as ZIP uses it), continuing from `crc`. */
export function crc32(bytes: Uint8Array, crc = 0): number {
  let c = ~crc;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

const LIMIT = 0xffffffff;

/** DOS date and time of `d` (UTC, as the archive's timestamps). */
function dosTime(d: Date): { time: number; date: number } {
  return {
    time: (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1),
    date: ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate(),
  };
}

type Entry = { name: Buffer; crc: number; size: number; csize: number; offset: number };

/**
 * A ZIP archive of `files`, streamed: each file's content is an iterable of chunks, deflated as it is read.
 * Yields the archive's bytes.
 */
export async function* zipStream(
  files: Iterable<{ name: string; content: AsyncIterable<Uint8Array> | Iterable<Uint8Array> }>,
  modified = new Date(),
): AsyncGenerator<Buffer> {
  const { time, date } = dosTime(modified);
  const entries: Entry[] = [];
  let offset = 0;
  for (const file of files) {
    const name = Buffer.from(file.name, 'utf8');
    const header = Buffer.alloc(30);
    header.writeUInt32LE(0x04034b50, 0);
    header.writeUInt16LE(20, 4); // version needed: 2.0 (deflate)
    header.writeUInt16LE(0x0808, 6); // bit 3: sizes in the data descriptor; bit 11: UTF-8 names
    header.writeUInt16LE(8, 8); // deflate
    header.writeUInt16LE(time, 10);
    header.writeUInt16LE(date, 12);
    // crc, sizes: 0 here, in the data descriptor
    header.writeUInt16LE(name.length, 26);
    const entry: Entry = { name, crc: 0, size: 0, csize: 0, offset };
    yield header;
    yield name;
    offset += header.length + name.length;

    async function* counted() {
      for await (const chunk of file.content) {
        entry.crc = crc32(chunk, entry.crc);
        entry.size += chunk.length;
        if (entry.size > LIMIT) throw new RangeError(`${file.name} exceeds 4 GiB (no ZIP64)`);
        yield chunk;
      }
    }
    const deflate = createDeflateRaw({ level: 6 });
    pipeline(Readable.from(counted()), deflate, (error) => {
      if (error) deflate.destroy(error);
    });
    for await (const chunk of deflate as AsyncIterable<Buffer>) {
      entry.csize += chunk.length;
      yield chunk;
    }
    offset += entry.csize;
    const descriptor = Buffer.alloc(16);
    descriptor.writeUInt32LE(0x08074b50, 0);
    descriptor.writeUInt32LE(entry.crc, 4);
    descriptor.writeUInt32LE(entry.csize, 8);
    descriptor.writeUInt32LE(entry.size, 12);
    yield descriptor;
    offset += descriptor.length;
    entries.push(entry);
  }

  const start = offset;
  for (const e of entries) {
    const c = Buffer.alloc(46);
    c.writeUInt32LE(0x02014b50, 0);
    c.writeUInt16LE(20, 4); // made by: 2.0
    c.writeUInt16LE(20, 6);
    c.writeUInt16LE(0x0808, 8);
    c.writeUInt16LE(8, 10);
    c.writeUInt16LE(time, 12);
    c.writeUInt16LE(date, 14);
    c.writeUInt32LE(e.crc, 16);
    c.writeUInt32LE(e.csize, 20);
    c.writeUInt32LE(e.size, 24);
    c.writeUInt16LE(e.name.length, 28);
    c.writeUInt32LE(e.offset, 42);
    yield c;
    yield e.name;
    offset += c.length + e.name.length;
  }
  if (offset > LIMIT) throw new RangeError('the archive exceeds 4 GiB (no ZIP64)');
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(offset - start, 12);
  end.writeUInt32LE(start, 16);
  yield end;
}

/** Characters XML 1.0 forbids: C0 controls but tab/LF/CR, U+FFFE/U+FFFF, unpaired surrogates. */
const NOT_XML = new RegExp(
  '[\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f\\ufffe\\uffff]' +
    '|[\\ud800-\\udbff](?![\\udc00-\\udfff])|(?<![\\ud800-\\udbff])[\\udc00-\\udfff]',
  'g',
);

/** Text as XML character data: markup escaped, characters XML 1.0 forbids dropped. */
export function xmlText(value: string): string {
  return value
    .replace(NOT_XML, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;');
}

/** The column letters of a 0-based column index (0 → A, 26 → AA). */
export function columnName(index: number): string {
  let s = '';
  for (let n = index + 1; n > 0; n = Math.floor((n - 1) / 26))
    s = String.fromCharCode(65 + ((n - 1) % 26)) + s;
  return s;
}

const FORMULA_LIKE = /^[=+\-@]/;

/** One row; `bold` for the header row (style 2), else formula-like values get style 1 (quotePrefix). */
function rowXml(index: number, cells: readonly (string | undefined)[], bold = false): string {
  let out = `<row r="${index}">`;
  cells.forEach((value, i) => {
    if (value === undefined || value === '') return;
    const style = bold ? ' s="2"' : FORMULA_LIKE.test(value) ? ' s="1"' : '';
    const space = /^\s|\s$/.test(value) ? ' xml:space="preserve"' : '';
    out += `<c r="${columnName(i)}${index}" t="inlineStr"${style}><is><t${space}>${xmlText(value)}</t></is></c>`;
  });
  return out + '</row>';
}

const utf8 = (s: string) => Buffer.from(s, 'utf8');

const XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n';
const CONTENT_TYPES =
  XML +
  '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
  '<Default Extension="xml" ContentType="application/xml"/>' +
  '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>' +
  '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>' +
  '<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>' +
  '</Types>';
const ROOT_RELS =
  XML +
  '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
  '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>' +
  '</Relationships>';
const WORKBOOK_RELS =
  XML +
  '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">' +
  '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>' +
  '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/>' +
  '</Relationships>';
// Two cell formats: 0 the default, 1 text with quotePrefix (values that look like formulas).
const STYLES =
  XML +
  '<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' +
  '<fonts count="2"><font><sz val="11"/><name val="Calibri"/></font><font><b/><sz val="11"/><name val="Calibri"/></font></fonts>' +
  '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>' +
  '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>' +
  '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
  '<cellXfs count="3"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' +
  '<xf numFmtId="49" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" quotePrefix="1"/>' +
  '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/></cellXfs>' +
  '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>' +
  '</styleSheet>';

function workbook(sheetName: string): string {
  return (
    XML +
    '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" ' +
    'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">' +
    `<sheets><sheet name="${xmlText(sheetName.slice(0, 31))}" sheetId="1" r:id="rId1"/></sheets></workbook>`
  );
}

/**
 * An .xlsx file of one sheet: a bold header row (frozen) and the rows as text cells, streamed. `rows` yields
 * each row's cell values (undefined or '' → empty cell); rows are batched into chunks of about 64 KiB.
 */
export function xlsxStream(
  sheetName: string,
  header: readonly string[],
  rows: AsyncIterable<readonly (string | undefined)[]>,
  modified = new Date(),
): AsyncGenerator<Buffer> {
  async function* sheet(): AsyncGenerator<Buffer> {
    let chunk =
      XML +
      '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">' +
      '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/></sheetView></sheetViews>' +
      '<sheetData>' +
      rowXml(1, header, true);
    let r = 1;
    for await (const cells of rows) {
      chunk += rowXml(++r, cells);
      if (chunk.length >= 65_536) {
        yield utf8(chunk);
        chunk = '';
      }
    }
    yield utf8(chunk + '</sheetData></worksheet>');
  }
  return zipStream(
    [
      { name: '[Content_Types].xml', content: [utf8(CONTENT_TYPES)] },
      { name: '_rels/.rels', content: [utf8(ROOT_RELS)] },
      { name: 'xl/workbook.xml', content: [utf8(workbook(sheetName))] },
      { name: 'xl/_rels/workbook.xml.rels', content: [utf8(WORKBOOK_RELS)] },
      { name: 'xl/styles.xml', content: [utf8(STYLES)] },
      { name: 'xl/worksheets/sheet1.xml', content: sheet() },
    ],
    modified,
  );
}
