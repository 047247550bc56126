// Screenshots of every screen, in both themes and two window sizes (not a test: it asserts only
// that each screen can be reached). Run with `npm run screenshots --workspace tacit-e2e`; writes
// target/screenshots/<theme>-<w>x<h>-<screen>.png and prints the list.

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, test } from 'vitest';
import { type App, Key, ROOT, SHOTS, runCli, startPeer, useHarness, waitFor } from './harness';

const h = useHarness();
const THEMES = ['light', 'dark'] as const;
const SIZES = [
  [1024, 700],
  [1600, 1000],
] as const;
const written: string[] = [];

async function resize(app: App, w: number, hgt: number): Promise<void> {
  await app.driver.manage().window().setRect({ x: 0, y: 0, width: w, height: hgt });
  try {
    await waitFor(
      async () => {
        const [iw, ih] = await app.driver.executeScript<[number, number]>(
          'return [window.innerWidth, window.innerHeight];',
        );
        return iw === w && ih === hgt;
      },
      `the page to be ${w}×${hgt}`,
      5_000,
      async () => JSON.stringify(await app.driver.executeScript('return [window.innerWidth, window.innerHeight];')),
    );
  } catch (e) {
    console.warn(`warning: ${(e as Error).message}`);
  }
}

/** Saves a PNG of the current window as `name`.png and lists it. */
async function save(app: App, name: string): Promise<void> {
  const file = path.join(SHOTS, `${name}.png`);
  await app.screenshot(file);
  written.push(path.relative(ROOT, file));
}

/** Saves a PNG of the screen, named by theme, size and screen. */
async function shot(app: App, theme: string, w: number, hgt: number, screen: string): Promise<void> {
  await save(app, `${theme}-${w}x${hgt}-${screen}`);
}

async function eachSize(app: App, theme: string, fn: (w: number, hgt: number) => Promise<void>): Promise<void> {
  for (const [w, hgt] of SIZES) {
    await resize(app, w, hgt);
    await fn(w, hgt);
  }
}

/** Notes, questions and answers for the screens to show (through the app's control socket). */
async function populate(app: App): Promise<{ note: string; question: string }> {
  await app.cli('profile', 'set', '--bio', 'Writes programs for engines that do not exist yet.', '--expertise', 'mathematics', '--expertise', 'engines');
  await app.cli('note', 'new', '--title', 'Sketch of the Analytical Engine', '--tag', 'engine', '--body',
    'Notes on the **mill** and the **store**.\n\n- the store holds 1,000 numbers of 50 digits\n- the mill performs the four operations\n\n```\nV1 × V2 → V3\n```');
  await app.cli('note', 'new', '--title', 'Bernoulli numbers', '--tag', 'mathematics', '--body',
    '# Note G\n\nA method for calculating the *Bernoulli numbers* with the engine that [[Weaving algebraic patterns|weaves]].\n\n1. set the variables\n2. run the cycle\n3. repeat for n + 1');
  const note = await app.cli('note', 'new', '--title', 'Weaving algebraic patterns', '--tag', 'engine', '--tag', 'looms', '--body',
    '## Jacquard\n\nThe engine *weaves algebraic patterns* just as the Jacquard loom weaves flowers and leaves.\n\n> The science of operations.\n\nSee also: [[Sketch of the Analytical Engine]] and [[Note H]].');
  await app.cli('ask', '--title', 'Who keeps the punched cards between runs?', '--tag', 'operations', '--body', 'The operation cards and the variable cards are stored separately.');
  const question = await app.cli('ask', '--title', 'How does the mill handle carries?', '--tag', 'engine', '--body',
    'Adding two 50-digit numbers can carry through every column. How long does that take?');
  const a1 = await app.cli('answer', question.id, '--body', 'Column by column: one carry per time unit, slow for long chains.');
  const a2 = await app.cli('answer', question.id, '--body',
    'With **anticipating carriage**: the carries are found for all columns at once, so a 50-digit addition takes the same time as a 1-digit one.');
  void a1;
  await app.cli('accept', question.id, a2.id);
  return { note: note.id, question: question.id };
}

