/**
 * The time-source port: what the TSA (and /healthz) ask of the monitor that compares the system clock
 * with the configured sources (NTP servers over SNTP, a GNSS/NMEA or gpsd receiver). The TSA grants a
 * token only while `status().usable` is true and otherwise answers failInfo timeNotAvailable; the
 * monitor's implementation (sources, polling, thresholds, recorded history) lives beside this file.
 */

/** The monitor's view of the clock at its last check. */
export type TimeSourceStatus = {
  /** true while the clock is within the configured accuracy of a source that answered in the window. */
  usable: boolean;
  /** The source the offset came from (e.g. `ntp:127.0.0.1:123`, `nmea:/dev/ttyUSB0`), if any answered. */
  source?: string;
  /** Measured offset of the system clock from the source, ms (positive: the system clock is ahead). */
  offsetMs?: number;
  /** Bound on the error of that offset (round-trip / 2 plus the source's own dispersion), ms. */
  boundMs?: number;
  /** The accuracy the configuration requires (also the `accuracy` written into tokens), ms. */
  accuracyMs: number;
  /** When the last check finished (system clock). */
  checkedAt?: Date;
  /** One line, safe to show on /healthz and in audit details. */
  detail: string;
};

/** Implemented by the monitor; `status()` is synchronous so granting a token costs no I/O. */
export interface TimeSource {
  status(): TimeSourceStatus;
}

/** A time source that trusts the system clock (no external source configured), with the given accuracy. */
export function systemClockTimeSource(accuracyMs: number): TimeSource {
  const status: TimeSourceStatus = {
    usable: true,
    source: 'system',
    accuracyMs,
    detail: 'system clock (no external time source configured)',
  };
  return { status: () => status };
}
