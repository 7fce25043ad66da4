// The time-source monitor on a fake clock, a manual timer and scripted sources: usable within the
// accuracy, not usable beyond it or when no source answered within the window, the majority rule,
// state changes emitted once, samples at the configured interval, and recovery by itself.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  selectTime,
  TimeMonitor,
  type TimeCheckRecord,
  type TimeSample,
  type TimeSampleSource,
  type TimeSourceChange,
} from '../src/index.js';

class FakeClock {
  t = Date.UTC(2026, 11, 4, 12, 0, 0);
  now = () => new Date(this.t);
  advance(ms: number) {
    this.t += ms;
  }
}

/** A timer the test fires by hand. */
class ManualTimer {
  pending: Array<{ delay: number; run: () => void }> = [];
  schedule(delay: number, run: () => void) {
    const entry = { delay, run };
    this.pending.push(entry);
    return () => void (this.pending = this.pending.filter((p) => p !== entry));
  }
  /** Runs the next scheduled check (after letting the last one finish and reschedule); returns its delay. */
  async fire() {
    await new Promise((r) => setImmediate(r));
    const next = this.pending.shift();
    assert.ok(next, 'a check is scheduled');
    next.run();
    return next.delay;
  }
}

/** A source whose next answer the test sets: an offset and bound, or an error. */
class ScriptedSource implements TimeSampleSource {
  reply: { offsetMs: number; boundMs: number } | Error = { offsetMs: 0, boundMs: 1 };
  closed = false;
  constructor(
    readonly name: string,
    private clock: FakeClock,
  ) {}
  async read(): Promise<TimeSample> {
    if (this.reply instanceof Error) throw this.reply;
    return { source: this.name, ...this.reply, at: this.clock.now() };
  }
  close() {
    this.closed = true;
  }
}

function setup(names = ['ntp:a'], over: { sampleMs?: number } = {}) {
  const clock = new FakeClock();
  const timer = new ManualTimer();
  const sources = names.map((n) => new ScriptedSource(n, clock));
  const samples: TimeCheckRecord[] = [];
  const changes: TimeSourceChange[] = [];
  const monitor = new TimeMonitor({
    sources,
    clock,
    timer,
    sink: {
      sample: async (r) => void samples.push(r),
      change: async (c) => void changes.push(c),
    },
    accuracyMs: 100,
    pollMs: 1000,
    windowMs: 5000,
    sampleMs: over.sampleMs ?? 1000,
  });
  return { clock, timer, sources, samples, changes, monitor };
}

