/**
 * nfacct match (iptables-extensions: "nfacct", revision 1): --nfacct-name STRING (mandatory, at least one
 * character, kept in char[32]). The kernel takes a reference to the named nfacct object (nfnl_acct_find_get) and
 * refuses the rule with ENOENT when there is none; tsiptables keeps no nfacct objects (nfacct(8) is not
 * simulated), so every rule is refused as on the recording host (ext-nfacct.json).
 */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { saveString } from '../option-types';
import { truncateBytes } from '../values/cstring';

export interface NfacctState {
  name: string;
}

export default defineMatch<NfacctState>({
  kind: 'match',
  name: 'nfacct',
  manSection: 'nfacct',
  style: 'x6',
  help: `nfacct match options:
 --nfacct-name STRING		Name of accouting area
`,
  options: [{ name: 'nfacct-name', arg: 'required', mandatory: true }],
  init: () => ({ name: '' }),
  parse(s, use) {
    const v = use.value!;
    if (v.length < 1) throw paramProblem('Argument must have a minimum length of 1 characters\n');
    if (v.includes('\n')) throw paramProblem('Newlines not allowed in --nfacct-name');
    s.name = truncateBytes(v, 31);
  },
  save: (s) => ` --nfacct-name${saveString(s.name)}`,
  print: (s) => ` nfacct-name${saveString(s.name)}`,
  kernelCheck: () => 'No such file or directory',
  // nfacct_mt() of xt_nfacct.c counts the packet in the object and always matches (a rule never exists here).
  match: () => true,
  explain: (s) => `--nfacct-name ${s.name}: always matches`,
});
