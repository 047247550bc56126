// 15. People and giving, with a `tacit serve` peer from another organisation: a question the
// peer asks on a tag the app's member lists as expertise is routed to them — it shows in the
// inbox (count and toast), opens from the toast and is then seen; "Answer with this note" answers
// it with a note of the space, linked both ways; the people page and the space's health panel
// show the figures those contributions make.

import path from 'node:path';
import type { WebElement } from 'selenium-webdriver';
import { expect, test } from 'vitest';
import { type App, cliJson, runCli, startPeer, useHarness, waitFor } from './harness';

const h = useHarness();
const ada = { name: 'Ada Lovelace', org: 'Analytical' };
/** How long sync between the app and the peer may take (two debug builds on two cores). */
const SYNC_MS = 30_000;

/** Makes a ticket for space `name` on the peer at `home`: the last line `space invite` prints. */
async function invite(home: string, space: string, role = 'editor'): Promise<string> {
  const r = await runCli(home, ['space', 'invite', space, '--role', role]);
  if (r.code !== 0) throw new Error(`tacit space invite exited ${r.code}: ${r.stderr.trim()}`);
  const ticket = r.stdout.trim().split('\n').pop() ?? '';
  expect(ticket, `space invite printed: ${r.stdout}`).toMatch(/^tacit1/);
  return ticket;
}

/** The rendered text of an element found by the caller. */
function inner(app: App, el: WebElement): Promise<string> {
  return app.driver.executeScript<string>('return arguments[0].innerText.trim();', el);
}

