import { ChangeSet, EditorSelection, EditorState } from "@codemirror/state";
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Draft, NoteEdit, NoteView } from "./bindings";
import type { Range } from "./merge";
import { AppModel } from "./app.svelte";
import type { Event as NodeEvent } from "./bindings";
import { MockNode } from "./mockNode";
import { type NoteApi, NoteSession } from "./noteSession";

/** The node's answers, through MockNode, with a hook to hold a call in flight. */
class FakeApi implements NoteApi {
  node = new MockNode(() => 1_000_000);
  calls: { op: string; edit?: NoteEdit }[] = [];
  /** When set, the next noteEdit waits for this promise before reaching the node. */
  hold: Promise<void> | null = null;

  async noteNew(draft: Draft): Promise<string> {
    this.calls.push({ op: "note_new" });
    const r = this.node.execute({ op: "note_new", draft, space: null });
    if (r.reply !== "created") throw new Error("unexpected");
    return r.id;
  }
  async noteShow(id: string): Promise<NoteView> {
    this.calls.push({ op: "note_show" });
    const r = this.node.execute({ op: "note_show", id });
    if (r.reply !== "note") throw new Error("unexpected");
    const { reply: _r, ...view } = r;
    return structuredClone(view);
  }
  async noteEdit(id: string, edit: NoteEdit): Promise<{ heads: string[] }> {
    this.calls.push({ op: "note_edit", edit: structuredClone(edit) });
    if (this.hold) {
      const h = this.hold;
      this.hold = null;
      await h;
    }
    const r = this.node.execute({ op: "note_edit", id, edit });
    if (r.reply !== "done") throw new Error("unexpected");
    return { heads: r.heads };
  }
  edits(): NoteEdit[] {
    return this.calls.filter((c) => c.op === "note_edit").map((c) => c.edit as NoteEdit);
  }
  stored(id: string): NoteView {
    const r = this.node.execute({ op: "note_show", id });
    if (r.reply !== "note") throw new Error("unexpected");
    return r;
  }
}

/** An editor the way the component drives it: user transactions go to the session, remote
 * changes come back through the host. */
class Editor {
  state: EditorState;
  remote: { changes: ChangeSet; inserted: Range[] }[] = [];
  constructor(public session: NoteSession) {
    this.state = EditorState.create({ doc: session.body() });
    session.host = {
      applyRemote: (changes, inserted) => {
        this.remote.push({ changes, inserted });
        this.state = this.state.update({ changes }).state;
      },
    };
  }
  type(from: number, insert: string, to = from): void {
    const tr = this.state.update({
      changes: { from, to, insert },
      selection: EditorSelection.cursor(from + insert.length),
    });
    this.state = tr.state;
    this.session.userChanged(tr.changes);
  }
  append(text: string): void {
    this.type(this.state.doc.length, text);
  }
  get text(): string {
    return this.state.doc.toString();
  }
  get cursor(): number {
    return this.state.selection.main.head;
  }
}

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve = () => {};
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

