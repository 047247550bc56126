import { describe, expect, it } from "vitest";
import { isWhoQuery, whoQueryFor, whoTopic } from "./palette";
import {
  DAY_MS,
  freshness,
  inboxToast,
  lastSeenText,
  percent,
  presenceText,
  reachabilityText,
  recordLine,
  roundText,
} from "./people";
import { durationText, shortDate } from "./time";

const record = { answers: 0, accepted: 0, thanks_received: 0, notes: 0, questions: 0, thanks_given: 0, last_at: 0 };

describe("people words", () => {
  it("says what a record holds, and when it holds nothing", () => {
    expect(recordLine(record)).toBe("Nothing shared here yet");
    expect(recordLine({ ...record, answers: 4, accepted: 2, notes: 1, questions: 3 })).toBe(
      "4 answers (2 accepted) · 1 note · 3 questions",
    );
  });

  it("tells how a member is connected", () => {
    expect(presenceText({ me: true, connected: true, via: null })).toBe("this device");
    expect(presenceText({ me: false, connected: true, via: "direct" })).toBe("connected directly");
    expect(presenceText({ me: false, connected: true, via: "relayed" })).toBe("connected through a relay");
    expect(presenceText({ me: false, connected: false, via: null })).toBe("not connected");
  });

  it("says when a member was last seen", () => {
    const now = Date.UTC(2026, 2, 10, 12);
    expect(lastSeenText(null, false, now)).toBe("not seen from this device yet");
    expect(lastSeenText(now - 3 * 3600_000, false, now)).toBe("last seen 3 h ago");
    expect(lastSeenText(now - 3 * 3600_000, true, now)).toBe("connected now");
  });

  it("rounds shares and lengths of time to what matters", () => {
    expect(percent(0.254)).toBe("25%");
    expect(percent(1.2)).toBe("100%");
    expect(durationText(90_000)).toBe("2 min");
    expect(durationText(3.25 * 3600_000)).toBe("3.3 h");
    expect(durationText(2 * DAY_MS)).toBe("2 days");
    expect(roundText(0)).toBe("when asked");
    expect(roundText(1)).toBe("a day later");
    expect(roundText(3)).toBe("after 3 days");
  });

  it("has words for reachability", () => {
    expect(reachabilityText("private").label).toBe("Behind a NAT or firewall");
    expect(reachabilityText("public").label).toBe("Reachable from the internet");
    expect(reachabilityText("unknown").label).toBe("Not known yet");
  });

  it("announces routed questions and answers, not followed tags or stale answers", () => {
    const item = { key: "k", question: "q", title: "How do we rotate the cert?", space: "s", answer: null, by: "b", by_name: "Bo", at: 0, reason: "", seen: false };
    expect(inboxToast({ ...item, kind: "routed" })).toEqual({ title: "Bo asked you", body: "How do we rotate the cert?" });
    expect(inboxToast({ ...item, kind: "answer" })?.title).toBe("Bo answered your question");
    expect(inboxToast({ ...item, kind: "followed" })).toBeNull();
    expect(inboxToast({ ...item, kind: "stale" })).toBeNull();
  });
});

describe("freshness", () => {
  const now = new Date(2026, 2, 20, 12).getTime();
  const names = (m: string) => (m === "bo" ? "Bo" : m);

  it("stamps a confirmed answer with who and when, newest confirmation first", () => {
    const at = new Date(2026, 2, 3, 9).getTime();
    const f = freshness(
      { created_at: at - 100 * DAY_MS, fresh_since: at, confirmed_by: [["cy", at - 50 * DAY_MS], ["bo", at]] },
      182,
      now,
      names,
    );
    expect(f.confirmed).toBe("Still right — confirmed by Bo, 3 Mar");
    expect(f.stale).toBe(false);
  });

  it("marks an answer not confirmed for longer than the space's setting", () => {
    const f = freshness({ created_at: now - 200 * DAY_MS, fresh_since: now - 200 * DAY_MS, confirmed_by: [] }, 182, now, names);
    expect(f.stale).toBe(true);
    expect(f.staleText).toBe("Possibly stale — written 200 days ago");
    expect(freshness({ created_at: now - 200 * DAY_MS, fresh_since: 0, confirmed_by: [] }, 365, now, names).stale).toBe(false);
  });

  it("writes a date of another year with its year", () => {
    expect(shortDate(new Date(2025, 11, 24).getTime(), now)).toBe("24 Dec 2025");
  });
});

describe("who queries", () => {
  it("reads the topic of who and who knows about", () => {
    expect(isWhoQuery("who #tls")).toBe(true);
    expect(whoTopic("who #tls")).toBe("#tls");
    expect(whoTopic("Who knows about certificate rotation")).toBe("certificate rotation");
    expect(whoTopic("who ")).toBe("");
    expect(whoTopic("who knows")).toBe("");
    expect(isWhoQuery("whole numbers")).toBe(false);
    expect(isWhoQuery("who")).toBe(false);
    expect(whoQueryFor(["tls", "certs"])).toBe("who #tls #certs ");
  });
});
