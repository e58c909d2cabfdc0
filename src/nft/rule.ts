/**
 * A rule's atoms (from grammar/nft) read as nft reads them, and printed as `nft list ruleset` prints them:
 * matches `SELECTOR [op] VALUE` (values, anonymous sets, @named sets, bitwise masks, concatenations), and the
 * statements: verdicts, counter, log, limit, reject, nat, notrack, mark and payload rewrites, vmaps, fwd, comment.
 */
import type { Atom } from './ast';
import { NftError } from './errors';
import { lookupSet, type Parts, type RuleContext } from './context';
import { BITMASK_TYPES, Cursor, quoted, readScalarText, readSelectors, REL_OPS, spanOf, unexpected, valueOf, VERDICT_WORDS } from './cursor';
import { mergeIntervals, readElement, sortElements, splitElements } from './elements';
import { readFib, readLimit, readLog, readNat, readQuota, readReject } from './statements';
import type { Selector } from './selectors';

export type { RuleContext } from './context';

/** The order `flags` prints a set's flags in (recorded). */
export const SET_FLAG_ORDER = ['constant', 'dynamic', 'interval', 'timeout'];

/** `{ a, b }` as nft prints an anonymous set (sorted, one line); a single plain element loses its braces. */
function anonymousSet(ctx: RuleContext, brace: Extract<Atom, { k: 'brace' }>, keyTypes: string[], dataType: string | undefined): { text: string; single: boolean } {
  const written = splitElements(brace.atoms);
  let els = sortElements(written.map((e) => readElement(e, keyTypes, dataType)));
  // One element written: no set at all (a plain comparison); duplicates still make a set.
  if (written.length === 1 && !ctx.listing && dataType === undefined && keyTypes.length === 1) return { text: els[0]!.text, single: true };
  // A set with a range or a prefix is an interval set, and nft merges an anonymous one (overlaps and neighbours).
  if (dataType === undefined && keyTypes.length === 1 && els.some((e) => e.range !== undefined)) els = mergeIntervals(keyTypes[0]!, els);
  if (ctx.anonymousSets) {
    ctx.anonymousSets.count++;
    ctx.anonymousSets.locs.push(brace.loc);
  }
  return { text: `{ ${els.map((e) => e.text).join(', ')} }`, single: false };
}

function keyTypesOf(sels: Selector[]): string[] {
  return sels.map((s) => s.type);
}

/** The right-hand side of a match or a `set` statement: a value, an anonymous set or @set. */
function readRhs(c: Cursor, ctx: RuleContext, sels: Selector[]): string {
  const a = c.peek();
  if (!a) throw c.unexpectedEnd();
  if (a.k === 'brace') {
    c.next();
    return anonymousSet(ctx, a, keyTypesOf(sels), undefined).text;
  }
  if (a.k === 'setref') {
    c.next();
    lookupSet(ctx, a);
    return `@${a.name}`;
  }
  const parts: string[] = [];
  for (let k = 0; k < sels.length; k++) {
    if (k > 0) {
      const dot = c.next();
      if (!(dot.k === 'op' && dot.text === '.')) throw unexpected(dot);
    }
    const s = readScalarText(c, sels[k]!.type);
    parts.push(valueOf(sels[k]!.type, s.text, s.loc).text);
  }
  return parts.join(' . ');
}