async function openNote(api: FakeApi, title: string, body: string, tags: string[] = []) {
  const id = api.node.add("note", title, body, tags);
  const session = NoteSession.open(api, await api.noteShow(id), 1_000_000);
  const editor = new Editor(session);
  api.calls = [];
  return { id, session, editor };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("NoteSession", () => {
  it("saves the full note with the base heads, and takes the reply's heads", async () => {
    const api = new FakeApi();
    const { id, session, editor } = await openNote(api, "Plan", "one\n", ["a"]);
    const heads = session.base.heads;
    editor.append("two\n");
    session.setTitle("Plan B");
    session.setTags(["a", "b"]);
    expect(session.state).toBe("dirty");
    await session.flush();
    expect(api.edits()).toEqual([{ title: "Plan B", body: "one\ntwo\n", tags: ["a", "b"], aliases: null, base: heads }]);
    expect(session.state).toBe("saved");
    expect(session.base.heads).toEqual(api.stored(id).heads);
    expect(api.stored(id).body).toBe("one\ntwo\n");
  });

  it("ignores the event of its own save", async () => {
    const api = new FakeApi();
    const { session, editor } = await openNote(api, "Plan", "one\n");
    editor.append("two\n");
    await session.flush();
    await session.refresh();
    expect(editor.remote).toEqual([]);
    expect(editor.text).toBe("one\ntwo\n");
    expect(api.edits().length).toBe(1);
    expect(session.state).toBe("saved");
  });

  it("merges a remote edit before the cursor into unsaved typing, then saves both", async () => {
    const api = new FakeApi();
    const { id, session, editor } = await openNote(api, "Plan", "first\nsecond\n");
    editor.append("third");
    const cursor = editor.cursor;
    api.node.remoteEdit(id, { body: "FIRST line\nsecond\n" });
    await session.refresh();
    await session.idle();
    expect(editor.text).toBe("FIRST line\nsecond\nthird");
    expect(session.body()).toBe(editor.text);
    // The remote change is applied through the host and highlighted, the cursor moved with it.
    expect(editor.remote.length).toBe(1);
    const ins = editor.remote[0].inserted;
    expect(ins.length).toBeGreaterThan(0);
    // The cursor stays after what the user typed, moved along by the text inserted before it.
    expect(cursor).toBe("first\nsecond\nthird".length);
    expect(editor.cursor).toBe(editor.text.length);
    // The unsaved typing was saved on top of the remote edit.
    await session.idle();
    expect(api.stored(id).body).toBe("FIRST line\nsecond\nthird");
    expect(session.state).toBe("saved");
  });

  it("merges a remote edit after the cursor", async () => {
    const api = new FakeApi();
    const { id, session, editor } = await openNote(api, "Plan", "first\nsecond\n");
    editor.type(0, "zero\n");
    api.node.remoteEdit(id, { body: "first\nsecond\nremote\n" });
    await session.refresh();
    await session.idle();
    expect(editor.text).toBe("zero\nfirst\nsecond\nremote\n");
    expect(editor.cursor).toBe(5);
    expect(api.stored(id).body).toBe("zero\nfirst\nsecond\nremote\n");
  });

  it("merges overlapping edits of one line without losing either", async () => {
    const api = new FakeApi();
    const { id, session, editor } = await openNote(api, "Plan", "the quick fox\n");
    editor.type(9, " brown"); // "the quick brown fox"
    api.node.remoteEdit(id, { body: "the slow fox\n" });
    await session.refresh();
    await session.idle();
    expect(editor.text).toContain("brown");
    expect(editor.text).toContain("slow");
    expect(editor.text).not.toContain("quick");
    expect(api.stored(id).body).toBe(editor.text);
  });

  it("on a conflict reads the note, merges, and saves again", async () => {
    const api = new FakeApi();
    const { id, session, editor } = await openNote(api, "Plan", "a\nb\n");
    editor.append("mine\n");
    // Someone else edits; this window has not heard of it yet.
    api.node.remoteEdit(id, { body: "A\nb\n" });
    await session.flush();
    await session.idle();
    await session.idle();
    const edits = api.edits();
    expect(edits.length).toBe(2);
    // The retry is based on the heads that include the other edit.
    expect(edits[1].base).not.toEqual(edits[0].base);
    expect(api.stored(id).body).toBe("A\nb\nmine\n");
    expect(editor.text).toBe("A\nb\nmine\n");
    expect(session.state).toBe("saved");
  });

  it("keeps typing that happens while a save is in flight", async () => {
    const api = new FakeApi();
    const { id, session, editor } = await openNote(api, "Plan", "x\n");
    const gate = deferred();
    api.hold = gate.promise;
    editor.append("1");
    const saving = session.flush();
    await Promise.resolve();
    expect(session.state).toBe("saving");
    editor.append("2");
    // An event while the save is in flight waits for it.
    void session.refresh();
    gate.resolve();
    await saving;
    expect(api.stored(id).body).toBe("x\n1");
    expect(session.state).toBe("dirty");
    await session.flush();
    await session.idle();
    expect(api.stored(id).body).toBe("x\n12");
    expect(editor.remote).toEqual([]);
    expect(session.state).toBe("saved");
  });

  it("takes a remote title and tags the user left alone, keeps the ones they changed", async () => {
    const api = new FakeApi();
    const a = await openNote(api, "Plan", "body\n", ["x"]);
    api.node.remoteEdit(a.id, { title: "Plan v2", tags: ["y"] });
    const changes: { title: boolean; tags: boolean }[] = [];
    a.session.subscribe((c) => changes.push(c));
    await a.session.refresh();
    expect(a.session.title).toBe("Plan v2");
    expect(a.session.tags).toEqual(["y"]);
    expect(changes.some((c) => c.title && c.tags)).toBe(true);
    expect(a.session.state).toBe("saved");

    const b = await openNote(api, "Other", "body\n", ["x"]);
    b.session.setTitle("Mine");
    b.session.setTags(["mine"]);
    api.node.remoteEdit(b.id, { title: "Theirs", tags: ["theirs"] });
    await b.session.refresh();
    await b.session.idle();
    expect(b.session.title).toBe("Mine");
    expect(api.stored(b.id).title).toBe("Mine");
    expect(api.stored(b.id).tags).toEqual(["mine"]);
  });

  it("stores a draft only once it has content, titled by its first line", async () => {
    const api = new FakeApi();
    const session = NoteSession.draft(api, 1_000_000);
    const editor = new Editor(session);
    await session.flush();
    expect(api.calls).toEqual([]);
    expect(session.id).toBeNull();

    editor.append("# Deploy notes\nrun it twice");
    await session.flush();
    expect(session.id).not.toBeNull();
    const id = session.id as string;
    expect(api.stored(id).title).toBe("Deploy notes");
    expect(api.stored(id).body).toBe("# Deploy notes\nrun it twice");
    expect(session.state).toBe("saved");

    editor.append("\nmore");
    await session.flush();
    expect(api.edits().length).toBe(1);
    expect(api.stored(id).body).toBe("# Deploy notes\nrun it twice\nmore");
    expect(api.calls.filter((c) => c.op === "note_new").length).toBe(1);
  });

  it("uses the typed title, trimmed; an emptied note is Untitled", async () => {
    const api = new FakeApi();
    const s1 = NoteSession.draft(api, 1_000_000);
    s1.setTitle("  Typed title ");
    await s1.flush();
    expect(api.stored(s1.id as string).title).toBe("Typed title");
    expect(s1.state).toBe("saved");

    const { id, session, editor } = await openNote(api, "Plan", "text");
    session.setTitle("");
    editor.type(0, "", 4);
    await session.flush();
    expect(api.stored(id).title).toBe("Untitled");
    expect(api.stored(id).body).toBe("");
    expect(session.state).toBe("saved");
  });

  it("saves after typing pauses", async () => {
    vi.useFakeTimers();
    const api = new FakeApi();
    const id = api.node.add("note", "Plan", "a");
    const session = NoteSession.open(api, await api.noteShow(id), 500);
    const editor = new Editor(session);
    editor.append("b");
    await vi.advanceTimersByTimeAsync(300);
    editor.append("c");
    await vi.advanceTimersByTimeAsync(300);
    expect(api.edits().length).toBe(0);
    await vi.advanceTimersByTimeAsync(300);
    await session.idle();
    expect(api.edits().length).toBe(1);
    expect(api.stored(id).body).toBe("abc");
  });

  it("reports an error and keeps the text; the next change retries", async () => {
    const api = new FakeApi();
    const { id, session, editor } = await openNote(api, "Plan", "a");
    session.setTags(["ok"]);
    api.node.stopped = true;
    editor.append("b");
    await session.flush();
    expect(session.state).toBe("error");
    expect(session.error).toMatch(/stopped/);
    api.node.stopped = false;
    editor.append("c");
    await session.flush();
    expect(session.state).toBe("saved");
    expect(api.stored(id).body).toBe("abc");
  });

  it("stops saving when the note is deleted elsewhere, and can keep the text as a new note", async () => {
    const api = new FakeApi();
    const { id, session, editor } = await openNote(api, "Plan", "a");
    editor.append("b");
    api.node.execute({ op: "note_rm", id });
    await session.flush();
    expect(session.deleted).toBe(true);
    expect(session.state).toBe("error");
    session.keepAsNew();
    await session.flush();
    expect(session.id).not.toBe(id);
    expect(api.stored(session.id as string).body).toBe("ab");
  });

  it("does not loop forever when every save conflicts", async () => {
    const api = new FakeApi();
    const { session, editor } = await openNote(api, "Plan", "a");
    editor.append("b");
    // A node that always refuses, while reads return the same heads.
    api.noteEdit = async () => {
      throw { kind: "conflict", message: "changed" };
    };
    await session.flush();
    for (let i = 0; i < 20; i++) await session.idle();
    expect(session.state).toBe("error");
  });
});

describe("a peer's edit of the open note", () => {
  it("arrives as a remote event in its shared space and merges with unsaved typing, the cursor kept", async () => {
    vi.useFakeTimers();
    const api = new FakeApi();
    const app = new AppModel();
    const team = api.node.addSpace("Team", { sync: "up_to_date" });
    const id = api.node.add("note", "Plan", "first\nsecond\n", [], undefined, team);
    const session = NoteSession.open(api, await api.noteShow(id), 1_000_000);
    const editor = new Editor(session);
    // As NoteEditor wires it: every event about the open note reads it again and rebases.
    app.watchDoc(id, (e) => (e?.deleted ? session.markDeleted() : void session.refresh()));
    const events: NodeEvent[] = [];
    api.node.listeners.add((e) => {
      events.push(e);
      app.onEvent(e);
    });
    editor.type(6, "and "); // "first\nand second\n", the cursor after "and "
    expect(editor.cursor).toBe(10);
    api.node.remoteEdit(id, { body: "From the peer\nfirst\nsecond\n" });
    expect(events).toEqual([{ event: "document_changed", id, space: team, kind: "note", deleted: false, remote: true }]);
    await session.idle();
    await session.idle();
    expect(editor.text).toBe("From the peer\nfirst\nand second\n");
    // The cursor moved with the text inserted before it: still right after "and ".
    expect(editor.cursor).toBe("From the peer\nfirst\nand ".length);
    expect(api.stored(id).body).toBe("From the peer\nfirst\nand second\n");
    vi.useRealTimers();
  });
});
