/**
 * The small part of PDF syntax (ISO 32000-1 §7.3, §7.5) that signing and reading signatures need:
 * a lexer/parser for objects that records each value's byte offsets (so a signature's /Contents can be
 * located exactly), a serializer that writes values back as received, and the classic cross-reference
 * table with its /Prev chain (§7.5.4, §7.5.6 incremental updates). Cross-reference streams and objects
 * inside object streams are not read: signPdf then refuses the input with a clear error.
 *
 * Input is attacker-controlled in the verifier: every read is bounds-checked and nesting is limited.
 */

/** A parsed PDF value; `start`/`end` are byte offsets in the source (end exclusive). */
export type PdfValue =
  | { kind: 'dict'; entries: Map<string, PdfValue>; start: number; end: number }
  | { kind: 'array'; items: PdfValue[]; start: number; end: number }
  | { kind: 'ref'; num: number; gen: number; start: number; end: number }
  | { kind: 'name'; raw: string; start: number; end: number }
  | { kind: 'number'; raw: string; value: number; start: number; end: number }
  | { kind: 'string'; raw: string; bytes: Uint8Array; hex: boolean; start: number; end: number }
  | { kind: 'atom'; raw: string; start: number; end: number };

const WS = new Set([0x00, 0x09, 0x0a, 0x0c, 0x0d, 0x20]);
const DELIM = new Set([0x28, 0x29, 0x3c, 0x3e, 0x5b, 0x5d, 0x7b, 0x7d, 0x2f, 0x25]);
const MAX_DEPTH = 64;

/** Thrown for input this module cannot read. */
export class PdfSyntaxError extends Error {
  constructor(message: string, offset?: number) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'PdfSyntaxError';
  }
}

/** Reads PDF values from `src` (the whole file, latin1 so offsets are byte offsets). */
export class PdfReader {
  readonly src: string;
  pos = 0;

  constructor(bytes: Uint8Array) {
    this.src = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
  }

  private code(i = this.pos): number {
    return this.src.charCodeAt(i);
  }

  skipSpace(): void {
    for (;;) {
      while (this.pos < this.src.length && WS.has(this.code())) this.pos++;
      if (this.code() === 0x25) {
        // comment to end of line
        while (this.pos < this.src.length && this.code() !== 0x0a && this.code() !== 0x0d) this.pos++;
        continue;
      }
      return;
    }
  }

  private regular(): string {
    const start = this.pos;
    while (this.pos < this.src.length && !WS.has(this.code()) && !DELIM.has(this.code())) this.pos++;
    return this.src.slice(start, this.pos);
  }

  /** Reads one value at `pos` (after whitespace); `n g R` becomes a ref. */
  value(depth = 0): PdfValue {
    if (depth > MAX_DEPTH) throw new PdfSyntaxError('nesting too deep', this.pos);
    this.skipSpace();
    const start = this.pos;
    if (start >= this.src.length) throw new PdfSyntaxError('unexpected end of file', start);
    const c = this.src[start]!;
    if (c === '<' && this.src[start + 1] === '<') {
      this.pos += 2;
      const entries = new Map<string, PdfValue>();
      for (;;) {
        this.skipSpace();
        if (this.src.startsWith('>>', this.pos)) {
          this.pos += 2;
          return { kind: 'dict', entries, start, end: this.pos };
        }
        const key = this.value(depth + 1);
        if (key.kind !== 'name') throw new PdfSyntaxError('dictionary key must be a name', key.start);
        entries.set(key.raw, this.value(depth + 1));
      }
    }
    if (c === '[') {
      this.pos++;
      const items: PdfValue[] = [];
      for (;;) {
        this.skipSpace();
        if (this.src[this.pos] === ']') {
          this.pos++;
          return { kind: 'array', items, start, end: this.pos };
        }
        items.push(this.value(depth + 1));
      }
    }
    if (c === '<') return this.hexString(start);
    if (c === '(') return this.literalString(start);
    if (c === '/') {
      this.pos++;
      const name = this.regular();
      return { kind: 'name', raw: `/${name}`, start, end: this.pos };
    }
    const word = this.regular();
    if (word === '') throw new PdfSyntaxError(`unexpected character ${JSON.stringify(c)}`, start);
    if (/^[+-]?(\d+\.?\d*|\.\d+)$/.test(word)) {
      // Look ahead for "gen R".
      if (/^\d+$/.test(word)) {
        const save = this.pos;
        const m = /^\s+(\d+)\s+R(?=[\s/<>[\]()%]|$)/.exec(this.src.slice(this.pos, this.pos + 32));
        if (m) {
          this.pos = save + m[0].length;
          return { kind: 'ref', num: Number(word), gen: Number(m[1]), start, end: this.pos };
        }
      }
      return { kind: 'number', raw: word, value: Number(word), start, end: this.pos };
    }
    return { kind: 'atom', raw: word, start, end: this.pos };
  }

