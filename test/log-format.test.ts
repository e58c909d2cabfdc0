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
  const where = { pkt, inIface: l.inIface, outIface: l.outIface, macHeader, linkType: l.linkType };
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

describe('devices that are not Ethernet', () => {
  // lo prints its all-zero MAC header; a TUN device (no link-layer header) an empty MAC=. Both are recorded cases of
  // the loop above; this only makes sure the recording keeps them.
  const lines = recorded.cases.flatMap((c) => c.lines);
  test('the recording has lines of packets that came in by lo', () => {
    expect(lines.filter((l) => l.inIface === 'lo').length).toBeGreaterThan(0);
  });
  test('the recording has lines of packets that came in by a device without a link-layer header', () => {
    expect(lines.filter((l) => l.linkType === 'none').length).toBeGreaterThan(0);
  });
});

// Not asserted: the kernel cuts a line at its 1019-byte buffer (struct nf_log_buf; LogBuf in src/eval/log-format.ts),
// but no line the recorder can make reaches it: the longest IPv4 line (an ICMP error quoting a TCP header, both
// with 40 bytes of options, every flag, UID, GID and MARK, a 29-byte LOG prefix) has under 800 bytes.
