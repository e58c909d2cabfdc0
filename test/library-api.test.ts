/**
 * The library API (src/index.ts, the package's `import ... from 'tsiptables'`): the same answers as the CLI,
 * checked against the recorded router lab (fixtures/traces/recorded/router-lab.json).
 */
import { readFileSync } from 'node:fs';
import { IptablesError, Ruleset, parseCommand, parseSave, runCommand, save, trace, traceBatch } from '../src/index';
import type { TraceFixtureFile } from '../scripts/trace-fixture-format';

const lab = (JSON.parse(readFileSync('fixtures/traces/recorded/router-lab.json', 'utf8')) as TraceFixtureFile).scenarios[0]!;

test('parseSave + save round-trip the router lab dump', () => {
  const rs = parseSave(lab.rules);
  expect(rs).toBeInstanceOf(Ruleset);
  expect(save(rs).replace(/^#.*\n/gm, '')).toContain('-A POSTROUTING -o eth1 -j MASQUERADE');
});

test('runCommand changes the ruleset and prints what iptables prints; bad input throws IptablesError', () => {
  const rs = new Ruleset();
  expect(runCommand(rs, '-A INPUT -p tcp --dport 22 -j ACCEPT')).toBe('');
  expect(runCommand(rs, ['-S', 'INPUT'])).toBe('-P INPUT ACCEPT\n-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n');
  expect(parseCommand('-t nat -A POSTROUTING -o eth0 -j MASQUERADE').table).toBe('nat');
  expect(() => runCommand(rs, '-A INPUT --dport 22 -j ACCEPT')).toThrow(IptablesError);
});

test('traceBatch gives what the kernel did for the router lab', () => {
  const reports = traceBatch(parseSave(lab.rules), lab.packets.map((p) => p.packet), { host: lab.host });
  reports.forEach((r, i) => {
    const k = lab.packets[i]!.kernel!;
    expect({ fate: r.fate, out: r.out, packet: r.packet, trace: r.trace, dmesg: r.dmesg }).toEqual({ fate: k.fate, out: k.out, packet: k.packet, trace: k.trace, dmesg: k.dmesg });
  });
  expect(trace(parseSave(lab.rules), lab.packets[5]!.packet, { host: lab.host }).fate).toBe('dropped');
});
