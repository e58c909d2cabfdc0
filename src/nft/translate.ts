/**
 * `iptables-translate` (iptables 1.8.9, nf_tables): an iptables command line as the nft command that does the
 * same. The command is parsed and checked by the iptables side (src/compile), so errors are iptables' own; the
 * rule is then read from its canonical save text and translated piece by piece as nft_ipv4_xlate() does:
 * iifname, oifname, fragments, the protocol (unless a match of that name is loaded), addresses, the matches,
 * `counter`, the verdict or target, the comment. Each match and target translation follows its libxt_*.c
 * xlate function; those tsiptables does not know yet are reported as such (see UNSUPPORTED).
 */
import { parseCommandLine } from '../../grammar/index';
import { parseCommand as compileCommand } from '../compile/command';
import { buildRules } from '../compile/rule';
import { paramProblem } from '../messages';
import type { Rule } from '../model/ruleset';

export class UntranslatableYet extends Error {}

/** A match's translation, or undefined when iptables-translate has none (it then prints the command as a comment). */
type Xlate = (opts: Map<string, { value: string[]; inv: boolean }>, proto: string) => string | undefined;

const PROTO_NAMES: Record<number, string> = { 1: 'icmp', 2: 'igmp', 4: 'ipencap', 6: 'tcp', 17: 'udp', 33: 'dccp', 41: 'ipv6', 47: 'gre', 50: 'esp', 51: 'ah', 58: 'ipv6-icmp', 132: 'sctp', 136: 'udplite' };

const ICMP_NAMES: Record<string, string> = {
  '0': 'echo-reply', '3': 'destination-unreachable', '4': 'source-quench', '5': 'redirect', '8': 'echo-request',
  '9': 'router-advertisement', '10': 'router-solicitation', '11': 'time-exceeded', '12': 'parameter-problem',
  '13': 'timestamp-request', '14': 'timestamp-reply', '15': 'info-request', '16': 'info-reply',
  '17': 'address-mask-request', '18': 'address-mask-reply',
};

const TCP_FLAG_ORDER = ['FIN', 'SYN', 'RST', 'PSH', 'ACK', 'URG'];
const CT_STATE_ORDER = ['INVALID', 'NEW', 'RELATED', 'ESTABLISHED', 'UNTRACKED'];
const LOG_LEVELS = ['emerg', 'alert', 'crit', 'err', 'warn', 'notice', 'info', 'debug'];

const ne = (inv: boolean): string => (inv ? '!= ' : '');
const ports = (p: string): string => p.replace(':', '-');

function tcpFlags(list: string): string {
  if (list === 'NONE') return '';
  const names = list === 'ALL' ? TCP_FLAG_ORDER : list.split(',');
  return TCP_FLAG_ORDER.filter((f) => names.includes(f)).map((f) => f.toLowerCase()).join(',');
}

function portMatch(proto: string): Xlate {
  return (o) => {
    const out: string[] = [];
    for (const [opt, word] of [['sport', 'sport'], ['dport', 'dport']] as const) {
      const v = o.get(opt);
      if (v) out.push(`${proto} ${word} ${ne(v.inv)}${ports(v.value[0]!)}`);
    }
    const f = o.get('tcp-flags');
    if (f) {
      const comp = tcpFlags(f.value[1]!);
      out.push(`tcp flags ${ne(f.inv)}${comp === '' ? '0x0' : comp} / ${tcpFlags(f.value[0]!)}`);
    }
    if (o.has('tcp-option')) throw new UntranslatableYet('--tcp-option');
    return out.join(' ');
  };
}

