/**
 * The nft grammar: one parser, built once. It knows the block structure of the language (tables, chains, sets,
 * maps, `{ ... }` values) and its separators (a newline or `;` ends a statement, and a chain's or a rule's end
 * must be followed by one, as in nft's parser_bison.y); the words of a rule stay atoms for the interpreter.
 * An embedded-actions parser builds the AST directly.
 */
import { EmbeddedActionsParser, type IToken } from 'chevrotain';
import type { Atom, AtomLine, ChainBlock, NftLoc, NftStatement, SetBlock, TableItem } from '../../src/nft/ast';
import {
  allNftTokens, AtomToken, Comma, KwChain, KwDefine, KwFlowtable, KwMap, KwSet, KwTable, LBrace, LParen, Newline, Op, Punct,
  QuotedString, RBrace, RParen, Semi, SetRef, Variable, Word,
} from './tokens';

export function locOf(tok: IToken): NftLoc {
  return {
    line: tok.startLine ?? 1,
    column: tok.startColumn ?? 1,
    endColumn: tok.endColumn ?? tok.startColumn ?? 1,
    offset: tok.startOffset,
    endOffset: tok.endOffset ?? tok.startOffset,
  };
}

function span(a: NftLoc, b: NftLoc): NftLoc {
  return { line: a.line, column: a.column, endColumn: b.line === a.line ? b.endColumn : a.endColumn, offset: a.offset, endOffset: b.endOffset };
}

function atomOf(tok: IToken): Atom {
  const loc = locOf(tok);
  const t = tok.tokenType;
  if (t === QuotedString) return { k: 'string', text: tok.image.slice(1, -1), loc };
  if (t === Variable) return { k: 'var', name: tok.image.slice(1), loc };
  if (t === SetRef) return { k: 'setref', name: tok.image.slice(1), loc };
  if (t === Op || t === Punct || t === Comma || t === LParen || t === RParen) return { k: 'op', text: tok.image, loc };
  return { k: 'word', text: tok.image, loc };
}

class NftParser extends EmbeddedActionsParser {
  constructor() {
    super(allNftTokens, { recoveryEnabled: false, maxLookahead: 3 });
    this.performSelfAnalysis();
  }

  /** Newlines and semicolons between statements. */
  private readonly separators = this.RULE('separators', (): void => {
    this.MANY(() => this.OR([{ ALT: () => this.CONSUME(Newline) }, { ALT: () => this.CONSUME(Semi) }]));
  });

  public readonly file = this.RULE('file', (): NftStatement[] => {
    const out: NftStatement[] = [];
    this.SUBRULE(this.separators);
    this.MANY(() => {
      const s = this.SUBRULE(this.statement);
      this.ACTION(() => out.push(s));
      // A statement ends at a newline, a semicolon or the end of the input.
      this.OR([
        { ALT: () => { this.OR2([{ ALT: () => this.CONSUME2(Newline) }, { ALT: () => this.CONSUME2(Semi) }]); this.SUBRULE2(this.separators); } },
        { GATE: () => this.LA(1).tokenType.name === 'EOF', ALT: () => undefined },
      ]);
    });
    return out;
  });

  private readonly statement = this.RULE('statement', (): NftStatement => {
    // Alternatives are tried in order: `define`, then `table`/`chain`/`set`/`map`, then any verb.
    return this.OR({ IGNORE_AMBIGUITIES: true, DEF: [
      {
        ALT: () => {
          const d = this.CONSUME(KwDefine);
          const name = this.CONSUME(Word);
          this.CONSUME(Op);
          const value = this.SUBRULE(this.atoms);
          return { k: 'define' as const, name: name.image, value, loc: locOf(d) };
        },
      },
      { ALT: () => this.SUBRULE(this.objectStatement, { ARGS: [undefined] }) },
      {
        ALT: () => {
          // A verb (add, create, delete, flush, list, insert, replace, reset ...) and what follows.
          const verb = this.CONSUME2(Word);
          return this.OR2({ IGNORE_AMBIGUITIES: true, DEF: [
            { ALT: () => this.SUBRULE2(this.objectStatement, { ARGS: [verb] }) },
            {
              ALT: () => {
                const rest = this.OPTION(() => this.SUBRULE2(this.atoms));
                return this.ACTION(() => ({ k: 'command' as const, atoms: [atomOf(verb), ...(rest ?? [])], loc: locOf(verb) }));
              },
            },
          ]});
        },
      },
    ]});
  });

