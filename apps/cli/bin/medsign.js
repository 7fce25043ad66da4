#!/usr/bin/env node
// The `medsign` command. Runs the compiled CLI (built by `npm ci` / `npm run build`).
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv.slice(2));