  private hexString(start: number): PdfValue {
    const close = this.src.indexOf('>', start + 1);
    if (close < 0) throw new PdfSyntaxError('unterminated hex string', start);
    const digits = this.src.slice(start + 1, close).replace(/[\0\t\n\f\r ]/g, '');
    if (!/^[0-9A-Fa-f]*$/.test(digits)) throw new PdfSyntaxError('bad hex string', start);
    this.pos = close + 1;
    const bytes = Buffer.from(digits.length % 2 ? digits + '0' : digits, 'hex');
    return {
      kind: 'string',
      raw: this.src.slice(start, this.pos),
      bytes: new Uint8Array(bytes),
      hex: true,
      start,
      end: this.pos,
    };
  }

  private literalString(start: number): PdfValue {
    let i = start + 1;
    let depth = 1;
    const out: number[] = [];
    const esc: Record<string, number> = { n: 10, r: 13, t: 9, b: 8, f: 12, '(': 40, ')': 41, '\\': 92 };
    while (i < this.src.length) {
      const ch = this.src[i]!;
      if (ch === '\\') {
        const n = this.src[i + 1];
        if (n === undefined) break;
        if (n in esc) {
          out.push(esc[n]!);
          i += 2;
        } else if (/[0-7]/.test(n)) {
          const m = /^[0-7]{1,3}/.exec(this.src.slice(i + 1, i + 4))!;
          out.push(parseInt(m[0], 8) & 0xff);
          i += 1 + m[0].length;
        } else if (n === '\r' || n === '\n') {
          i += n === '\r' && this.src[i + 2] === '\n' ? 3 : 2;
        } else {
          out.push(n.charCodeAt(0));
          i += 2;
        }
        continue;
      }
      if (ch === '(') depth++;
      if (ch === ')' && --depth === 0) {
        this.pos = i + 1;
        return {
          kind: 'string',
          raw: this.src.slice(start, this.pos),
          bytes: new Uint8Array(out),
          hex: false,
          start,
          end: this.pos,
        };
      }
      out.push(ch.charCodeAt(0));
      i++;
    }
    throw new PdfSyntaxError('unterminated string', start);
  }

  /** Reads `num gen obj <value> [stream…] endobj` at `offset`; only the value is returned. */
  objectAt(offset: number, num?: number): { num: number; gen: number; value: PdfValue; hasStream: boolean } {
    this.pos = offset;
    this.skipSpace();
    const m = /^(\d+)\s+(\d+)\s+obj\b/.exec(this.src.slice(this.pos, this.pos + 40));
    if (!m) throw new PdfSyntaxError('expected "n g obj"', this.pos);
    if (num !== undefined && Number(m[1]) !== num)
      throw new PdfSyntaxError(`cross-reference points to object ${m[1]}, not ${num}`, this.pos);
    this.pos += m[0].length;
    const value = this.value();
    this.skipSpace();
    const hasStream = this.src.startsWith('stream', this.pos);
    return { num: Number(m[1]), gen: Number(m[2]), value, hasStream };
  }
}

/** Writes a value back as PDF syntax (received leaves verbatim). */
export function serialize(v: PdfValue): string {
  switch (v.kind) {
    case 'dict':
      return `<<${[...v.entries].map(([k, x]) => ` ${k} ${serialize(x)}`).join('')} >>`;
    case 'array':
      return `[${v.items.map(serialize).join(' ')}]`;
    case 'ref':
      return `${v.num} ${v.gen} R`;
    default:
      return v.raw;
  }
}

