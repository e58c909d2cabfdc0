/**
 * esp match (iptables-extensions: "esp"): [!] --espspi spi[:spi] (XTTYPE_UINT32RC; a reversed range is kept and
 * never matches). The kernel match needs `-p esp` (xt_esp .proto = IPPROTO_ESP). The SPI range helpers here
 * serve ah and ipcomp too, which differ only in names, defaults and `-L` spacing.
 */
import { defineMatch, type AnyMatch, type OptionDef } from '../spec';
import { parseX6Mint } from '../values/x6';
import type { EvalContext } from '../../eval/context';

export interface SpiState {
  min: number;
  max: number;
  inverted: boolean;
  /** ipcomp --compres: the reserved flags must be zero. */
  hdrres: boolean;
}

const FULL = 0xffffffff;

export interface SpiMatchSpec {
  name: string;
  option: string;
  proto: number;
  /** The init()'s range end: ~0 for esp and ah; ipcomp has no init, so 0. */
  defaultMax: number;
  help: string;
  /** `-L` text: the word before the range, and its blank: always (ah, ipcomp) or only before a range (esp). */
  listWord: string;
  listBlank: 'always' | 'before-range';
  /** The width of the SPI in the header (ipcomp's CPI is 16 bits). */
  spiBits: number;
  extraOptions?: boolean;
}

/** print_spis(): nothing for the full range unless inverted; "spi:N" or "spis:A:B", `!` after the colon. */
function listSpis(s: SpiState): string {
  if (s.min === 0 && s.max === FULL && !s.inverted) return '';
  const inv = s.inverted ? '!' : '';
  return s.min === s.max ? `spi:${inv}${s.min}` : `spis:${inv}${s.min}:${s.max}`;
}

function saveSpis(option: string, s: SpiState, always: boolean): string {
  if (s.min === 0 && s.max === FULL && !always) return '';
  return `${s.inverted ? ' !' : ''} --${option} ${s.min === s.max ? s.min : `${s.min}:${s.max}`}`;
}

/** An esp/ah/ipcomp-style SPI range match. */
export function spiMatch(spec: SpiMatchSpec): AnyMatch {
  const save = (s: SpiState, always = false): string => `${saveSpis(spec.option, s, always)}${s.hdrres ? ' --compres' : ''}`;
  const options: OptionDef[] = [{ name: spec.option, arg: 'required', invert: true }];
  if (spec.extraOptions) options.push({ name: 'compres', arg: 'none' });
  return defineMatch<SpiState>({
    kind: 'match',
    name: spec.name,
    manSection: spec.name,
    style: 'x6',
    requiresProtocol: spec.proto,
    help: spec.help,
    options,
    init: () => ({ min: 0, max: spec.defaultMax, inverted: false, hdrres: false }),
    parse(s, use) {
      if (use.name === 'compres') {
        s.hdrres = true;
        return;
      }
      const vals = parseX6Mint(spec.name, spec.option, use.value!, BigInt(FULL)).map(Number);
      s.min = vals[0]!;
      s.max = vals[1] ?? s.min;
      if (use.inverted) s.inverted = true;
    },
    save: (s) => save(s),
    // The full range saves as nothing: the state file keeps a `!` on it, and ipcomp's full range (its default is 0:0).
    stateText: (s) => (s.min === 0 && s.max === FULL && (s.inverted || spec.defaultMax !== FULL) ? save(s, true) : undefined),
    compareKey: (s) => `${save(s)} inv=${s.inverted}`,
    print(s) {
      const spis = listSpis(s);
      const blank = spec.listBlank === 'always' || spis !== '' ? ' ' : '';
      return ` ${spec.listWord}${blank}${spis}${s.hdrres ? ' reserved' : ''}`;
    },
    match: (s, ctx) => spiResult(spec, s, ctx),
    explain: (s) => `${save(s, true).trim()}: the packet's SPI is not in the range (assumed)`,
  });
}

/**
 * spi_match() of xt_esp.c / xt_ah.c / xt_ipcomp.c: (min <= spi <= max) ^ invert. The simulated packet carries no
 * ESP/AH/IPComp header, so the trace asks whether its SPI is in the range (assumed yes); the full range needs no
 * question. --compres asks nothing: the reserved flags are taken as zero.
 */
function spiResult(spec: SpiMatchSpec, s: SpiState, ctx: EvalContext): boolean {
  const top = spec.spiBits === 32 ? FULL : 2 ** spec.spiBits - 1;
  let inRange: boolean;
  if (s.min > s.max || s.min > top) inRange = false;
  else if (s.min === 0 && s.max >= top) inRange = true;
  else inRange = ctx.decide(spec.name, `the packet's ${spec.name === 'ipcomp' ? 'CPI' : 'SPI'} is in ${s.min}:${s.max}`, true);
  return inRange !== s.inverted;
}

export default spiMatch({
  name: 'esp',
  option: 'espspi',
  proto: 50,
  defaultMax: FULL,
  listWord: 'esp',
  listBlank: 'before-range',
  spiBits: 32,
  help: `esp match options:
[!] --espspi spi[:spi]
				match spi (range)
`,
});
