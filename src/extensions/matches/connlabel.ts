/**
 * connlabel match (iptables-extensions: "connlabel"): [!] --label name|bit (mandatory), --set (set the label on
 * the connection when the rule is reached). A number (strtoul base 0) is a bit; a name needs
 * /etc/xtables/connlabel.conf, which the recording host lacks, so every name is refused after libnetfilter_
 * conntrack's warning. The kernel refuses bits above 127 (ERANGE). libxt_connlabel registers userspacesize 0:
 * -C/-D compare no label data at all (recorded in ext-connlabel.json).
 *
 * Not reproduced: 1.8.9 also prints that warning on stderr once per connlabel rule it lists or saves
 * (connlabel_get_name() retries the missing file each time); tsiptables' listing has no stderr channel.
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { cStrtoul } from '../values/cstrtoul';

const CONF = '/etc/xtables/connlabel.conf';
const OP_INVERT = 1;
const OP_SET = 2;

export interface ConnlabelState {
  bit: number;
  options: number;
}

const saveText = (s: ConnlabelState): string =>
  `${s.options & OP_INVERT ? ' !' : ''} --label "${s.bit}"${s.options & OP_SET ? ' --set' : ''}`;

export default defineMatch<ConnlabelState>({
  kind: 'match',
  needsConntrack: true,
  name: 'connlabel',
  manSection: 'connlabel',
  style: 'x6',
  help: `connlabel match options:
[!] --label name     Match if label has been set on connection
    --set            Set label on connection
`,
  options: [
    { name: 'label', arg: 'required', invert: true, mandatory: true },
    { name: 'set', arg: 'none' },
  ],
  init: () => ({ bit: 0, options: 0 }),
  parse(s, use, ctx) {
    if (use.name === 'set') {
      s.options |= OP_SET;
      return;
    }
    const v = use.value!;
    if (v.length < 1) throw paramProblem('Argument must have a minimum length of 1 characters\n');
    // connlabel_value_parse(): the whole argument a C number (as an int: the high bits wrap); else a name.
    const r = cStrtoul(v, 0, 0);
    let bit = r.end === v.length && v !== '' ? Number(BigInt.asIntN(32, r.value)) : -1;
    if (bit < 0) {
      ctx.warn(`Warning: cannot open ${CONF}: No such file or directory`);
      throw paramProblem(`label '${v}' not found or invalid value`);
    }
    bit &= 0xffff;
    s.bit = bit;
    if (use.inverted) s.options |= OP_INVERT;
  },
  save: saveText,
  compareNoData: true,
  // connlabel_print()/_save() open /etc/xtables/connlabel.conf for each rule shown; the recording host has none.
  ruleWarning: 'Warning: cannot open /etc/xtables/connlabel.conf: No such file or directory',
  print: (s) => ` connlabel${s.options & OP_INVERT ? ' !' : ''} ${s.bit}${s.options & OP_SET ? ' set' : ''}`,
  kernelCheck: (s) => (s.bit > 127 ? 'Numerical result out of range' : undefined),
  // connlabel_mt() of xt_connlabel.c: --set sets the bit on the connection (and matches); else the bit must be
  // set, `!` inverted. The simulated connections carry no labels: nothing but --set matches without `!`.
  match(s, ctx) {
    if (!ctx.ct) return !!(s.options & OP_INVERT);
    if (s.options & OP_SET) {
      ctx.note(`connlabel: label ${s.bit} set on the connection (not kept: labels are not simulated)`);
      return !(s.options & OP_INVERT);
    }
    return !!(s.options & OP_INVERT);
  },
  explain: (s, ctx) => `${saveText(s).trim()}: ${ctx.ct ? 'the connection has no labels' : `packet has no connection (${ctx.ctState})`}`,
});