for (const theme of THEMES) {
  test(`screens in the ${theme} theme`, async () => {
    // The page follows the GTK theme (WebKitGTK's prefers-color-scheme).
    const app = await h.launch({ env: { GTK_THEME: theme === 'dark' ? 'Adwaita:dark' : 'Adwaita' } });
    await app.el('first-run', 30_000);
    const dark = await app.driver.executeScript<boolean>('return matchMedia("(prefers-color-scheme: dark)").matches;');
    if (dark !== (theme === 'dark')) {
      console.warn(`warning: theme ${theme} asked, but the page sees prefers-color-scheme ${dark ? 'dark' : 'light'}`);
    }
    await eachSize(app, theme, async (w, hgt) => {
      await app.el('first-run');
      await shot(app, theme, w, hgt, 'first-run');
    });

    await app.firstRun('Ada Lovelace', 'Analytical Society');
    await eachSize(app, theme, async (w, hgt) => {
      await app.el('note-list');
      await shot(app, theme, w, hgt, 'notes-empty');
    });

    const ids = await populate(app);
    await app.byId('note-item', ids.note, 10_000);

    await eachSize(app, theme, async (w, hgt) => {
      await app.click('nav-notes');
      await (await app.byId('note-item', ids.note)).click();
      await app.waitAttr('note-editor', 'data-id', ids.note);
      await app.click('mode-split');
      await app.el('note-preview');
      await app.el('link-back');
      await shot(app, theme, w, hgt, 'notes-editor');

      // The search palette with hits for a word, marked.
      await app.chord(['ctrl'], 'k');
      await app.focused('palette-input');
      await app.type('palette-input', 'engine');
      await waitFor(async () => (await app.all('palette-hit')).length >= 3, 'three hits for "engine"');
      await waitFor(async () => (await app.text('palette-count')).includes('result'), 'the hit count');
      await shot(app, theme, w, hgt, 'palette-search');
      await app.type('palette-input', 'zebra');
      await app.el('palette-empty');
      await shot(app, theme, w, hgt, 'palette-empty');
      await app.driver.actions({ async: true }).sendKeys(Key.ESCAPE).perform();
      await app.gone('palette');

      await app.click('nav-questions');
      await app.byId('question-item', ids.question);
      await shot(app, theme, w, hgt, 'questions');

      await (await app.byId('question-item', ids.question)).click();
      await app.el('question-view');
      await waitFor(async () => (await app.all('answer')).length === 2, 'two answers on the question page');
      await shot(app, theme, w, hgt, 'question');

      await app.chord(['ctrl', 'shift'], 'A');
      await app.el('ask-form');
      await app.focused('ask-title');
      await shot(app, theme, w, hgt, 'ask');

      await app.click('nav-profile');
      await app.el('profile-name');
      await shot(app, theme, w, hgt, 'profile');

      // The shortcuts sheet: `?` with the focus outside any text field.
      await app.click('nav-notes');
      await app.el('note-list');
      await app.driver.executeScript('document.activeElement && document.activeElement.blur();');
      await app.driver.actions({ async: true }).sendKeys('?').perform();
      await waitFor(
        async () => (await app.all('shortcuts')).length > 0 || (await app.driver.findElements({ css: '[role="dialog"]' })).length > 0,
        'the shortcuts sheet (data-testid=shortcuts or a role=dialog) after pressing ?',
        5_000,
      ).catch((e) => console.warn(`warning: ${(e as Error).message}`));
      await shot(app, theme, w, hgt, 'shortcuts');
      await app.driver.actions({ async: true }).sendKeys(Key.ESCAPE).perform();
    });

    await everydayScreens(app, theme, ids.note);
    await importScreens(app, theme);
    await spaceScreens(app, theme);
    await peopleScreens(app, theme);
  });
}

/** A note's History panel, the Trash, and the quick capture window (its own small window, so
 * one size). */
