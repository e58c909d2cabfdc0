/**
 * The trace page in a real browser: Debian's Chromium (installed by .ci/run) renders the router lab's page
 * (`tsiptables trace --batch packets.txt --html -`) at desktop and phone widths and in print; the test asserts on
 * the rendered DOM (the boxes the packet visited, the greyed ones, the highlighted rule, the layout), takes
 * screenshots, and checks that the page asked for nothing over the network. Skipped, with a message, when
 * /usr/bin/chromium is not installed.
 */
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Browser, Page } from 'puppeteer-core';
import { CHROMIUM, haveChromium, launchChromium, routerLabPage, routerNatLabPage } from '../../scripts/lib/chromium';

/** The browser globals the page functions below use (the project compiles without the DOM library). */
interface PageRect {
  x: number;
  y: number;
  width: number;
  height: number;
  top: number;
  right: number;
  bottom: number;
}
interface PageElement {
  getBoundingClientRect(): PageRect;
  getAttribute(name: string): string | null;
  readonly tagName: string;
}
declare const window: { scrollY: number; innerWidth: number };
declare const document: { documentElement: { scrollWidth: number }; body: { scrollWidth: number }; querySelectorAll(sel: string): Iterable<PageElement> };
declare function getComputedStyle(e: unknown): { opacity: string; borderTopColor: string; backgroundColor: string };

const ROOT = join(__dirname, '..', '..');
/** The hop of the lab's TCP SYN (packet 3): the second connection's first packet, DNAT + MASQUERADE, forwarded. */
const SYN = '#f1-h0';

interface Box {
  x: number;
  y: number;
  w: number;
  h: number;
}

