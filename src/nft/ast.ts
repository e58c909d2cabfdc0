/** The contract between the nft grammar (grammar/nft) and the interpreter (src/nft). */

/** A place in the input: 1-based line and column, and the end column (inclusive) as nft's carets show it. */
export interface NftLoc {
  line: number;
  column: number;
  endColumn: number;
  /** Offset of the first character in the whole input, to tell adjacent atoms (`-500`, `:8080`) apart. */
  offset: number;
  endOffset: number;
}

/** One element of a rule or a property line: the grammar's unit, interpreted by src/nft/rule.ts. */
export type Atom =
  | { k: 'word'; text: string; loc: NftLoc }
  | { k: 'string'; text: string; loc: NftLoc }
  | { k: 'var'; name: string; loc: NftLoc }
  | { k: 'setref'; name: string; loc: NftLoc }
  | { k: 'op'; text: string; loc: NftLoc }
  /** `{ ... }`: its atoms, commas included, newlines dropped. */
  | { k: 'brace'; atoms: Atom[]; loc: NftLoc };

export interface AtomLine {
  atoms: Atom[];
  loc: NftLoc;
}

export interface ChainBlock {
  k: 'chain';
  name: string;
  nameLoc: NftLoc;
  lines: AtomLine[];
  loc: NftLoc;
}

export interface SetBlock {
  k: 'set' | 'map';
  name: string;
  lines: AtomLine[];
  loc: NftLoc;
}

/** `flowtable NAME { hook ingress priority P; devices = { ... }; }` (the recording kernel has no flowtables). */
export interface FlowtableBlock {
  k: 'flowtable';
  name: string;
  nameLoc: NftLoc;
  lines: AtomLine[];
  loc: NftLoc;
}

/** `counter NAME { [packets N bytes M] }` / `quota NAME { [over] N UNIT [used N UNIT] }`: a named stateful object. */
export interface ObjectBlock {
  k: 'object';
  kind: 'counter' | 'quota';
  name: string;
  nameLoc: NftLoc;
  lines: AtomLine[];
  loc: NftLoc;
}

export type TableItem = ChainBlock | SetBlock | FlowtableBlock | ObjectBlock | { k: 'line'; line: AtomLine };

/** A top-level statement of a file (or of a command line, joined by blanks). */
export type NftStatement =
  | { k: 'define'; name: string; value: Atom[]; loc: NftLoc }
  /** `table [family] name { ... }`, optionally after a verb (`add table ...`); `items` undefined without a block. */
  | { k: 'table'; verb: string | undefined; words: Atom[]; items: TableItem[] | undefined; loc: NftLoc }
  /** `[verb] chain [family] table name [{ ... }]`. */
  | { k: 'chain'; verb: string | undefined; words: Atom[]; lines: AtomLine[] | undefined; loc: NftLoc }
  /** `[verb] set|map [family] table name { ... }`. */
  | { k: 'set'; verb: string | undefined; kind: 'set' | 'map'; words: Atom[]; lines: AtomLine[] | undefined; loc: NftLoc }
  /** Any other command: its atoms (`flush ruleset`, `add rule ip t c ...`, `list ruleset`). */
  | { k: 'command'; atoms: Atom[]; loc: NftLoc };

/** A syntax error as bison would word it: the offending token's location and text. */
export interface NftSyntaxError {
  loc: NftLoc;
  message: string;
}
