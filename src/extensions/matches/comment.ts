/** comment match (iptables-extensions: "comment"): a note on the rule, up to 255 characters. */
import { defineMatch } from '../spec';
import { paramProblem } from '../../messages';
import { saveString } from '../option-types';

export default defineMatch<{ comment: string }>({
  kind: 'match',
  name: 'comment',
  manSection: 'comment',
  style: 'x6',
  help: `comment match options:
--comment COMMENT             Attach a comment to a rule
`,
  options: [{ name: 'comment', arg: 'required', mandatory: true }],
  init: () => ({ comment: '' }),
  parse(s, use) {
    // XTTYPE_STRING into a 256-byte field: at most 255 characters.
    if (Buffer.byteLength(use.value!) > 255) throw paramProblem('Argument must have a maximum length of 255 characters\n');
    s.comment = use.value!;
  },
  save: (s) => ` --comment${saveString(s.comment)}`,
  print: (s) => ` /* ${s.comment} */`,
});
