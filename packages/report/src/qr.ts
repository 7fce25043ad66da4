/** QR code modules for the report header, from the `qrcode` package (MIT), drawn by the renderer as vectors. */

import QRCode from 'qrcode';

/** The QR symbol for `payload` (error correction M) as rows of dark (true) / light (false) modules. */
export function qrMatrix(payload: string): boolean[][] {
  if (typeof payload !== 'string' || payload.length === 0)
    throw new RangeError('qr.payload must be a non-empty string');
  const code = QRCode.create(payload, { errorCorrectionLevel: 'M' });
  const n = code.modules.size;
  const rows: boolean[][] = [];
  for (let r = 0; r < n; r++) {
    const row: boolean[] = [];
    for (let c = 0; c < n; c++) row.push(code.modules.get(r, c) === 1);
    rows.push(row);
  }
  return rows;
}
