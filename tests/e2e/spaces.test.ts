// 7. The app and a `tacit serve` peer on another home share a space by ticket: notes travel both
// ways, and a peer's edit reaches the open editor live without moving the caret.
// 8. A `tacit://join/…` link opens the join dialog, on a first launch and through a second one.
// 9. A network that cannot start leaves the app working and says why nothing is shared.
// 10. A space made and shared from the window: invite, copy the ticket, a peer joins with it,
// the owner removes them.

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { expect, test } from 'vitest';
import { type App, Key, cliJson, runCli, spawnDesktop, startPeer, useHarness, waitFor, withTimeout } from './harness';

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

/** Puts text into the join dialog's ticket field as a paste does: one input event. */
async function paste(app: App, testid: string, text: string): Promise<void> {
  const field = await app.el(testid);
  await app.driver.executeScript(
    `const f = arguments[0];
     f.focus();
     f.value = arguments[1];
     f.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste' }));`,
    field,
    text,
  );
}

test('the app and a tacit serve peer share a space by ticket; notes travel both ways, and edits arrive live', async () => {
  const app = await h.launch({ init: ada });
  await app.el('note-list', 30_000);
  await app.waitAttr('peers', 'data-state', 'running', 30_000);

  // The peer: another home, serving on loopback, with a space, a note and a ticket.
  const peerDir = h.testDir();
  const peerHome = peerDir.home;
  const peer = await startPeer(peerHome, path.join(peerDir.dir, 'serve.log'));
  try {
    const space = await cliJson(peerHome, 'space', 'new', 'Team');
    const fromPeer = await cliJson(peerHome, 'note', 'new', '--space', 'Team', '--title', 'From the peer', '--body', 'Written on the peer.');
    const ticket = await invite(peerHome, 'Team');

    // Join in the window: paste, see what the ticket says, join.
    await app.click('join-space');
    await app.el('join-dialog');
    await paste(app, 'join-ticket', ticket);
    await waitFor(async () => (await app.text('join-space-name')) === 'Team', 'the join dialog to name the space', undefined, () =>
      app.describeScreen(),
    );
    expect(await app.text('join-role')).toBe('editor');
    await app.click('join-submit');
    await app.gone('join-dialog', 60_000);

    // The space is in the sidebar and selected; the peer's note is in its list.
    const item = await app.byId('space-item', space.id, 10_000);
    expect(await item.getAttribute('aria-current')).toBe('true');
    const row = await app.byId('note-item', fromPeer.id, SYNC_MS);
    expect(await app.text('note-item-title', row)).toBe('From the peer');
    // The sidebar's section heading (upper-cased by CSS) names the selected space.
    expect((await app.text('selected-space')).toLowerCase()).toBe('team');
    await waitFor(
      async () => (await app.attr('sync-state', 'data-state')) === 'up_to_date',
      'the status bar to say the space is up to date',
      SYNC_MS,
      async () => app.text('status-bar'),
    );
    expect(await app.text('sync-state')).toContain('Up to date with 1 member');
    // The peer count comes from the node's status, refreshed a moment after the space's
    // state (each on its own event): wait for it rather than read it at once.
    await waitFor(
      async () => (await app.text('peers')) === '1 peer connected',
      'the status bar to count the peer',
      SYNC_MS,
      async () => app.text('status-bar'),
    );
    // The personal space does not list the shared note.
    expect((await cliJson(app.home, 'note', 'list')).length).toBe(0);

    // A note written in the window (in the selected space) reaches the peer.
    await app.chord(['ctrl'], 'n');
    await app.el('note-editor');
    await app.focused('note-title');
    await app.type('note-title', 'From the window');
    await app.typeAtEndOfBody('Written in the window.');
    await app.saved();
    const reached = await waitFor(
      async () => {
        const list = await cliJson(peerHome, 'note', 'list', '--space', 'Team');
        return list.find((n: { title: string }) => n.title === 'From the window');
      },
      "the window's note to reach the peer",
      SYNC_MS,
      async () => JSON.stringify(await cliJson(peerHome, 'note', 'list', '--space', 'Team')),
    );
    expect((await cliJson(peerHome, 'note', 'show', reached.id)).body).toBe('Written in the window.');

    // A note edited on the peer while it is open in the window: the editor follows live, and
    // the caret stays where it was in the text (it moves along with what was inserted before it).
    await (await app.byId('note-item', fromPeer.id)).click();
    await app.waitAttr('note-editor', 'data-id', fromPeer.id);
    await waitFor(async () => (await app.editorText()) === 'Written on the peer.', 'the editor to show the note', undefined, () =>
      app.editorText(),
    );
    const content = await app.editorContent();
    await content.click();
    await app.chord(['ctrl'], Key.END);
    let keys = app.driver.actions({ async: true });
    for (let i = 0; i < ' on the peer.'.length; i++) keys = keys.sendKeys(Key.ARROW_LEFT);
    await keys.perform(); // the caret after "Written"
    const peerLine = 'A line from the peer.\n';
    const edited = await runCli(peerHome, ['note', 'edit', fromPeer.id, '--body', `${peerLine}Written on the peer.`]);
    expect(edited.code, edited.stderr).toBe(0);
    await waitFor(
      async () => (await app.editorText()) === `${peerLine}Written on the peer.`,
      "the peer's edit to appear in the open editor",
      SYNC_MS,
      () => app.editorText(),
    );
    await app.driver.actions({ async: true }).sendKeys(' down').perform();
    const want = `${peerLine}Written down on the peer.`;
    await waitFor(async () => (await app.editorText()) === want, 'the typing to land where the caret was', 5_000, () =>
      app.editorText(),
    );
    await app.saved();
    await waitFor(
      async () => (await cliJson(peerHome, 'note', 'show', fromPeer.id)).body === want,
      'the merged note to reach the peer',
      SYNC_MS,
      async () => JSON.stringify((await cliJson(peerHome, 'note', 'show', fromPeer.id)).body),
    );
  } finally {
    await peer.kill();
  }
});