const MATCHES: Record<string, Xlate> = {
  tcp: portMatch('tcp'),
  udp: portMatch('udp'),
  icmp: (o) => {
    const t = o.get('icmp-type');
    if (!t) return '';
    if (t.value[0] === 'any') return 'ip protocol icmp';
    const name = ICMP_NAMES[t.value[0]!];
    if (name === undefined) return undefined;
    return `icmp type ${ne(t.inv)}${name}`;
  },
  conntrack: (o) => {
    const out: string[] = [];
    for (const [opt, v] of o) {
      if (opt === 'ctstate') {
        const states = CT_STATE_ORDER.filter((x) => v.value[0]!.split(',').includes(x)).map((x) => x.toLowerCase());
        out.push(`ct state ${v.inv ? '! ' : ''}${states.join(',')}`);
      } else if (['ctorigsrc', 'ctorigdst', 'ctreplsrc', 'ctrepldst'].includes(opt) && !v.inv) {
        const dir = opt.startsWith('ctorig') ? 'original' : 'reply';
        const addr = v.value[0]!.endsWith('/32') ? v.value[0]!.slice(0, -3) : v.value[0]!;
        out.push(`ct ${dir} ${opt.endsWith('src') ? 'saddr' : 'daddr'} ${addr}`);
      } else throw new UntranslatableYet(`conntrack --${opt}`);
    }
    return out.join(' ');
  },
  state: (o) => {
    const s = o.get('state')!;
    return `ct state ${s.inv ? '! ' : ''}${CT_STATE_ORDER.filter((x) => s.value[0]!.split(',').includes(x)).map((x) => x.toLowerCase()).join(',')}`;
  },
  length: (o) => {
    const l = o.get('length')!;
    return `meta length ${ne(l.inv)}${ports(l.value[0]!)}`;
  },
  ttl: (o) => {
    const lt = o.get('ttl-lt');
    if (lt) return `ip ttl lt ${lt.value[0]}`;
    const gt = o.get('ttl-gt');
    if (gt) return `ip ttl gt ${gt.value[0]}`;
    throw new UntranslatableYet('ttl --ttl-eq');
  },
  connmark: (o) => {
    const m = o.get('mark')!;
    if (m.value[0]!.includes('/') || m.inv) throw new UntranslatableYet('connmark with a mask');
    return `ct mark ${m.value[0]}`;
  },
  tos: () => undefined,
  multiport: (o, proto) => {
    const [opt, v] = [...o.entries()][0]!;
    const list = v.value[0]!.split(',').map(ports);
    const set = list.length === 1 ? list[0]! : `{ ${list.join(', ')} }`;
    if (opt === 'dports' || opt === 'destination-ports') return `${proto} dport ${ne(v.inv)}${set}`;
    if (opt === 'sports' || opt === 'source-ports') return `${proto} sport ${ne(v.inv)}${set}`;
    if (!v.inv) return `${proto} sport . ${proto} dport { ${list.map((p) => `0-65535 . ${p}, ${p} . 0-65535`).join(', ')} }`;
    throw new UntranslatableYet('multiport --ports');
  },
  mark: (o) => {
    const m = o.get('mark')!;
    const [val, mask] = m.value[0]!.split('/');
    return mask === undefined ? `mark ${ne(m.inv)}${val}` : `mark and ${mask} ${m.inv ? '!=' : '=='} ${val}`;
  },
  mac: (o) => {
    const m = o.get('mac-source')!;
    return `ether saddr ${ne(m.inv)}${m.value[0]!.toLowerCase()}`;
  },
  limit: (o) => {
    const l = o.get('limit');
    const [n, unit] = (l?.value[0] ?? '3/hour').split('/');
    const units: Record<string, string> = { sec: 'second', min: 'minute', hour: 'hour', day: 'day' };
    return `limit rate ${n}/${units[unit!] ?? unit} burst ${o.get('limit-burst')?.value[0] ?? '5'} packets`;
  },
  iprange: (o) => {
    const out: string[] = [];
    const s = o.get('src-range');
    if (s) out.push(`ip saddr ${ne(s.inv)}${s.value[0]}`);
    const d = o.get('dst-range');
    if (d) out.push(`ip daddr ${ne(d.inv)}${d.value[0]}`);
    return out.join(' ');
  },
  pkttype: (o) => {
    const p = o.get('pkt-type')!;
    const name = p.value[0] === 'unicast' ? 'host' : p.value[0]!;
    return `pkttype ${ne(p.inv)}${name}`;
  },
  owner: (o) => {
    // Both ids at once: iptables-translate has no translation (it prints the command as a comment).
    if (o.has('uid-owner') && o.has('gid-owner')) return undefined;
    const out: string[] = [];
    for (const [opt, key] of [['uid-owner', 'skuid'], ['gid-owner', 'skgid']] as const) {
      const v = o.get(opt);
      if (v) out.push(`${key} ${ne(v.inv)}${v.value[0]}`);
    }
    if (out.length === 0) throw new UntranslatableYet('owner options other than --uid-owner/--gid-owner');
    return out.join(' ');
  },
  // libxt_statistic's xlate: the random probability as stored (lround(2^31 * p)), nth as every + 1 and the packet.
  statistic: (o) => {
    const mode = o.get('mode')?.value[0];
    const inv = o.get('probability')?.inv === true || o.get('every')?.inv === true;
    if (mode === 'random') {
      const p = Number(o.get('probability')?.value[0] ?? '0');
      return `meta random & 2147483647 ${inv ? '>=' : '<'} ${Math.round(p * 0x80000000)}`;
    }
    if (mode === 'nth') return `numgen inc mod ${o.get('every')?.value[0] ?? '1'} ${inv ? '!= ' : ''}${o.get('packet')?.value[0] ?? '0'}`;
    return undefined;
  },
  dscp: (o) => {
    const d = o.get('dscp');
    if (!d) return undefined;
    return `ip dscp ${ne(d.inv)}0x${(Number(d.value[0]) & 0x3f).toString(16).padStart(2, '0')}`;
  },
  addrtype: (o) => {
    const out: string[] = [];
    for (const [opt, dir] of [['src-type', 'saddr'], ['dst-type', 'daddr']] as const) {
      const v = o.get(opt);
      if (!v) continue;
      const types = v.value[0]!.toLowerCase().split(',');
      out.push(`fib ${dir} type ${ne(v.inv)}${types.length === 1 ? types[0] : `{ ${types.join(', ')} }`}`);
    }
    return out.join(' ');
  },
};

