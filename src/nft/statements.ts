/** Statements with options of their own: log, limit, reject, snat/dnat/masquerade/redirect, fib. */
import type { Atom, NftLoc } from './ast';
import { NftError } from './errors';
import { lookupSet, type Parts, type RuleContext } from './context';
import { Cursor, quoted, readScalarText, readSelectors, REL_OPS, unexpected } from './cursor';
import { splitElements } from './elements';

/** The log flags, in the order nft prints them; all of them print as `flags all`. */
export const LOG_FLAGS = ['tcp sequence', 'tcp options', 'ip options', 'skuid', 'ether'];

export function readLog(c: Cursor): string {
  let prefix: string | undefined;
  let level: string | undefined;
  let group: string | undefined;
  let snaplen: string | undefined;
  const flags = new Set<string>();
  for (;;) {
    const w = c.word();
    if (w === 'prefix') {
      c.next();
      prefix = quoted(c);
    } else if (w === 'level') {
      c.next();
      level = quoted(c);
    } else if (w === 'group') {
      c.next();
      group = quoted(c);
    } else if (w === 'snaplen') {
      c.next();
      snaplen = quoted(c);
    } else if (w === 'flags') {
      // flags all | skuid | ether | tcp sequence[,options] | ip options
      c.next();
      const kind = quoted(c);
      if (kind === 'tcp' || kind === 'ip') {
        for (const f of readScalarText(c, 'tcp_flag').text.split(',')) flags.add(`${kind} ${f}`);
      } else if (kind === 'all') for (const f of LOG_FLAGS) flags.add(f);
      else flags.add(kind);
    } else break;
  }
  let s = 'log';
  if (prefix !== undefined) s += ` prefix "${prefix}"`;
  if (group !== undefined) s += ` group ${group}`;
  if (snaplen !== undefined) s += ` snaplen ${snaplen}`;
  if (level !== undefined && level !== 'warn') s += ` level ${level}`;
  if (LOG_FLAGS.every((f) => flags.has(f))) s += ' flags all';
  else {
    const tcp = ['sequence', 'options'].filter((f) => flags.has(`tcp ${f}`));
    if (tcp.length > 0) s += ` flags tcp ${tcp.join(',')}`;
    if (flags.has('ip options')) s += ' flags ip options';
    if (flags.has('skuid')) s += ' flags skuid';
    if (flags.has('ether')) s += ' flags ether';
  }
  return s;
}

export const FIB_TYPES = new Set(['unspec', 'unicast', 'local', 'broadcast', 'anycast', 'multicast', 'blackhole', 'unreachable', 'prohibit', 'throw', 'nat', 'xresolve']);

/** `fib FLAG [. FLAG] oif|oifname|type [op] VALUE` (src/fib.c). */
export function readFib(c: Cursor): string {
  const flags: string[] = [];
  for (;;) {
    const f = c.next();
    if (f.k !== 'word' || !['saddr', 'daddr', 'mark', 'iif', 'oif'].includes(f.text)) throw unexpected(f);
    flags.push(f.text);
    if (c.isOp('.')) c.next();
    else break;
  }
  const result = c.next();
  if (result.k !== 'word' || !['oif', 'oifname', 'type'].includes(result.text)) throw unexpected(result);
  let s = `fib ${flags.join(' . ')} ${result.text}`;
  const op = c.peek();
  if (op?.k === 'op' && REL_OPS.has(op.text)) {
    c.next();
    if (op.text !== '==') s += ` ${op.text}`;
  }
  const v = c.next();
  if (v.k === 'brace') return `${s} { ${splitElements(v.atoms).map((e) => (e[0] as { text: string }).text).sort((a, b) => [...FIB_TYPES].indexOf(a) - [...FIB_TYPES].indexOf(b)).join(', ')} }`;
  if (v.k !== 'word' && v.k !== 'string') throw unexpected(v);
  if (result.text === 'type' && !FIB_TYPES.has(v.text)) throw new NftError(`Could not parse fib address type`, v.loc);
  if (result.text === 'oifname') return `${s} "${v.text}"`;
  return `${s} ${v.text}`;
}

const UNIT_BYTES: Record<string, bigint> = { bytes: 1n, kbytes: 1024n, mbytes: 1024n * 1024n };

/** A byte count in the largest of bytes, kbytes, mbytes that divides it (nft's get_rate()). */
function bytesText(n: bigint): string {
  let v = n;
  let unit = 'bytes';
  for (const u of ['kbytes', 'mbytes']) {
    if (v === 0n || v % 1024n !== 0n) break;
    v /= 1024n;
    unit = u;
  }
  return `${v} ${unit}`;
}

/** `quota [over] N UNIT [used N UNIT]`. */
export function readQuota(c: Cursor): string {
  let s = 'quota';
  if (c.word() === 'over') {
    c.next();
    s += ' over';
  }
  const amount = (): string => {
    const n = c.next();
    const u = c.next();
    if (n.k !== 'word' || !/^\d+$/.test(n.text)) throw unexpected(n);
    if (u.k !== 'word' || UNIT_BYTES[u.text] === undefined) throw unexpected(u);
    return bytesText(BigInt(n.text) * UNIT_BYTES[u.text]!);
  };
  s += ` ${amount()}`;
  if (c.word() === 'used') {
    c.next();
    s += ` used ${amount()}`;
  }
  return s;
}

