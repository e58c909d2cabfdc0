/**
 * recent match (iptables-extensions: "recent"), revision 1: one of [!] --set/--rcheck/--update/--remove, with
 * --seconds, --reap, --hitcount, --rttl, --name (default DEFAULT), --rsource/--rdest and --mask. The save text
 * always names the list, its mask and side; seconds and hit counts print as C `%d`. The state file keeps
 * what that loses: counts from 2^31 on unsigned, a name with blanks quoted, and no --mask when none was given.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { addrToString } from '../../model/ip';
import { parseX6Uint } from '../option-types';
import { needsQuotes, restoreWord } from '../values/cstring';
import { parseX6Host } from '../values/inet';
import type { EvalContext } from '../../eval/context';
import { namedKey, nowMs, opt } from '../values/semantics';

const CHECK = { SET: 1, CHECK: 2, UPDATE: 4, REMOVE: 8, TTL: 16, REAP: 32 } as const;
const NAME_LEN = 200; // XT_RECENT_NAME_LEN
const MAX_NSTAMPS = 65536; // the kernel refuses a hit count from here on (measured)

const ANY_OP = ['set', 'rcheck', 'update', 'remove'];

export interface RecentState {
  checkSet: number;
  inverted: boolean;
  seconds: number;
  hitCount: number;
  name: string;
  dest: boolean;
  mask: number;
  /**
   * --mask was given: the 16-byte mask field then holds the address and zeroes, where the default is all 0xff
   * bytes. The kernel compares the whole field, so `-C` without --mask does not find a rule made with one.
   */
  maskGiven: boolean;
}

const signed = (n: number): number => n | 0;

/** recent_mt_save(); `state`: the state file's lossless variant. */
function saveText(s: RecentState, state = false): string {
  const num = state ? (n: number): number => n : signed;
  let out = s.inverted ? ' !' : '';
  if (s.checkSet & CHECK.SET) out += ' --set';
  if (s.checkSet & CHECK.CHECK) out += ' --rcheck';
  if (s.checkSet & CHECK.UPDATE) out += ' --update';
  if (s.checkSet & CHECK.REMOVE) out += ' --remove';
  if (s.seconds) out += ` --seconds ${num(s.seconds)}`;
  if (s.checkSet & CHECK.REAP) out += ' --reap';
  if (s.hitCount) out += ` --hitcount ${num(s.hitCount)}`;
  if (s.checkSet & CHECK.TTL) out += ' --rttl';
  out += ` --name${state ? restoreWord(s.name) : ` ${s.name}`}`;
  if (!state || s.maskGiven) out += ` --mask ${addrToString(s.mask)}`;
  return `${out} ${s.dest ? '--rdest' : '--rsource'}`;
}

function render(s: RecentState, save: boolean): string {
  if (save) return saveText(s);
  let out = s.inverted ? ' !' : '';
  out += ' recent:';
  if (s.checkSet & CHECK.SET) out += ' SET';
  if (s.checkSet & CHECK.CHECK) out += ' CHECK';
  if (s.checkSet & CHECK.UPDATE) out += ' UPDATE';
  if (s.checkSet & CHECK.REMOVE) out += ' REMOVE';
  if (s.seconds) out += ` seconds: ${signed(s.seconds)}`;
  if (s.checkSet & CHECK.REAP) out += ' reap';
  if (s.hitCount) out += ` hit_count: ${signed(s.hitCount)}`;
  if (s.checkSet & CHECK.TTL) out += ' TTL-Match';
  return `${out} name: ${s.name} side: ${s.dest ? 'dest' : 'source'} mask: ${addrToString(s.mask)}`;
}

