// People and giving on the mock node: the inbox and its toasts, the people and person pages, who
// knows about a topic in the palette, answers' freshness, answering with a note, a space's
// health, members' connections and invitations, and the network settings.

import { fireEvent, render, screen, waitFor, within } from "@testing-library/svelte";
import { tick } from "svelte";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { setTransport } from "../lib/api";
import { app, AppModel } from "../lib/app.svelte";
import type { Request } from "../lib/bindings";
import { MockNode } from "../lib/mockNode";
import AnswerWithNoteDialog from "./AnswerWithNoteDialog.svelte";
import InboxPage from "./InboxPage.svelte";
import NetworkSettings from "./NetworkSettings.svelte";
import Palette from "./Palette.svelte";
import PeoplePage from "./PeoplePage.svelte";
import PersonPage from "./PersonPage.svelte";
import QuestionDoc from "./QuestionDoc.svelte";
import SettingsPage from "./SettingsPage.svelte";
import Sidebar from "./Sidebar.svelte";
import SpaceHealth from "./SpaceHealth.svelte";
import SpacePage from "./SpacePage.svelte";
import Toasts from "./Toasts.svelte";

const notification = vi.hoisted(() => ({ sent: [] as { title: string; body: string }[] }));
vi.mock("@tauri-apps/plugin-notification", () => ({
  isPermissionGranted: async () => true,
  requestPermission: async () => "granted",
  sendNotification: (n: { title: string; body: string }) => notification.sent.push(n),
}));

const DAY = 24 * 3600_000;

/** A transport on `node` that records every request. */
function useNode(node: MockNode): Request[] {
  const requests: Request[] = [];
  setTransport({
    invoke: async <T,>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
      if (cmd === "execute") {
        const request = args?.request as Request;
        requests.push(request);
        return structuredClone(node.execute(request)) as T;
      }
      if (cmd === "network_state") return { state: "running", mdns: false } as T;
      return undefined as T;
    },
    listen: async () => () => {},
  });
  app.identity = node.identity;
  return requests;
}

/** A mock with a shared space "Platform" (this member owns it), Bo (same organisation) and
 * Grace (a partner), a question of Bo's on #tls, an answer of Grace's to an older question. */
async function world(): Promise<{ node: MockNode; space: string; bo: string; grace: string; tls: string; old: string; requests: Request[] }> {
  const node = new MockNode();
  node.identity.profile.org = "Example Org";
  const space = node.addSpace("Platform", { sync: "up_to_date" });
  const bo = node.addMember(space, { name: "Bo Lindqvist", org: "Example Org", connected: true, via: "direct" }, { expertise: ["postgres"] });
  const grace = node.addMember(
    space,
    { name: "Grace Hopper", org: "Navy", connected: true, via: "relayed" },
    { bio: "Compilers.", expertise: ["tls"] },
  );
  const now = Date.now();
  const tls = node.add("question", "How do we rotate the TLS certificate?", "", ["tls"], now - 3 * 3600_000, space);
  node.docs.get(tls)!.author = bo;
  const old = node.add("question", "Which port does ingest use?", "", ["ingest"], now - 10 * DAY, space);
  node.docs.get(old)!.author = bo;
  node.addAnswer(old, grace, "8081.", { created_at: now - 9 * DAY, accepted: true });
  const requests = useNode(node);
  await app.loadSpaces();
  app.selectSpace(space);
  await app.loadSpaceDetail();
  return { node, space, bo, grace, tls, old, requests };
}

beforeEach(() => {
  app.note = null;
  app.question = null;
  app.view = "notes";
  app.spaceId = null;
  app.spaces = [];
  app.spaceDetail = null;
  app.dialog = null;
  app.overlay = null;
  app.inbox = [];
  app.inboxUnread = 0;
  app.toasts = [];
  app.answerFocus = null;
  app.personId = null;
  app.now = Date.now();
  app.network = { state: "running", mdns: false };
  notification.sent = [];
});

afterEach(() => {
  vi.restoreAllMocks();
});

