import { describe, expect, it } from "vitest";
import type { NetworkState, PeerInfo, Reachability, RelayInfo, SpaceInfo, Status, SyncState } from "./bindings";
import { authorName, joinErrorText, namesakeOf, peersText, syncGlyph, syncLabel, syncText } from "./spaces";

const running: NetworkState = { state: "running", mdns: true };
const personal: SpaceInfo = { id: "p", name: "Personal", personal: true, role: "owner", members: 1, connected: 0, sync: "local", stale_after_days: 182 };
const shared = (sync: SyncState, connected: number): SpaceInfo => ({
  id: "s",
  name: "Team",
  personal: false,
  role: "editor",
  members: 4,
  connected,
  sync,
  stale_after_days: 182,
});

describe("sync words", () => {
  it("has a sentence for every state, and never says up to date without the node saying so", () => {
    expect(syncText(null, running)).toBe("This device only");
    expect(syncText(personal, running)).toBe("This device only");
    expect(syncText(shared("offline", 0), running)).toBe("Offline — no member connected");
    expect(syncText(shared("syncing", 1), running)).toBe("Syncing with 1 member…");
    expect(syncText(shared("syncing", 3), running)).toBe("Syncing with 3 members…");
    expect(syncText(shared("up_to_date", 1), running)).toBe("Up to date with 1 member");
    expect(syncText(shared("up_to_date", 2), running)).toBe("Up to date with 2 members");
    // Whatever the last listing said, no network means offline.
    expect(syncText(shared("up_to_date", 2), { state: "failed", error: "x" })).toBe("Offline — the network did not start");
    expect(syncText(shared("up_to_date", 2), { state: "starting" })).toBe("Connecting…");
    expect(syncText(personal, { state: "failed", error: "x" })).toBe("This device only");
    const at = new Date(2026, 10, 28, 10, 42).getTime();
    expect(syncText(shared("offline", 0), running, at)).toBe("Offline since 10:42 — no member connected");
    // A member who was removed is told so, whatever the network does.
    const removed = "You were removed from this space — the copy here no longer syncs";
    expect(syncText(shared("removed", 0), running)).toBe(removed);
    expect(syncText(shared("removed", 0), { state: "failed", error: "x" })).toBe(removed);
  });

  it("gives each state a glyph and words for the sidebar, not colour alone", () => {
    expect(["up_to_date", "syncing", "offline", "removed"].map((s) => syncGlyph(s as SyncState))).toEqual(["✓", "↻", "○", "⊘"]);
    expect(syncLabel(shared("removed", 0), running)).toBe("you were removed: nothing syncs");
    expect(syncLabel(shared("offline", 0), running)).toBe("offline: no member connected");
    expect(syncLabel(shared("syncing", 2), running)).toBe("syncing with 2 members");
    expect(syncLabel(personal, running)).toBe("this device only");
  });

  it("counts peers, or says why there are none", () => {
    expect(peersText(null, running)).toBe("No peers connected");
    expect(peersText(null, { state: "failed", error: "x" })).toBe("Sharing is off");
    expect(peersText(null, { state: "starting" })).toBe("Network starting");
    const peer = (via: "direct" | "relayed") => ({ via }) as unknown as PeerInfo;
    const status = (peers: PeerInfo[], reachability: Reachability, relays: RelayInfo[] = []) =>
      ({ peers, reachability, relays }) as unknown as Status;
    expect(peersText(status([peer("direct"), peer("relayed")], "private"), running)).toBe(
      "2 peers connected (1 through a relay)",
    );
    expect(peersText(status([], "private"), running)).toBe(
      "No peers connected — behind a NAT, no relay known: add one in Settings",
    );
    expect(peersText(status([], "public"), running)).toBe("No peers connected");
  });

  it("tells a joiner what an unreachable inviter means", () => {
    expect(joinErrorText("offline", "dial failed")).toMatch(/^Could not reach the person who invited you: dial failed\. .*running and reachable/);
    expect(joinErrorText("invalid", "this invitation expired")).toBe("this invitation expired");
  });
});

describe("authors in a shared space's lists", () => {
  const member = (id: string, name: string, me = false) => ({
    member: id,
    name,
    org: "",
    role: "editor" as const,
    joined_at: 0,
    me,
    connected: false,
    via: null,
    why: null,
  });
  const detail = {
    info: shared("up_to_date", 1),
    members: [member("aaaa1111bbbb", "Grace"), member("cccc2222dddd", "Ada", true)],
    removed: [],
  };

  it("names members, says you for yourself, and falls back to the id", () => {
    expect(authorName(detail, "aaaa1111bbbb")).toBe("Grace");
    expect(authorName(detail, "cccc2222dddd")).toBe("you");
    expect(authorName(detail, "eeee3333ffff0000")).toBe("eeee3333");
    expect(authorName(null, "aaaa1111bbbb")).toBeNull();
  });
});

describe("an invitation to a space named like a known one", () => {
  const known = [
    { id: "s1", name: "Acme Payroll", personal: false },
    { id: "me", name: "Personal", personal: true },
  ] as unknown as SpaceInfo[];

  it("finds the known space whatever the case, spacing, dashes or width", () => {
    for (const name of ["Acme Payroll", "acme  payroll", "ACME-Payroll", "Ａｃｍｅ Payroll"]) {
      expect(namesakeOf(known, "s2", name)?.id).toBe("s1");
    }
  });

  it("says nothing of the same space, another name, or a name of no letters", () => {
    expect(namesakeOf(known, "s1", "Acme Payroll")).toBeNull();
    expect(namesakeOf(known, "s2", "Acme Research")).toBeNull();
    expect(namesakeOf(known, "s2", "—")).toBeNull();
  });
});
