import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setTransport } from "./api";
import { AppModel, LIST_REFRESH_MS, UPDATE_ROWS } from "./app.svelte";
import type { Event as NodeEvent, Request } from "./bindings";
import { MockNode } from "./mockNode";

let node: MockNode;
let requests: string[];
let sent: Request[];

beforeEach(() => {
  vi.useFakeTimers();
  node = new MockNode();
  requests = [];
  sent = [];
  setTransport({
    invoke: async <T>(_cmd: string, args?: Record<string, unknown>): Promise<T> => {
      const request = args?.request as Request;
      requests.push(request.op);
      sent.push(request);
      return structuredClone(node.execute(request)) as T;
    },
    listen: async () => () => {},
  });
});

afterEach(() => {
  vi.useRealTimers();
});

function changed(id: string, kind: "note" | "question" | "profile", deleted = false): NodeEvent {
  return { event: "document_changed", id, space: "s", kind, deleted };
}

describe("AppModel live updates", () => {
  it("reads a list once for a burst of events, and tells the open document", async () => {
    const app = new AppModel();
    const id = node.add("note", "One");
    const seen: (NodeEvent | null)[] = [];
    const off = app.watchDoc(id, (e) => seen.push(e));
    for (let i = 0; i < 5; i++) app.onEvent(changed(id, "note"));
    expect(seen.length).toBe(5);
    await vi.advanceTimersByTimeAsync(LIST_REFRESH_MS + 10);
    expect(requests.filter((r) => r === "note_list").length).toBe(1);
    expect(app.notes.map((n) => n.title)).toEqual(["One"]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(requests.filter((r) => r === "status").length).toBe(1);
    off();
    app.onEvent(changed(id, "note"));
    expect(seen.length).toBe(5);
  });

  it("brings a whole list up to date from its newest rows, not by reading it all again", async () => {
    const app = new AppModel();
    const ids = Array.from({ length: 120 }, (_, i) => node.add("note", `Note ${i}`));
    await app.loadNotes();
    expect(app.notes.length).toBe(120);
    const oldest = ids[0];
    node.execute({ op: "note_edit", id: oldest, edit: { title: "Renamed", body: null, tags: null, base: null } });
    node.execute({ op: "note_rm", id: ids[5] });
    const fresh = node.add("note", "Fresh");
    sent = [];
    app.onEvent(changed(oldest, "note"));
    app.onEvent(changed(ids[5], "note", true));
    app.onEvent(changed(fresh, "note"));
    await vi.advanceTimersByTimeAsync(LIST_REFRESH_MS + 10);
    // One read of the newest rows, not of all 120.
    expect(sent.filter((r) => r.op === "note_list")).toEqual([{ op: "note_list", limit: UPDATE_ROWS }]);
    expect(app.notes.length).toBe(120);
    expect(app.notes.map((n) => n.title).slice(0, 2).sort()).toEqual(["Fresh", "Renamed"]);
    expect(app.notes.some((n) => n.id === ids[5])).toBe(false);
    // And it is the list the node holds.
    const whole = (node.execute({ op: "note_list", limit: null }) as { items: { id: string }[] }).items;
    expect(app.notes.map((n) => n.id)).toEqual(whole.map((n) => n.id));
  });

  it("reads questions on question events, and everything after missed events", async () => {
    const app = new AppModel();
    node.add("question", "Why?");
    app.onEvent(changed("q", "question"));
    await vi.advanceTimersByTimeAsync(LIST_REFRESH_MS + 10);
    expect(app.questions.map((q) => q.title)).toEqual(["Why?"]);
    expect(app.unanswered).toBe(1);
    requests = [];
    const seen: (NodeEvent | null)[] = [];
    app.watchDoc("x", (e) => seen.push(e));
    app.onLagged();
    await vi.advanceTimersByTimeAsync(10);
    expect(new Set(requests)).toEqual(new Set(["note_list", "questions", "status", "whoami"]));
    expect(seen).toEqual([null]);
  });

  it("earns 'running' and shows 'stopped' when the node stops", async () => {
    const app = new AppModel();
    expect(app.node).toBe("starting");
    await app.loadNotes();
    expect(app.node).toBe("running");
    node.stopped = true;
    await app.loadNotes();
    expect(app.node).toBe("stopped");
    expect(app.notesError).toMatch(/stopped/);
  });

  it("opens, creates and cycles", () => {
    const app = new AppModel();
    app.newNote();
    const key = app.note!.key;
    expect(app.note).toEqual({ key, id: null });
    app.noteCreated(key, "n1");
    expect(app.note).toEqual({ key, id: "n1" });
    app.openNote("n1");
    expect(app.note!.key).toBe(key);
    app.openNote("n2");
    expect(app.note!.key).not.toBe(key);
    app.previewMode = "edit";
    app.cyclePreview();
    expect(app.previewMode).toBe("split");
    app.cyclePreview();
    expect(app.previewMode).toBe("preview");
    app.cyclePreview();
    expect(app.previewMode).toBe("edit");
  });
});