test('a routed question reaches the inbox and a toast; answered with a note, linked both ways; people and health show the figures', async () => {
  const app = await h.launch({ init: ada });
  await app.el('note-list', 30_000);
  await app.waitAttr('peers', 'data-state', 'running', 30_000);
  // Questions on #tls are routed to Ada: she lists it as expertise.
  await app.cli('profile', 'set', '--expertise', 'tls');
  const me = (await app.cli('whoami')).member as string;

  const peerDir = h.testDir();
  const peer = await startPeer(peerDir.home, path.join(peerDir.dir, 'serve.log'), 'Grace Hopper', 'Navy');
  try {
    const grace = (await cliJson(peerDir.home, 'whoami')).member as string;
    const space = await cliJson(peerDir.home, 'space', 'new', 'Reliability');
    const ticket = await invite(peerDir.home, 'Reliability');
    await app.cli('space', 'join', ticket);
    await app.byId('space-item', space.id, 10_000);
    // Nothing waits yet: no count.
    expect(await app.attr('nav-inbox', 'data-count')).toBe('0');

    // Grace asks on #tls: the question syncs, is routed to Ada, and announced.
    const asked = await cliJson(peerDir.home, 'ask', '--space', 'Reliability', '--title', 'How do we rotate the TLS certificate?', '--tag', 'tls', '--body', 'It expires on Friday.');
    await app.waitAttr('nav-inbox', 'data-count', '1', SYNC_MS);
    // The toast (it stays about 10 s, longer under the pointer) says who asked what, and opens
    // the question.
    const toast = await app.byId('toast', asked.id, SYNC_MS);
    const said = await inner(app, toast);
    expect(said).toContain('Grace Hopper asked you:');
    expect(said).toContain('How do we rotate the TLS certificate?');
    await app.click('toast-open', toast);
    await app.waitAttr('question-view', 'data-id', asked.id);
    // Opened, it is seen: here and on the node.
    await app.waitAttr('nav-inbox', 'data-count', '0');
    await waitFor(
      async () => (await app.cli('inbox')).items.find((i: { question: string }) => i.question === asked.id)?.seen === true,
      'the routed item to be seen on the node',
      10_000,
      async () => JSON.stringify(await app.cli('inbox')),
    );
    const inbox = await app.cli('inbox');
    expect(inbox.items.find((i: { question: string }) => i.question === asked.id).kind).toBe('routed');

    // The inbox page lists it, seen, with its reason.
    await app.click('nav-inbox');
    const item = await app.byId('inbox-item', asked.id);
    expect(await item.getAttribute('data-kind')).toBe('routed');
    expect(await item.getAttribute('data-seen')).toBe('true');
    expect(await app.text('inbox-item-reason', item)).toMatch(/^asked of you/);

    // Grace asks again, on something nobody here knows about: it stays unanswered.
    const waiting = await cliJson(peerDir.home, 'ask', '--space', 'Reliability', '--title', 'Where do the staging logs go?', '--tag', 'logging');
    await waitFor(
      async () => (await app.cli('questions', '--space', 'Reliability')).some((q: { id: string }) => q.id === waiting.id),
      'the second question to reach the app',
      SYNC_MS,
    );

    // Ada's note in the space answers the first question: "Answer with this note…".
    const note = await app.cli('note', 'new', '--space', 'Reliability', '--title', 'Rotating the TLS certificate', '--tag', 'tls', '--body', 'Run `certbot renew`, then reload nginx.');
    await app.click('nav-notes');
    await (await app.byId('note-item', note.id, 10_000)).click();
    await app.waitAttr('note-editor', 'data-id', note.id);
    await app.click('note-answer-with');
    await app.el('answer-with-note-dialog');
    // Both of Grace's questions are open; the one on certificates is chosen.
    await app.byId('awn-question', waiting.id);
    await (await app.byId('awn-question', asked.id)).click();
    await app.gone('answer-with-note-dialog');
    await app.waitAttr('question-view', 'data-id', asked.id);
    const fromNote = await app.el('answer-from-note');
    expect(await fromNote.getAttribute('data-id')).toBe(note.id);
    expect(await app.text('answer-text')).toContain('certbot renew');
    const q = await app.cli('question', 'show', asked.id);
    expect(q.answers).toHaveLength(1);
    expect(q.answers[0].from_note).toBe(note.id);
    const shown = await app.cli('note', 'show', note.id);
    expect(shown.answered_in).toEqual([[asked.id, q.answers[0].id]]);
    // The answer reaches the asker, naming the note.
    await waitFor(
      async () => (await cliJson(peerDir.home, 'question', 'show', asked.id)).answers[0]?.from_note === note.id,
      'the answer to reach Grace',
      SYNC_MS,
    );
    // And the note links back to its answer.
    await app.click('answer-from-note');
    await app.waitAttr('note-editor', 'data-id', note.id);
    expect(await (await app.el('note-answered-in')).getAttribute('data-id')).toBe(asked.id);

    // People: Ada gave (an answer, a note) and comes first; Grace, from another
    // organisation, is marked as a partner.
    await app.click('nav-people');
    await waitFor(async () => (await app.all('person-row')).length === 2, 'two people on the people page', 10_000, () => app.describeScreen());
    const rows = await app.all('person-row');
    expect(await rows[0].getAttribute('data-id')).toBe(me);
    expect(await rows[1].getAttribute('data-id')).toBe(grace);
    expect(await rows[1].getAttribute('data-partner')).toBe('true');
    expect(await app.text('person-partner', rows[1])).toBe('partner · Navy');
    expect(await app.text('person-record', rows[0])).toMatch(/^1 answer · 1 note/);
    expect(await app.text('person-record', rows[1])).toBe('2 questions');
    await rows[1].click();
    await app.waitAttr('person-page', 'data-id', grace);
    expect(await app.text('person-title')).toBe('Grace Hopper');
    expect(await app.text('figure-questions')).toBe('2');

    // Health: one of two members gave in 30 days; one of two questions is answered, the other
    // waits; Ada gave most this month.
    await app.click('nav-members');
    await app.el('space-health');
    await waitFor(
      async () => (await app.text('health-answered')).includes('1 of 2 questions answered'),
      'the health panel to count the answer',
      10_000,
      () => app.text('space-health'),
    );
    const givers = await app.text('health-givers');
    expect(givers).toContain('50%');
    expect(givers).toContain('1 of 2 members gave in the last 30 days');
    expect(await app.text('health-answered')).toContain('50%');
    const unanswered = await app.all('health-unanswered-item');
    expect(await Promise.all(unanswered.map((u) => u.getAttribute('data-id')))).toEqual([waiting.id]);
    const top = await app.all('health-giver');
    expect(await top[0].getAttribute('data-id')).toBe(me);
    const health = await app.cli('space', 'health', 'Reliability');
    expect(health.health.givers_30d).toBe(1);
    expect(health.health.answered).toBe(1);

    // Members: Grace's connection, in words.
    const member = await app.byId('member', grace);
    expect(await app.text('member-presence', member)).toMatch(/^connected (directly|through a relay)$/);
  } finally {
    await peer.kill();
  }
});
