/**
 * comment match (iptables-extensions: "comment"): a note on the rule. XTTYPE_STRING put into a 256-byte
 * field without a declared maximum: a longer argument is cut to 255 bytes, silently.
 *
 * A comment may hold a newline (iptables-restore keeps the one an unclosed quote swallows), which
 * iptables-save prints as it is; the state file spells such a comment as hex behind a prefix that only a
 * trusted parse decodes (and a comment that itself starts with the prefix the same way).
 */
import { defineMatch } from '../spec';
import { saveString } from '../option-types';
import { truncateBytes } from '../values/cstring';

const XT_MAX_COMMENT_LEN = 256;
const HEX = 'tsiptables-hex:';

const needsHex = (c: string): boolean => c.includes('\n') || c.startsWith(HEX);

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
  parse(s, use, ctx) {
    const v = use.value!;
    if (ctx.trusted && v.startsWith(HEX)) s.comment = Buffer.from(v.slice(HEX.length), 'hex').toString();
    else s.comment = truncateBytes(v, XT_MAX_COMMENT_LEN - 1);
  },
  save: (s) => ` --comment${saveString(s.comment)}`,
  print: (s) => ` /* ${s.comment} */`,
  stateText: (s) => (needsHex(s.comment) ? ` --comment ${HEX}${Buffer.from(s.comment).toString('hex')}` : undefined),
  // comment_mt() of xt_comment.c: always true.
  match: () => true,
  explain: (s) => `--comment${saveString(s.comment)}: always matches`,
});