/** Builders for values the signer writes (offsets are meaningless for them). */
export const pdf = {
  name: (n: string): PdfValue => ({ kind: 'name', raw: `/${n}`, start: -1, end: -1 }),
  num: (n: number): PdfValue => ({ kind: 'number', raw: String(n), value: n, start: -1, end: -1 }),
  ref: (num: number, gen = 0): PdfValue => ({ kind: 'ref', num, gen, start: -1, end: -1 }),
  raw: (raw: string): PdfValue => ({ kind: 'atom', raw, start: -1, end: -1 }),
  array: (items: PdfValue[]): PdfValue => ({ kind: 'array', items, start: -1, end: -1 }),
  dict: (entries: [string, PdfValue][]): PdfValue & { kind: 'dict' } => ({
    kind: 'dict',
    entries: new Map(entries.map(([k, v]) => [`/${k}`, v])),
    start: -1,
    end: -1,
  }),
  /** A text string: ASCII as a literal string, anything else UTF-16BE with BOM as a hex string (§7.9.2.2). */
  text(s: string): PdfValue {
    if (/^[\x20-\x7e]*$/.test(s)) {
      const raw = `(${s.replace(/[\\()]/g, (c) => `\\${c}`)})`;
      return {
        kind: 'string',
        raw,
        bytes: new Uint8Array(Buffer.from(s, 'latin1')),
        hex: false,
        start: -1,
        end: -1,
      };
    }
    const be = Buffer.from(s, 'utf16le').swap16();
    const bytes = Buffer.concat([Buffer.from([0xfe, 0xff]), be]);
    return {
      kind: 'string',
      raw: `<${bytes.toString('hex').toUpperCase()}>`,
      bytes,
      hex: true,
      start: -1,
      end: -1,
    };
  },
};

/** Decodes a PDF text string (UTF-16BE with BOM, UTF-8 with BOM, else PDFDocEncoding ≈ latin1). */
export function decodeText(v: PdfValue | undefined): string | undefined {
  if (!v || v.kind !== 'string') return undefined;
  const b = Buffer.from(v.bytes);
  if (b[0] === 0xfe && b[1] === 0xff) return Buffer.from(b.subarray(2)).swap16().toString('utf16le');
  if (b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) return b.subarray(3).toString('utf8');
  return b.toString('latin1');
}

/** Where each object lives (classic cross-reference tables only) and the newest trailer. */
export type XrefInfo = {
  offsets: Map<number, { offset: number; gen: number }>;
  trailer: Map<string, PdfValue>;
  /** Offset of the newest cross-reference section (the next update's /Prev). */
  startxref: number;
  /** Highest object number + 1 over all sections (/Size). */
  size: number;
};

/** Reads the cross-reference chain from the last `startxref`; newer sections win. */
export function readXref(r: PdfReader): XrefInfo {
  const tail = r.src.slice(Math.max(0, r.src.length - 1024));
  const m = /startxref\s+(\d+)\s+%%EOF\s*$/.exec(tail);
  if (!m) throw new PdfSyntaxError('no startxref / %%EOF at the end of the file');
  const startxref = Number(m[1]);
  const offsets = new Map<number, { offset: number; gen: number }>();
  let trailer: Map<string, PdfValue> | undefined;
  let size = 0;
  const seen = new Set<number>();
  let at: number | undefined = startxref;
  while (at !== undefined) {
    if (seen.has(at) || at < 0 || at >= r.src.length) throw new PdfSyntaxError('bad /Prev chain', at);
    seen.add(at);
    r.pos = at;
    r.skipSpace();
    if (!r.src.startsWith('xref', r.pos))
      throw new PdfSyntaxError(
        'cross-reference streams are not supported (classic xref table expected)',
        r.pos,
      );
    r.pos += 4;
    for (;;) {
      r.skipSpace();
      const head = /^(\d+)\s+(\d+)[ \t]*\r?\n?/.exec(r.src.slice(r.pos, r.pos + 40));
      if (!head) break;
      r.pos += head[0].length;
      const first = Number(head[1]);
      const count = Number(head[2]);
      if (count > 10_000_000) throw new PdfSyntaxError('implausible xref section', r.pos);
      for (let i = 0; i < count; i++) {
        r.skipSpace();
        const e = /^(\d{10}) (\d{5}) ([nf])/.exec(r.src.slice(r.pos, r.pos + 18));
        if (!e) throw new PdfSyntaxError('bad cross-reference entry', r.pos);
        r.pos += 18;
        const num = first + i;
        if (e[3] === 'n' && !offsets.has(num)) offsets.set(num, { offset: Number(e[1]), gen: Number(e[2]) });
        size = Math.max(size, num + 1);
      }
    }
    r.skipSpace();
    if (!r.src.startsWith('trailer', r.pos)) throw new PdfSyntaxError('trailer expected', r.pos);
    r.pos += 7;
    const t = r.value();
    if (t.kind !== 'dict') throw new PdfSyntaxError('trailer must be a dictionary', t.start);
    trailer ??= t.entries;
    const s = t.entries.get('/Size');
    if (s?.kind === 'number') size = Math.max(size, s.value);
    const prev = t.entries.get('/Prev');
    at = prev?.kind === 'number' ? prev.value : undefined;
  }
  return { offsets, trailer: trailer!, startxref, size };
}
