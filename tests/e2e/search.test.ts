// 11. The search palette finds a note by a prefix and by a misspelling, and Enter opens it;
// 12. the links under a note, both ways, live; 13. a Markdown folder imported from the palette;
// 14. everything exported from the palette.

import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { type App, By, Key, useHarness, waitFor } from './harness';

const h = useHarness();
const who = { name: 'Ada Lovelace', org: 'Analytical' };

/** The palette's hits now: id and title text. */
async function hits(app: App): Promise<{ id: string; title: string; marks: string[] }[]> {
  return app.driver.executeScript(
    `return Array.from(document.querySelectorAll('[data-testid="palette-hit"]')).map((h) => {
       const t = h.querySelector('[data-testid="palette-hit-title"]');
       return { id: h.getAttribute('data-id'), title: t ? t.textContent : '',
                marks: Array.from(h.querySelectorAll('mark')).map((m) => m.textContent) };
     });`,
  );
}

async function openPalette(app: App): Promise<void> {
  await app.chord(['ctrl'], 'k');
  await app.el('palette');
  await app.focused('palette-input');
}

/** Waits until the palette shows the hit `id` for what was typed, and returns all hits. */
async function waitForHit(app: App, id: string, what: string) {
  return waitFor(
    async () => {
      const now = await hits(app);
      return now.some((x) => x.id === id) ? now : undefined;
    },
    `the palette to show the note ${id} for ${what}`,
    15_000,
    async () => `${JSON.stringify(await hits(app))}; count: ${await app.text('palette-count').catch(() => '?')}`,
  );
}

test('Ctrl+K finds a note by a prefix and by a misspelt word; Enter opens it', async () => {
  const app = await h.launch({ init: who });
  await app.el('note-list', 30_000);
  const other = await app.cli('note', 'new', '--title', 'Brewing log', '--body', 'Nothing special today.');
  const { id } = await app.cli('note', 'new', '--title', 'Zymurgy for beginners', '--tag', 'brewing', '--body',
    'Start with a clean fermenter.\nThe zymurgy of lagers needs cold yeast.');
  await app.byId('note-item', id, 10_000);
  await app.byId('note-item', other.id);

  await openPalette(app);
  // A prefix, while typing.
  await app.type('palette-input', 'zymu');
  const byPrefix = await waitForHit(app, id, 'the prefix "zymu"');
  expect(byPrefix.map((x) => x.id), 'only the note with the word').toEqual([id]);
  expect(byPrefix[0].title).toBe('Zymurgy for beginners');
  // The matched word is marked (the whole word, or the typed part of it).
  expect(byPrefix[0].marks.some((m) => m.toLowerCase().startsWith('zymu')), JSON.stringify(byPrefix[0].marks)).toBe(true);

  // A misspelt word (one letter wrong).
  await app.type('palette-input', 'zymargy');
  const misspelt = await waitForHit(app, id, 'the misspelling "zymargy"');
  expect(misspelt[0].id).toBe(id);

  // Enter opens the selected (best) hit in the editor.
  await (await app.el('palette-input')).sendKeys(Key.ENTER);
  await app.gone('palette');
  await app.waitAttr('note-editor', 'data-id', id);
  expect(await (await app.el('note-title')).getAttribute('value')).toBe('Zymurgy for beginners');
  await waitFor(async () => (await app.editorText()).includes('cold yeast'), 'the editor to show the note body');
});