function readMatchOrSet(c: Cursor, ctx: RuleContext, p: Parts): boolean {
  const start = c.i;
  const sels = readSelectors(c);
  if (!sels) return false;
  const lhs = sels.map((s) => s.print).join(' . ');
  if (lhs === 'meta nfproto' && ctx.family !== 'inet') {
    throw new NftError('meta nfproto is only useful in the inet family', spanOf(c.atoms[start]!.loc, c.atoms[c.i - 1]!.loc));
  }
  const type = sels[0]!.type;
  if (/^(tcp|udp|th|sctp) /.test(lhs) || lhs === 'meta l4proto' || lhs === 'ip protocol') p.sawTransport = true;
  const w = c.word();
  if (w === 'set' && sels.length === 1) {
    c.next();
    const other = readSelectors(c);
    if (other) {
      let s = `${lhs} set ${other.map((x) => x.print).join(' . ')}`;
      // The kernel keeps `(x & mask) ^ xor`; nft folds the operators into that and prints it back
      // (netlink_delinearize: `& (mask | xor) | xor` when xor only sets bits the mask clears, else `& mask ^ xor`).
      const all = 0xffffffffn;
      // Operands as (mask, xor) pairs: the expression is (x & mask) ^ xor; a constant c is (0, c).
      const terms: { op: string; m: bigint; x: bigint }[] = [{ op: '', m: all, x: 0n }];
      for (;;) {
        const opWord = c.peek();
        const op = opWord?.k === 'op' && ['&', '|', '^'].includes(opWord.text) ? opWord.text : opWord?.k === 'word' ? ({ and: '&', or: '|', xor: '^' } as Record<string, string>)[opWord.text] : undefined;
        if (op === undefined) break;
        c.next();
        const v = readScalarText(c, other[0]!.type);
        terms.push({ op, m: 0n, x: valueOf(other[0]!.type, v.text, v.loc).key });
      }
      const any = terms.length > 1;
      const apply = (a: { m: bigint; x: bigint }, op: string, b: { m: bigint; x: bigint }): { m: bigint; x: bigint } => {
        // One side is a constant (m = 0) in every expression nft accepts here.
        const [v, k] = b.m === 0n ? [a, b.x] : [b, a.x];
        if (op === '&') return { m: v.m & k, x: v.x & k };
        if (op === '|') return { m: v.m & ~k & all, x: v.x | k };
        return { m: v.m, x: v.x ^ k };
      };
      // nft's precedence: & before ^ before |.
      const fold = (list: typeof terms, ops: string[]): typeof terms => {
        const out: typeof terms = [];
        for (const t of list) {
          const last = out[out.length - 1];
          if (last && ops.includes(t.op)) out[out.length - 1] = { op: last.op, ...apply(last, t.op, t) };
          else out.push(t);
        }
        return out;
      };
      const folded = fold(fold(fold(terms, ['&']), ['^']), ['|'])[0]!;
      const mask = folded.m;
      const xor = folded.x;
      if (any) {
        const pr = (n: bigint): string => valueOf(other[0]!.type, `0x${n.toString(16)}`, c.atoms[c.i - 1]!.loc).text;
        if ((xor & mask) === 0n) {
          const m = mask | xor;
          if (m !== all) s += ` & ${pr(m)}`;
          if (xor !== 0n) s += ` | ${pr(xor)}`;
        } else {
          if (mask !== all) s += ` & ${pr(mask)}`;
          s += ` ^ ${pr(xor)}`;
        }
      }
      p.out.push(s);
    } else p.out.push(`${lhs} set ${readRhs(c, ctx, sels)}`);
    return true;
  }
  if (w === 'vmap') {
    c.next();
    const a = c.next();
    if (a.k === 'setref') {
      lookupSet(ctx, a);
      p.out.push(`${lhs} vmap @${a.name}`);
    } else if (a.k === 'brace') p.out.push(`${lhs} vmap ${anonymousSet(ctx, a, keyTypesOf(sels), 'verdict').text}`);
    else throw unexpected(a);
    return true;
  }
  if (w === 'map' && c.peek(1)?.k === 'setref') {
    // Only the value of a nat statement (`dnat to ip daddr map @m`): the caller prints it.
    c.i = start;
    return false;
  }
  if (c.isOp('&') || c.isOp('|') || c.isOp('^')) {
    const op = (c.next() as { text: string }).text;
    const m = readScalarText(c, type);
    const mask = valueOf(type, m.text, m.loc);
    let rel = '==';
    if (c.peek()?.k === 'op' && REL_OPS.has((c.peek() as { text: string }).text)) rel = (c.next() as { text: string }).text;
    const rhs = readRhs(c, ctx, sels);
    if (type === 'tcp_flag' && op === '&' && (rel === '==' || rel === '!=') && mask.key === 0xffn) p.out.push(`${lhs} ${rel} ${rhs}`);
    else if (type === 'tcp_flag' && op === '&' && (rel === '==' || rel === '!=') && (rhs !== mask.text || mask.text.includes(','))) p.out.push(`${lhs} ${rel === '==' ? '' : '!= '}${rhs} / ${mask.text}`);
    else p.out.push(`${lhs} ${op} ${mask.text} ${rel} ${rhs}`);
    return true;
  }
  let rel: string | undefined;
  const opAtom = c.peek();
  if (opAtom?.k === 'op' && REL_OPS.has(opAtom.text)) {
    c.next();
    rel = opAtom.text;
  }
  const rhs = readRhs(c, ctx, sels);
  if (c.isOp('/') && BITMASK_TYPES.has(type)) {
    // `tcp flags syn / syn,ack`: the printed spelling of `tcp flags & (syn|ack) == syn`.
    c.next();
    const m = readScalarText(c, type);
    p.out.push(`${lhs} ${rel === '!=' ? '!= ' : ''}${rhs} / ${valueOf(type, m.text, m.loc).text}`);
    return true;
  }
  if (rel === undefined && type === 'tcp_flag' && rhs === 'fin,syn,rst,psh,ack,urg,ecn,cwr') {
    // Implicit `flags & V != 0` with every bit in V: nft prints the comparison it became.
    p.out.push(`${lhs} != 0x0`);
    return true;
  }
  const showEq = rel === '==' && BITMASK_TYPES.has(type) && !rhs.startsWith('{') && !rhs.startsWith('@');
  p.out.push(rel === undefined || (rel === '==' && !showEq) ? `${lhs} ${rhs}` : `${lhs} ${rel} ${rhs}`);
  return true;
}

