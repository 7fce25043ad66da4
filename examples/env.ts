// The one helper the examples share: the server URL, app credentials and the signer from the environment,
// an SDK client, and "run main() when this file is started directly".
import { pathToFileURL } from 'node:url';
import { MedsignApiError, MedsignClient } from '@medsign/sdk';

export type ExampleEnv = Record<string, string | undefined>;
export type Log = (line: string) => void;

export type ExampleContext = {
  client: MedsignClient;
  /** The signer's employee number (MEDSIGN_SIGNER, default D001). */
  signer: string;
  /** The signer's PIN (MEDSIGN_PIN, default 123456). */
  pin: string;
  /** The app id, for authorisations that name this system. */
  appId: string;
};

/** Reads MEDSIGN_URL, MEDSIGN_APP_ID, MEDSIGN_APP_SECRET (required), MEDSIGN_SIGNER, MEDSIGN_PIN. */
export function exampleContext(env: ExampleEnv): ExampleContext {
  const url = env.MEDSIGN_URL ?? 'http://127.0.0.1:8080';
  const appId = env.MEDSIGN_APP_ID;
  const appSecret = env.MEDSIGN_APP_SECRET;
  if (!appId || !appSecret)
    throw new Error(
      'set MEDSIGN_APP_ID and MEDSIGN_APP_SECRET (from `npx medsign app create`), see examples/README.md',
    );
  return {
    client: new MedsignClient({ url, appId, appSecret }),
    signer: env.MEDSIGN_SIGNER ?? 'D001',
    pin: env.MEDSIGN_PIN ?? '123456',
    appId,
  };
}

/** Runs `main(process.env)` when `moduleUrl` is the file node was started with; exit code 1 on failure. */
export function runIfMain(moduleUrl: string, main: (env: ExampleEnv, log: Log) => Promise<unknown>): void {
  const started = process.argv[1];
  if (!started || pathToFileURL(started).href !== moduleUrl) return;
  main(process.env, (line) => console.log(line)).catch((e: unknown) => {
    if (e instanceof MedsignApiError)
      console.error(`${e.message} (HTTP ${e.status}, request ${e.requestId ?? '?'})`);
    else console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  });
}
