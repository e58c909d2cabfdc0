/**
 * The stylesheet of the HTML page, inlined (the page fetches nothing). Wide screens: each hop's netfilter picture
 * is a grid (wires, PREROUTING, routing, FORWARD, POSTROUTING on the top row; INPUT and OUTPUT below; the local
 * process at the bottom) with arrows as grid cells. Under 720px the picture becomes one column: the visited boxes
 * in the packet's order with down arrows between them, the others greyed after them. Print: the wide layout in
 * black and colour, no page break inside a box.
 */
export const PAGE_CSS = `
:root{--ink:#1d2330;--muted:#6b7280;--line:#c9ced6;--path:#1565c0;--nat:#7b1fa2;--drop:#c62828;--ok:#2e7d32;--hl:#fff3b0;--bg:#fff;--card:#f6f8fb}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;padding:1rem;font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"Noto Sans",sans-serif;color:var(--ink);background:var(--bg)}
h1{font-size:1.3rem;margin:0 0 .3rem}
h2{font-size:1.15rem;margin:1.4rem 0 .5rem;overflow-wrap:anywhere}
h3{font-size:1rem;margin:0 0 .4rem;overflow-wrap:anywhere}
h4{font-size:.9rem;margin:.8rem 0 .2rem}
h5{font-size:.82rem;margin:.4rem 0 .1rem;font-weight:600;color:var(--muted)}
code,.mono{font-family:ui-monospace,"SFMono-Regular",Menlo,Consolas,"DejaVu Sans Mono",monospace;font-size:.8rem}
a{color:inherit}
.meta{color:var(--muted);margin:0 0 .5rem;overflow-wrap:anywhere}
.legend{display:flex;flex-wrap:wrap;gap:.4rem .9rem;margin:.4rem 0 0;padding:0;list-style:none;font-size:.8rem}
.legend li{display:flex;align-items:center;gap:.3rem}
.sw{display:inline-block;width:1.6rem;height:.9rem;border-radius:3px;border:2px solid var(--line)}
.sw.visited{border-color:var(--path)}
.sw.grey{opacity:.45;background:#eee}
.sw.decisive{background:var(--hl);border-color:#b58900}
.sw.dropped{border-color:var(--drop)}
.sw.nat{border:0;background:none;color:var(--nat);font-weight:700;width:auto}
.figure{border-top:3px solid var(--line);margin-top:1rem}
/* lanes: one column per host, hops in order, crossings between them */
.lanes{display:grid;grid-template-columns:repeat(var(--lanes),minmax(0,1fr));gap:.35rem .8rem;margin:.4rem 0 1rem}
.lane-head{font-weight:700;text-align:center;padding:.25rem;border-bottom:3px solid var(--lane);overflow-wrap:anywhere}
.hop-card{display:block;text-decoration:none;border:1px solid var(--line);border-left:5px solid var(--lane);border-radius:6px;padding:.35rem .5rem;background:var(--card);font-size:.85rem;overflow-wrap:anywhere}
.hop-card .fate{font-weight:700}
.fate-dropped{color:var(--drop)}
.fate-forwarded,.fate-delivered,.fate-sent{color:var(--ok)}
.crossing{display:flex;flex-direction:column;align-items:center;font-size:.78rem;color:var(--muted);text-align:center;overflow-wrap:anywhere;min-width:0}
.crossing .arrow{position:relative;width:100%;height:12px}
.crossing .arrow::before{content:"";position:absolute;left:0;right:0;top:5px;border-top:2px solid var(--path)}
.crossing.right .arrow::after{content:"";position:absolute;right:0;top:0;border-left:10px solid var(--path);border-top:6px solid transparent;border-bottom:6px solid transparent}
.crossing.left .arrow::after{content:"";position:absolute;left:0;top:0;border-right:10px solid var(--path);border-top:6px solid transparent;border-bottom:6px solid transparent}
.crossing.same .arrow{width:12px;height:1.3rem}
.crossing.same .arrow::before{left:5px;right:auto;top:0;bottom:8px;border-top:0;border-left:2px solid var(--path)}
.crossing.same .arrow::after{content:"";position:absolute;left:0;bottom:0;border-top:9px solid var(--path);border-left:6px solid transparent;border-right:6px solid transparent}
.crossing .pkt{color:var(--ink);font-weight:600}
.crossing.reply .pkt::before{content:"reply: ";color:var(--muted);font-weight:400}
.crossing.request .pkt::before{content:"request: ";color:var(--muted);font-weight:400}
/* one hop */
.hop{border:1px solid var(--line);border-left:6px solid var(--lane);border-radius:8px;padding:.6rem .7rem;margin:0 0 1rem;break-inside:avoid-page}
.hop .verdict{margin:.1rem 0 .6rem;font-weight:600;overflow-wrap:anywhere}
.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:.1rem .7rem;margin:.6rem 0;font-size:.85rem}
.facts dt{color:var(--muted)}
.facts dd{margin:0;overflow-wrap:anywhere}
.notes{margin:.3rem 0;padding-left:1.1rem;font-size:.8rem;color:var(--muted)}
/* the netfilter picture */
.netfilter{display:grid;grid-template-columns:minmax(0,1fr) auto minmax(0,1.2fr) auto minmax(0,1fr) auto minmax(0,1.1fr) auto minmax(0,1.2fr) auto minmax(0,1fr);
 grid-template-areas:"in a1 pre a2 rti a3 fwd a4 post a5 out" ". . . . a6 . . . a9 . ." ". . . . inp . . . outp . ." ". . . . a7 . . . a10 . ." ". . . . loc a8 a8 a8 rto . .";
 align-items:start;gap:0;margin:.3rem 0 .5rem}
.cell{display:flex;flex-direction:column;align-items:stretch;min-width:0}
.cell.stretch{align-self:stretch}
.node{border:1.5px solid var(--line);border-radius:7px;background:#fff;padding:.25rem .35rem;min-width:0;overflow-wrap:anywhere}
.node .label{font-weight:700;font-size:.8rem;letter-spacing:.01em}
.node .detail{font-size:.72rem;color:var(--muted);margin-top:.1rem}
.node.route{border-radius:999px;text-align:center;background:#f1f5ff}
.node.wire{background:#f4f4f4}
.node.local{border-style:dashed}
.cell[data-visited="true"] .node{border:2.5px solid var(--path)}
.cell[data-visited="false"]{opacity:.42;filter:grayscale(1)}
.cell[data-dropped="true"] .node{border-color:var(--drop);box-shadow:0 0 0 3px #ffcdd2}
.cell[data-dropped="true"] .node .label::after{content:" ✕ dropped";color:var(--drop)}
.tables{list-style:none;margin:.2rem 0 0;padding:0}
.tbl{border:1px solid var(--line);border-radius:4px;padding:.1rem .3rem;margin-top:.15rem;font-size:.72rem;background:#fff}
.tbl .name{font-weight:700}
.tbl .prio{color:var(--muted);font-size:.65rem;float:right}
.tbl .sum{display:block;color:var(--muted);overflow-wrap:anywhere}
.tbl.pseudo{background:#f7f7f7;font-style:italic}
.tbl.nft{border-left:4px solid #00838f}
.tbl .part{display:inline-block}
.sw.nftsw{border-left:5px solid #00838f}
.rule .handle{color:var(--muted)}
.tbl[data-visited="true"]{border-color:var(--path);background:#eef5ff}
.tbl[data-visited="true"] .sum{color:var(--ink)}
.tbl[data-visited="false"]{opacity:.5;background:#f2f2f2}
.tbl.decisive{background:var(--hl);border:2px solid #b58900}
.tbl.decisive .sum{font-weight:700}
.tbl.dropped{border-color:var(--drop);background:#ffebee}
.tbl .nat{display:block;color:var(--nat);font-weight:700}
.tbl a{text-decoration:none}
.stem{flex:1;min-height:0;align-self:center;width:12px;position:relative}
.stem::before{content:"";position:absolute;left:5px;top:0;bottom:0;border-left:2px solid var(--line)}
.stem.head{min-height:10px}
.stem.head::after{content:"";position:absolute;left:0;top:0;border-bottom:9px solid var(--line);border-left:6px solid transparent;border-right:6px solid transparent}
.stem[data-visited="true"]::before{border-left:3px solid var(--path);left:4.5px}
.stem.head[data-visited="true"]::after{border-bottom-color:var(--path)}
.edge{position:relative;display:flex;min-width:0}
.edge.h{flex-direction:column;align-items:center;min-width:1.8rem;padding:0 2px}
.edge.h .arrow{position:relative;width:100%;min-width:1.6rem;height:12px;margin-top:.55rem}
.edge.h .arrow::before{content:"";position:absolute;left:0;right:7px;top:5px;border-top:2px solid var(--line)}
.edge.h .arrow::after{content:"";position:absolute;right:0;top:0;border-left:10px solid var(--line);border-top:6px solid transparent;border-bottom:6px solid transparent}
.edge.v{justify-content:center;min-height:1.5rem;align-self:stretch}
.edge.v .arrow{position:relative;width:12px;min-height:1.5rem}
.edge.v .arrow::before{content:"";position:absolute;left:5px;top:0;bottom:0;border-left:2px solid var(--line)}
.edge.v.down .arrow::before{bottom:8px}
.edge.v.down .arrow::after{content:"";position:absolute;left:0;bottom:0;border-top:9px solid var(--line);border-left:6px solid transparent;border-right:6px solid transparent}
.edge.v .nat{position:absolute;left:calc(50% + 10px);top:0;width:max-content;max-width:10rem}
.edge[data-visited="true"] .arrow::before{border-color:var(--path);border-width:3px}
.edge.h[data-visited="true"] .arrow::after{border-left-color:var(--path)}
.edge.v.down[data-visited="true"] .arrow::after{border-top-color:var(--path)}
.edge .nat{font-size:.68rem;color:var(--nat);font-weight:700;text-align:center;max-width:8.5rem;overflow-wrap:anywhere;line-height:1.2}
/* chain listings */
.walk{border-top:1px solid var(--line);padding-top:.2rem}
.rules{list-style:none;margin:0;padding:0}
.rule{display:grid;grid-template-columns:2.2rem minmax(0,1fr);gap:.1rem .4rem;padding:.12rem .2rem;border-radius:4px;font-size:.8rem}
.rule .num{color:var(--muted);text-align:right}
.rule code{white-space:pre-wrap;overflow-wrap:anywhere}
.rule .out{grid-column:2;font-size:.76rem}
.rule.matched .out{color:var(--ok);font-weight:600}
.rule.skipped .out{color:var(--muted)}
.rule.not-reached{opacity:.5}
.rule.not-reached .out{font-style:italic}
.rule.decisive{background:var(--hl);outline:2px solid #b58900}
.rule.decisive .out{color:var(--ink);font-weight:700}
.rule.end .out{grid-column:2}
.omitted{font-size:.75rem;color:var(--muted);font-style:italic;margin-left:2.6rem}
/* the chain graph */
.graph-svg{width:100%;height:auto;max-width:100%;display:block}
.chain-table{border-collapse:collapse;font-size:.8rem;width:100%;table-layout:fixed}
.chain-table th,.chain-table td{border-bottom:1px solid var(--line);padding:.15rem .3rem;text-align:left;vertical-align:top;overflow-wrap:anywhere}
.chain-table tr[data-visited="true"] td:first-child{font-weight:700;color:var(--path)}
@media screen and (max-width:720px){
 body{padding:.5rem}
 .lanes{display:flex;flex-direction:column;align-items:stretch}
 .lane-head{display:none}
 .crossing .arrow,.crossing.left .arrow,.crossing.right .arrow{width:12px;height:1.3rem}
 .crossing .arrow::before{left:5px;right:auto;top:0;bottom:8px;border-top:0;border-left:2px solid var(--path)}
 .crossing.left .arrow::after,.crossing.right .arrow::after,.crossing.same .arrow::after{content:"";position:absolute;left:0;right:auto;top:auto;bottom:0;border-top:9px solid var(--path);border-left:6px solid transparent;border-right:6px solid transparent;border-bottom:0}
 .netfilter{display:flex;flex-direction:column;align-items:stretch}
 .netfilter>*{order:var(--o)}
 .stem{display:none}
 .edge[data-visited="false"]{display:none}
 .edge.h,.edge.v{flex-direction:row;justify-content:flex-start;align-items:stretch;padding:0 0 0 1.2rem;min-height:1.6rem}
 .edge.h .arrow,.edge.v .arrow{width:12px;min-width:12px;height:auto;min-height:1.6rem;margin:0}
 .edge.h .arrow::before,.edge.v .arrow::before{left:5px;right:auto;top:0;bottom:8px;border-top:0;border-left:3px solid var(--path)}
 .edge.h .arrow::after,.edge.v .arrow::after{content:"";position:absolute;left:0;right:auto;top:auto;bottom:0;border-top:9px solid var(--path);border-left:6px solid transparent;border-right:6px solid transparent;border-bottom:0}
 .edge .nat,.edge.v .nat{position:static;max-width:none;text-align:left;align-self:center;margin-left:.5rem;width:auto}
 .cell[data-visited="false"]{margin-top:.3rem}
 .cell[data-visited="false"] .tables,.cell[data-visited="false"] .detail{display:none}
 .facts{grid-template-columns:minmax(0,1fr)}
 .facts dd{margin-bottom:.3rem}
}
@media print{
 @page{margin:1.2cm}
 *{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 body{padding:0;font-size:10pt}
 .hop,.node,.walk,.hop-card{break-inside:avoid}
 .figure{break-before:auto}
 a{text-decoration:none}
}
`;