test('links under a note: Links and Linked from, opened by a click, updated live', async () => {
  const app = await h.launch({ init: who });
  await app.el('note-list', 30_000);
  const bravo = await app.cli('note', 'new', '--title', 'Bravo station', '--body', 'The depot.');
  const alpha = await app.cli('note', 'new', '--title', 'Alpha base', '--body',
    'Supplies go to [[Bravo station]] and then to [[Charlie camp]].');

  await (await app.byId('note-item', bravo.id, 10_000)).click();
  await app.waitAttr('note-editor', 'data-id', bravo.id);
  const back = await app.byId('link-back', alpha.id);
  expect(await app.driver.executeScript<string>('return arguments[0].innerText.trim();', back)).toBe('Alpha base');

  // Another note starts linking here while this one is open: it appears without reopening.
  const delta = await app.cli('note', 'new', '--title', 'Delta notes', '--body', 'Compare with [[bravo station]].');
  await app.byId('link-back', delta.id, 10_000);

  // A click opens the linking note, whose own links show the target and the missing one.
  await (await app.byId('link-back', alpha.id)).click();
  await app.waitAttr('note-editor', 'data-id', alpha.id);
  await app.byId('link-out', bravo.id);
  const unresolved = await app.text('link-unresolved');
  expect(unresolved).toBe('Charlie camp');
  // Alpha itself is linked from nothing.
  expect(await app.all('link-back')).toHaveLength(0);

  // In the preview, a [[wiki link]] opens the note it names.
  await app.click('mode-preview');
  const preview = await app.el('note-preview');
  const wiki = await waitFor(
    async () => (await preview.findElements(By.css('a.wikilink[data-wiki="Bravo station"]')))[0],
    'the [[Bravo station]] link in the preview',
  );
  await wiki.click();
  await app.waitAttr('note-editor', 'data-id', bravo.id);
});

test('import a Markdown folder from the palette: progress, summary, and the notes are searchable', async () => {
  const app = await h.launch({ init: who });
  await app.el('note-list', 30_000);
  const dir = path.join(app.testDir.dir, 'vault');
  fs.mkdirSync(path.join(dir, 'projects'), { recursive: true });
  fs.mkdirSync(path.join(dir, '.obsidian'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Kiln schedule.md'), '---\ntags: [pottery]\n---\nFire the kiln on Tuesdays. See [[Glaze recipes]].\n');
  fs.writeFileSync(path.join(dir, 'projects', 'Glaze recipes.md'), '# Glaze recipes\n\nCeladon: iron oxide.\n');
  fs.writeFileSync(path.join(dir, 'photo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  fs.writeFileSync(path.join(dir, '.obsidian', 'app.json'), '{}');

  await openPalette(app);
  await app.type('palette-input', '> import');
  await app.byId('palette-entry', 'cmd:import');
  await (await app.el('palette-input')).sendKeys(Key.ENTER);
  await app.el('vault-dialog');
  await app.type('vault-dir', dir);
  await app.click('vault-start');
  await app.el('vault-summary', 30_000);
  expect(await app.text('vault-created')).toBe('2 created');
  expect(await app.text('vault-skipped')).toContain('photo.png');
  await app.click('vault-done');
  await app.gone('vault-dialog');

  const listed = await app.cli('note', 'list');
  expect(listed.map((n: { title: string }) => n.title).sort()).toEqual(['Glaze recipes', 'Kiln schedule']);
  const kiln = listed.find((n: { title: string }) => n.title === 'Kiln schedule');
  await openPalette(app);
  await app.type('palette-input', 'kiln');
  await waitForHit(app, kiln.id, '"kiln" after the import');
});

test('export everything from the palette: one folder per space, a summary with the counts', async () => {
  const app = await h.launch({ init: who });
  await app.el('note-list', 30_000);
  await app.cli('note', 'new', '--title', 'Kiln schedule', '--body', 'Tuesdays.');
  await app.cli('ask', '--title', 'Which clay shrinks least?');
  const out = path.join(app.testDir.dir, 'export');

  await openPalette(app);
  await app.type('palette-input', '> export every');
  await app.byId('palette-entry', 'cmd:export-all');
  await (await app.el('palette-input')).sendKeys(Key.ENTER);
  await app.el('vault-dialog');
  await app.type('vault-dir', out);
  await app.click('vault-start');
  const summary = await app.el('vault-summary', 30_000);
  const text = await app.driver.executeScript<string>('return arguments[0].innerText;', summary);
  expect(text).toContain('Exported 1 note and 1 question');
  expect(await app.text('vault-export-dir')).toBe(out);
  const files = fs.readdirSync(out, { recursive: true }).map(String);
  expect(files.some((f) => f.endsWith('Kiln schedule.md')), files.join(', ')).toBe(true);
  expect(files.some((f) => f.includes('Questions') && f.endsWith('.md')), files.join(', ')).toBe(true);
});