export default defineMatch<RecentState>({
  kind: 'match',
  name: 'recent',
  manSection: 'recent',
  style: 'x6',
  help: `recent match options:
[!] --set                       Add source address to list, always matches.
[!] --rcheck                    Match if source address in list.
[!] --update                    Match if source address in list, also update last-seen time.
[!] --remove                    Match if source address in list, also removes that address from list.
    --seconds seconds           For check and update commands above.
                                Specifies that the match will only occur if source address last seen within
                                the last 'seconds' seconds.
    --reap                      Purge entries older then 'seconds'.
                                Can only be used in conjunction with the seconds option.
    --hitcount hits             For check and update commands above.
                                Specifies that the match will only occur if source address seen hits times.
                                May be used in conjunction with the seconds option.
    --rttl                      For check and update commands above.
                                Specifies that the match will only occur if the source address and the TTL
                                match between this packet and the one which was set.
                                Useful if you have problems with people spoofing their source address in order
                                to DoS you via this module.
    --name name                 Name of the recent list to be used.  DEFAULT used if none given.
    --rsource                   Match/Save the source address of each packet in the recent list table (default).
    --rdest                     Match/Save the destination address of each packet in the recent list table.
    --mask netmask              Netmask that will be applied to this recent list.
xt_recent by: Stephen Frost <sfrost@snowman.net>.
`,
  options: [
    { name: 'set', arg: 'none', invert: true, excludes: ANY_OP },
    { name: 'rcheck', arg: 'none', invert: true, excludes: ANY_OP },
    { name: 'update', arg: 'none', invert: true, excludes: ANY_OP },
    { name: 'remove', arg: 'none', invert: true, excludes: ANY_OP },
    { name: 'seconds', arg: 'required' },
    { name: 'reap', arg: 'none', also: ['seconds'] },
    { name: 'hitcount', arg: 'required' },
    { name: 'rttl', arg: 'none', excludes: ['set', 'remove'] },
    { name: 'name', arg: 'required' },
    { name: 'rsource', arg: 'none' },
    { name: 'rdest', arg: 'none' },
    { name: 'mask', arg: 'required' },
  ],
  init: () => ({
    checkSet: 0,
    inverted: false,
    seconds: 0,
    hitCount: 0,
    name: 'DEFAULT',
    dest: false,
    mask: 0xffffffff,
    maskGiven: false,
  }),
  parse(s, use) {
    const v = use.value ?? '';
    switch (use.name) {
      case 'set':
      case 'rcheck':
      case 'update':
      case 'remove':
        s.checkSet |= { set: CHECK.SET, rcheck: CHECK.CHECK, update: CHECK.UPDATE, remove: CHECK.REMOVE }[use.name];
        if (use.inverted) s.inverted = true;
        break;
      case 'seconds':
        s.seconds = parseX6Uint('recent', 'seconds', v, 1, 0xffffffff);
        break;
      case 'reap':
        s.checkSet |= CHECK.REAP;
        break;
      case 'hitcount':
        s.hitCount = parseX6Uint('recent', 'hitcount', v, 0, 0xffffffff);
        break;
      case 'rttl':
        s.checkSet |= CHECK.TTL;
        break;
      case 'name':
        s.name = v.slice(0, NAME_LEN - 1);
        break;
      case 'rsource':
        s.dest = false;
        break;
      case 'rdest':
        s.dest = true;
        break;
      case 'mask':
        s.mask = parseX6Host(v);
        s.maskGiven = true;
        break;
    }
  },
  finalCheck(_s, _ctx, given) {
    if (!ANY_OP.some((o) => given.has(o))) {
      throw paramProblem("recent: you must specify one of `--set', `--rcheck' `--update' or `--remove'");
    }
  },
  save: (s) => render(s, true),
  print: (s) => render(s, false),
  compareKey: (s) => `${render(s, true)}${s.maskGiven ? '' : ' (default mask)'}`,
  stateText: (s) => (!s.maskGiven || s.seconds > 0x7fffffff || s.hitCount > 0x7fffffff || needsQuotes(s.name) ? saveText(s, true) : undefined),
  kernelCheck(s) {
    // recent_mt_check(): --set/--remove take no modifiers; list names must be usable as /proc file names.
    if (s.checkSet & (CHECK.SET | CHECK.REMOVE) && (s.seconds || s.hitCount || s.checkSet & (CHECK.TTL | CHECK.REAP))) {
      return 'Invalid argument';
    }
    if (s.checkSet & CHECK.REAP && !s.seconds) return 'Invalid argument';
    if (s.hitCount >= MAX_NSTAMPS) return 'Invalid argument';
    if (s.name === '' || s.name === '.' || s.name === '..' || s.name.includes('/')) return 'Invalid argument';
    return undefined;
  },
  match: (s, ctx) => recentMatch(s, ctx),
  explain(s, ctx) {
    const { addr, ttl } = lookupKey(s, ctx);
    const t = recentTable(s, ctx);
    const key = addr & t.mask;
    const e = findEntry(t, key, s.checkSet & CHECK.TTL ? ttl : 0);
    const head = opt(saveText(s));
    const who = `${s.dest ? 'destination' : 'source'} ${addrToString(addr)}`;
    if (s.inverted) return `${head}: ${who} is in list ${s.name}`;
    if (!e) return `${head}: ${who} is not in list ${s.name}${s.checkSet & CHECK.TTL ? ` with TTL ${ttl}` : ''}`;
    const within = s.seconds ? ` within the last ${s.seconds} s` : '';
    return `${head}: ${who} was seen ${hitsWithin(s, e, nowMs(ctx))} time(s)${within}`;
  },
});

/** struct recent_entry: the (masked) address, the TTL it was seen with, its time stamps (ms, a ring). */
interface RecentEntry {
  ttl: number;
  stamps: number[];
  index: number;
}

