/**
 * LOG and TRACE lines: every line the kernel printed in fixtures/traces/log-lines.json (recorded by
 * scripts/record-log-lines.ts) must come out of formatLogLine / traceLine byte for byte, from the packet's fields
 * and where the line was printed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatLogLine, traceLine, type LogPacket, type QuotedExtras } from '../src/eval/log-format';
import type { QuotedPacket } from '../src/eval/packet';
import type { LineJson, LogLinesFile, PacketJson, QuotedJson } from '../scripts/record-log-lines';

const FILE = join(process.cwd(), 'fixtures', 'traces', 'log-lines.json');
const recorded = JSON.parse(readFileSync(FILE, 'utf8')) as LogLinesFile;

const addr = (s: string): number => s.split('.').reduce((a, b) => a * 256 + Number(b), 0) >>> 0;
const bytes = (hex: string | undefined): Uint8Array => Uint8Array.from(Buffer.from(hex ?? '', 'hex'));

function quoted(q: QuotedJson): QuotedPacket & QuotedExtras {
  return {
    ...q,
    src: addr(q.src),
    dst: addr(q.dst),
    ipOptions: q.ipOptions === undefined ? undefined : bytes(q.ipOptions),
    tcpOptions: q.tcpOptions === undefined ? undefined : bytes(q.tcpOptions),
  };
}

function packet(p: PacketJson, l: LineJson): LogPacket {
  return {
    ...p,
    src: addr(p.src),
    dst: addr(p.dst),
    // The options as the line's hook saw them (the kernel fills a Record Route option on local delivery).
    ipOptions: bytes(l.ipOptions ?? p.ipOptions),
    tcpOptions: bytes(p.tcpOptions),
    quoted: p.quoted ? quoted(p.quoted) : undefined,
    mark: l.mark,
    inIface: l.inIface,
    outIface: l.outIface,
    uid: l.uid,
    gid: l.gid,
  };
}

function render(p: PacketJson, l: LineJson, macHeader = true): string {
  const pkt = packet(p, l);
  const where = { pkt, inIface: l.inIface, outIface: l.outIface, macHeader };
  if (l.kind === 'trace') return traceLine(l.table, l.chain, l.type!, l.n!, where);
  return formatLogLine({ ...where, prefix: l.prefix!, flags: l.flags! });
}

test('the recording has cases', () => {
  expect(recorded.cases.length).toBeGreaterThan(100);
});

describe(`log lines recorded on ${recorded.recorded.kernel}`, () => {
  for (const c of recorded.cases) {
    test(c.name, () => {
      const got = c.lines.map((l) => render(c.packet, l));
      expect(got).toEqual(c.lines.map((l) => l.text));
    });
  }
});

describe('without the link-layer part', () => {
  const withIn = recorded.cases.flatMap((c) => c.lines.filter((l) => l.inIface !== null).map((l) => [c, l] as const));
  test('MAC= and MACSRC=... MACPROTO= go, nothing else changes', () => {
    expect(withIn.length).toBeGreaterThan(0);
    for (const [c, l] of withIn) {
      const expected = l.text.replace(/ MAC=\S* /, ' ').replace(/ MACSRC=\S+ MACDST=\S+ MACPROTO=\S+ /, ' ');
      expect(render(c.packet, l, false)).toBe(expected);
    }
  });
});

describe('what the recording cannot show', () => {
  const base: LogPacket = {
    src: addr('127.0.0.1'),
    dst: addr('127.0.0.1'),
    proto: 1,
    tos: 0,
    ttl: 64,
    id: 55288,
    df: false,
    len: 84,
    ipOptions: new Uint8Array(0),
    sport: 0,
    dport: 0,
    tcpFlags: 0,
    seq: 0,
    ackSeq: 0,
    window: 0,
    urgPtr: 0,
    tcpOptions: new Uint8Array(0),
    icmpType: 0,
    icmpCode: 0,
    icmpId: 3399,
    icmpSeq: 1,
    quoted: undefined,
    mark: 0,
    inIface: 'lo',
    outIface: null,
    macSrc: null,
    macDst: null,
    uid: undefined,
    gid: undefined,
  };
  test('lo prints an all-zero MAC header (as dmesg showed for ping 127.0.0.1)', () => {
    expect(traceLine('raw', 'PREROUTING', 'policy', 1, { pkt: base, inIface: 'lo', outIface: null, macHeader: true })).toBe(
      'TRACE: raw:PREROUTING:policy:1 IN=lo OUT= MAC=00:00:00:00:00:00:00:00:00:00:00:00:08:00 SRC=127.0.0.1 DST=127.0.0.1 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=55288 PROTO=ICMP TYPE=0 CODE=0 ID=3399 SEQ=1 ',
    );
  });
  test('a device without a link-layer header prints an empty MAC=', () => {
    const l = formatLogLine({ prefix: 'x ', flags: 0, pkt: base, inIface: 'tun0', outIface: null, macHeader: true, linkType: 'none' });
    expect(l).toBe('x IN=tun0 OUT= MAC= SRC=127.0.0.1 DST=127.0.0.1 LEN=84 TOS=0x00 PREC=0x00 TTL=64 ID=55288 PROTO=ICMP TYPE=0 CODE=0 ID=3399 SEQ=1 ');
  });
  test('the kernel cuts a line at its 1019-byte buffer (level marker included)', () => {
    const l = formatLogLine({ prefix: 'p'.repeat(1100), flags: 0, pkt: base, inIface: null, outIface: 'lo', macHeader: true });
    expect(l).toBe('p'.repeat(1016));
  });
});