const REJECT_WITH: Record<string, string> = {
  'icmp-net-unreachable': 'reject with icmp type net-unreachable', 'icmp-host-unreachable': 'reject with icmp type host-unreachable',
  'icmp-port-unreachable': 'reject', 'icmp-proto-unreachable': 'reject with icmp type prot-unreachable',
  'icmp-net-prohibited': 'reject with icmp type net-prohibited', 'icmp-host-prohibited': 'reject with icmp type host-prohibited',
  'icmp-admin-prohibited': 'reject with icmp type admin-prohibited', 'tcp-reset': 'reject with tcp reset',
};

/** A target's translation; undefined where iptables-translate has none (the command is printed as a comment). */
type TargetXlate = (opts: Map<string, { value: string[]; inv: boolean }>) => string | undefined;

const TARGETS: Record<string, TargetXlate> = {
  ACCEPT: () => 'accept',
  DROP: () => 'drop',
  RETURN: () => 'return',
  LOG: (o) => {
    if ([...o.keys()].some((k) => !['log-prefix', 'log-level', 'log-uid'].includes(k))) throw new UntranslatableYet('LOG flags');
    let s = 'log';
    const p = o.get('log-prefix');
    if (p) s += ` prefix "${p.value[0]}"`;
    const l = o.get('log-level');
    const level = l ? (LOG_LEVELS[Number(l.value[0])] ?? l.value[0]) : 'warn';
    if (level !== 'warn') s += ` level ${level}`;
    if (o.has('log-uid')) s += ' flags skuid';
    return s;
  },
  TCPMSS: (o) => {
    if (o.has('clamp-mss-to-pmtu')) return 'tcp option maxseg size set rt mtu';
    const m = o.get('set-mss');
    if (m) return `tcp option maxseg size set ${m.value[0]}`;
    throw new UntranslatableYet('TCPMSS options');
  },
  REJECT: (o) => REJECT_WITH[o.get('reject-with')?.value[0] ?? 'icmp-port-unreachable'] ?? 'reject',
  MASQUERADE: (o) => natFlags('masquerade', o, 'to-ports'),
  REDIRECT: (o) => natFlags('redirect', o, 'to-ports'),
  DNAT: (o) => natFlags('dnat', o, 'to-destination'),
  SNAT: (o) => natFlags('snat', o, 'to-source'),
  // libxt_MARK's xlate: and, or, xor or a plain value when the mask allows, else `and ~MASK xor VALUE`.
  MARK: (o) => `meta mark set ${xmark(o)}`,
  CONNMARK: (o) => {
    const full = (k: string): boolean => (o.get(k)?.value[0] ?? '0xffffffff') === '0xffffffff';
    if (o.has('save-mark') && full('nfmask') && full('ctmask')) return 'ct mark set mark';
    if (o.has('restore-mark') && full('nfmask') && full('ctmask')) return 'meta mark set ct mark';
    if (o.has('set-xmark') && o.size === 1) return `ct mark set ${xmark(o)}`;
    throw new UntranslatableYet('CONNMARK options');
  },
  CT: (o) => (o.has('notrack') && o.size === 1 ? 'notrack' : undefined),
  NOTRACK: () => 'notrack',
  DSCP: (o) => {
    const d = o.get('set-dscp');
    return d ? `ip dscp set 0x${(Number(d.value[0]) & 0x3f).toString(16).padStart(2, '0')}` : undefined;
  },
  // libxt_TOS's xlate names the ip6 header whatever the family (recorded: iptables-translate and nft's listing agree).
  TOS: (o) => {
    const t = o.get('set-tos');
    const [v = '0', m = '0xff'] = t?.value[0]?.split('/') ?? [];
    const hex2 = (n: number): string => `0x${(n & 0x3f).toString(16).padStart(2, '0')}`;
    if (!t) return undefined;
    if (Number(m) === 0xff || Number(m) === 0x3f) return `ip6 dscp set ${hex2(Number(v) >> 2)}`;
    // --and-tos: a zero value under a mask keeps the bits the mask leaves.
    if (Number(v) === 0) return `ip6 dscp set ip6 dscp and ${hex2(~Number(m) >> 2)}`;
    return undefined;
  },
  CLASSIFY: (o) => {
    const c = o.get('set-class')?.value[0];
    if (c === undefined) return undefined;
    const [maj = '0', min = '0'] = c.split(':').map((x) => parseInt(x, 16));
    // libxt_CLASSIFY names two handles: none (0:0) and root (ffff:ffff).
    const name = maj === 0 && min === 0 ? 'none' : maj === 0xffff && min === 0xffff ? 'root' : `${maj.toString(16)}:${min.toString(16)}`;
    return `meta priority set ${name}`;
  },
};