describe("Inbox", () => {
  it("counts what is not seen in the sidebar, lists items by kind with their reasons, and opens one as seen", async () => {
    const { node, tls, old, bo, requests } = await world();
    node.addInbox({ kind: "routed", question: tls, reason: "asked of you: lists #tls as expertise" });
    node.addInbox({ kind: "answer", question: old, by: bo, by_name: "Bo Lindqvist", reason: "answered your question", seen: true });
    await app.loadInbox();
    render(Sidebar);
    expect(screen.getByTestId("nav-inbox").getAttribute("data-count")).toBe("1");
    expect(screen.getByTestId("inbox-count").textContent).toBe("1");

    render(InboxPage);
    const groups = screen.getAllByTestId("inbox-group");
    expect(groups.map((g) => g.getAttribute("data-kind"))).toEqual(["routed", "answer"]);
    expect(groups[0].textContent).toContain("Asked of you");
    const item = within(groups[0]).getByTestId("inbox-item");
    expect(item.getAttribute("data-seen")).toBe("false");
    expect(item.textContent).toContain("How do we rotate the TLS certificate?");
    expect(item.textContent).toContain("Bo Lindqvist");
    expect(within(item).getByTestId("inbox-item-reason").textContent).toBe("asked of you: lists #tls as expertise");
    expect(screen.getByTestId("inbox-summary").textContent).toContain("1 item not seen yet");

    await fireEvent.click(item);
    expect(app.view).toBe("questions");
    expect(app.question).toBe(tls);
    await waitFor(() => expect(requests.some((r) => r.op === "inbox_seen")).toBe(true));
    expect(requests.find((r) => r.op === "inbox_seen")).toEqual({ op: "inbox_seen", keys: [`routed:${tls}`] });
    expect(app.inboxUnread).toBe(0);
    expect(screen.queryByTestId("inbox-count")).toBeNull();
  });

  it("teaches what lands in it when it is empty, and follows and unfollows tags", async () => {
    const { node } = await world();
    await app.loadInbox();
    render(InboxPage);
    expect(screen.getByTestId("inbox-empty").textContent).toContain("at most 3 questions a day");
    await screen.findByTestId("following-empty");
    await fireEvent.input(screen.getByTestId("follow-input"), { target: { value: "no tag!" } });
    await fireEvent.click(screen.getByTestId("follow-submit"));
    expect(screen.getByTestId("error").textContent).toContain("is not a tag");
    await fireEvent.input(screen.getByTestId("follow-input"), { target: { value: "#Postgres" } });
    await fireEvent.click(screen.getByTestId("follow-submit"));
    await waitFor(() => expect(screen.getAllByTestId("followed-tag").map((t) => t.getAttribute("data-tag"))).toEqual(["postgres"]));
    expect(node.follows).toEqual(["postgres"]);
    await fireEvent.click(screen.getByTestId("unfollow"));
    await screen.findByTestId("following-empty");
    expect(node.follows).toEqual([]);
  });

  it("announces a new routed question with a toast and a notification, and the toast opens it", async () => {
    const { node, tls, space } = await world();
    const model = new AppModel();
    await model.loadInbox(); // what is there at launch is not announced
    node.addInbox({ kind: "followed", question: tls, key: "followed:x", reason: "on #tls, which you follow" });
    node.addInbox({ kind: "routed", question: tls, reason: "asked of you" });
    vi.spyOn(document, "hasFocus").mockReturnValue(false);
    await model.loadInbox();
    expect(model.toasts.map((t) => t.title)).toEqual(["Bo Lindqvist asked you"]);
    expect(model.toasts[0].body).toBe("How do we rotate the TLS certificate?");
    await waitFor(() => expect(notification.sent).toEqual([{ title: "Bo Lindqvist asked you", body: "How do we rotate the TLS certificate?" }]));
    await model.loadInbox();
    expect(model.toasts).toHaveLength(1); // announced once

    app.toasts = model.toasts;
    render(Toasts);
    expect(screen.getByTestId("toast").textContent).toContain("Bo Lindqvist asked you:");
    await fireEvent.click(screen.getByTestId("toast-open"));
    expect(app.question).toBe(tls);
    expect(app.spaceId).toBe(space);
    expect(app.toasts).toEqual([]);
  });
});

