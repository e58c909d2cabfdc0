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
import { CHROMIUM, haveChromium, launchChromium, routerLabPage } from '../../scripts/lib/chromium';

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
    /** Every request a page made besides loading the page itself. */
    const requests: string[] = [];

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'tsi-browser-'));
      const file = join(dir, 'router-lab.html');
      writeFileSync(file, await routerLabPage(ROOT));
      url = pathToFileURL(file).href;
      browser = await launchChromium();
    }, 120_000);

    afterAll(async () => {
      await browser?.close();
      rmSync(dir, { recursive: true, force: true });
    });

    async function open(width: number, height: number, mobile: boolean): Promise<Page> {
      const page = await browser.newPage();
      await page.setViewport({ width, height, deviceScaleFactor: 1, isMobile: mobile, hasTouch: mobile });
      await page.setRequestInterception(true);
      page.on('request', (req) => {
        if (req.url() === url) void req.continue();
        else {
          requests.push(req.url());
          void req.abort();
        }
      });
      await page.goto(url, { waitUntil: 'load' });
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

    it('made no network request', () => {
      expect(requests).toEqual([]);
      expect(readFileSync(new URL(url), 'utf8')).not.toMatch(/<script|<link|(src|href)="https?:/);
    });
  });
}