/**
 * A match iptables-nft 1.8.9 builds from native expressions (add_nft_tcp/udp/mark/limit): tcp and udp with
 * options (their protocol dependency is then dropped from the listing), mark, limit. Any other is an xt match.
 */
function native(g: { name: string; opts: Map<string, unknown> }): boolean {
  return ((g.name === 'tcp' || g.name === 'udp') && g.opts.size > 0) || g.name === 'mark' || g.name === 'limit';
}

/** Does iptables-nft put an xt match or target in the kernel for this rule (nft's "managed by iptables-nft" warning)? */
export function usesXt(line: string, jumpTo: string | undefined): boolean {
  const words = saveWords(line);
  const gs = groups(words);
  const target = words.includes('-j') && jumpTo === undefined ? gs[gs.length - 1] : undefined;
  const matches = words.includes('-j') ? gs.slice(0, -1) : gs;
  if (matches.some((g) => !native(g))) return true;
  return target !== undefined && !['ACCEPT', 'DROP', 'RETURN', 'standard'].includes(target.name);
}

/** iptables-nft's own mark match (add_nft_mark), as nft prints it: 32-bit hex, the mask with `&`. */
function nativeMark(o: Map<string, { value: string[]; inv: boolean }>): string {
  const m = o.get('mark')!;
  const [val = '0', mask] = m.value[0]!.split('/');
  const hex = (s: string): string => `0x${(Number(s) >>> 0).toString(16).padStart(8, '0')}`;
  return mask === undefined ? `meta mark ${ne(m.inv)}${hex(val)}` : `meta mark & ${hex(mask)} ${m.inv ? '!=' : '=='} ${hex(val)}`;
}

function xmark(o: Map<string, { value: string[]; inv: boolean }>): string {
  const x = o.get('set-xmark');
  if (!x) throw new UntranslatableYet('MARK options');
  const [v = '0', m = '0xffffffff'] = x.value[0]!.split('/');
  const mark = Number(v) >>> 0;
  const mask = Number(m) >>> 0;
  const hex = (n: number): string => `0x${n.toString(16)}`;
  if (mark === 0) return `mark and ${hex(~mask >>> 0)}`;
  if (mark === mask) return `mark or ${hex(mark)}`;
  if (mask === 0) return `mark xor ${hex(mark)}`;
  if (mask === 0xffffffff) return hex(mark);
  return `mark and ${hex(~mask >>> 0)} xor ${hex(mark)}`;
}

function natFlags(kw: string, o: Map<string, { value: string[]; inv: boolean }>, toOpt: string): string {
  let s = kw;
  const to = o.get(toOpt);
  if (to) s += kw === 'masquerade' || kw === 'redirect' ? ` to :${to.value[0]}` : ` to ${to.value[0]}`;
  const flags = ['random', 'random-fully', 'persistent'].filter((f) => o.has(f));
  if (flags.length > 0) s += ` ${flags.map((f) => (f === 'random-fully' ? 'fully-random' : f)).join(',')}`;
  if ([...o.keys()].some((k) => k !== toOpt && !['random', 'random-fully', 'persistent'].includes(k))) throw new UntranslatableYet(`${kw} options`);
  return s;
}

