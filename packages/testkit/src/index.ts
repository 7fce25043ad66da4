/** @medsign/testkit — helpers for tests across packages (never a runtime dependency of the product). */
export * from './hierarchy.js';
export * from './peers.js';
export * from './cli.js';
export * from './der.js';
export * from './temp-dir.js';
export * from './memory-ca.js';
export * from './ntp-server.js';
export * from './gpsd-server.js';