  /** `table ...`, `chain ...`, `set ...`, `map ...` with an optional block. */
  private readonly objectStatement = this.RULE('objectStatement', (verbTok: IToken | undefined): NftStatement => {
    const verb = verbTok?.image;
    return this.OR([
      {
        ALT: () => {
          const t = this.CONSUME(KwTable);
          const words = this.SUBRULE(this.headWords);
          const items = this.OPTION(() => {
            this.CONSUME(LBrace);
            const body = this.SUBRULE(this.tableBody);
            this.CONSUME(RBrace);
            return body;
          });
          return { k: 'table' as const, verb, words, items, loc: locOf(verbTok ?? t) };
        },
      },
      {
        ALT: () => {
          const c = this.CONSUME(KwChain);
          const words = this.SUBRULE2(this.headWords);
          const lines = this.OPTION2(() => this.SUBRULE(this.chainBlockBody));
          return { k: 'chain' as const, verb, words, lines, loc: locOf(verbTok ?? c) };
        },
      },
      {
        ALT: () => {
          const s = this.OR2([{ ALT: () => this.CONSUME(KwSet) }, { ALT: () => this.CONSUME(KwMap) }]);
          const words = this.SUBRULE3(this.headWords);
          const lines = this.OPTION3(() => this.SUBRULE(this.setBlockBody));
          return { k: 'set' as const, verb, kind: s.image as 'set' | 'map', words, lines, loc: locOf(verbTok ?? s) };
        },
      },
    ]);
  });

  /** Family, table and object names after `table`/`chain`/`set`. */
  private readonly headWords = this.RULE('headWords', (): Atom[] => {
    const out: Atom[] = [];
    this.MANY(() => {
      const t = this.OR([{ ALT: () => this.CONSUME(Word) }, { ALT: () => this.CONSUME(QuotedString) }, { ALT: () => this.CONSUME(Variable) }]);
      this.ACTION(() => out.push(atomOf(t)));
    });
    return out;
  });

  private readonly tableBody = this.RULE('tableBody', (): TableItem[] => {
    const out: TableItem[] = [];
    this.SUBRULE(this.separators);
    this.MANY({
      GATE: () => this.LA(1).tokenType !== KwTable,
      DEF: () => {
      const item = this.OR({ IGNORE_AMBIGUITIES: true, DEF: [
        { ALT: (): TableItem => this.SUBRULE(this.chainBlock) },
        { ALT: (): TableItem => this.SUBRULE(this.setBlock) },
        { ALT: (): TableItem => this.SUBRULE(this.flowtableBlock) },
        {
          GATE: () => (this.LA(1).image === 'counter' || this.LA(1).image === 'quota') && this.LA(2).tokenType === Word && this.LA(3).tokenType === LBrace,
          ALT: (): TableItem => this.SUBRULE(this.objectBlock),
        },
        { ALT: (): TableItem => ({ k: 'line', line: this.SUBRULE(this.atomLine) }) },
      ]});
      this.ACTION(() => out.push(item));
      this.OR2([
        { ALT: () => { this.OR3([{ ALT: () => this.CONSUME(Newline) }, { ALT: () => this.CONSUME(Semi) }]); this.SUBRULE2(this.separators); } },
        { GATE: () => this.LA(1).tokenType === RBrace && (item.k === 'set' || item.k === 'flowtable' || item.k === 'object'), ALT: () => undefined },
      ]);
      },
    });
    return out;
  });

  private readonly chainBlock = this.RULE('chainBlock', (): ChainBlock => {
    const c = this.CONSUME(KwChain);
    const name = this.OR([{ ALT: () => this.CONSUME(Word) }, { ALT: () => this.CONSUME(QuotedString) }]);
    const lines = this.SUBRULE(this.chainBlockBody);
    const n = atomOf(name);
    return { k: 'chain', name: n.k === 'string' || n.k === 'word' ? n.text : name.image, nameLoc: n.loc, lines, loc: locOf(c) };
  });