/** The save text's words: blanks separate, double quotes group (iptables-save quotes values with blanks). */
function saveWords(text: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) out.push(m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]!);
  return out;
}

interface Group {
  name: string;
  opts: Map<string, { value: string[]; inv: boolean }>;
}

/** Splits `-m NAME --opt v ...` and `-j NAME --opt v` groups of save text. */
function groups(words: string[]): Group[] {
  const out: Group[] = [];
  let cur: Group | undefined;
  let inv = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (w === '!') {
      inv = true;
      continue;
    }
    if (w === '-m' || w === '-j') {
      cur = { name: words[++i]!, opts: new Map() };
      out.push(cur);
    } else if (w.startsWith('--') && cur) {
      const value: string[] = [];
      while (i + 1 < words.length && !words[i + 1]!.startsWith('-') && words[i + 1] !== '!') value.push(words[++i]!);
      cur.opts.set(w.slice(2), { value, inv });
    }
    inv = false;
  }
  return out;
}

export interface TranslateResult {
  stdout: string;
  stderr: string;
  status: number;
}

/** The nft rule text for one rule of the command. Undefined when iptables-translate has no translation. */
interface BaseMatch {
  inIface: string;
  outIface: string;
  proto: number;
  fragment: boolean;
  inv: Readonly<Record<'src' | 'dst' | 'inIface' | 'outIface' | 'proto' | 'fragment', boolean>>;
  /** -s / -d as the save text has them, /32 dropped; '' when absent. */
  src: string;
  dst: string;
}

/**
 * The nft text of an iptables rule: what iptables-translate prints, or (`listing`) what `nft list ruleset` prints
 * for the rule iptables-nft put in the kernel. The listing differs where iptables-nft makes native expressions
 * (tcp and udp with options, mark, limit: nft then prints them its own way and drops their protocol dependency)
 * and where nft's xt glue prints a match or target (the rest): an xt match's translation with its `-p` kept as
 * `meta l4proto`, an empty text for `-m comment` and a bare `-m tcp`, and `xt match NAME` / `xt target NAME` where
 * there is no translation (recorded: fixtures/nft/corpus/nft-iptables.txt).
 */
function translateRule(line: string, jumpTo: string | undefined, ip: BaseMatch, listing = false): string | undefined {
  const parts: string[] = [];
  const iface = (name: string): string => `"${name.endsWith('+') ? `${name.slice(0, -1)}*` : name}"`;
  if (ip.inIface !== '') parts.push(`iifname ${ne(ip.inv.inIface)}${iface(ip.inIface)}`);
  if (ip.outIface !== '') parts.push(`oifname ${ne(ip.outIface !== '' && ip.inv.outIface)}${iface(ip.outIface)}`);
  if (ip.fragment) parts.push(`ip frag-off & 0x1fff ${ip.inv.fragment ? '' : '!= '}0`);
  const words = saveWords(line);
  const gs = groups(words);
  const target = words.includes('-j') ? gs[gs.length - 1] : undefined;
  const matches = target ? gs.slice(0, -1) : gs;
  const protoName = PROTO_NAMES[ip.proto] ?? String(ip.proto);
  const protoMatched = matches.some((g) => g.name === protoName && (!listing || native(g)));
  if (ip.proto !== 0 && !protoMatched) parts.push(`${listing ? 'meta l4proto' : 'ip protocol'} ${ne(ip.inv.proto)}${protoName}`);
  if (ip.src !== '') parts.push(`ip saddr ${ne(ip.inv.src)}${ip.src}`);
  if (ip.dst !== '') parts.push(`ip daddr ${ne(ip.inv.dst)}${ip.dst}`);
  let comment: string | undefined;
  for (const g of matches) {
    if (g.name === 'comment') {
      if (listing) parts.push('');
      else comment = g.opts.get('comment')?.value[0];
      continue;
    }
    if (listing && g.name === 'mark') {
      parts.push(nativeMark(g.opts));
      continue;
    }
    const x = MATCHES[g.name];
    if (!x) {
      if (listing) {
        parts.push(`xt match ${g.name}`);
        continue;
      }
      throw new UntranslatableYet(`-m ${g.name}`);
    }
    let t = x(g.opts, protoName);
    if (t === undefined) {
      if (!listing) return undefined;
      t = `xt match ${g.name}`;
    }
    // nft's own limit statement leaves out the default burst.
    if (listing && g.name === 'limit') t = t.replace(/ burst 5 packets$/, '');
    if (t !== '' || (listing && !native(g))) parts.push(t);
  }
  parts.push('counter');
  if (jumpTo !== undefined) parts.push(`${/ -g \S+$/.test(line) ? 'goto' : 'jump'} ${jumpTo}`);
  else if (target) {
    const tx = TARGETS[target.name];
    if (!tx && !listing) throw new UntranslatableYet(`-j ${target.name}`);
    const t = tx?.(target.opts);
    if (t === undefined && !listing) return undefined;
    parts.push(t ?? `xt target ${target.name}`);
  }
  let s = parts.join(' ');
  if (comment !== undefined) s += ` comment "${comment}"`;
  return s;
}

