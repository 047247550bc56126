import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setTransport } from "./api";
import {
  AppModel,
  type DocEvent,
  FIRST_PAGE,
  LIST_REFRESH_MS,
  NOTES_GROWTH,
  SPACES_REFRESH_MS,
  UPDATE_ROWS,
} from "./app.svelte";
import type { NetworkState, Request } from "./bindings";
import { MockNode } from "./mockNode";

let node: MockNode;
let requests: string[];
let sent: Request[];
let network: NetworkState;

beforeEach(() => {
  vi.useFakeTimers();
  node = new MockNode();
  network = { state: "running", mdns: false };
  requests = [];
  sent = [];
  setTransport({
    invoke: async <T>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
      if (cmd === "network_state") {
        requests.push(cmd);
        return network as T;
      }
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

function changed(
  id: string,
  kind: "note" | "question" | "profile",
  deleted = false,
  space = node.identity.personal_space,
  remote = false,
): DocEvent {
  return { event: "document_changed", id, space, kind, deleted, remote };
}

describe("AppModel live updates", () => {
  it("reads a list once for a burst of events, and tells the open document", async () => {
    const app = new AppModel();
    const id = node.add("note", "One");
    const seen: (DocEvent | null)[] = [];
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
    node.execute({ op: "note_edit", id: oldest, edit: { title: "Renamed", body: null, tags: null, aliases: null, base: null } });
    node.execute({ op: "note_rm", id: ids[5] });
    const fresh = node.add("note", "Fresh");
    sent = [];
    app.onEvent(changed(oldest, "note"));
    app.onEvent(changed(ids[5], "note", true));
    app.onEvent(changed(fresh, "note"));
    await vi.advanceTimersByTimeAsync(LIST_REFRESH_MS + 10);
    // One read of the newest rows, not of all 120.
    expect(sent.filter((r) => r.op === "note_list")).toEqual([{ op: "note_list", limit: UPDATE_ROWS, space: null }]);
    expect(app.notes.length).toBe(120);
    expect(app.notes.map((n) => n.title).slice(0, 2).sort()).toEqual(["Fresh", "Renamed"]);
    expect(app.notes.some((n) => n.id === ids[5])).toBe(false);
    // And it is the list the node holds.
    const whole = (node.execute({ op: "note_list", limit: null, space: null }) as { items: { id: string }[] }).items;
    expect(app.notes.map((n) => n.id)).toEqual(whole.map((n) => n.id));
  });

  it("holds the first page of notes until the list nears its end, then reads more", async () => {
    const app = new AppModel();
    const total = FIRST_PAGE * NOTES_GROWTH + 30;
    for (let i = 0; i < total; i++) node.add("note", `Note ${i}`);
    await app.loadAll(FIRST_PAGE);
    expect(app.notes.length).toBe(FIRST_PAGE);
    // What the window does after its first paint reads no more notes than it holds.
    sent = [];
    await app.loadAll();
    expect(sent.filter((r) => r.op === "note_list")).toEqual([
      { op: "note_list", limit: FIRST_PAGE, space: null },
    ]);
    // A change while only the first page is held reads that page again, not the whole list.
    sent = [];
    app.onEvent(changed(app.notes[50].id, "note"));
    await vi.advanceTimersByTimeAsync(LIST_REFRESH_MS + 10);
    expect(sent.filter((r) => r.op === "note_list")).toEqual([
      { op: "note_list", limit: FIRST_PAGE, space: null },
    ]);
    // Scrolled near the end: more, then the rest, then nothing more to read.
    await app.moreNotes();
    expect(app.notes.length).toBe(FIRST_PAGE * NOTES_GROWTH);
    await app.moreNotes();
    expect(app.notes.length).toBe(total);
    sent = [];
    await app.moreNotes();
    expect(sent).toEqual([]);
    const whole = (node.execute({ op: "note_list", limit: null, space: null }) as { items: { id: string }[] }).items;
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
    const seen: (DocEvent | null)[] = [];
    app.watchDoc("x", (e) => seen.push(e));
    app.onLagged();
    await vi.advanceTimersByTimeAsync(10);
    expect(new Set(requests)).toEqual(
      new Set(["note_list", "questions", "status", "whoami", "space_list", "network_state", "inbox"]),
    );
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

describe("AppModel spaces", () => {
  async function ready(): Promise<AppModel> {
    const app = new AppModel();
    app.identity = node.identity;
    await app.loadAll();
    return app;
  }

  it("lists the personal space first, then shared ones, and scopes the lists by the selected space", async () => {
    const team = node.addSpace("Team", { sync: "up_to_date" });
    node.add("note", "Mine");
    node.add("note", "Ours", "", [], undefined, team);
    node.add("question", "Shared question?", "", [], undefined, team);
    const app = await ready();
    expect(app.spaces.map((s) => s.name)).toEqual(["Personal", "Team"]);
    expect(app.space?.personal).toBe(true);
    expect(app.notes.map((n) => n.title)).toEqual(["Mine"]);
    expect(app.questions).toEqual([]);

    app.openNote(app.notes[0].id);
    sent = [];
    app.selectSpace(team);
    expect(app.note).toBeNull(); // what was open closes with its space
    expect(app.notesLoaded).toBe(false);
    await vi.advanceTimersByTimeAsync(10);
    expect(app.space?.name).toBe("Team");
    expect(app.notes.map((n) => n.title)).toEqual(["Ours"]);
    expect(app.questions.map((q) => q.title)).toEqual(["Shared question?"]);
    expect(sent.filter((r) => r.op === "note_list")).toEqual([{ op: "note_list", limit: FIRST_PAGE, space: team }]);
    expect(sent.some((r) => r.op === "space_show")).toBe(true);

    // Selecting the personal space by its id is the same as by null.
    app.selectSpace(node.identity.personal_space);
    expect(app.spaceId).toBeNull();
  });

  it("follows changes of the selected space only, and tells the open document whatever its space", async () => {
    const team = node.addSpace("Team");
    const app = await ready();
    app.selectSpace(team);
    await vi.advanceTimersByTimeAsync(10);
    const seen: (DocEvent | null)[] = [];
    app.watchDoc("x", (e) => seen.push(e));
    requests = [];
    const personal = node.add("note", "Personal note");
    app.onEvent(changed(personal, "note"));
    await vi.advanceTimersByTimeAsync(LIST_REFRESH_MS + 10);
    expect(requests.filter((r) => r === "note_list")).toEqual([]);
    const ours = node.add("note", "From a peer", "", [], undefined, team);
    app.onEvent(changed(ours, "note", false, team, true));
    await vi.advanceTimersByTimeAsync(LIST_REFRESH_MS + 10);
    expect(app.notes.map((n) => n.title)).toEqual(["From a peer"]);
    app.onEvent(changed("x", "note", false, team, true));
    expect(seen).toEqual([changed("x", "note", false, team, true)]);
  });

  it("drops a list answer for a space that is no longer selected", async () => {
    const team = node.addSpace("Team");
    node.add("note", "Ours", "", [], undefined, team);
    node.add("note", "Mine");
    const app = await ready();
    app.selectSpace(team);
    app.selectSpace(null); // before Team's rows arrive
    await vi.advanceTimersByTimeAsync(10);
    expect(app.notes.map((n) => n.title)).toEqual(["Mine"]);
  });

  it("reads the status, spaces and network together on network events, once per burst", async () => {
    const team = node.addSpace("Team", { sync: "offline" });
    const app = await ready();
    app.selectSpace(team, "members");
    await vi.advanceTimersByTimeAsync(10);
    expect(app.spaceDetail?.info.name).toBe("Team");
    requests = [];
    node.spaces.get(team)!.sync = "syncing";
    network = { state: "running", mdns: true };
    for (let i = 0; i < 5; i++) app.onEvent({ event: "network_changed" });
    await vi.advanceTimersByTimeAsync(SPACES_REFRESH_MS + 10);
    // One status (it carries the spaces' sync states and the peers) and one network state.
    expect(requests.filter((r) => r === "status").length).toBe(1);
    expect(requests.filter((r) => r === "space_list").length).toBe(0);
    expect(requests.filter((r) => r === "network_state").length).toBe(1);
    expect(requests.filter((r) => r === "space_show").length).toBe(1);
    expect(app.space?.sync).toBe("syncing");
    expect(app.network).toEqual({ state: "running", mdns: true });
  });

  it("remembers when a space was seen going offline, and only then", async () => {
    const team = node.addSpace("Team", { sync: "up_to_date" });
    const pilot = node.addSpace("Pilot", { sync: "offline" });
    const app = await ready();
    expect(app.offlineSince).toEqual({});
    vi.setSystemTime(new Date(2026, 10, 28, 10, 42));
    node.spaces.get(team)!.sync = "offline";
    await app.loadSpaces();
    expect(app.offlineSince).toEqual({ [team]: new Date(2026, 10, 28, 10, 42).getTime() });
    vi.setSystemTime(new Date(2026, 10, 28, 11, 0));
    await app.loadSpaces();
    expect(app.offlineSince[team]).toBe(new Date(2026, 10, 28, 10, 42).getTime());
    expect(app.offlineSince[pilot]).toBeUndefined(); // offline from the start: since when is unknown
    node.spaces.get(team)!.sync = "syncing";
    await app.loadSpaces();
    expect(app.offlineSince).toEqual({});
  });

  it("selects the personal space when the selected one is left", async () => {
    const team = node.addSpace("Team");
    const app = await ready();
    app.selectSpace(team, "members");
    await vi.advanceTimersByTimeAsync(10);
    node.execute({ op: "space_leave", space: team });
    app.onEvent({ event: "spaces_changed", space: team });
    await vi.advanceTimersByTimeAsync(SPACES_REFRESH_MS + 10);
    expect(app.spaceId).toBeNull();
    expect(app.spaces.map((s) => s.name)).toEqual(["Personal"]);
  });
});