describe('TimeMonitor', () => {
  test('not usable before the first check; usable within the accuracy', async () => {
    const { monitor, sources, changes } = setup();
    assert.equal(monitor.status().usable, false);
    assert.match(monitor.status().detail, /starting/);
    sources[0]!.reply = { offsetMs: 30, boundMs: 5 };
    const s = await monitor.check();
    assert.equal(s.usable, true);
    assert.equal(s.source, 'ntp:a');
    assert.equal(s.offsetMs, 30);
    assert.equal(s.accuracyMs, 100);
    assert.match(s.detail, /ntp:a: offset \+30\.0 ms ± 5\.0 ms, within 100 ms/);
    assert.deepEqual(changes, [], 'a good first check is no change');
  });

  test('|offset| + bound beyond the accuracy → unusable, once; back within → restored, by itself', async () => {
    const { monitor, sources, changes, timer, clock } = setup();
    monitor.start();
    await monitor.check();
    assert.equal(monitor.status().usable, true);
    sources[0]!.reply = { offsetMs: -96, boundMs: 5 }; // 96 + 5 > 100
    clock.advance(await timer.fire());
    await monitor.check();
    assert.equal(monitor.status().usable, false);
    assert.match(monitor.status().detail, /offset −96\.0 ms ± 5\.0 ms exceeds the accuracy of 100 ms/);
    assert.equal(monitor.status().offsetMs, -96, 'the offset is still reported');
    clock.advance(await timer.fire());
    await monitor.check();
    assert.deepEqual(
      changes.map((c) => c.kind),
      ['unusable'],
      'still unusable: no second event',
    );
    sources[0]!.reply = { offsetMs: 2, boundMs: 1 };
    clock.advance(await timer.fire());
    await monitor.check();
    assert.equal(monitor.status().usable, true);
    assert.deepEqual(
      changes.map((c) => [c.kind, c.source, c.usable]),
      [
        ['unusable', 'ntp:a', false],
        ['restored', 'ntp:a', true],
      ],
    );
    await new Promise((r) => setImmediate(r));
    assert.equal(timer.pending.length, 1, 'the next check is scheduled');
    await monitor.stop();
    assert.equal(timer.pending.length, 0, 'stop cancels the next check');
    assert.ok(sources[0]!.closed);
  });

  test('no answer within the window → unusable with the reasons; a late answer restores', async () => {
    const { monitor, sources, clock, changes } = setup();
    await monitor.check();
    sources[0]!.reply = new Error('timeout after 1000 ms');
    clock.advance(4000);
    assert.equal((await monitor.check()).usable, true, 'the last reading is 4 s old: still in the window');
    clock.advance(1500);
    const s = await monitor.check();
    assert.equal(s.usable, false);
    assert.equal(s.source, undefined);
    assert.equal(s.detail, 'no time source answered within 5 s (ntp:a: timeout after 1000 ms)');
    assert.equal(changes.at(-1)?.kind, 'unusable');
    sources[0]!.reply = { offsetMs: 0, boundMs: 1 };
    assert.equal((await monitor.check()).usable, true);
    assert.equal(changes.at(-1)?.kind, 'restored');
  });

  test('a first check that fails is an unusable event (the server started on a bad clock)', async () => {
    const { monitor, sources, changes } = setup();
    sources[0]!.reply = new Error('connection refused');
    await monitor.check();
    assert.deepEqual(
      changes.map((c) => c.kind),
      ['unusable'],
    );
  });

  test('the smallest bound among agreeing sources wins; a switch is an event', async () => {
    const { monitor, sources, changes } = setup(['ntp:a', 'ntp:b', 'gpsd:c']);
    sources[0]!.reply = { offsetMs: 10, boundMs: 8 };
    sources[1]!.reply = { offsetMs: 12, boundMs: 3 };
    sources[2]!.reply = { offsetMs: 5, boundMs: 20 };
    let s = await monitor.check();
    assert.equal(s.source, 'ntp:b');
    assert.match(s.detail, /3 of 3 sources agree/);
    sources[1]!.reply = new Error('timeout');
    sources[0]!.reply = { offsetMs: 11, boundMs: 2 };
    s = await monitor.check();
    assert.equal(s.source, 'ntp:a');
    assert.deepEqual(
      changes.map((c) => [c.kind, c.previousSource, c.source]),
      [['switched', 'ntp:b', 'ntp:a']],
    );
  });

  test('one wild source among three never wins, however small its bound', async () => {
    const { monitor, sources } = setup(['ntp:a', 'ntp:b', 'ntp:liar']);
    sources[0]!.reply = { offsetMs: 4, boundMs: 10 };
    sources[1]!.reply = { offsetMs: -3, boundMs: 12 };
    sources[2]!.reply = { offsetMs: 5000, boundMs: 0.1 };
    const s = await monitor.check();
    assert.equal(s.usable, true);
    assert.equal(s.source, 'ntp:a');
    assert.match(s.detail, /2 of 3 sources agree/);
  });

  test('two sources that disagree: no telling which is wrong → unusable', async () => {
    const { monitor, sources } = setup(['ntp:a', 'ntp:b']);
    sources[0]!.reply = { offsetMs: 1, boundMs: 2 };
    sources[1]!.reply = { offsetMs: 900, boundMs: 2 };
    const s = await monitor.check();
    assert.equal(s.usable, false);
    assert.match(s.detail, /disagree, no majority among 2: ntp:a \+1\.0 ms ± 2\.0 ms, ntp:b \+900\.0 ms/);
  });

  test('samples at most every sampleMs, plus every check that changed the state', async () => {
    const { monitor, sources, clock, samples } = setup(['ntp:a'], { sampleMs: 3000 });
    for (let i = 0; i < 6; i++) {
      await monitor.check();
      clock.advance(1000);
    }
    assert.equal(samples.length, 2, 'checks at 0 … 5 s, sampled at 0 and 3 s');
    sources[0]!.reply = { offsetMs: 500, boundMs: 1 };
    await monitor.check();
    assert.equal(samples.length, 3, 'the change is sampled at once');
    assert.equal(samples.at(-1)?.usable, false);
  });

  test('a failing history write does not stop the monitor or lose a change; the error goes to onError', async () => {
    const clock = new FakeClock();
    const timer = new ManualTimer();
    const errors: unknown[] = [];
    const changes: TimeSourceChange[] = [];
    const source = new ScriptedSource('ntp:a', clock);
    const monitor = new TimeMonitor({
      sources: [source],
      clock,
      timer,
      sink: {
        sample: async () => {
          throw new Error('database gone');
        },
        change: async (c) => void changes.push(c),
      },
      accuracyMs: 100,
      pollMs: 1000,
      windowMs: 5000,
      sampleMs: 1000,
    });
    monitor.start({ onError: (e) => errors.push(e) });
    await monitor.check();
    assert.equal(monitor.status().usable, true);
    assert.equal((errors[0] as Error).message, 'database gone');
    source.reply = { offsetMs: 900, boundMs: 1 };
    await monitor.check();
    assert.deepEqual(
      changes.map((c) => c.kind),
      ['unusable'],
      'the change is still emitted when its sample write fails',
    );
    await monitor.stop();
  });

  test('configuration errors', () => {
    const base = setup();
    const opts = {
      sources: base.sources,
      clock: base.clock,
      timer: base.timer,
      sink: { sample: async () => undefined, change: async () => undefined },
      accuracyMs: 100,
      pollMs: 1000,
      windowMs: 5000,
      sampleMs: 1000,
    };
    assert.throws(() => new TimeMonitor({ ...opts, accuracyMs: 0 }), /accuracyMs/);
    assert.throws(() => new TimeMonitor({ ...opts, sources: [] }), /at least one source/);
    assert.throws(
      () => new TimeMonitor({ ...opts, sources: [base.sources[0]!, base.sources[0]!] }),
      /unique/,
    );
  });
});

describe('selectTime', () => {
  const now = new Date(Date.UTC(2026, 11, 4));
  const r = (source: string, offsetMs: number, boundMs: number, ageMs = 0): TimeSample => ({
    source,
    offsetMs,
    boundMs,
    at: new Date(now.getTime() - ageMs),
  });
  test('the bound grows by 15 ppm of the reading’s age', () => {
    const s = selectTime([r('a', 0, 10, 1000_000)], { now, windowMs: 2000_000, accuracyMs: 100 });
    assert.equal(s.boundMs, 10 + 15);
  });
  test('readings from the future beyond the window (clock stepped back) do not count', () => {
    const s = selectTime([r('a', 0, 1, -10_000)], { now, windowMs: 5000, accuracyMs: 100 });
    assert.equal(s.usable, false);
  });
  test('exactly at the accuracy is usable', () => {
    assert.equal(selectTime([r('a', -90, 10)], { now, windowMs: 5000, accuracyMs: 100 }).usable, true);
  });
});