async function everydayScreens(app: App, theme: string, note: string): Promise<void> {
  await app.cli('note', 'edit', note, '--body', 'Notes on the **mill** and the **store** of the #engine.\n\nThe mill performs the four operations.');
  const gone = await app.cli<{ id: string }>('note', 'new', '--title', 'Old table of logarithms', '--body', 'Superseded.');
  await app.cli('note', 'rm', gone.id);
  await eachSize(app, theme, async (w, hgt) => {
    await app.click('nav-notes');
    await (await app.byId('note-item', note)).click();
    await app.waitAttr('note-editor', 'data-id', note);
    await app.click('note-history');
    await waitFor(async () => (await app.all('history-version')).length >= 1, 'the History panel\'s versions');
    await app.click('history-version');
    await app.el('history-detail');
    await shot(app, theme, w, hgt, 'history');
    await app.click('history-close');
    await app.gone('history-panel');

    await app.click('nav-trash');
    await app.byId('trash-item', gone.id);
    await shot(app, theme, w, hgt, 'trash');
  });

  // A note with an image and a file attached (the preview shows the image, the file as a chip).
  const drawings = await app.cli<{ id: string }>('note', 'new', '--title', 'Engine drawings', '--body',
    'The plates for the mill, scanned:\n');
  const png = path.join(ROOT, 'src-tauri', 'icons', 'icon.png');
  const csv = path.join(app.testDir.dir, `punched-cards-${theme}.csv`);
  fs.writeFileSync(csv, 'card,operation\n1,add\n2,multiply\n');
  await app.cli('attach', drawings.id, png, '--name', 'mill-plate.png');
  await app.cli('attach', drawings.id, csv, '--name', 'punched-cards.csv');
  await eachSize(app, theme, async (w, hgt) => {
    await app.click('nav-notes');
    await (await app.byId('note-item', drawings.id)).click();
    await app.waitAttr('note-editor', 'data-id', drawings.id);
    await app.click('mode-split');
    await waitFor(
      async () => app.driver.executeScript<boolean>(
        'const i = document.querySelector("img[data-attachment]"); return !!i && i.complete && i.naturalWidth > 0;'),
      'the attached image in the preview',
    );
    await shot(app, theme, w, hgt, 'attachments');
  });

  await app.click('nav-settings');
  await app.click('capture-try');
  const main = await app.driver.getWindowHandle();
  const capture = await waitFor(
    async () => (await app.driver.getAllWindowHandles()).find((w) => w !== main),
    'the quick capture window',
  );
  await app.driver.switchTo().window(capture);
  const text = await app.el('capture-text');
  await text.sendKeys('Ask Babbage about the punched cards for the #engine');
  await save(app, `${theme}-capture`);
  await text.sendKeys(Key.ESCAPE);
  await app.driver.switchTo().window(main);
}

/** The import dialog: a folder typed in, then the summary of what it did (with a skipped file
 * and one that failed). */
