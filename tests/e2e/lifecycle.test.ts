// 5. Quit and relaunch keep everything; 6. a second launch on the same home hands over and exits.

import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { appPids, cliJson, spawnDesktop, useHarness, waitFor, withTimeout } from './harness';

const h = useHarness();

test('quit and relaunch: the node stops cleanly, notes and questions are still there', async () => {
  const app = await h.launch();
  await app.firstRun('Ada Lovelace', 'Analytical');

  await app.chord(['ctrl'], 'n');
  await app.el('note-editor');
  await app.focused('note-title');
  await app.type('note-title', 'Kept across restarts');
  await app.typeAtEndOfBody('Still here after a quit.');
  await app.saved();

  await app.chord(['ctrl', 'shift'], 'A');
  await app.el('ask-form');
  await app.focused('ask-title');
  await app.type('ask-title', 'Does it survive a restart?');
  await app.type('ask-body', 'Quit the app and open it again.');
  await app.click('ask-submit');
  await app.el('question-view');

  const notes = await app.cli('note', 'list');
  const questions = await app.cli('questions');
  expect(notes.map((n: { title: string }) => n.title)).toEqual(['Kept across restarts']);
  expect(questions.map((q: { title: string }) => q.title)).toEqual(['Does it survive a restart?']);

  // Quit by closing the window, as the window manager's close button does: the app must exit
  // by itself and stop its node. (Ending the WebDriver session would SIGKILL the app instead:
  // WebKitWebDriver force-exits the browser it launched, so that path cannot show a clean stop.)
  const pid = app.pid;
  await app.closeWindow();
  expect(appPids(app.home), 'a tacit-desktop process is still running on the home').toEqual([]);
  const sock = path.join(app.home, 'tacit.sock');
  expect(fs.existsSync(sock), `${sock} is still there after the app exited`).toBe(false);
  const status = await cliJson(app.home, 'status');
  expect(status.serving, 'tacit status says a node is still serving the home').toBe(false);
  expect(status.pid).not.toBe(pid);
  expect(status.notes).toBe(1);
  expect(status.questions).toBe(1);

  // Relaunch on the same home.
  const again = await h.launch({ testDir: app.testDir });
  await again.el('note-list', 30_000);
  expect(await again.shown('first-run'), 'the first-run screen shows for a set-up home').toBe(false);
  const row = await again.byId('note-item', notes[0].id);
  expect(await again.text('note-item-title', row)).toBe('Kept across restarts');
  await again.chord(['ctrl'], '2');
  await again.el('question-list');
  await again.byId('question-item', questions[0].id);
  expect(await again.shown('first-run')).toBe(false);
});

test('single instance: a second launch on the same home exits 0 and the first keeps working', async () => {
  const app = await h.launch({ init: { name: 'Ada Lovelace', org: 'Analytical' } });
  await app.el('note-list', 30_000);

  const log = path.join(app.testDir.dir, 'second.log');
  const second = spawnDesktop(app.env, app.home, log);
  try {
    const exit = await withTimeout(second.exited, 30_000, 'the second tacit-desktop to exit').catch((e) => {
      throw new Error(`${e.message}; its output: ${fs.readFileSync(log, 'utf8')}`);
    });
    expect(exit, `second launch output: ${fs.readFileSync(log, 'utf8')}`).toEqual({ code: 0, signal: null });
  } finally {
    await second.kill();
  }

  // The first app still runs, serves the home, and its window still works.
  expect(appPids(app.home)).toEqual([app.pid]);
  const status = await app.cli('status');
  expect(status.serving).toBe(true);
  expect(status.pid).toBe(app.pid);
  const { id } = await app.cli('note', 'new', '--title', 'After the second launch');
  await app.byId('note-item', id, 10_000);
  await app.click('nav-questions');
  await app.el('question-list');
  await app.click('nav-notes');
  await waitFor(async () => (await app.all('note-item')).length === 1, 'one note in the list');
});
