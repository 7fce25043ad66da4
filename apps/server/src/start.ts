/**
 * `medsign start`: initialise on first use, open the services, build the HTTP app, listen, and shut down
 * gracefully on SIGTERM/SIGINT (stop accepting, finish in-flight requests, close the app, then the
 * services — so no issuance is cut between sign and store by an orderly stop).
 */

import type { ServerOptions as HttpsServerOptions } from 'node:https';
import type { FastifyInstance } from 'fastify';
import { loadConfig, redactConfig, type LoadConfigOptions } from './config.js';
import { initDataDir, type CaAlgorithm, type InitResult } from './init.js';
import { openServices, type Services } from './services.js';
import { tlsServerOptions } from './tls-server.js';

/** The app factory (app.ts's buildApp; tests may pass a stub). */
export type BuildApp = (
  services: Services,
  opts?: { logger?: boolean | object; https?: HttpsServerOptions },
) => Promise<FastifyInstance>;

/** Options of {@link startServer}. */
export type StartOptions = {
  dataDir: string;
  configFile?: string;
  env?: LoadConfigOptions['env'];
  overrides?: LoadConfigOptions['overrides'];
  /** Algorithms for the first-use init (SM2 always). */
  algorithms?: readonly CaAlgorithm[];
  /** Human-readable lines (URL, first-run credentials); default stdout. */
  print?: (line: string) => void;
  /** Default: buildApp from ./app.js. */
  buildApp?: BuildApp;
  /** Logger options for Fastify (default: JSON pino at the configured level). */
  logger?: boolean | object;
  /** Install SIGTERM/SIGINT handlers (default true; tests turn it off). */
  handleSignals?: boolean;
};

/** A running server. `stopped` settles once shutdown has finished. */
export type RunningServer = {
  url: string;
  app: FastifyInstance;
  services: Services;
  init: InitResult;
  stop(): Promise<void>;
  stopped: Promise<void>;
};

/** Grace period for in-flight requests before the process gives up on a clean close. */
const SHUTDOWN_TIMEOUT_MS = 10_000;

/** Runs init if needed, then serves. Resolves once listening. */
export async function startServer(options: StartOptions): Promise<RunningServer> {
  const print = options.print ?? ((line: string) => void process.stdout.write(line + '\n'));
  const env = options.env ?? {};
  const init = await initDataDir({
    dataDir: options.dataDir,
    ...(options.configFile ? { configFile: options.configFile } : {}),
    ...(options.algorithms ? { algorithms: options.algorithms } : {}),
    ...(options.overrides?.db ? { db: options.overrides.db } : {}),
    env,
    ...(options.overrides ? { overrides: options.overrides } : {}),
  });
  if (init.created) for (const step of init.steps) print(`medsign init: ${step}`);
  const config = loadConfig({
    dataDir: options.dataDir,
    ...(options.configFile ? { configFile: options.configFile } : {}),
    env,
    ...(options.overrides ? { overrides: options.overrides } : {}),
  });
  // SM2 signing on one worker thread per core (TSA tokens, OCSP answers, issuance), so the event loop
  // stays free for HTTP and signatures use every core.
  const services = await openServices(config);
  let app: FastifyInstance;
  try {
    const build = options.buildApp ?? (await import('./app.js')).buildApp;
    app = await build(services, {
      ...(config.tls ? { https: tlsServerOptions(config.tls, services.ca.cas) } : {}),
      logger: options.logger ?? {
        level: config.logLevel,
        // Never log credentials: the Authorization header and cookies are redacted by pino.
        redact: ['req.headers.authorization', 'req.headers.cookie'],
      },
    });
    // The first time-source check runs while the server binds (the TSA refuses until it has passed).
    services.timeMonitor?.start({
      onError: (e) => app.log.error({ err: e }, 'time-source history or audit write failed'),
    });
    await app.listen({ host: config.host, port: config.port });
  } catch (e) {
    await services.close();
    throw e;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : config.port;
  const host = config.host.includes(':') ? `[${config.host}]` : config.host;
  const url = `${config.tls ? 'https' : 'http'}://${host}:${port}`;
  app.log.info({ config: redactConfig(config) }, 'medsign started');
  if (services.recovered?.length)
    app.log.warn(
      { recovered: services.recovered },
      `closed ${services.recovered.length} issuance(s) a crash had interrupted (audit: cert.intent-abandoned / cert.intent-recovered)`,
    );
  print(`medsign is listening on ${url}  (API ${url}/api/v1, docs ${url}/api/docs, health ${url}/healthz)`);
  if (init.admin) {
    print('');
    print('  First administrator account — shown ONCE, write it down now:');
    print(`    username: ${init.admin.username}`);
    print(`    password: ${init.admin.password}`);
    print('  You must change this password at the first login.');
    print('');
  }

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      try {
        await app.close();
      } finally {
        await services.close();
        resolveStopped();
      }
    })());

  if (options.handleSignals ?? true) {
    const onSignal = (signal: NodeJS.Signals) => {
      app.log.info({ signal }, 'shutting down');
      const timer = setTimeout(() => {
        app.log.error('shutdown took too long; exiting');
        process.exit(1);
      }, SHUTDOWN_TIMEOUT_MS);
      timer.unref();
      stop().then(
        () => app.log.info('stopped'),
        (e: unknown) => {
          app.log.error({ err: e }, 'shutdown failed');
          process.exitCode = 1;
        },
      );
    };
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    void stopped.then(() => {
      process.removeListener('SIGTERM', onSignal);
      process.removeListener('SIGINT', onSignal);
    });
  }
  return { url, app, services, init, stop, stopped };
}
