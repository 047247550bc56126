// Pasting an image into a note: the X clipboard holds a PNG (put there by xclip, as a screenshot
// tool or an image viewer would), Ctrl+V in the note's text attaches it where the cursor is —
// stored by its hash beside the database, `![[pasted-….png]]` in the body — and the preview
// shows it. WebKitGTK hands the page's paste event no image at all, so this is the test that
// showed the shell must read the clipboard itself. (Dropping files: drop.test.ts.)

import { spawn } from 'node:child_process';
import path from 'node:path';
import { Key } from 'selenium-webdriver';
import { expect, test } from 'vitest';
import { SHOTS, useHarness, waitFor } from './harness';

const h = useHarness();
const who = { name: 'Ada Lovelace', org: 'Analytical' };

/** A 16×16 PNG: red and blue squares. */
const PNG = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAABAAAAAQCAIAAACQkWg2AAAAIElEQVR4nGP4z8CAFTFEncCORjXQRAMuCZwGjWqghQYAev8QkDcdoTMAAAAASUVORK5CYII=',
  'base64',
);

/** Puts `png` on the display's clipboard; xclip keeps serving it until another client takes it. */
async function clipboardImage(display: string, png: Buffer): Promise<void> {
  const child = spawn('xclip', ['-selection', 'clipboard', '-t', 'image/png', '-i'], {
    env: { ...process.env, DISPLAY: display },
    stdio: ['pipe', 'ignore', 'inherit'],
  });
  child.stdin.end(png);
  // xclip forks to serve the selection; the parent exits once it owns it.
  await new Promise<void>((resolve, reject) => {
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`xclip exited with ${code}`))));
    child.on('error', reject);
  });
}

test('paste: an image on the clipboard becomes an attachment of the open note, referenced in its text and shown', async () => {
  const app = await h.launch({ init: who });
  await app.el('note-list', 30_000);
  const { id } = await app.cli('note', 'new', '--title', 'Wiring diagram', '--body', 'The board, as wired:');
  const row = await app.byId('note-item', id, 10_000);
  await row.click();
  await app.waitAttr('note-editor', 'data-id', id);

  await clipboardImage(app.display, PNG);
  const body = await app.editorContent();
  await body.click();
  await body.sendKeys(Key.chord(Key.CONTROL, Key.END));
  await app.chord(['ctrl'], 'v');

  const listed = await waitFor(
    async () => {
      const items = await app.cli<{ name: string; size: number; present: boolean }[]>('attachments', id);
      return items.find((a) => a.name.startsWith('pasted-') && a.name.endsWith('.png'));
    },
    'the pasted image to be attached',
    15_000,
    async () => JSON.stringify(await app.cli('attachments', id)),
  );
  expect(listed?.size).toBeGreaterThan(0);
  expect(listed?.present).toBe(true);
  // Where the cursor was, on a line of its own.
  await waitFor(
    async () => (await app.cli<{ body: string }>('note', 'show', id)).body === `The board, as wired:\n![[${listed?.name}]]\n`,
    'the reference in the note’s text, on a line of its own',
    10_000,
    async () => JSON.stringify((await app.cli<{ body: string }>('note', 'show', id)).body),
  );
  await app.click('mode-split');
  // The preview shows it (its bytes come from the shell as a data URL).
  await waitFor(
    async () =>
      app.driver.executeScript<boolean>(
        `const img = document.querySelector('[data-testid=note-preview] img[data-attachment="' + arguments[0] + '"]');
         return !!img && img.complete && img.naturalWidth === 16;`,
        listed?.name,
      ),
    'the pasted image in the preview',
    10_000,
  );
  await app.screenshot(path.join(SHOTS, 'e2e-paste.png'));
});
