// 1. First run: a fresh home asks who you are, then the app runs on it.

import { expect, test } from 'vitest';
import { useHarness } from './harness';

const h = useHarness();

test('first run: a fresh home shows the first-run form; submitting it initialises the home', async () => {
  const app = await h.launch();
  await app.el('first-run', 30_000);
  expect(await app.shown('note-list'), 'the notes screen shows before the home is set up').toBe(false);

  await app.focused('first-run-name');
  await app.type('first-run-name', 'Ada Lovelace');
  await app.type('first-run-org', 'Analytical');
  await app.click('first-run-submit');
  await app.el('note-list');
  await app.gone('first-run');

  const who = await app.cli('whoami');
  expect(who.profile.name).toBe('Ada Lovelace');
  expect(who.profile.org).toBe('Analytical');

  // The profile screen (Ctrl+3) shows the same member and profile.
  await app.chord(['ctrl'], '3');
  // The profile is read when the screen opens: wait for it rather than read the first frame.
  await app.waitAttr('profile-name', 'value', 'Ada Lovelace');
  await app.waitAttr('profile-org', 'value', 'Analytical');
  const shownId = (await app.text('member-id')).replace(/[…\s]/g, '');
  expect(shownId.length, 'member-id is empty').toBeGreaterThan(0);
  expect(who.member).toContain(shownId.slice(0, 8));
});