describe("People", () => {
  it("lists members most giving first, partners marked, with their record and last seen", async () => {
    const { grace } = await world();
    app.view = "people";
    render(PeoplePage);
    const rows = await screen.findAllByTestId("person-row");
    expect(rows.map((r) => within(r).getByTestId("person-name").textContent)).toEqual(["Grace Hopper", "Ada Example", "Bo Lindqvist"]);
    expect(rows[0].getAttribute("data-partner")).toBe("true");
    expect(within(rows[0]).getByTestId("person-partner").textContent).toBe("partner · Navy");
    expect(within(rows[0]).getByTestId("person-record").textContent).toBe("1 answer (1 accepted)");
    expect(within(rows[0]).getByTestId("person-seen").textContent?.trim()).toBe("connected now");
    expect(rows[0].textContent).toContain("knows #tls");
    expect(within(rows[2]).queryByTestId("person-partner")).toBeNull();
    expect(within(rows[2]).getByTestId("person-record").textContent).toBe("2 questions");
    await fireEvent.click(rows[0]);
    expect(app.view).toBe("person");
    expect(app.personId).toBe(grace);
  });

  it("shows a person's record, topics and recent work", async () => {
    const { grace, old, space } = await world();
    render(PersonPage, { props: { member: grace } });
    expect((await screen.findByTestId("person-title")).textContent).toBe("Grace Hopper");
    expect(screen.getByTestId("person-partner").textContent).toBe("partner · Navy");
    expect(screen.getByTestId("figure-answers").textContent).toBe("1");
    expect(screen.getByTestId("figure-accepted").textContent).toBe("1");
    expect(screen.getByTestId("person-topics").textContent).toContain("#ingest");
    const recent = within(screen.getByTestId("person-recent")).getAllByRole("button");
    expect(recent[0].textContent).toContain("answered (accepted)");
    await fireEvent.click(recent[0]);
    expect(app.question).toBe(old);
    expect(app.spaceId).toBe(space);
    expect(screen.queryByTestId("record-export")).toBeNull();
  });

  it("exports this member's signed record and verifies it, and says when a statement was changed", async () => {
    const { node } = await world();
    render(PersonPage, { props: { member: node.identity.member } });
    await fireEvent.click(await screen.findByTestId("record-export"));
    const field = (await screen.findByTestId("record-statement")) as HTMLTextAreaElement;
    expect(JSON.parse(field.value).name).toBe("Ada Example");

    await fireEvent.input(screen.getByTestId("record-verify-input"), { target: { value: field.value } });
    await fireEvent.click(screen.getByTestId("record-verify"));
    const ok = await screen.findByTestId("record-verified");
    expect(ok.textContent).toContain("Signed by Ada Example (Example Org)");

    const forged = JSON.stringify({ ...JSON.parse(field.value), record: { ...JSON.parse(field.value).record, answers: 99 } });
    await fireEvent.input(screen.getByTestId("record-verify-input"), { target: { value: forged } });
    await fireEvent.click(screen.getByTestId("record-verify"));
    expect((await screen.findByTestId("record-verify-error")).textContent).toContain("changed after Ada Example signed it");
    expect(screen.queryByTestId("record-verified")).toBeNull();
  });
});