async function importScreens(app: App, theme: string): Promise<void> {
  const dir = path.join(app.testDir.dir, `vault-${theme}`);
  fs.mkdirSync(path.join(dir, 'letters'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'Letters to Babbage.md'), '---\ntags: [letters]\naliases: [Correspondence]\n---\nOn the engine and [[Bernoulli numbers]].\n');
  fs.writeFileSync(path.join(dir, 'letters', 'To Faraday.md'), 'On electricity and [[Letters to Babbage]].\n');
  fs.writeFileSync(path.join(dir, 'letters', 'Draft.md'), Buffer.from([0xff, 0xfe, 0x00, 0x41]));
  fs.writeFileSync(path.join(dir, 'portrait.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47]));
  await app.click('nav-notes');
  await app.click('import-folder');
  await app.el('vault-dialog');
  await app.type('vault-dir', dir);
  await eachSize(app, theme, async (w, hgt) => shot(app, theme, w, hgt, 'import-dialog'));
  await app.click('vault-start');
  await app.el('vault-summary', 30_000);
  await eachSize(app, theme, async (w, hgt) => shot(app, theme, w, hgt, 'import-summary'));
  await app.click('vault-done');
  await app.gone('vault-dialog');
}

/** Puts text into a field as a paste does. */
async function paste(app: App, testid: string, text: string): Promise<void> {
  await app.driver.executeScript(
    `const f = arguments[0]; f.focus(); f.value = arguments[1];
     f.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste' }));`,
    await app.el(testid),
    text,
  );
}

/** Spaces: joining a peer's space, its notes and members, an own space with nobody connected,
 * the invite dialog, and the status bar in each state. */
async function spaceScreens(app: App, theme: string): Promise<void> {
  const peerDir = h.testDir();
  const peer = await startPeer(peerDir.home, path.join(peerDir.dir, 'serve.log'), 'Grace Hopper', 'Navy');
  try {
    const cli = (...args: string[]) => runCli(peerDir.home, [...args, '--json']).then((r) => JSON.parse(r.stdout));
    await cli('space', 'new', 'Partner pilot');
    await cli('note', 'new', '--space', 'Partner pilot', '--title', 'Pilot plan: week one', '--tag', 'pilot', '--body',
      '## Goals\n\n- both teams write their runbooks here\n- questions go to the Questions tab\n\n> Keep it short.');
    const shared = await cli('note', 'new', '--space', 'Partner pilot', '--title', 'Contacts on the Navy side', '--body', 'Grace: compilers.');
    const inv = await runCli(peerDir.home, ['space', 'invite', 'Partner pilot', '--role', 'editor']);
    const ticket = inv.stdout.trim().split('\n').pop() ?? '';
    const platform = await app.cli('space', 'new', 'Platform team');

    await app.click('nav-notes');
    await app.click('join-space');
    await app.el('join-dialog');
    await paste(app, 'join-ticket', ticket);
    await waitFor(async () => (await app.all('join-space-name')).length > 0, 'the join preview');
    await eachSize(app, theme, async (w, hgt) => shot(app, theme, w, hgt, 'join-dialog'));
    await app.click('join-submit');
    await app.gone('join-dialog', 60_000);
    await app.byId('note-item', shared.id, 30_000);
    await waitFor(async () => (await app.attr('sync-state', 'data-state')) === 'up_to_date', 'the space to be up to date', 30_000);

    await eachSize(app, theme, async (w, hgt) => {
      await app.click('nav-notes');
      await (await app.byId('note-item', shared.id)).click();
      await app.waitAttr('note-editor', 'data-id', shared.id);
      await shot(app, theme, w, hgt, 'space-notes');
      await app.click('nav-members');
      await app.el('member-list');
      await waitFor(async () => (await app.all('member')).length === 2, 'two members');
      await shot(app, theme, w, hgt, 'space-members');
    });

    // The own space: nobody else in it, so it is offline; its owner invites.
    await (await app.byId('space-item', platform.id)).click();
    await app.click('nav-members');
    await app.el('invite');
    await eachSize(app, theme, async (w, hgt) => shot(app, theme, w, hgt, 'space-offline'));
    await app.click('invite');
    await app.el('invite-dialog');
    await eachSize(app, theme, async (w, hgt) => shot(app, theme, w, hgt, 'invite-form'));
    await app.click('invite-create');
    await app.el('invite-ticket');
    await eachSize(app, theme, async (w, hgt) => shot(app, theme, w, hgt, 'invite-ticket'));
    await app.click('invite-copy');
    const copied = await waitFor(async () => (await app.text('invite-copied')) || undefined, 'the Copy button to report');
    console.log(`invite Copy in the ${theme} run: ${copied}`);
    await app.click('invite-done');
    await app.gone('invite-dialog');
  } finally {
    await peer.kill();
  }
}

/** People and giving, in a peer's space: the inbox (a question routed to Ada, an answer to hers,
 * a followed tag), the people and person pages, Ada's signed record, a question with its
 * freshness stamp and whom it was offered to, the health panel, who knows in the palette, and
 * the settings. */
async function peopleScreens(app: App, theme: string): Promise<void> {
  const peerDir = h.testDir();
  const peer = await startPeer(peerDir.home, path.join(peerDir.dir, 'serve.log'), 'Grace Hopper', 'Navy');
  try {
    const cli = async (...args: string[]) => {
      const r = await runCli(peerDir.home, [...args, '--json']);
      if (r.code !== 0) throw new Error(`tacit ${args.join(' ')} (peer) exited ${r.code}: ${r.stderr.trim()}`);
      return JSON.parse(r.stdout);
    };
    const grace = (await cli('whoami')).member as string;
    const me = (await app.cli('whoami')).member as string;
    const space = await cli('space', 'new', 'Engine room');
    const inv = await runCli(peerDir.home, ['space', 'invite', 'Engine room', '--role', 'editor']);
    await app.cli('space', 'join', inv.stdout.trim().split('\n').pop() ?? '');
    await app.byId('space-item', space.id, 30_000);
    await app.cli('follow', 'operations');

    // Ada's note and question; Grace's questions: on engines (Ada lists it as expertise, so they
    // are routed to her) and on operations (a tag Ada follows).
    const note = await app.cli('note', 'new', '--space', 'Engine room', '--title', 'Oiling the mill', '--tag', 'engines', '--body',
      'Light machine oil on every bearing, once a week.\n\nNever near the cards.');
    const mine = await app.cli('ask', '--space', 'Engine room', '--title', 'Where are the spare punched cards kept?', '--tag', 'operations');
    const oil = await cli('ask', '--space', 'Engine room', '--title', 'How often do the mill bearings need oil?', '--tag', 'engines');
    await cli('ask', '--space', 'Engine room', '--title', 'What oil suits the store racks?', '--tag', 'engines');
    await cli('ask', '--space', 'Engine room', '--title', 'Who winds the barrel before a run?', '--tag', 'operations');

    // Grace answers Ada; Ada answers Grace with her note, and Grace confirms it is still right.
    await waitFor(async () => (await runCli(peerDir.home, ['question', 'show', mine.id, '--json'])).code === 0, "Ada's question to reach Grace", 30_000);
    await cli('answer', mine.id, '--body', 'In the oak cabinet by the store, second drawer.');
    await waitFor(
      async () => (await app.cli('questions', '--space', 'Engine room')).some((q: { id: string }) => q.id === oil.id),
      "Grace's questions to reach Ada",
      30_000,
    );
    const answered = await app.cli('answer', oil.id, '--from-note', note.id);
    await waitFor(
      async () => (await cli('question', 'show', oil.id)).answers.some((a: { id: string }) => a.id === answered.id),
      "Ada's answer to reach Grace",
      30_000,
    );
    await cli('confirm', oil.id, answered.id);
    await waitFor(
      async () => (await app.cli('inbox')).items.length >= 3,
      'three items in the inbox (a routed question, an answer, a followed tag)',
      30_000,
      async () => JSON.stringify(await app.cli('inbox')),
    );
    await waitFor(
      async () => (await app.cli('question', 'show', oil.id)).answers[0]?.confirmed_by?.length > 0,
      "Grace's confirmation to reach Ada",
      30_000,
    );

    await eachSize(app, theme, async (w, hgt) => {
      await app.click('nav-inbox');
      await waitFor(async () => (await app.all('inbox-item')).length >= 3, 'three inbox items');
      await shot(app, theme, w, hgt, 'inbox');

      await (await app.byId('space-item', space.id)).click();
      await app.click('nav-people');
      await waitFor(async () => (await app.all('person-row')).length === 2, 'two people');
      await shot(app, theme, w, hgt, 'people');

      await (await app.byId('person-row', grace)).click();
      await app.waitAttr('person-page', 'data-id', grace);
      await app.el('person-figures');
      await shot(app, theme, w, hgt, 'person');

      await app.click('nav-people');
      await (await app.byId('person-row', me)).click();
      await app.waitAttr('person-page', 'data-id', me);
      await app.click('record-export');
      await app.el('record-statement');
      await shot(app, theme, w, hgt, 'person-record');

      await app.click('nav-questions');
      await (await app.byId('question-item', oil.id)).click();
      await app.waitAttr('question-view', 'data-id', oil.id);
      await app.el('answer-fresh');
      await app.click('who-knows');
      await app.el('question-routes');
      await shot(app, theme, w, hgt, 'question-people');

      await app.click('nav-members');
      const health = await app.el('space-health');
      await app.el('health-answered');
      // Scrolls the page pane, not the window (scrollIntoView would move the whole layout).
      await app.driver.executeScript(
        `const el = arguments[0]; const pane = el.closest('.page');
         pane.scrollTop += el.getBoundingClientRect().top - pane.getBoundingClientRect().top - 16;`,
        health,
      );
      await shot(app, theme, w, hgt, 'space-health');

      await app.chord(['ctrl'], 'k');
      await app.focused('palette-input');
      await app.type('palette-input', 'who #engines');
      await waitFor(async () => (await app.all('palette-expert')).length >= 1, 'people who know about #engines');
      await shot(app, theme, w, hgt, 'palette-who');
      await app.driver.actions({ async: true }).sendKeys(Key.ESCAPE).perform();
      await app.gone('palette');

      await app.click('nav-settings');
      await app.el('reachability');
      await shot(app, theme, w, hgt, 'settings');
    });
  } finally {
    await peer.kill();
  }
}

test('the network failed to start (status bar)', async () => {
  const app = await h.launch({ init: { name: 'Ada Lovelace', org: 'Analytical Society' }, env: { TACIT_LISTEN: 'not-a-multiaddr' } });
  await app.el('note-list', 30_000);
  await app.waitAttr('peers', 'data-state', 'failed', 30_000);
  await eachSize(app, 'light', async (w, hgt) => shot(app, 'light', w, hgt, 'network-failed'));
});

afterAll(() => {
  if (written.length === 0) return;
  fs.mkdirSync(SHOTS, { recursive: true });
  fs.writeFileSync(path.join(SHOTS, 'index.txt'), written.join('\n') + '\n');
  console.log(`${written.length} screenshots:\n${written.join('\n')}`);
});
