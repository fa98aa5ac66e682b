// SupervisorLink against a scripted fake supervisor: framing, handshake and failure paths that the real
// binary never produces on purpose.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { childProcessSpawner, SupervisorLink, type SupervisorLinkOptions } from '../../src/core/session/supervisor-link';
import type { ExecEvent } from '../../src/core/session/types';
import { OPEN_CONFIG } from './helpers/gate';

const FAKE = join(__dirname, 'helpers', 'fake-supervisor.mjs');

function options(scenario: string, sink: { events: ExecEvent[]; warns: string[]; failed: string[]; exits: number[] }): SupervisorLinkOptions {
  return {
    supervisorPath: process.execPath,
    argv: [scenario],
    config: { ...OPEN_CONFIG, fs: { handled: 'rw', grants: [{ path: '/tmp', rights: 'rw', source: 't', widened: false }] } },
    hashUnder: ['/tmp'],
    // node FAKE --socket P -- SCENARIO
    spawn: (file, args, env) => childProcessSpawner({ stdio: 'pipe' })(file, [FAKE, ...args], env),
    handlers: {
      exec: (e) => sink.events.push(e),
      timeout: () => undefined,
      warn: (m) => sink.warns.push(m),
      exit: (code) => sink.exits.push(code),
      failed: (m) => sink.failed.push(m),
    },
    startTimeoutMs: 10_000,
  };
}

const newSink = (): { events: ExecEvent[]; warns: string[]; failed: string[]; exits: number[] } => ({ events: [], warns: [], failed: [], exits: [] });

describe('SupervisorLink', () => {
  it('sends the CONFIG block after HELLO and resolves on STARTED with report, warnings and pid', async () => {
    const sink = newSink();
    const link = await SupervisorLink.start(options('echo-config', sink));
    expect(link.agentPid).toBe(4242);
    expect(link.report).toEqual({ fs: 'off', net: 'off' });
    expect(link.warnings).toEqual(['a warning']);
    expect(link.hello).toEqual({ pid: 1, landlockAbi: 7, notif: true, killable: true });
    await link.exited;
    expect(sink.warns[0]).toBe('CONFIG 1');
    expect(sink.warns).toContain('FS_HANDLED rights=rw');
    expect(sink.warns).toContain(`HASH_UNDER path=${Buffer.from('/tmp').toString('hex')}`);
    expect(sink.exits).toEqual([0]);
    expect(sink.failed).toEqual([]);
  });

  it('calls afterConfig once, after the config function and once CONFIG is out, before start() resolves', async () => {
    const sink = newSink();
    const order: string[] = [];
    const base = options('echo-config', sink);
    const config = base.config as Exclude<SupervisorLinkOptions['config'], () => unknown>;
    const started = SupervisorLink.start({
      ...base,
      config: () => {
        order.push('config');
        return config;
      },
      afterConfig: () => order.push('afterConfig'),
    }).then((l) => {
      order.push('started');
      return l;
    });
    const link = await started;
    await link.exited;
    expect(order).toEqual(['config', 'afterConfig', 'started']);
    expect(sink.warns[0]).toBe('CONFIG 1');
  });

  it('reassembles a large EXEC line that arrives in many chunks', async () => {
    const sink = newSink();
    const link = await SupervisorLink.start(options('chunked', sink));
    await new Promise<void>((res) => {
      const t = setInterval(() => {
        if (sink.events.length) {
          clearInterval(t);
          res();
        }
      }, 5);
    });
    const ev = sink.events[0];
    expect(ev?.facts.argv[0]).toBe('x'.repeat(300000));
    expect(ev?.facts.argv[1]).toBe('é');
    link.verdict(1, 'deny', true);
    await link.exited;
    expect(sink.warns).toContain('got VERDICT id=1 action=deny cache=1');
    expect(sink.failed).toEqual([]);
  });

  it('never calls a handler before start() has resolved (STARTED and EXEC in one chunk)', async () => {
    const sink = newSink();
    let link: SupervisorLink | null = null;
    const opts = options('same-chunk', sink);
    opts.handlers.exec = (e) => {
      sink.events.push(e);
      expect(link).not.toBeNull();
      link?.verdict(e.facts.requestId, 'allow', false);
    };
    link = await SupervisorLink.start(opts);
    await link.exited;
    expect(sink.events).toHaveLength(1);
    expect(sink.warns).toEqual(['got VERDICT id=1 action=allow']);
  });

  it('rejects with the FATAL message', async () => {
    await expect(SupervisorLink.start(options('fatal', newSink()))).rejects.toThrow('no gate for you');
  });

  it('rejects when the supervisor exits before connecting', async () => {
    await expect(SupervisorLink.start(options('exit-early', newSink()))).rejects.toThrow(/exited \(code 3\) before connecting/);
  });

  it('reports a protocol error as a failure and closes the link', async () => {
    const sink = newSink();
    const link = await SupervisorLink.start(options('garbage', sink));
    await link.exited;
    expect(sink.failed).toHaveLength(1);
    expect(sink.failed[0]).toMatch(/protocol error.*BOGUS/);
  });

  it('reports a supervisor that dies without EXIT', async () => {
    const sink = newSink();
    const link = await SupervisorLink.start(options('vanish', sink));
    await link.exited;
    for (let i = 0; i < 100 && !sink.failed.length; i++) await new Promise((r) => setTimeout(r, 10));
    expect(sink.failed).toEqual(['the supervisor exited with code 9 without reporting the agent\'s exit']);
  });

  it('close() ends the session without a failure report; the socket and its directory are already gone', async () => {
    const sink = newSink();
    const link = await SupervisorLink.start(options('linger', sink));
    const args = readFileSync(`/proc/${link.process.pid}/cmdline`, 'utf8').split('\0');
    const sock = args[args.indexOf('--socket') + 1] ?? '';
    expect(sock).toMatch(/broker\.sock$/);
    expect(existsSync(sock)).toBe(false);
    expect(existsSync(dirname(sock))).toBe(false);
    link.close();
    await link.exited;
    expect(sink.failed).toEqual([]);
  });
});