describe("Who knows about…", () => {
  it("lists ranked members with their reasons for who #tag, and opens a person", async () => {
    const { grace, node, tls, space } = await world();
    node.addAnswer(tls, grace, "Use the cert-manager.", {});
    app.overlay = "palette";
    render(Palette);
    const input = screen.getByTestId("palette-input") as HTMLInputElement;
    await fireEvent.input(input, { target: { value: "who #tls" } });
    const first = (await screen.findAllByTestId("palette-expert"))[0];
    expect(first.getAttribute("data-id")).toBe(grace);
    expect(within(first).getByTestId("palette-expert-reasons").textContent).toMatch(/1 answer on #tls, last in \w+ \d{4} · lists #tls as expertise/);
    expect(first.textContent).toContain("partner · Navy");
    // Bo asked about it: that counts, a little.
    expect(screen.getAllByTestId("palette-expert").map((e) => within(e).getByTestId("palette-expert-name").textContent)).toEqual([
      "Grace Hopper",
      "Bo Lindqvist",
    ]);
    expect(screen.getByTestId("palette-count").textContent).toBe("2 people");
    expect(screen.queryAllByTestId("palette-hit")).toEqual([]);
    await fireEvent.keyDown(input, { key: "Enter" });
    expect(app.view).toBe("person");
    expect(app.personId).toBe(grace);
    expect(app.overlay).toBeNull();
    void space;
  });

  it("starts from the command, hints what to type, and says when nobody is found", async () => {
    await world();
    app.overlay = "palette";
    render(Palette);
    const input = screen.getByTestId("palette-input") as HTMLInputElement;
    await fireEvent.input(input, { target: { value: "who kn" } });
    await fireEvent.input(input, { target: { value: "> who" } });
    const cmd = screen.getAllByTestId("palette-entry").find((e) => e.getAttribute("data-id") === "cmd:who")!;
    await fireEvent.click(cmd);
    await tick();
    expect(input.value).toBe("who ");
    expect(screen.getByTestId("palette-who-hint").textContent).toContain("who #tls");
    await fireEvent.input(input, { target: { value: "who #kubernetes" } });
    expect((await screen.findByTestId("palette-who-empty")).textContent).toContain("Nobody's answers, notes or listed expertise show “#kubernetes”");
  });
});

describe("Answers: freshness, still right, share as a note", () => {
  it("stamps a confirmed answer, marks an old one possibly stale, and Still right confirms it", async () => {
    const { node, grace, old, requests } = await world();
    const now = Date.now();
    const q = node.docs.get(old)!;
    q.answers[0].confirmed_by = [[node.spaces.get(app.spaceId!)!.members[1].member, now - 2 * DAY]];
    q.answers[0].fresh_since = now - 2 * DAY;
    node.addAnswer(old, node.identity.member, "Port 8081 since the move.", { created_at: now - 400 * DAY - 3600_000 });
    render(QuestionDoc, { props: { id: old } });
    const answers = await screen.findAllByTestId("answer");
    const graces = answers.find((a) => !a.textContent?.includes("your answer"))!;
    expect(within(graces).getByTestId("answer-fresh").textContent).toMatch(/Still right — confirmed by Bo Lindqvist, \d+ \w{3}/);
    expect(graces.getAttribute("data-stale")).toBe("false");
    const mine = answers.find((a) => a.textContent?.includes("your answer"))!;
    expect(mine.getAttribute("data-stale")).toBe("true");
    expect(within(mine).getByTestId("answer-stale").textContent).toContain("Possibly stale — written 400 days ago");
    await fireEvent.click(within(mine).getByTestId("answer-confirm"));
    await waitFor(() => {
      const again = screen.getAllByTestId("answer").find((a) => a.textContent?.includes("your answer"))!;
      expect(again.getAttribute("data-stale")).toBe("false");
      expect(within(again).getByTestId("answer-fresh").textContent).toContain("confirmed by you");
    });
    expect(requests.some((r) => r.op === "confirm")).toBe(true);
    void grace;
  });

  it("uses the space's stale-after setting", async () => {
    const { node, old, space } = await world();
    node.spaces.get(space)!.staleAfterDays = 5;
    await app.loadSpaces();
    render(QuestionDoc, { props: { id: old } });
    const answer = await screen.findByTestId("answer");
    expect(answer.getAttribute("data-stale")).toBe("true");
    expect(within(answer).getByTestId("answer-stale").getAttribute("title")).toContain("5 days");
  });

  it("shares an answer as a note in this space and opens the note", async () => {
    const { node, old, space } = await world();
    render(QuestionDoc, { props: { id: old } });
    await fireEvent.click(await screen.findByTestId("answer-share"));
    await waitFor(() => expect(app.note?.id).toBeTruthy());
    const note = node.docs.get(app.note!.id!)!;
    expect(note.title).toBe("Which port does ingest use?");
    expect(note.body).toBe("8081.");
    expect(note.space).toBe(space);
    expect(note.from_answer?.[0]).toBe(old);
  });

  it("shows whom a question is offered to, round by round", async () => {
    const { node, tls, grace } = await world();
    node.routes.set(tls, [
      { member: grace, name: "Grace Hopper", round: 0, at: Date.now() - 2.5 * 3600_000 },
      { member: node.identity.member, name: "Ada Example", round: 1, at: Date.now() - 3 * 60_000 },
    ]);
    render(QuestionDoc, { props: { id: tls } });
    await fireEvent.click(await screen.findByTestId("who-knows"));
    const rounds = await screen.findAllByTestId("route-round");
    expect(rounds.map((r) => r.textContent?.replace(/\s+/g, " ").trim())).toEqual([
      "when asked (2 h ago): Grace Hopper",
      "a day later (3 min ago): you",
    ]);
    await fireEvent.click(screen.getByTestId("who-else"));
    expect(app.overlay).toBe("palette");
    expect(app.paletteQuery).toBe("who #tls ");
  });
});

describe("Answer with this note", () => {
  it("lists the space's open questions, answers the chosen one with the note, and opens it", async () => {
    const { node, tls, old, space } = await world();
    const n = node.add("note", "Rotating the TLS certificate", "Run `certbot renew`, then reload nginx.", ["tls"], undefined, space);
    app.dialog = { kind: "answer-with-note", note: n };
    render(AnswerWithNoteDialog, { props: { note: n } });
    const items = await screen.findAllByTestId("awn-question");
    expect(items.map((i) => i.getAttribute("data-id"))).toEqual([tls]); // the other one has an accepted answer
    await fireEvent.click(items[0]);
    await waitFor(() => expect(app.dialog).toBeNull());
    expect(app.question).toBe(tls);
    const answer = node.docs.get(tls)!.answers[0];
    expect(answer.body).toBe("Run `certbot renew`, then reload nginx.");
    expect(answer.from_note).toBe(n);
    expect(node.docs.get(n)!.answered_in).toEqual([[tls, answer.id]]);
    void old;
  });

  it("teaches when no question is open", async () => {
    const { node, tls, space } = await world();
    node.addAnswer(tls, node.identity.member, "Done", { accepted: true });
    const n = node.add("note", "A note", "text", [], undefined, space);
    render(AnswerWithNoteDialog, { props: { note: n } });
    expect((await screen.findByTestId("awn-empty")).textContent).toContain("No open question in Platform");
  });
});

describe("Space health", () => {
  it("shows who gives beside 90-9-1, time to a first answer, the share answered, what waits and the top givers", async () => {
    const { space, tls, old } = await world();
    render(SpaceHealth, { props: { space } });
    const givers = await screen.findByTestId("health-givers");
    // Grace answered in the last 30 days; Ada and Bo did not give.
    expect(givers.textContent).toContain("33%");
    expect(givers.textContent).toContain("1 of 3 members gave in the last 30 days");
    expect(givers.textContent).toContain("90-9-1 rule of thumb: about 10% give");
    expect(screen.getByTestId("health-first-answer").textContent).toContain("1 day");
    expect(screen.getByTestId("health-answered").textContent).toContain("1 of 2 questions answered");
    expect(screen.getByTestId("health-answered").textContent).toContain("50%");
    const waiting = screen.getAllByTestId("health-unanswered-item");
    expect(waiting.map((w) => w.getAttribute("data-id"))).toEqual([tls]);
    await fireEvent.click(waiting[0]);
    expect(app.question).toBe(tls);
    void old;
  });
});

describe("Members and invitations", () => {
  it("says how each member is connected, and why not", async () => {
    const { node, space } = await world();
    node.addMember(space, { name: "Cy Offline", why: "behind a NAT, no relay known — add one in Settings" });
    await app.loadSpaceDetail();
    app.view = "members";
    render(SpacePage);
    const members = await screen.findAllByTestId("member");
    const text = (name: string) => members.find((m) => m.textContent?.includes(name))!;
    expect(within(text("Bo Lindqvist")).getByTestId("member-presence").textContent?.trim()).toBe("connected directly");
    expect(within(text("Grace Hopper")).getByTestId("member-presence").textContent?.trim()).toBe("connected through a relay");
    expect(within(text("Cy Offline")).getByTestId("member-presence").textContent?.trim()).toBe("not connected");
    expect(within(text("Cy Offline")).getByTestId("member-why").textContent).toBe("behind a NAT, no relay known — add one in Settings");
    expect(screen.queryByTestId("space-legacy")).toBeNull();
  });

  it("lists open invitations and lets an owner revoke one after a confirm", async () => {
    const { node, space } = await world();
    node.execute({ op: "space_invite", space, role: "reader", expires_in: null, uses: 2 });
    app.view = "members";
    render(SpacePage);
    const row = await screen.findByTestId("invite-row");
    expect(row.textContent).toContain("Reader");
    expect(row.textContent).toContain("never expires");
    expect(row.textContent).toContain("2 more people · not used yet");
    await fireEvent.click(within(row).getByTestId("invite-revoke"));
    expect(screen.getByRole("alertdialog").textContent).toContain("admits nobody any more");
    await fireEvent.click(screen.getByTestId("invite-revoke-confirm"));
    await screen.findByTestId("invites-empty");
    expect(node.spaces.get(space)!.invites).toEqual([]);
  });

  it("says what a legacy space is and what to do", async () => {
    const { node, space } = await world();
    node.spaces.get(space)!.sync = "legacy";
    await app.loadSpaces();
    app.view = "members";
    render(SpacePage);
    expect((await screen.findByTestId("space-legacy")).textContent).toContain("nothing syncs any more");
  });

  it("saves the stale-after setting of the space", async () => {
    const { node, space } = await world();
    app.view = "members";
    render(SpacePage);
    const input = (await screen.findByTestId("stale-days")) as HTMLInputElement;
    expect(input.value).toBe("182");
    await fireEvent.input(input, { target: { value: "0" } });
    await fireEvent.click(screen.getByTestId("stale-save"));
    expect(screen.getByTestId("stale-setting").textContent).toContain("from 1 to 3650");
    await fireEvent.input(input, { target: { value: "90" } });
    await fireEvent.click(screen.getByTestId("stale-save"));
    await screen.findByTestId("stale-saved");
    expect(node.spaces.get(space)!.staleAfterDays).toBe(90);
  });
});

describe("Settings", () => {
  it("tells reachability in words and adds and removes relays, with errors inline", async () => {
    const node = new MockNode();
    node.net = { reachability: "private", external_addrs: [], relays: [], relay_server: false };
    useNode(node);
    render(NetworkSettings);
    expect((await screen.findByTestId("reachability")).textContent).toContain("Behind a NAT or firewall");
    expect(screen.getByTestId("relays-empty").textContent).toContain("cannot reach this device until you add one");

    await fireEvent.input(screen.getByTestId("relay-addr"), { target: { value: "relay.example.com" } });
    await fireEvent.click(screen.getByTestId("relay-add"));
    expect(screen.getByTestId("relay-add-error").textContent).toContain("not a relay address");

    const addr = "/ip4/203.0.113.10/tcp/4001/p2p/12D3KooWRelayOne";
    await fireEvent.input(screen.getByTestId("relay-addr"), { target: { value: addr } });
    await fireEvent.click(screen.getByTestId("relay-add"));
    const relay = await screen.findByTestId("relay");
    expect(relay.getAttribute("data-id")).toBe("12D3KooWRelayOne");
    expect(within(relay).getByTestId("relay-state").textContent).toBe("connecting…");
    expect(screen.queryByTestId("relay-add-error")).toBeNull();
    expect((screen.getByTestId("relay-addr") as HTMLInputElement).value).toBe("");

    node.net.relays[0].state = "refused";
    node.net.relays[0].detail = "the relay has no slot left; try another";
    app.status = { ...(node.execute({ op: "status" }) as Extract<ReturnType<MockNode["execute"]>, { reply: "status" }>) };
    await waitFor(() => expect(within(screen.getByTestId("relay")).getByTestId("relay-detail").textContent).toBe("the relay has no slot left; try another"));

    await fireEvent.click(screen.getByTestId("relay-remove"));
    await screen.findByTestId("relays-empty");
    expect(node.net.relays).toEqual([]);
  });

  it("shows the quick capture shortcut, changes it, refuses nonsense and says when the desktop refused it", async () => {
    const node = new MockNode();
    useNode(node);
    const calls: string[] = [];
    setTransport({
      invoke: async <T,>(cmd: string, args?: Record<string, unknown>): Promise<T> => {
        if (cmd === "execute") return structuredClone(node.execute(args?.request as Request)) as T;
        if (cmd === "capture_settings") return { shortcut: "Ctrl+Alt+N", active: true, error: null } as T;
        if (cmd === "set_capture_shortcut") {
          const shortcut = String(args?.shortcut);
          calls.push(shortcut);
          if (shortcut === "Banana") throw "“Banana” is not a shortcut (bad key). Write it as modifiers and a key, such as Ctrl+Alt+N.";
          return { shortcut, active: false, error: `the desktop did not give Tacit ${shortcut}: already taken` } as T;
        }
        return undefined as T;
      },
      listen: async () => () => {},
    });
    render(SettingsPage);
    expect((await screen.findByTestId("capture-active")).textContent).toContain("Ctrl+Alt+N");
    const input = screen.getByTestId("capture-shortcut") as HTMLInputElement;
    expect(input.value).toBe("Ctrl+Alt+N");

    await fireEvent.input(input, { target: { value: "Banana" } });
    await fireEvent.click(screen.getByTestId("capture-shortcut-save"));
    expect((await screen.findByTestId("capture-error")).textContent).toContain("is not a shortcut");
    expect(screen.getByTestId("capture-active")).toBeTruthy();

    await fireEvent.input(input, { target: { value: "Super+K" } });
    await fireEvent.click(screen.getByTestId("capture-shortcut-save"));
    expect((await screen.findByTestId("capture-unavailable")).textContent).toContain("already taken");
    expect(screen.queryByTestId("capture-active")).toBeNull();
    expect(screen.queryByTestId("capture-error")).toBeNull();
    expect(calls).toEqual(["Banana", "Super+K"]);
  });

  it("saves the routed questions a day in the profile", async () => {
    const node = new MockNode();
    useNode(node);
    render(SettingsPage);
    const input = screen.getByTestId("questions-per-day") as HTMLInputElement;
    expect(input.value).toBe("3");
    await fireEvent.input(input, { target: { value: "-1" } });
    await fireEvent.click(screen.getByTestId("questions-per-day-save"));
    expect(screen.getByTestId("error").textContent).toContain("from 0 (none) to 50");
    await fireEvent.input(input, { target: { value: "0" } });
    await fireEvent.click(screen.getByTestId("questions-per-day-save"));
    await screen.findByTestId("questions-per-day-saved");
    expect(node.identity.profile.questions_per_day).toBe(0);
  });

  it("shows and changes the limits on attachments, in MiB, and says what the node refused", async () => {
    const node = new MockNode();
    const requests = useNode(node);
    render(SettingsPage);
    const max = screen.getByTestId("limit-max-file") as HTMLInputElement;
    const quota = screen.getByTestId("limit-space-quota") as HTMLInputElement;
    const auto = screen.getByTestId("limit-auto-fetch") as HTMLInputElement;
    await waitFor(() => expect(max.value).toBe("100"));
    expect(quota.value).toBe("2048");
    expect(auto.value).toBe("1");

    await fireEvent.input(max, { target: { value: "20" } });
    await fireEvent.input(auto, { target: { value: "0.25" } });
    await fireEvent.click(screen.getByTestId("limits-save"));
    await screen.findByTestId("limits-saved");
    expect(node.limits).toEqual({ max_file: 20 * 1024 * 1024, space_quota: 2 * 1024 ** 3, auto_fetch: 256 * 1024 });
    expect(requests.filter((r) => r.op === "attachment_limits")).toHaveLength(2);

    await fireEvent.input(auto, { target: { value: "50" } });
    await fireEvent.click(screen.getByTestId("limits-save"));
    expect((await screen.findByTestId("limits-error")).textContent).toContain("cannot be larger than the largest attachment");
    expect(node.limits.auto_fetch).toBe(256 * 1024);

    await fireEvent.input(auto, { target: { value: "-1" } });
    await fireEvent.click(screen.getByTestId("limits-save"));
    expect(screen.getByTestId("limits-error").textContent).toContain("0 or more");
  });
});
