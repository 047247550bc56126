// Dropping files on the open note: a real XDND drop through the X server, from a GTK drag source
// (tools/drag-source.py, as a file manager is one), dragged with xdotool. WebDriver cannot make a
// native drop, and the app's drop handler is the shell's (Tauri's drag-drop event with the files'
// paths), so this is the only way it is seen working. An image and a PDF are dropped together:
// both are attached, stored by their hash, referenced in the note's text under the line they were
// dropped on, the image shown in the preview and the PDF as a chip.

import { execFile, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { SHOTS, useHarness, waitFor } from './harness';

const run = promisify(execFile);
const h = useHarness();
const who = { name: 'Ada Lovelace', org: 'Analytical' };

/** A 16×16 PNG: red and blue squares. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAIElEQVR4nGP4z8CAFTFEncCORjXQRAMuCZwGjWqghQYAev8QkDcdoTMAAAAASUVORK5CYII=',
  'base64',
);
/** Where the drag source's window goes: the bottom right of the 1920×1200 screen, clear of the app. */
const SOURCE_AT = { x: 1760, y: 1080 };
/** Debian's Python, which has GTK's bindings (python3-gi); another `python3` first on PATH may not. */
const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

type App = Awaited<ReturnType<typeof h.launch>>;

/** Starts the drag source offering `files`; resolves with its centre once it is shown. */
async function dragSource(app: App, files: string[]): Promise<{ x: number; y: number; done: Promise<void> }> {
  const script = path.join(__dirname, 'tools', 'drag-source.py');
  const child = spawn(PYTHON, [script, String(SOURCE_AT.x), String(SOURCE_AT.y), ...files], {
    env: { ...process.env, DISPLAY: app.display, NO_AT_BRIDGE: '1' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  const done = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  const ready = await new Promise<{ x: number; y: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the drag source did not start: ${out}`)), 15_000);
    child.stdout.on('data', (d) => {
      out += String(d);
      const m = /ready (\d+) (\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ x: Number(m[1]), y: Number(m[2]) });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the drag source exited (${code}): ${out}`));
    });
  });
  return { ...ready, done };
}

/** The pointer, through the X server: press at `from`, move in steps to `to`, release. */
async function drag(app: App, from: { x: number; y: number }, to: { x: number; y: number }): Promise<void> {
  const env = { ...process.env, DISPLAY: app.display };
  const xdo = (...args: string[]) => run('xdotool', args, { env });
  const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));
  await xdo('mousemove', String(from.x), String(from.y));
  await pause(100);
  await xdo('mousedown', '1');
  // Past GTK's drag threshold, then across to the target in steps (each a motion event, which
  // the source turns into an XdndPosition for the window under the pointer).
  for (let i = 1; i <= 20; i++) {
    const x = Math.round(from.x + ((to.x - from.x) * i) / 20);
    const y = Math.round(from.y + ((to.y - from.y) * i) / 20);
    await xdo('mousemove', String(x), String(y));
    await pause(30);
  }
  await xdo('mousemove', String(to.x + 2), String(to.y + 2));
  await pause(300);
  await xdo('mouseup', '1');
}

test('drop: an image and a PDF dropped on the open note are attached, referenced in its text and shown', async () => {
  const app = await h.launch({ init: who });
  await app.el('note-list', 30_000);
  const { id } = await app.cli('note', 'new', '--title', 'Field trip', '--body', 'What we brought back:\nThe end.');
  await (await app.byId('note-item', id, 10_000)).click();
  await app.waitAttr('note-editor', 'data-id', id);

  const files = path.join(app.testDir.dir, 'files');
  fs.mkdirSync(files);
  const image = path.join(files, 'site plan.png');
  const pdf = path.join(files, 'survey.pdf');
  fs.writeFileSync(image, PNG);
  fs.writeFileSync(pdf, '%PDF-1.4\n% a survey\n%%EOF\n');

  // Dropped on the first line of the text: the app's window has no frame under Xvfb (no window
  // manager), so the page's coordinates are the window's, from its origin.
  const win = await app.driver.manage().window().getRect();
  const line = await waitFor(
    async () =>
      app.driver.executeScript<{ x: number; y: number; width: number; height: number } | null>(
        `const line = [...document.querySelectorAll('[data-testid=note-editor] .cm-line')]
           .find((l) => l.textContent === 'What we brought back:');
         if (!line) return null;
         const r = line.getBoundingClientRect();
         return { x: r.x, y: r.y, width: r.width, height: r.height };`,
      ),
    'the first line of the text',
    10_000,
  );
  const target = {
    x: Math.round(win.x + line.x + Math.min(line.width / 2, 80)),
    y: Math.round(win.y + line.y + line.height / 2),
  };
  const source = await dragSource(app, [image, pdf]);
  await drag(app, source, target);

  const attached = await waitFor(
    async () => {
      const items = await app.cli<{ name: string; size: number; present: boolean }[]>('attachments', id);
      return items.length === 2 ? items : undefined;
    },
    'both dropped files to be attached',
    15_000,
    async () => JSON.stringify(await app.cli('attachments', id)),
  );
  expect(attached.map((a) => a.name).sort()).toEqual(['site plan.png', 'survey.pdf']);
  expect(attached.every((a) => a.present)).toBe(true);
  expect(attached.find((a) => a.name === 'site plan.png')?.size).toBe(PNG.length);
  // Under the line they were dropped on, one under the other, in the order dropped.
  await waitFor(
    async () =>
      (await app.cli<{ body: string }>('note', 'show', id)).body ===
      'What we brought back:\n![[site plan.png]]\n![[survey.pdf]]\nThe end.',
    'both references under the line they were dropped on',
    10_000,
    async () => JSON.stringify((await app.cli<{ body: string }>('note', 'show', id)).body),
  );
  await source.done;

  await app.click('mode-split');
  await waitFor(
    async () =>
      app.driver.executeScript<boolean>(
        `const img = document.querySelector('[data-testid=note-preview] img[data-attachment="site plan.png"]');
         return !!img && img.complete && img.naturalWidth === 16;`,
      ),
    'the dropped image in the preview',
    10_000,
  );
  const chips = await app.driver.executeScript<string>(
    `return [...document.querySelectorAll('[data-testid=note-preview] [data-attachment]')]
       .map((e) => e.tagName + ':' + e.getAttribute('data-attachment')).join(',');`,
  );
  expect(chips).toContain('survey.pdf');
  await app.screenshot(path.join(SHOTS, 'e2e-drop.png'));
});
