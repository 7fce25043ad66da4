/** Loads a JSON vector file from test/vectors. */
import { readFileSync } from 'node:fs';

export function loadVectors<T>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8')) as T;
}

export const h = (hex: string) => new Uint8Array(Buffer.from(hex.replace(/\s+/g, ''), 'hex'));
export const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
export const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');