  /** `{ line NL line NL }`: every line of a chain ends with a newline or `;`. */
  private readonly chainBlockBody = this.RULE('chainBlockBody', (): AtomLine[] => {
    const out: AtomLine[] = [];
    this.CONSUME(LBrace);
    this.SUBRULE(this.separators);
    // A rule never starts with `table` or `chain`: there the block must end (bison: "unexpected chain").
    this.MANY({
      GATE: () => this.LA(1).tokenType !== KwTable && this.LA(1).tokenType !== KwChain,
      DEF: () => {
      const l = this.SUBRULE(this.atomLine);
      this.ACTION(() => out.push(l));
      this.OR([{ ALT: () => this.CONSUME(Newline) }, { ALT: () => this.CONSUME(Semi) }]);
      this.SUBRULE2(this.separators);
      },
    });
    this.CONSUME(RBrace);
    return out;
  });

  private readonly setBlock = this.RULE('setBlock', (): SetBlock => {
    const s = this.OR([{ ALT: () => this.CONSUME(KwSet) }, { ALT: () => this.CONSUME(KwMap) }]);
    const name = this.CONSUME(Word);
    const lines = this.SUBRULE(this.setBlockBody);
    return { k: s.image as 'set' | 'map', name: name.image, lines, loc: locOf(s) };
  });

  /** `counter NAME { ... }` / `quota NAME { ... }`: a body like a set's. */
  private readonly objectBlock = this.RULE('objectBlock', (): TableItem => {
    const kw = this.CONSUME(Word);
    const name = this.CONSUME2(Word);
    const lines = this.SUBRULE(this.setBlockBody);
    return { k: 'object', kind: kw.image === 'quota' ? 'quota' : 'counter', name: name.image, nameLoc: locOf(name), lines, loc: locOf(kw) };
  });

  /** `flowtable NAME { hook ingress priority P; devices = { ... }; }`: a body like a set's. */
  private readonly flowtableBlock = this.RULE('flowtableBlock', (): TableItem => {
    const f = this.CONSUME(KwFlowtable);
    const name = this.CONSUME(Word);
    const lines = this.SUBRULE(this.setBlockBody);
    return { k: 'flowtable', name: name.image, nameLoc: locOf(name), lines, loc: locOf(f) };
  });

  /** `{ type ...; flags ...; elements = { ... } }`: the last line may end at the brace. */
  private readonly setBlockBody = this.RULE('setBlockBody', (): AtomLine[] => {
    const out: AtomLine[] = [];
    this.CONSUME(LBrace);
    this.SUBRULE(this.separators);
    this.MANY(() => {
      const l = this.SUBRULE(this.atomLine);
      this.ACTION(() => out.push(l));
      this.SUBRULE2(this.separators);
    });
    this.CONSUME(RBrace);
    return out;
  });

  private readonly atomLine = this.RULE('atomLine', (): AtomLine => {
    const atoms = this.SUBRULE(this.atoms);
    return { atoms, loc: atoms.length > 0 ? span(atoms[0]!.loc, atoms[atoms.length - 1]!.loc) : { line: 0, column: 0, endColumn: 0, offset: 0, endOffset: 0 } };
  });

  private readonly atoms = this.RULE('atoms', (): Atom[] => {
    const out: Atom[] = [];
    this.AT_LEAST_ONE(() => {
      const a = this.SUBRULE(this.atom);
      this.ACTION(() => out.push(a));
    });
    return out;
  });

  private readonly atom = this.RULE('atom', (): Atom => {
    return this.OR([{ ALT: () => atomOf(this.CONSUME(AtomToken)) }, { ALT: () => this.SUBRULE(this.braceValue) }]);
  });

  /** `{ a, b : c, ... }` inside a rule or a set's `elements =`; newlines inside are blanks. */
  private readonly braceValue = this.RULE('braceValue', (): Atom => {
    const open = this.CONSUME(LBrace);
    const out: Atom[] = [];
    this.MANY(() => {
      this.OR([
        { ALT: () => { this.CONSUME(Newline); } },
        { ALT: () => { const a = this.SUBRULE(this.atom); this.ACTION(() => out.push(a)); } },
      ]);
    });
    const close = this.CONSUME(RBrace);
    return { k: 'brace', atoms: out, loc: span(locOf(open), locOf(close)) };
  });
}

let parser: NftParser | undefined;

/** The parser, built on first use. */
export function nftParser(): NftParser {
  parser ??= new NftParser();
  return parser;
}