export function readLimit(c: Cursor): string {
  const r = c.word();
  if (r !== 'rate') throw c.peek() ? unexpected(c.peek()!) : c.unexpectedEnd();
  c.next();
  let over = '';
  if (c.word() === 'over') {
    c.next();
    over = 'over ';
  }
  const rate = c.next();
  if (rate.k !== 'word') throw unexpected(rate);
  let text = rate.text;
  const perUnit = /^(bytes|kbytes|mbytes)\/(second|minute|hour|day|week)$/.exec(c.word() ?? '');
  if (perUnit) {
    // A byte rate: `N UNIT/TIME [burst N UNIT]`, printed in the largest unit that divides it.
    c.next();
    let s = `limit rate ${over}${bytesText(BigInt(rate.text) * UNIT_BYTES[perUnit[1]!]!)}/${perUnit[2]}`;
    if (c.word() === 'burst') {
      c.next();
      const n = BigInt((c.next() as { text: string }).text);
      const unit = c.word() !== undefined && UNIT_BYTES[c.word()!] !== undefined ? (c.next() as { text: string }).text : 'bytes';
      const total = n * UNIT_BYTES[unit]!;
      if (total !== 0n) s += ` burst ${bytesText(total)}`;
    }
    return s;
  }
  if (c.isOp('/')) {
    c.next();
    text += `/${(c.next() as { text: string }).text}`;
  }
  let burst = '';
  if (c.word() === 'burst') {
    c.next();
    const n = (c.next() as { text: string }).text;
    let unit = 'packets';
    if (c.word() === 'bytes') throw new NftError('syntax error, unexpected bytes, expecting packets', c.peek()!.loc);
    if (c.word() === 'packets') unit = (c.next() as { text: string }).text;
    if (!(n === '5' && unit === 'packets')) burst = ` burst ${n} ${unit}`;
  }
  return `limit rate ${over}${text}${burst}`;
}

export function readReject(c: Cursor, ctx: RuleContext, kw: NftLoc): string {
  if (c.word() !== 'with') return 'reject';
  c.next();
  const kind = c.next();
  if (kind.k !== 'word') throw unexpected(kind);
  if (kind.text === 'tcp') {
    const r = c.next();
    if (r.k !== 'word' || r.text !== 'reset') throw unexpected(r);
    return 'reject with tcp reset';
  }
  if (c.word() === 'type') c.next();
  const code = c.next();
  if (code.k !== 'word') throw unexpected(code);
  if (kind.text === 'icmpx' && ctx.family !== 'inet' && ctx.family !== 'bridge' && ctx.family !== 'netdev') {
    throw new NftError('abstracted ICMP unreachable not supported', code.loc, kw);
  }
  if (kind.text === 'icmp' && code.text === 'port-unreachable' && ctx.family === 'ip') return 'reject';
  if (kind.text === 'icmpx' && code.text === 'port-unreachable' && ctx.family === 'inet') return 'reject';
  return `reject with ${kind.text} ${code.text}`;
}

export const NAT_FLAGS = ['random', 'fully-random', 'persistent'];

export function readNat(c: Cursor, kw: Atom & { k: 'word' }, ctx: RuleContext, p: Parts): string {
  let s = kw.text;
  let familyGiven = false;
  if (c.word() === 'ip' || c.word() === 'ip6') {
    if (c.word(1) === 'to' || c.word(1) === 'addr') {
      s += ` ${(c.next() as { text: string }).text}`;
      familyGiven = true;
    }
  }
  // An address in an inet table needs `ip` or `ip6` (a port alone does not).
  const addressed = c.word() === 'to' && c.word(1) !== undefined && !(c.peek(1)?.k === 'op' && (c.peek(1) as { text: string }).text === ':');
  if (ctx.family === 'inet' && !familyGiven && addressed && (kw.text === 'snat' || kw.text === 'dnat')) {
    throw new NftError('ip or ip6 must be specified with address for inet tables.', kw.loc);
  }
  if (c.word() === 'to') {
    c.next();
    const sels = readSelectors(c);
    if (sels) {
      const m = c.next();
      const ref = c.next();
      if (!(m.k === 'word' && m.text === 'map') || ref.k !== 'setref') throw unexpected(m);
      lookupSet(ctx, ref);
      s += ` to ${sels.map((x) => x.print).join(' . ')} map @${ref.name}`;
    } else {
      const first = c.peek();
      const t = readScalarText(c, 'inet_service');
      if (t.text.startsWith(':') || t.text.includes(':')) {
        const portAt = t.text.indexOf(':');
        if (!p.sawTransport) {
          void first;
          const portLoc = { ...t.loc, column: t.loc.column + portAt + 1 };
          throw new NftError('transport protocol mapping is only valid after transport protocol match', portLoc, kw.loc);
        }
      }
      s += ` to ${t.text}`;
    }
  }
  const flags: string[] = [];
  while (c.word() !== undefined && NAT_FLAGS.includes(c.word()!.split(',')[0]!)) {
    flags.push(...c.word()!.split(','));
    c.next();
    while (c.isOp(',') && c.word(1) !== undefined) {
      c.next();
      flags.push((c.next() as { text: string }).text);
    }
  }
  if (flags.length > 0) s += ` ${NAT_FLAGS.filter((f) => flags.includes(f)).join(',')}`;
  return s;
}
