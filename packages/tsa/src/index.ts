/**
 * @medsign/tsa — the time-stamp authority core (RFC 3161, GM/T 0033 profile): TSA units, request policy,
 * token serials and the time-source monitor. Pure logic: the clock, TSA keys, storage and audit come in
 * through ports.
 */

export * from './time-source.js';
export * from './time-monitor.js';
export * from './sntp.js';
export * from './nmea.js';
export * from './ports.js';
export * from './unit.js';
export * from './respond.js';
export * from './client.js';
