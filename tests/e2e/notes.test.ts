// 2. Notes written in the window reach the home; 3. changes made by the CLI reach the window.

import { expect, test } from 'vitest';
import { useHarness, waitFor } from './harness';

const h = useHarness();
const who = { name: 'Ada Lovelace', org: 'Analytical' };

test('create and edit a note: title, body and tags are saved to the home', async () => {
  const app = await h.launch({ init: who });
  await app.el('note-list', 30_000);

  await app.chord(['ctrl'], 'n');
  await app.el('note-editor');
  await app.focused('note-title');
  expect(await app.attr('note-editor', 'data-id'), 'a new note starts as a draft').toBe('');
  await app.type('note-title', 'Difference engine');
  await app.typeAtEndOfBody('Columns of figure wheels.');
  await app.saved();

  const list = await app.cli('note', 'list');
  const mine = list.filter((n: { title: string }) => n.title === 'Difference engine');
  expect(mine, `note list: ${JSON.stringify(list)}`).toHaveLength(1);
  expect(list, 'the draft was saved more than once as a new note').toHaveLength(1);
  const id: string = mine[0].id;
  await app.waitAttr('note-editor', 'data-id', id);
  const row = await app.byId('note-item', id);
  expect(await app.text('note-item-title', row)).toBe('Difference engine');
  let note = await app.cli('note', 'show', id);
  expect(note.body).toBe('Columns of figure wheels.');

  // Edit: more text at the end of the body.
  await app.typeAtEndOfBody(' Carry by anticipation.');
  await app.saved();
  note = await app.cli('note', 'show', id);
  expect(note.body).toBe('Columns of figure wheels. Carry by anticipation.');
  expect(note.title).toBe('Difference engine');

  // Tags: applied on Enter.
  const tags = await app.type('note-tags', 'engine, babbage');
  await tags.sendKeys('\uE007'); // Enter
  await app.saved();
  await waitFor(
    async () => {
      const n = await app.cli('note', 'show', id);
      return [...n.tags].sort().join(',') === 'babbage,engine';
    },
    'the note to have the tags babbage and engine',
    5_000,
    async () => JSON.stringify((await app.cli('note', 'show', id)).tags),
  );
  expect(await app.editorText()).toBe('Columns of figure wheels. Carry by anticipation.');
});

test('the CLI writes while the app runs: new notes appear, edits merge with unsaved typing', async () => {
  const app = await h.launch({ init: who });
  await app.el('note-list', 30_000);

  // A note written with the CLI shows up without anything done in the window.
  const body = 'Written while the window was open.\nSecond line.';
  const { id } = await app.cli('note', 'new', '--title', 'From the CLI', '--body', body);
  const row = await app.byId('note-item', id, 10_000);
  expect(await app.text('note-item-title', row)).toBe('From the CLI');

  // Open it and type at the end without waiting for the save.
  await row.click();
  await app.waitAttr('note-editor', 'data-id', id);
  await waitFor(async () => (await app.editorText()) === body, 'the editor to show the note body', undefined, () =>
    app.editorText(),
  );
  await app.saved();
  const typed = ' Typed in the window.';
  await app.typeAtEndOfBody(typed);
  const stateAfterTyping = await app.attr('save-state', 'data-state');

  // Meanwhile the CLI renames the note and adds a first line to its body.
  const before = await app.cli('note', 'show', id);
  // The premise: what was typed is not stored yet (the editor saves 500 ms after the last key).
  expect(before.body, `the typed text was saved before the CLI edit (save-state ${stateAfterTyping}): no merge to test`).toBe(body);
  const cliLine = 'A line from the CLI.\n';
  await app.cli('note', 'edit', id, '--title', 'Renamed by the CLI', '--body', cliLine + before.body);
  const context = `save-state after typing: ${stateAfterTyping}; body the CLI edited: ${JSON.stringify(before.body)}`;

  // The window shows the CLI's change and still holds what was typed.
  await waitFor(
    async () => (await (await app.el('note-title')).getAttribute('value')) === 'Renamed by the CLI',
    'the title field to show the title set by the CLI',
    10_000,
    async () => `${await (await app.el('note-title')).getAttribute('value')} (${context})`,
  );
  const expected = cliLine + body + typed;
  await waitFor(
    async () => (await app.editorText()) === expected,
    'the editor to hold the CLI line and the typed text',
    10_000,
    async () => `${JSON.stringify(await app.editorText())} (${context})`,
  );
  await app.saved();
  const after = await app.cli('note', 'show', id);
  expect(after.title, context).toBe('Renamed by the CLI');
  expect(after.body, context).toBe(expected);
  await waitFor(
    async () => (await app.text('note-item-title', await app.byId('note-item', id))) === 'Renamed by the CLI',
    'the note list to show the new title',
  );
});