/** Reads a rule and returns its canonical text. */
export function interpretRule(atoms: Atom[], ctx: RuleContext): string {
  const c = new Cursor(atoms);
  const p: Parts = { out: [], comment: undefined, sawTransport: false };
  while (!c.done()) {
    const a = c.peek()!;
    if (a.k === 'word') {
      const w = a.text;
      if (VERDICT_WORDS.has(w)) {
        c.next();
        p.out.push(w);
        continue;
      }
      if (w === 'jump' || w === 'goto') {
        c.next();
        const t = c.next();
        if (t.k !== 'word' && t.k !== 'string') throw unexpected(t);
        if (!ctx.table.chains.has(t.text)) throw new NftError('Could not process rule: No such file or directory', t.loc);
        p.out.push(`${w} ${t.text}`);
        continue;
      }
      if ((w === 'counter' || w === 'quota') && c.word(1) === 'name') {
        // A named counter or quota of the table (recorded: nft-objects): the rule refers to it, quoted.
        c.i += 2;
        const n = c.next();
        if (n.k !== 'word' && n.k !== 'string') throw unexpected(n);
        const o = ctx.table.objects.get(`${w} ${n.text}`);
        if (!o || o.kind !== w) throw new NftError('Could not process rule: No such file or directory', n.loc);
        p.out.push(`${w} name "${n.text}"`);
        continue;
      }
      if (w === 'counter') {
        c.next();
        let packets = '0';
        let bytes = '0';
        if (c.word() === 'packets') {
          c.next();
          packets = (c.next() as { text: string }).text;
          if (c.word() === 'bytes') {
            c.next();
            bytes = (c.next() as { text: string }).text;
          }
        }
        p.out.push(`counter packets ${packets} bytes ${bytes}`);
        continue;
      }
      if (w === 'log') {
        c.next();
        p.out.push(readLog(c));
        continue;
      }
      if (w === 'limit') {
        c.next();
        p.out.push(readLimit(c));
        continue;
      }
      if (w === 'reject') {
        c.next();
        p.out.push(readReject(c, ctx, a.loc));
        continue;
      }
      if ((w === 'add' || w === 'update') && c.peek(1)?.k === 'setref' && c.peek(2)?.k === 'brace') {
        c.next();
        const ref = c.next() as Extract<Atom, { k: 'setref' }>;
        const body = c.next() as Extract<Atom, { k: 'brace' }>;
        lookupSet(ctx, ref);
        const st = ctx.table.sets.get(ref.name);
        if (st) {
          if (!st.flags.includes('dynamic')) st.flags.push('dynamic');
          st.flags.sort((x, y) => SET_FLAG_ORDER.indexOf(x) - SET_FLAG_ORDER.indexOf(y));
          st.size ??= 65535;
        }
        const inner = new Cursor(body.atoms);
        const sels = readSelectors(inner);
        if (!sels) throw inner.peek() ? unexpected(inner.peek()!) : unexpected(body);
        const parts = [sels.map((x) => x.print).join(' . ')];
        if (inner.word() === 'timeout') {
          inner.next();
          parts.push(`timeout ${(inner.next() as { text: string }).text}`);
        }
        if (inner.word() === 'limit') {
          inner.next();
          parts.push(readLimit(inner));
        }
        if (inner.word() === 'counter') {
          inner.next();
          parts.push('counter packets 0 bytes 0');
        }
        if (!inner.done()) throw unexpected(inner.peek()!);
        p.out.push(`${w} @${ref.name} { ${parts.join(' ')} }`);
        continue;
      }
      if (w === 'fib') {
        c.next();
        p.out.push(readFib(c));
        continue;
      }
      if (w === 'tcp' && c.word(1) === 'option' && c.word(2) === 'maxseg' && c.word(3) === 'size') {
        c.i += 4;
        let s = 'tcp option maxseg size';
        if (c.word() === 'set') {
          c.next();
          if (c.word() === 'rt' && c.word(1) === 'mtu') {
            c.i += 2;
            s += ' set rt mtu';
          } else s += ` set ${valueOf('integer', (c.next() as { text: string }).text, c.atoms[c.i - 1]!.loc).text}`;
        } else {
          const op = c.peek();
          if (op?.k === 'op' && REL_OPS.has(op.text)) {
            c.next();
            if (op.text !== '==') s += ` ${op.text}`;
          }
          const v = readScalarText(c, 'integer');
          s += ` ${valueOf('integer', v.text, v.loc).text}`;
        }
        p.out.push(s);
        continue;
      }
      if (w === 'quota') {
        c.next();
        p.out.push(readQuota(c));
        continue;
      }
      if (w === 'synproxy') {
        c.next();
        p.out.push('synproxy');
        continue;
      }
      if (w === 'dup' && c.word(1) === 'to') {
        c.i += 2;
        const a = c.next();
        if (a.k !== 'word') throw unexpected(a);
        p.out.push(`dup to ${valueOf(ctx.family === 'ip6' ? 'ipv6_addr' : 'ipv4_addr', a.text, a.loc).text}`);
        continue;
      }
      if (w === 'notrack') {
        c.next();
        p.out.push('notrack');
        continue;
      }
      if (w === 'snat' || w === 'dnat' || w === 'masquerade' || w === 'redirect') {
        c.next();
        p.out.push(readNat(c, a, ctx, p));
        continue;
      }
      if (w === 'comment') {
        c.next();
        p.comment = quoted(c);
        continue;
      }
      if (w === 'fwd') {
        c.next();
        if (c.word() !== 'to') throw c.peek() ? unexpected(c.peek()!) : c.unexpectedEnd();
        c.next();
        const d = c.next();
        if (d.k !== 'word' && d.k !== 'string') throw unexpected(d);
        p.out.push(`fwd to ${valueOf('iface_index', d.text, d.loc).text}`);
        continue;
      }
      if (w === 'flow' && (c.peek(1) as { text?: string } | undefined)?.text !== undefined && ['add', 'offload'].includes((c.peek(1) as { text: string }).text)) {
        // `flow add @FLOWTABLE`: the flowtable never exists on the recording kernel (no flowtables), so the rule
        // is refused with ENOENT at the statement (recorded in nft-rules).
        c.next();
        const verb = (c.next() as { text: string }).text;
        const ref = c.next();
        if (ref.k !== 'setref') throw unexpected(ref);
        ctx.refusals?.push(new NftError('Could not process rule: No such file or directory', spanOf(a.loc, ref.loc)));
        p.out.push(`flow ${verb} @${ref.name}`);
        continue;
      }
      if (w === 'queue') {
        // `queue [num N[-M]] [bypass] [fanout]` / `queue to N`. The recording kernel has no nft_queue: it answers
        // ENOENT at the statement (recorded in nft-rules), as a kernel without the module does.
        c.next();
        let s = 'queue';
        let loc = a.loc;
        if (c.word() === 'to') {
          c.next();
          const n = c.next();
          loc = spanOf(a.loc, n.loc);
          s += ` to ${(n as { text: string }).text}`;
        }
        if (c.word() === 'num') {
          c.next();
          s += ` num ${(c.next() as { text: string }).text}`;
        }
        const qflags: string[] = [];
        while (c.word() === 'bypass' || c.word() === 'fanout') qflags.push((c.next() as { text: string }).text);
        if (qflags.length > 0) s += ` ${qflags.join(',')}`;
        ctx.refusals?.push(new NftError('Could not process rule: No such file or directory', loc));
        p.out.push(s);
        continue;
      }
      if (readMatchOrSet(c, ctx, p)) continue;
      // An unknown word: bison fails at the token after it.
      c.next();
      const after = c.peek();
      throw after ? unexpected(after) : c.unexpectedEnd();
    }
    throw unexpected(a);
  }
  let text = withoutDependencies(p.out, ctx.family).join(' ');
  if (p.comment !== undefined) text += ` comment "${p.comment}"`;
  return text;
}