/** struct recent_table: the mask of the rule that created it, entries in LRU order (oldest first). */
interface RecentTable {
  mask: number;
  /** nstamps_max_mask + 1 stamps are kept per entry. */
  nstamps: number;
  entries: Map<number, RecentEntry>;
}

const IP_LIST_TOT = 100; // module parameter ip_list_tot
const IP_PKT_LIST_TOT = 20; // module parameter ip_pkt_list_tot

const pow2Up = (n: number): number => {
  let p = 1;
  while (p < n) p *= 2;
  return p;
};

/** The list named by --name, shared by every rule naming it (recent_mt_check() creates it once). */
function recentTable(s: RecentState, ctx: EvalContext): RecentTable {
  const nstamps = s.hitCount < IP_PKT_LIST_TOT ? pow2Up(IP_PKT_LIST_TOT) : pow2Up(s.hitCount);
  const t = ctx.memory<RecentTable>(namedKey('recent', s.name), () => ({ mask: s.mask, nstamps, entries: new Map() }));
  if (nstamps > t.nstamps) {
    // recent_mt_check(): a rule wanting more stamps flushes the table and widens it.
    t.entries.clear();
    t.nstamps = nstamps;
  }
  return t;
}

/** The address the rule looks at and the TTL "as seen before forwarding" (+1 when routed out, no socket). */
function lookupKey(s: RecentState, ctx: EvalContext): { addr: number; ttl: number } {
  const p = ctx.pkt;
  let ttl = p.ttl & 0xff;
  if (p.outIface !== null && p.uid === undefined && p.gid === undefined) ttl = (ttl + 1) & 0xff;
  return { addr: (s.dest ? p.dst : p.src) >>> 0, ttl };
}

/** recent_entry_lookup(): a TTL of 0 on either side matches any. */
function findEntry(t: RecentTable, key: number, ttl: number): RecentEntry | undefined {
  const e = t.entries.get(key >>> 0);
  return e && (ttl === e.ttl || ttl === 0 || e.ttl === 0) ? e : undefined;
}

function hitsWithin(s: RecentState, e: RecentEntry, now: number): number {
  const since = now - s.seconds * 1000;
  return e.stamps.filter((t) => !s.seconds || t >= since).length;
}

/**
 * recent_mt() of xt_recent.c. The answer starts as the `!`; --set adds or refreshes the address and flips
 * it; --remove flips it when the address is listed (and removes it); --rcheck/--update flip it when the
 * address has --hitcount stamps (any, without one) within --seconds; --update then refreshes the entry when
 * the answer is true; --reap drops the oldest entry of the list when it is stale. Time comes from ctx.now;
 * lists live for the trace run, starting empty, at most 100 entries of 32 stamps (the module defaults).
 */
function recentMatch(s: RecentState, ctx: EvalContext): boolean {
  const now = nowMs(ctx);
  const t = recentTable(s, ctx);
  const { addr, ttl } = lookupKey(s, ctx);
  const key = (addr & t.mask) >>> 0;
  let ret = s.inverted;
  const e = findEntry(t, key, s.checkSet & CHECK.TTL ? ttl : 0);
  const touch = (entry: RecentEntry): void => {
    entry.index %= t.nstamps;
    entry.stamps[entry.index++] = now;
    entry.ttl = ttl;
    t.entries.delete(key);
    t.entries.set(key, entry);
  };
  if (!e) {
    if (!(s.checkSet & CHECK.SET)) return ret;
    if (t.entries.size >= IP_LIST_TOT) t.entries.delete(t.entries.keys().next().value!);
    t.entries.set(key, { ttl, stamps: [now], index: 1 });
    return !ret;
  }
  if (s.checkSet & CHECK.SET) ret = !ret;
  else if (s.checkSet & CHECK.REMOVE) {
    t.entries.delete(key);
    return !ret;
  } else if (s.checkSet & (CHECK.CHECK | CHECK.UPDATE)) {
    const since = now - s.seconds * 1000;
    let hits = 0;
    for (const stamp of e.stamps) {
      if (s.seconds && stamp < since) continue;
      if (!s.hitCount || ++hits >= s.hitCount) {
        ret = !ret;
        break;
      }
    }
    if (s.checkSet & CHECK.REAP) {
      // recent_entry_reap(): the least recently used entry goes when its last stamp is stale (not this one).
      const [oldKey, oldest] = t.entries.entries().next().value!;
      const last = oldest.stamps[(oldest.index - 1 + t.nstamps) % t.nstamps] ?? 0;
      if (oldest !== e && last < since) t.entries.delete(oldKey);
    }
  }
  if (s.checkSet & CHECK.SET || (s.checkSet & CHECK.UPDATE && ret)) touch(e);
  return ret;
}
