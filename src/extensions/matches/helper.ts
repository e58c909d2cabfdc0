/**
 * helper match (iptables-extensions: "helper"): [!] --helper string (XTTYPE_STRING put into char[30]: longer
 * names are cut to 29 bytes, mandatory). Saved with xtables_save_string() quoting, listed in double quotes.
 */
import { defineMatch } from '../spec';
import { saveString } from '../option-types';
import { truncateBytes } from '../values/cstring';

export interface HelperState {
  name: string;
  inverted: boolean;
}

const saveText = (s: HelperState): string => `${s.inverted ? ' !' : ''} --helper${saveString(s.name)}`;

export default defineMatch<HelperState>({
  kind: 'match',
  needsConntrack: true,
  name: 'helper',
  manSection: 'helper',
  style: 'x6',
  help: `helper match options:
[!] --helper string        Match helper identified by string
`,
  options: [{ name: 'helper', arg: 'required', invert: true, mandatory: true }],
  init: () => ({ name: '', inverted: false }),
  parse(s, use) {
    s.name = truncateBytes(use.value!, 29);
    if (use.inverted) s.inverted = true;
  },
  save: saveText,
  // libxt_helper registers no userspacesize: -C/-D compare no helper data (`-C ... ! --helper ftp` finds
  // `--helper ftp`, recorded in ext-helper.json).
  compareNoData: true,
  print: (s) => ` helper match ${s.inverted ? '! ' : ''}"${s.name}"`,
  // helper_mt() of xt_helper.c: only a connection expected by a helper's master (an ftp data connection) has a
  // helper to compare; the simulation sets up no expectations, so every packet gives `invert`.
  match: (s, ctx) => (ctx.ct?.helper === undefined ? s.inverted : (s.name === '' || ctx.ct.helper.startsWith(s.name)) !== s.inverted),
  explain: (s, ctx) =>
    `${saveText(s).trim()}: ${ctx.ct?.helper === undefined ? 'packet belongs to no connection a helper expected' : `helper is ${ctx.ct.helper}`}`,
});