test('a tacit://join/ link opens the join dialog: at launch, and handed over by a second launch', async () => {
  // A ticket from another home (one-shot commands; nobody needs to be reachable to read it).
  const peerDir = h.testDir();
  await cliJson(peerDir.home, 'init', '--name', 'Peer');
  await cliJson(peerDir.home, 'space', 'new', 'Partner pilot');
  const ticket = await invite(peerDir.home, 'Partner pilot', 'reader');

  const dir = h.testDir();
  await cliJson(dir.home, 'init', '--name', ada.name, '--org', ada.org);
  const app = await h.launch({ testDir: dir, args: [`tacit://join/${ticket}`] });
  await app.el('join-dialog', 30_000);
  expect(await app.attr('join-ticket', 'value')).toBe(`tacit://join/${ticket}`);
  await waitFor(async () => (await app.text('join-space-name')) === 'Partner pilot', 'the dialog to name the space');
  expect(await app.text('join-role')).toBe('reader');
  // Nothing is joined without the person's say-so.
  expect((await app.cli('space', 'list')).length).toBe(1);
  await app.driver.actions({ async: true }).sendKeys(Key.ESCAPE).perform();
  await app.gone('join-dialog');

  // A second launch with a link hands it to this window and exits.
  const log = path.join(dir.dir, 'second.log');
  const second = spawnDesktop(app.env, app.home, log, [`tacit://join/${ticket.toUpperCase()}`]);
  try {
    const exit = await withTimeout(second.exited, 30_000, 'the second tacit-desktop to exit');
    expect(exit, `second launch output: ${fs.readFileSync(log, 'utf8')}`).toEqual({ code: 0, signal: null });
  } finally {
    await second.kill();
  }
  await app.el('join-dialog', 10_000);
  expect(await app.attr('join-ticket', 'value')).toBe(`tacit://join/${ticket.toUpperCase()}`);
  await waitFor(async () => (await app.text('join-space-name')) === 'Partner pilot', 'the dialog to name the space');
});

