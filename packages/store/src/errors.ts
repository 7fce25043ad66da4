/**
 * Why a store operation was refused. Adapters do not own the domain error table (conventions.md §3):
 * the domain core maps these coarse codes onto its own (`CA_SERIAL_EXISTS`, …).
 * - `conflict`: a unique key already exists (duplicate serial, key id, CA id, intent for a serial).
 * - `not-found`: the row an update names does not exist.
 * - `invalid-state`: the row exists but the requested transition is not allowed from its state.
 * - `exhausted`: a retry loop (serial reservation) gave up.
 */
export type StoreErrorCode = 'conflict' | 'not-found' | 'invalid-state' | 'exhausted';

/** The one error class of `@medsign/store`; `cause` keeps the driver error for logs. */
export class StoreError extends Error {
  override readonly name = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