/** A match the scan for a dependency's user may pass over: any match, not a statement. */
const MATCH = /^(ip|ip6|ether|meta|ct|iif|oif|iifname|oifname|tcp|udp|icmp|icmpv6|th|arp|sctp|vlan) (?!.* set )/;

/**
 * nft lists a rule without the matches that only state a protocol a later match's header implies
 * (netlink_delinearize's payload_dependency_kill; recorded in fixtures/nft/corpus/nft-netdev.txt): `meta
 * protocol X` / `ether type X` before an `X ...` match (X ip, ip6 or arp; not in the inet family), `meta nfproto
 * ipv4|ipv6` before an `ip ...`|`ip6 ...` match (inet), `meta l4proto P` before a `P ...` match (every family)
 * and `ip protocol P` too in the ip family. A `th` match after such a dependency is named by it (`meta l4proto
 * udp th dport 53` lists as `udp dport 53`). The user must come before any statement (`ether type arp counter
 * arp operation request` keeps it).
 */
function withoutDependencies(out: readonly string[], family: string): string[] {
  const list = [...out];
  const killed = new Set<number>();
  list.forEach((s, i) => {
    const l2 = family !== 'inet' ? /^(?:meta protocol|ether type) (ip|ip6|arp)$/.exec(s) : null;
    const l4 = (family === 'ip' ? /^(?:ip protocol|meta l4proto) (\w+)$/ : /^meta l4proto (\w+)$/).exec(s);
    const nf = family === 'inet' ? /^meta nfproto (ipv4|ipv6)$/.exec(s) : null;
    const proto = nf ? (nf[1] === 'ipv4' ? 'ip' : 'ip6') : (l2 ?? l4)?.[1];
    if (proto === undefined) return;
    for (let j = i + 1; j < list.length && MATCH.test(list[j]!); j++) {
      if (l4 && TH_NAMED.has(proto) && list[j]!.startsWith('th ')) list[j] = `${proto} ${list[j]!.slice(3)}`;
      if (list[j]!.startsWith(`${proto} `)) {
        killed.add(i);
        return;
      }
    }
  });
  return killed.size === 0 ? list : list.filter((_, i) => !killed.has(i));
}

/** Transport protocols whose header `th` takes the name of once the protocol is known. */
const TH_NAMED = new Set(['tcp', 'udp', 'udplite', 'sctp', 'dccp']);

