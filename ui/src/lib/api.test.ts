import { beforeEach, describe, expect, it, vi } from "vitest";

const invoke = vi.fn();
vi.mock("@tauri-apps/api/core", () => ({ invoke: (...args: unknown[]) => invoke(...args) }));
vi.mock("@tauri-apps/api/event", () => ({ listen: vi.fn(async () => () => {}) }));
const sent = vi.hoisted(() => [] as { title: string; body: string }[]);
vi.mock("@tauri-apps/plugin-notification", () => ({
  isPermissionGranted: async () => true,
  requestPermission: async () => "granted",
  sendNotification: (n: { title: string; body: string }) => sent.push(n),
}));

const api = await import("./api");

beforeEach(() => {
  invoke.mockReset();
});

describe("api", () => {
  it("sends requests through execute and narrows the reply", async () => {
    invoke.mockResolvedValueOnce({ reply: "list", items: [{ id: "n1" }] });
    const items = await api.noteList();
    expect(invoke).toHaveBeenCalledWith("execute", { request: { op: "note_list", limit: null, space: null } });
    expect(items).toEqual([{ id: "n1" }]);
  });

  it("returns a note without its reply tag", async () => {
    invoke.mockResolvedValueOnce({ reply: "note", id: "n1", title: "T", body: "", tags: [], author: "m", created_at: 1, updated_at: 2, heads: ["h"] });
    const note = await api.noteShow("n1");
    expect(note).toEqual({ id: "n1", title: "T", body: "", tags: [], author: "m", created_at: 1, updated_at: 2, heads: ["h"] });
    expect(invoke).toHaveBeenCalledWith("execute", { request: { op: "note_show", id: "n1" } });
  });

  it("passes note_edit's base heads and returns the new heads", async () => {
    invoke.mockResolvedValueOnce({ reply: "done", id: "n1", changed: true, heads: ["h2"] });
    const edit = { title: "T", body: "b", tags: [], aliases: null, base: ["h1"] };
    const r = await api.noteEdit("n1", edit);
    expect(invoke).toHaveBeenCalledWith("execute", { request: { op: "note_edit", id: "n1", edit } });
    expect(r.heads).toEqual(["h2"]);
  });

  it("refuses a reply of the wrong kind", async () => {
    invoke.mockResolvedValueOnce({ reply: "created", id: "x" });
    await expect(api.noteList()).rejects.toMatchObject({ name: "ApiError", kind: "unexpected" });
  });

  it("turns a WireError rejection into an ApiError with kind and message", async () => {
    invoke.mockRejectedValueOnce({ kind: "conflict", message: "note changed" });
    const err = await api.noteEdit("n1", { title: null, body: null, tags: null, aliases: null, base: [] }).catch((e) => e);
    expect(err).toBeInstanceOf(api.ApiError);
    expect(err.kind).toBe("conflict");
    expect(err.message).toBe("note changed");
    expect(err.stopped).toBe(false);
  });

  it("tells health listeners when the node stopped", async () => {
    const seen: boolean[] = [];
    const off = api.onHealth((up) => seen.push(up));
    invoke.mockRejectedValueOnce({ kind: "stopped", message: "the Tacit node has stopped" });
    await expect(api.status()).rejects.toMatchObject({ stopped: true });
    invoke.mockResolvedValueOnce({ reply: "status", home: "/h", member: "m", pid: 1, serving: true, notes: 2, questions: 3, db_bytes: 4 });
    const s = await api.status();
    expect(s.notes).toBe(2);
    expect(seen).toEqual([false, true]);
    off();
  });

  it("maps every helper to its request", async () => {
    const cases: [() => Promise<unknown>, unknown, unknown][] = [
      [() => api.whoami(), { op: "whoami" }, { reply: "identity", member: "m", personal_space: "s", profile: {} }],
      [() => api.noteNew({ title: "t", body: "", tags: [], aliases: [] }), { op: "note_new", draft: { title: "t", body: "", tags: [], aliases: [] }, space: null }, { reply: "created", id: "n" }],
      [() => api.noteRm("n"), { op: "note_rm", id: "n" }, { reply: "done", id: "n", changed: true, heads: [] }],
      [() => api.ask({ title: "q", body: "", tags: [], aliases: [] }), { op: "ask", draft: { title: "q", body: "", tags: [], aliases: [] }, space: null }, { reply: "created", id: "q" }],
      [() => api.answer("q", "b"), { op: "answer", question: "q", body: "b" }, { reply: "answered", question: "q", id: "a" }],
      [() => api.accept("q", "a"), { op: "accept", question: "q", answer: "a" }, { reply: "done", id: "q", changed: true, heads: [] }],
      [() => api.thank("q", "a"), { op: "thank", question: "q", answer: "a" }, { reply: "done", id: "q", changed: true, heads: [] }],
      [() => api.questions(true), { op: "questions", unanswered: true, limit: null, space: null }, { reply: "list", items: [] }],
      [() => api.questionShow("q"), { op: "question_show", id: "q" }, { reply: "question", id: "q", answers: [] }],
      [() => api.noteList(5, "sp"), { op: "note_list", limit: 5, space: "sp" }, { reply: "list", items: [] }],
      [() => api.noteNew({ title: "t", body: "", tags: [], aliases: [] }, "sp"), { op: "note_new", draft: { title: "t", body: "", tags: [], aliases: [] }, space: "sp" }, { reply: "created", id: "n" }],
      [() => api.spaceList(), { op: "space_list" }, { reply: "spaces", items: [] }],
      [() => api.spaceNew("Team"), { op: "space_new", name: "Team" }, { reply: "space_created", id: "s", name: "Team" }],
      [() => api.spaceShow("s"), { op: "space_show", space: "s" }, { reply: "space", info: {}, members: [], removed: [] }],
      [() => api.spaceInvite("s", "reader", 1000, 1), { op: "space_invite", space: "s", role: "reader", expires_in: 1000, uses: 1 }, { reply: "ticket", ticket: "tacit1x", expires_at: 5 }],
      [() => api.spaceJoin("tacit1x"), { op: "space_join", ticket: "tacit1x" }, { reply: "space_created", id: "s", name: "Team" }],
      [() => api.spaceRemove("s", "m"), { op: "space_remove", space: "s", member: "m" }, { reply: "space", info: {}, members: [], removed: [] }],
      [() => api.spaceLeave("s"), { op: "space_leave", space: "s" }, { reply: "space", info: {}, members: [], removed: [] }],
      [() => api.peers(), { op: "peers" }, { reply: "peers", items: [] }],
    ];
    for (const [fn, request, reply] of cases) {
      invoke.mockResolvedValueOnce(reply);
      await fn();
      expect(invoke).toHaveBeenLastCalledWith("execute", { request });
    }
  });

  it("calls the shell's own commands", async () => {
    invoke.mockResolvedValueOnce({ state: "first_run", home: "/h" });
    expect(await api.appState()).toEqual({ state: "first_run", home: "/h" });
    expect(invoke).toHaveBeenLastCalledWith("app_state", undefined);
    invoke.mockResolvedValueOnce({ state: "ready", home: "/h", identity: {} });
    await api.init("Ada", "Org");
    expect(invoke).toHaveBeenLastCalledWith("init", { name: "Ada", org: "Org" });
    invoke.mockResolvedValueOnce({ state: "failed", error: "port in use" });
    expect(await api.networkState()).toEqual({ state: "failed", error: "port in use" });
    expect(invoke).toHaveBeenLastCalledWith("network_state", undefined);
    invoke.mockResolvedValueOnce("tacit://join/tacit1x");
    expect(await api.takeLink()).toBe("tacit://join/tacit1x");
    invoke.mockResolvedValueOnce({ space: "s", name: "Team", role: "editor", expires_at: null, expired: false, inviter: "m" });
    expect((await api.ticketInfo("tacit1x")).name).toBe("Team");
    expect(invoke).toHaveBeenLastCalledWith("ticket_info", { ticket: "tacit1x" });
    invoke.mockResolvedValue(undefined);
    await api.uiPainted();
    await api.uiPainted();
    expect(invoke.mock.calls.filter((c) => c[0] === "ui_painted").length).toBe(1);
  });
});

// A member writes the question's title and their own name; servers that read markup in a
// notification (KDE's, dunst, mako) must show it as text.
describe("desktop notifications", () => {
  it("escape a member's markup in the title and the body", async () => {
    sent.length = 0;
    await api.notify('<b>Eve</b> asked you', 'Q3 <a href="https://evil.example/">plan</a> & <img src="x">');
    expect(sent).toEqual([
      {
        title: "&lt;b&gt;Eve&lt;/b&gt; asked you",
        body: 'Q3 &lt;a href="https://evil.example/"&gt;plan&lt;/a&gt; &amp; &lt;img src="x"&gt;',
      },
    ]);
    expect(sent[0].body).not.toMatch(/[<>]/);
  });

  it("leave ordinary text as it is, and escape an entity only once", () => {
    expect(api.notificationText("What's the plan for Q3?")).toBe("What's the plan for Q3?");
    expect(api.notificationText("&lt;")).toBe("&amp;lt;");
  });
});