test('a network that cannot start: the app works on this device and the status bar says why', async () => {
  const app = await h.launch({ init: ada, env: { TACIT_LISTEN: 'not-a-multiaddr' } });
  await app.el('note-list', 30_000);
  await app.waitAttr('peers', 'data-state', 'failed', 30_000);
  expect(await app.text('peers')).toBe('Sharing is off');
  expect(await app.text('network-error')).toMatch(/^The network did not start: .*not-a-multiaddr/);
  expect(await app.text('sync-state')).toBe('This device only');
  // Everything local still works.
  await app.chord(['ctrl'], 'n');
  await app.focused('note-title');
  await app.type('note-title', 'Still works');
  await app.saved();
  expect((await app.cli('note', 'list')).map((n: { title: string }) => n.title)).toEqual(['Still works']);
});

/** The X clipboard's text, when `xclip` is installed (it is not needed otherwise). */
function clipboard(display: string): string | undefined {
  try {
    return execFileSync('xclip', ['-o', '-selection', 'clipboard'], { env: { ...process.env, DISPLAY: display }, timeout: 5_000 }).toString();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

test('a space made in the window: invite, copy the ticket, a peer joins with it, the owner removes them', async () => {
  const app = await h.launch({ init: ada });
  await app.el('note-list', 30_000);
  await app.waitAttr('peers', 'data-state', 'running', 30_000);

  await app.chord(['ctrl', 'shift'], 'N');
  await app.el('new-space-dialog');
  await app.focused('space-name-input');
  await app.type('space-name-input', 'Research');
  await app.click('space-create');
  await app.gone('new-space-dialog');
  await waitFor(async () => (await app.text('space-title')) === 'Research', 'the new space\'s members page');
  expect(await app.text('sync-state')).toContain('Offline — no member connected');

  await app.click('invite');
  await app.el('invite-dialog');
  await app.click('invite-uses-one');
  await app.click('invite-create');
  const field = await app.el('invite-ticket');
  const ticket = await app.driver.executeScript<string>('return arguments[0].value;', field);
  expect(ticket).toMatch(/^tacit1/);
  await app.click('invite-copy');
  await waitFor(async () => (await app.text('invite-copied')) === 'Copied.', 'the Copy button to say Copied.', 5_000, () =>
    app.text('invite-copied'),
  );
  const copied = clipboard(app.display);
  if (copied !== undefined) expect(copied, 'the X clipboard after Copy').toBe(ticket);
  await app.click('invite-done');
  await app.gone('invite-dialog');

  const peerDir = h.testDir();
  const peer = await startPeer(peerDir.home, path.join(peerDir.dir, 'serve.log'), 'Grace Hopper', 'Navy');
  try {
    const joined = await runCli(peerDir.home, ['space', 'join', ticket, '--json']);
    expect(joined.code, joined.stderr).toBe(0);
    const grace = await waitFor(
      async () => {
        for (const m of await app.all('member')) {
          if ((await app.driver.executeScript<string>('return arguments[0].innerText;', m)).includes('Grace Hopper')) return m;
        }
        return undefined;
      },
      'Grace Hopper in the members list',
      SYNC_MS,
      () => app.describeScreen(),
    );
    await waitFor(async () => (await grace.getAttribute('data-connected')) === 'true', 'Grace to show as connected', SYNC_MS);
    expect(await grace.getAttribute('data-role')).toBe('editor');
    expect(await app.driver.executeScript<string>('return arguments[0].innerText;', grace)).toContain('Navy');

    await app.click('member-remove', grace);
    await app.click('member-remove-confirm');
    await waitFor(async () => (await app.all('member')).length === 1, 'Grace to leave the members list');
    const show = await app.cli('space', 'show', 'Research');
    expect(show.removed.length, JSON.stringify(show)).toBe(1);
  } finally {
    await peer.kill();
  }
});
