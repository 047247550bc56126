// History and trash in the window: a note deleted elsewhere (the CLI) is listed on the Trash page
// and comes back from it; a note's History panel lists its versions by their author and shows
// one. (Restoring a version, and both across two nodes, are in tests/tests/history.rs.)

import path from 'node:path';
import { expect, test } from 'vitest';
import { SHOTS, useHarness, waitFor } from './harness';

const h = useHarness();
const who = { name: 'Ada Lovelace', org: 'Analytical' };


test('trash: a note deleted by the CLI is listed on the Trash page and restored from it', async () => {
  const app = await h.launch({ init: who });
  await app.el('note-list', 30_000);
  const { id } = await app.cli('note', 'new', '--title', 'Pager rota for December', '--body', 'Week one: Ada.');
  await app.byId('note-item', id, 10_000);
  await app.cli('note', 'rm', id);

  await app.click('nav-trash');
  const row = await app.byId('trash-item', id, 10_000);
  expect(await app.text('trash-title', row)).toBe('Pager rota for December');
  expect(await app.text('trash-days', row)).toContain('30 days');
  await app.screenshot(path.join(SHOTS, 'e2e-trash.png'));

  await app.click('trash-restore', row);
  await app.el('trash-restored', 10_000);
  await waitFor(
    async () => !(await app.cli<{ id: string }[]>('trash')).some((t) => t.id === id),
    'the restored note to leave the trash',
    10_000,
    async () => JSON.stringify(await app.cli('trash')),
  );
  const list = await app.cli<{ id: string }[]>('note', 'list');
  expect(list.map((n) => n.id), 'the restored note is listed again').toContain(id);
  expect((await app.cli('note', 'show', id)).body).toBe('Week one: Ada.');
});

test('history: the panel beside the editor lists the note’s versions with their author and shows one', async () => {
  const app = await h.launch({ init: who });
  await app.el('note-list', 30_000);
  const { id } = await app.cli('note', 'new', '--title', 'Deploy checklist', '--body', '1. build\n2. ship\n');
  await app.cli('note', 'edit', id, '--body', '1. build\n2. test\n3. ship\n');
  const versions = await app.cli<{ id: string }[]>('note', 'history', id);
  expect(versions.length, JSON.stringify(versions)).toBeGreaterThan(0);

  const row = await app.byId('note-item', id, 10_000);
  await row.click();
  await app.waitAttr('note-editor', 'data-id', id);
  await app.click('note-history');
  await app.el('history-panel');
  await waitFor(
    async () => (await app.all('history-version')).length === versions.length,
    `the panel to list ${versions.length} version(s)`,
    10_000,
    async () => app.text('history-panel'),
  );
  expect(await app.text('history-panel')).toContain('Ada Lovelace');
  await app.screenshot(path.join(SHOTS, 'e2e-history.png'));

  await app.click('history-version');
  await app.el('history-detail', 10_000);
  await app.click('history-close');
  await waitFor(async () => (await app.all('history-panel')).length === 0, 'the panel to close');
});