/** The base options of a rule as translateRule() reads them (-s/-d as the save text has them, /32 dropped). */
function baseMatchOf(rule: Pick<Rule, 'ip' | 'text'>): BaseMatch {
  const ip = rule.ip;
  const src = /(?:^| )-s (\S+)/.exec(rule.text)?.[1] ?? '';
  const dst = /(?:^| )-d (\S+)/.exec(rule.text)?.[1] ?? '';
  const bare = (a: string): string => (a.endsWith('/32') ? a.slice(0, -3) : a);
  return { inIface: ip.inIface, outIface: ip.outIface, proto: ip.proto, fragment: ip.fragment, inv: ip.inv, src: bare(src), dst: bare(dst) };
}

/**
 * How nft prints an iptables-nft rule of the kernel (`nft list ruleset`, `nft monitor trace`): its translation, the
 * counter with its numbers (`counter packets P bytes B`). Undefined when there is no translation yet.
 */
export function nftListedText(rule: Rule, packets: number | bigint = 0, bytes: number | bigint = 0): string | undefined {
  let text: string | undefined;
  try {
    text = translateRule(rule.line, rule.jumpTo, baseMatchOf(rule), true);
  } catch (e) {
    if (e instanceof UntranslatableYet) return undefined;
    throw e;
  }
  return text?.replace(/\bcounter\b/, `counter packets ${packets} bytes ${bytes}`);
}

/** A rule's iptables-translate text (undefined: it has none). Throws UntranslatableYet where this program lacks one. */
export function ruleTranslation(rule: Rule): string | undefined {
  return translateRule(rule.line, rule.jumpTo, baseMatchOf(rule));
}

/** `iptables-translate ARGS`: what it prints. Throws the iptables side's IptablesError for a bad command. */
export function translate(argv: readonly string[]): TranslateResult {
  const parsed = parseCommandLine(argv);
  if (!parsed.ok) throw paramProblem(parsed.problems[0]!.message);
  const cmd = compileCommand(parsed.value, { table: 'filter', restore: false, programName: 'iptables-translate', warn: () => undefined });
  const notImplemented: TranslateResult = { stdout: 'nft ', stderr: 'Translation not implemented\n', status: 1 };
  const t = cmd.table;
  switch (cmd.command) {
    case 'new-chain':
      return { stdout: `nft add chain ip ${t} ${cmd.chain}\n`, stderr: '', status: 0 };
    case 'flush':
      return { stdout: cmd.chain ? `nft flush chain ip ${t} ${cmd.chain}\n` : `nft flush table ip ${t}\n`, stderr: '', status: 0 };
    case 'delete-chain':
      if (!cmd.chain) return notImplemented;
      return { stdout: `nft delete chain ip ${t} ${cmd.chain}\n`, stderr: '', status: 0 };
    case 'list':
      return { stdout: `nft list table ip ${t}\n`, stderr: '', status: 0 };
    case 'append':
    case 'insert': {
      const verb = cmd.command === 'append' ? 'add' : 'insert';
      let out = '';
      for (const rule of buildRules(cmd.rule)) {
        const text = translateRule(rule.line, rule.jumpTo, baseMatchOf(rule));
        out += text === undefined ? `nft # ${argv.map((a) => `${a} `).join('')}\n` : `nft '${verb} rule ip ${t} ${cmd.chain} ${text}'\n`;
      }
      return { stdout: out, stderr: '', status: 0 };
    }
    default:
      return notImplemented;
  }
}
