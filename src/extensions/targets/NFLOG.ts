/**
 * NFLOG target (iptables-extensions: "NFLOG"). The nf_tables variant turns it into a native `log` expression
 * (nft.c add_log): the prefix keeps up to 127 bytes, --nflog-range is dropped (only --nflog-size travels),
 * and a threshold of 0 (the header's default) is not sent, so it never shows.
 */
import { paramProblem } from '../../messages';
import { defineTarget } from '../spec';
import { parseX6Uint, saveString } from '../option-types';
import { truncateBytes } from '../values/cstring';

interface NflogState {
  group: number;
  prefix: string;
  /** --nflog-size; undefined when not given (then no snaplen is sent). */
  size: number | undefined;
  threshold: number;
}

const NF_LOG_PREFIXLEN = 128;

export default defineTarget<NflogState>({
  kind: 'target',
  name: 'NFLOG',
  manSection: 'NFLOG',
  style: 'x6',
  help: `NFLOG target options:
 --nflog-group NUM		NETLINK group used for logging
 --nflog-range NUM		This option has no effect, use --nflog-size
 --nflog-size NUM		Number of bytes to copy
 --nflog-threshold NUM		Message threshold of in-kernel queue
 --nflog-prefix STRING		Prefix string for log messages
`,
  // --nflog-range/--nflog-size exclude each other (checked by libxtables after NFLOG_check's warning).
  options: [
    { name: 'nflog-group', arg: 'required' },
    { name: 'nflog-prefix', arg: 'required' },
    { name: 'nflog-range', arg: 'required', excludes: ['nflog-size'] },
    { name: 'nflog-size', arg: 'required', excludes: ['nflog-range'] },
    { name: 'nflog-threshold', arg: 'required' },
  ],
  init: () => ({ group: 0, prefix: '', size: undefined, threshold: 0 }),
  parse(s, use) {
    const v = use.value!;
    switch (use.name) {
      case 'nflog-group':
        s.group = parseX6Uint('NFLOG', use.name, v, 0, 65535);
        return;
      case 'nflog-prefix':
        if (v.length < 1) throw paramProblem('Argument must have a minimum length of 1 characters\n');
        if (v.includes('\n')) throw paramProblem('Newlines not allowed in --log-prefix');
        s.prefix = truncateBytes(v, NF_LOG_PREFIXLEN - 1);
        return;
      case 'nflog-range':
        parseX6Uint('NFLOG', use.name, v, 0, 0xffffffff);
        return;
      case 'nflog-size':
        s.size = parseX6Uint('NFLOG', use.name, v, 0, 0xffffffff);
        return;
      case 'nflog-threshold':
        s.threshold = parseX6Uint('NFLOG', use.name, v, 0, 65535);
        return;
    }
  },
  finalCheck(_s, ctx, given) {
    if (given.has('nflog-range')) {
      ctx.warn('warn: --nflog-range has never worked and is no longer supported, please use --nflog-size instead');
    }
  },
  save: (s) => text(s, '--'),
  print: (s) => text(s, ''),
  // nflog_tg() of xt_NFLOG.c: the packet goes to the nfnetlink_log group (no listener is simulated);
  // XT_CONTINUE.
  run(s, ctx) {
    ctx.note(`NFLOG to group ${s.group}${s.prefix !== '' ? ` prefix "${s.prefix}"` : ''}${s.size !== undefined ? ` (${s.size} bytes)` : ''}`);
    return 'CONTINUE';
  },
});

/** nflog_print(): the same words for -L and save, `--` before each in save. */
function text(s: NflogState, dash: string): string {
  let out = s.prefix !== '' ? ` ${dash}nflog-prefix${saveString(s.prefix)}` : '';
  if (s.group) out += ` ${dash}nflog-group ${s.group}`;
  if (s.size !== undefined) out += ` ${dash}nflog-size ${s.size}`;
  if (s.threshold) out += ` ${dash}nflog-threshold ${s.threshold}`;
  return out;
}
