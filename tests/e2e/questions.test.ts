// 4. Ask a question in the window, answer it, accept the answer.

import { expect, test } from 'vitest';
import { By, useHarness, waitFor } from './harness';

const h = useHarness();

test('ask, answer, accept: the accepted answer is marked, the CLI agrees, the filter hides it', async () => {
  const app = await h.launch({ init: { name: 'Ada Lovelace', org: 'Analytical' } });
  await app.el('note-list', 30_000);
  // A second question, left unanswered, so the filter has something to keep.
  const other = await app.cli('ask', '--title', 'Who keeps the punched cards?', '--body', 'The cards for the engine.');

  await app.chord(['ctrl'], '2');
  await app.el('question-list');
  await app.byId('question-item', other.id, 10_000);

  await app.chord(['ctrl', 'shift'], 'A');
  await app.el('ask-form');
  await app.focused('ask-title');
  await app.type('ask-title', 'How does the mill store carries?');
  await app.type('ask-body', 'A carry can ripple through every column.');
  await app.type('ask-tags', 'engine, carry');
  await app.click('ask-submit');

  // The new question opens.
  await app.el('question-view');
  await app.gone('ask-form');
  const qid = await waitFor(
    async () => (await app.attr('question-view', 'data-id')) || undefined,
    'the question page to carry the new question id',
  );
  expect(await app.text('question-title')).toBe('How does the mill store carries?');
  let q = await app.cli('question', 'show', qid);
  expect(q.title).toBe('How does the mill store carries?');
  expect(q.body).toBe('A carry can ripple through every column.');
  expect([...q.tags].sort()).toEqual(['carry', 'engine']);
  expect(q.answers).toHaveLength(0);

  // Answer it.
  await app.type('answer-body', 'A separate carriage mechanism, anticipating carries.');
  await app.click('answer-submit');
  const answer = await app.el('answer');
  const aid = await answer.getAttribute('data-id');
  expect(aid, 'the answer has no data-id').toBeTruthy();
  expect(await app.text('answer-text', answer)).toContain('A separate carriage mechanism, anticipating carries.');
  expect(await answer.getAttribute('data-accepted')).not.toBe('true');
  q = await app.cli('question', 'show', qid);
  expect(q.answers.map((a: { id: string }) => a.id)).toEqual([aid]);

  // Accept it.
  await app.click('accept', answer);
  await app.waitAttr('answer', 'data-accepted', 'true');
  q = await app.cli('question', 'show', qid);
  expect(q.accepted).toBe(aid);
  expect(q.answers[0].accepted).toBe(true);

  // The list marks it, and the unanswered filter hides it but keeps the other one.
  await app.click('nav-questions');
  await app.el('question-list');
  // The list catches up with the accept through the node's change event.
  await waitFor(
    async () => (await (await app.byId('question-item', qid)).getAttribute('data-accepted')) === 'true',
    `the question list to mark ${qid} accepted`,
  );
  expect(await (await app.byId('question-item', other.id)).getAttribute('data-accepted')).not.toBe('true');
  const filter = await app.el('unanswered-filter');
  if (!(await filter.isSelected())) await filter.click();
  await app.goneById('question-item', qid);
  await app.byId('question-item', other.id);
  const unanswered = await app.cli('questions', '--unanswered');
  expect(unanswered.map((x: { id: string }) => x.id)).toEqual([other.id]);

  // And back: unticking shows it again.
  await (await app.el('unanswered-filter')).click();
  await app.byId('question-item', qid);
  expect(await app.driver.findElements(By.css('[data-testid="question-item"]'))).toHaveLength(2);
});
