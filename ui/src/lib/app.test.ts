import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setTransport } from "./api";
import { AppModel, LIST_REFRESH_MS } from "./app.svelte";
import type { Event as NodeEvent, Request } from "./bindings";
import { MockNode } from "./mockNode";

let node: MockNode;
let requests: string[];

beforeEach(() => {
  vi.useFakeTimers();
  node = new MockNode();
  requests = [];
  setTransport({
    invoke: async <T>(_cmd: string, args?: Record<string, unknown>): Promise<T> => {
      const request = args?.request as Request;
      requests.push(request.op);
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