if (!haveChromium()) {
  describe('the trace page in Chromium', () => {
    it.skip(`skipped: ${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`, () => undefined);
  });
} else {
  describe('the trace page in Chromium', () => {
    let browser: Browser;
    let dir: string;
    let url: string;
    /** The router-nat lab's page: one packet across three hosts. */
    let labUrl: string;
    /** Every request a page made besides loading the page itself. */
    const requests: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tsi-browser-'));
      const file = join(dir, 'router-lab.html');
      writeFileSync(file, await routerLabPage(ROOT));
      url = pathToFileURL(file).href;
      const labFile = join(dir, 'router-nat-lab.html');
      writeFileSync(labFile, await routerNatLabPage(ROOT));
      labUrl = pathToFileURL(labFile).href;
      browser = await launchChromium();
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function open(width: number, height: number, mobile: boolean, target = url): Promise<Page> {
      const page = await browser.newPage();
      await page.setViewport({ width, height, deviceScaleFactor: 1, isMobile: mobile, hasTouch: mobile });
      await page.setRequestInterception(true);
      page.on('request', (req) => {
        if (req.url() === target) void req.continue();
        else {
          requests.push(req.url());
          void req.abort();
        }
      });
      await page.goto(target, { waitUntil: 'load' });
      return page;
    }

    const box = (page: Page, sel: string): Promise<Box> =>
      page.$eval(sel, (e) => {
        const r = e.getBoundingClientRect();
        return { x: r.x, y: r.y + window.scrollY, w: r.width, h: r.height };
      });

    it('desktop: the visited boxes in colour, the others greyed, the deciding rule highlighted, the grid layout', async () => {
      const page = await open(1280, 900, false);
      const visited = await page.$$eval(`${SYN} .cell[data-hook]`, (cells) => cells.map((c) => [c.getAttribute('data-hook'), c.getAttribute('data-visited'), getComputedStyle(c).opacity, getComputedStyle(c.querySelector('.node')!).borderTopColor]));
      const byHook = new Map(visited.map(([h, v, o, b]) => [h, { v, o: Number(o), b }]));
      for (const h of ['PREROUTING', 'FORWARD', 'POSTROUTING']) {
        expect(byHook.get(h)!.v).toBe('true');
        expect(byHook.get(h)!.o).toBe(1);
        expect(byHook.get(h)!.b).toBe('rgb(21, 101, 192)');
      }
      for (const h of ['INPUT', 'OUTPUT']) {
        expect(byHook.get(h)!.v).toBe('false');
        expect(byHook.get(h)!.o).toBeLessThan(0.6);
      }
      // The deciding rule: filter FORWARD rule 3, on the highlight colour; its table box too.
      const rule = await page.$eval(`${SYN} .rule.decisive`, (e) => ({ text: e.textContent ?? '', bg: getComputedStyle(e).backgroundColor, num: e.getAttribute('data-num') }));
      expect(rule.num).toBe('3');
      expect(rule.text).toContain('-A FORWARD -i eth0 -o eth1 -j ACCEPT');
      expect(rule.bg).toBe('rgb(255, 243, 176)');
      const tbl = await page.$eval(`${SYN} .tbl.decisive`, (e) => ({ table: e.getAttribute('data-table'), hook: e.getAttribute('data-hook'), bg: getComputedStyle(e).backgroundColor }));
      expect(tbl).toEqual({ table: 'filter', hook: 'FORWARD', bg: 'rgb(255, 243, 176)' });
      // The NAT rewrites are on the arrows, visible.
      const nat = await page.$eval(`${SYN} .edge[data-edge="PREROUTING>route-in"] .nat`, (e) => ({ text: e.textContent, w: e.getBoundingClientRect().width }));
      expect(nat.text).toBe('DNAT 10.0.1.1:8800 → 10.0.2.2:80');
      expect(nat.w).toBeGreaterThan(20);
      // The wide layout: PREROUTING, routing, FORWARD, POSTROUTING left to right on one row; INPUT under routing.
      const [pre, route, fwd, post, inp] = await Promise.all(['PREROUTING', 'route-in', 'FORWARD', 'POSTROUTING', 'INPUT'].map((n) => box(page, `${SYN} .cell[data-node="${n}"]`)));
      expect(pre!.x).toBeLessThan(route!.x);
      expect(route!.x).toBeLessThan(fwd!.x);
      expect(fwd!.x).toBeLessThan(post!.x);
      expect(Math.abs(pre!.y - fwd!.y)).toBeLessThan(2);
      expect(inp!.y).toBeGreaterThan(route!.y + 40);
      expect(Math.abs(inp!.x - route!.x)).toBeLessThan(2);
      const shot = await page.screenshot({ fullPage: false, type: 'png' });
      expect(shot.length).toBeGreaterThan(10_000);
      writeFileSync(join(dir, 'desktop.png'), shot);
      await page.close();
    }, 60_000);

    it('phone (375px): nothing wider than the screen, the visited boxes stacked in the packet\'s order', async () => {
      const page = await open(375, 812, true);
      const widths = await page.evaluate(() => ({ doc: document.documentElement.scrollWidth, body: document.body.scrollWidth, inner: window.innerWidth }));
      expect(widths.inner).toBe(375);
      expect(widths.doc).toBeLessThanOrEqual(375);
      expect(widths.body).toBeLessThanOrEqual(375);
      const sticking = await page.evaluate(() =>
        [...document.querySelectorAll('body *')]
          .filter((e) => {
            const r = e.getBoundingClientRect();
            return r.width > 0 && r.right > window.innerWidth + 0.5;
          })
          .map((e) => `${e.tagName}.${e.getAttribute('class') ?? ''}`),
      );
      expect(sticking).toEqual([]);
      const pathAttr: string | null = await page.$eval(`${SYN} .netfilter`, (e) => e.getAttribute('data-path'));
      const path = (pathAttr ?? '').split(' ');
      expect(path).toEqual(['in', 'PREROUTING', 'route-in', 'FORWARD', 'POSTROUTING', 'out']);
      const boxes = await Promise.all(path.map((n) => box(page, `${SYN} .cell[data-node="${n}"]`)));
      for (let i = 1; i < boxes.length; i++) {
        expect(boxes[i]!.y).toBeGreaterThanOrEqual(boxes[i - 1]!.y + boxes[i - 1]!.h);
        expect(Math.abs(boxes[i]!.x - boxes[0]!.x)).toBeLessThan(2);
      }
      // The boxes the packet did not visit come after its way, greyed.
      const input = await box(page, `${SYN} .cell[data-node="INPUT"]`);
      expect(input.y).toBeGreaterThan(boxes[boxes.length - 1]!.y);
      // The NAT arrow sits between PREROUTING and routing.
      const arrow = await box(page, `${SYN} .edge[data-edge="PREROUTING>route-in"]`);
      expect(arrow.y).toBeGreaterThanOrEqual(boxes[1]!.y + boxes[1]!.h - 1);
      expect(arrow.y + arrow.h).toBeLessThanOrEqual(boxes[2]!.y + 1);
      const rule = await page.$eval(`${SYN} .rule.decisive`, (e) => e.getBoundingClientRect().right);
      expect(rule).toBeLessThanOrEqual(375);
      writeFileSync(join(dir, 'phone.png'), await page.screenshot({ fullPage: false, type: 'png' }));
      await page.close();
    }, 60_000);

    it('print: the wide layout on A4, as a PDF', async () => {
      const page = await open(1280, 900, false);
      await page.emulateMediaType('print');
      const pdf = await page.pdf({ format: 'A4', printBackground: true });
      expect(Buffer.from(pdf).subarray(0, 5).toString()).toBe('%PDF-');
      await page.setViewport({ width: 718, height: 1000 });
      const [pre, fwd] = await Promise.all(['PREROUTING', 'FORWARD'].map((n) => box(page, `${SYN} .cell[data-node="${n}"]`)));
      expect(fwd!.x).toBeGreaterThan(pre!.x);
      expect(Math.abs(fwd!.y - pre!.y)).toBeLessThan(2);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(718);
      await page.close();
    }, 60_000);

    it('lab: one lane per host, the request crossing left to right and the answer back, the router deciding by FORWARD rule 3', async () => {
      const page = await open(1280, 900, false, labUrl);
      const lanes = await page.$$eval('.lane-head', (hs) => hs.map((h) => ({ text: (h.textContent ?? '').trim(), x: h.getBoundingClientRect().x })));
      expect(lanes.map((l) => l.text)).toEqual(['boxA', 'router', 'boxB']);
      expect(lanes[0]!.x).toBeLessThan(lanes[1]!.x);
      expect(lanes[1]!.x).toBeLessThan(lanes[2]!.x);
      const cards = await page.$$eval('.hop-card', (cs) =>
        cs.map((c) => {
          const r = c.getBoundingClientRect();
          return { host: c.getAttribute('data-host'), dir: c.getAttribute('data-direction'), fate: c.getAttribute('data-fate'), x: r.x, y: r.y };
        }),
      );
      // boxA -> router -> boxB, then the SYN-ACK boxB -> router -> boxA; each card in its host's column, one below the other.
      expect(cards.map((c) => `${c.host}:${c.dir}:${c.fate}`)).toEqual(['boxA:request:sent', 'router:request:forwarded', 'boxB:request:delivered', 'boxB:reply:sent', 'router:reply:forwarded', 'boxA:reply:delivered']);
      const col = new Map(lanes.map((l) => [l.text, l.x]));
      for (const c of cards) expect(Math.abs(c.x - col.get(c.host!)!)).toBeLessThan(40);
      for (let i = 1; i < cards.length; i++) expect(cards[i]!.y).toBeGreaterThan(cards[i - 1]!.y);
      // The router's hop of the SYN: DNAT then MASQUERADE on its arrows, filter FORWARD rule 3 highlighted.
      const rule = await page.$eval('#f0-h1 .rule.decisive', (e) => ({ num: e.getAttribute('data-num'), text: e.textContent ?? '' }));
      expect(rule.num).toBe('3');
      expect(rule.text).toContain('-A FORWARD -i eth0 -o eth1 -m conntrack --ctstate NEW -j ACCEPT');
      const nats = await page.$$eval('#f0-h1 .nat', (ns) => ns.map((n) => n.textContent));
      expect(nats).toEqual(expect.arrayContaining(['DNAT 10.0.1.1:8800 → 10.0.2.2:80', 'SNAT 10.0.1.2:40000 → 10.0.2.1:40000']));
      writeFileSync(join(dir, 'lab.png'), await page.screenshot({ fullPage: true, type: 'png' }));
      await page.close();
      const phone = await open(375, 812, true, labUrl);
      expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      await phone.close();
    }, 60_000);

    it('made no network request', () => {
      expect(requests).toEqual([]);
      expect(readFileSync(new URL(url), 'utf8')).not.toMatch(/<script|<link|(src|href)="https?:/);
    });
  });
}
