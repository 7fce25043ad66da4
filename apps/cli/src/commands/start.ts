/** `medsign start`: run the platform server (initialising the data directory on first use). */

import { startServer } from '@medsign/server/start';
import { parse } from '../args.js';
import { EXIT } from '../io.js';
import { parseAlgorithms } from './init.js';
import { cliErrorOf, DATA_OPTIONS, dataDirOf } from './server-args.js';

export const START_USAGE = `medsign start [--data DIR] [--port 8080] [--host 127.0.0.1] [--config FILE] [--algorithms sm2,rsa,ecdsa]
  Runs init on first use (printing the administrator's one-time password), then serves the API, OCSP,
  CRLs, /healthz and /metrics. JSON logs on stdout; SIGTERM or Ctrl-C shuts down gracefully.`;

export async function startCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    ...DATA_OPTIONS,
    port: { type: 'string' },
    host: { type: 'string' },
    db: { type: 'string' },
    algorithms: { type: 'string' },
  });
  try {
    const server = await startServer({
      dataDir: dataDirOf(values.data),
      ...(values.config ? { configFile: values.config } : {}),
      env: process.env,
      overrides: {
        ...(values.port !== undefined ? { port: values.port } : {}),
        ...(values.host !== undefined ? { host: values.host } : {}),
        ...(values.db !== undefined ? { db: values.db } : {}),
      },
      algorithms: parseAlgorithms(values.algorithms),
    });
    await server.stopped;
    return EXIT.ok;
  } catch (e) {
    throw cliErrorOf(e);
  }
}
