/** PEM (RFC 7468) armour: base64 DER between BEGIN/END lines with a label. */

import { DecodeError } from './errors.js';

export function encodePem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der.buffer, der.byteOffset, der.length).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** All PEM blocks in a text, in order. Text outside blocks (e.g. OpenSSL's "Bag Attributes") is ignored. */
export function decodePemBlocks(text: string): { label: string; der: Uint8Array }[] {
  const out: { label: string; der: Uint8Array }[] = [];
  const re = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END ([A-Z0-9 ]+)-----/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m[1] !== m[3]) throw new DecodeError(`PEM: BEGIN ${m[1]} closed by END ${m[3]}`, m.index);
    const body = m[2]!.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length % 4 !== 0) {
      throw new DecodeError(`PEM: invalid base64 in ${m[1]}`, m.index);
    }
    out.push({ label: m[1]!, der: new Uint8Array(Buffer.from(body, 'base64')) });
  }
  return out;
}

/** The single block of a PEM text (throws DecodeError when there is none). */
export function decodePem(text: string): { label: string; der: Uint8Array } {
  const blocks = decodePemBlocks(text);
  if (blocks.length === 0) throw new DecodeError('no PEM block found');
  return blocks[0]!;
}
