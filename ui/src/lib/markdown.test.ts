import { describe, expect, it } from "vitest";
import { renderMarkdown } from "./markdown";

describe("renderMarkdown", () => {
  it("renders Markdown", () => {
    const html = renderMarkdown("# Hi\n\nSome **bold** and `code`.");
    expect(html).toContain("<h1>Hi</h1>");
    expect(html).toContain("<strong>bold</strong>");
    expect(html).toContain("<code>code</code>");
  });
  it("shows a single line break as one, as Obsidian and Joplin do; a blank line starts a paragraph", () => {
    const html = renderMarkdown("What we brought back:\n![[survey.pdf]]\nThe end.\n\nNext.");
    expect(html).toMatch(/back:<br>\s*<a [^>]*data-attachment="survey.pdf"[^>]*>[^<]*<\/a><br>\s*The end\.<\/p>/);
    expect(html).toContain("<p>Next.</p>");
  });
  it("removes scripts, event handlers and javascript: links", () => {
    const html = renderMarkdown(
      '<script>alert(1)</script><img src=x onerror="alert(1)"><a href="javascript:alert(1)">x</a>\n\n[y](javascript:alert(2))',
    );
    expect(html).not.toContain("<script");
    expect(html).not.toContain("onerror");
    expect(html).not.toContain("javascript:");
  });
  it("puts the href of a link in its tooltip", () => {
    const html = renderMarkdown("[docs](https://example.com/a)");
    expect(html).toContain('title="https://example.com/a"');
  });
  it("does not load remote images", () => {
    const html = renderMarkdown("![chart](https://example.com/c.png)");
    expect(html).not.toContain('src="https://example.com/c.png"');
    expect(html).toContain("data-blocked");
  });
  it("drops inline styles", () => {
    expect(renderMarkdown('<p style="color:red">x</p>')).not.toContain("style=");
  });
  it("renders [[wiki links]] as links to their target, escaped", () => {
    const html = renderMarkdown("See [[Deploy checklist]], [[Runbook#Restart|the runbook]] and [[<b>x</b>]].");
    expect(html).toContain('<a href="#" class="wikilink" data-wiki="Deploy checklist" title="Open “Deploy checklist”" rel="noopener noreferrer">Deploy checklist</a>');
    expect(html).toContain('data-wiki="Runbook"');
    expect(html).toContain(">the runbook</a>");
    expect(html).not.toContain("<b>");
    expect(renderMarkdown("`[[not a link]]`")).not.toContain("wikilink");
  });
  it("shows an embedded image attachment without a source, and other files as chips", () => {
    const html = renderMarkdown("See ![[diagram.png]] and ![[report.pdf]] and ![[Other note]].");
    expect(html).toContain('<img class="attachment" data-attachment="diagram.png" alt="diagram.png">');
    expect(html).toContain('class="attachment-chip" data-attachment="report.pdf"');
    expect(html).toContain('data-wiki="Other note"');
    expect(html).not.toContain("!<a");
  });
  it("never takes an attachment image's source from the text", () => {
    expect(renderMarkdown("![[a.png]]")).not.toContain("src=");
    // The note's own image is only an image: the shell is never asked for it by name.
    const html = renderMarkdown('<img class="attachment" data-attachment="a.png" src="data:image/png;base64,AAAA">');
    expect(html).not.toContain("data-attachment");
    expect(html).not.toContain("class=");
  });
});

// A hostile member writes the note's HTML: it must not navigate the window, nor pass for the
// renderer's embeds and links (which the preview acts on when clicked).
describe("renderMarkdown on a note that forges the renderer's elements", () => {
  const parse = (html: string): HTMLElement => {
    const div = document.createElement("div");
    div.innerHTML = html;
    return div;
  };

  it("drops an image map whose area links out of the app", () => {
    const html = renderMarkdown(
      '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" usemap="#m"><map name="m">' +
        '<area shape="rect" coords="0,0,900,600" href="https://evil.example/"></map>',
    );
    expect(html).not.toMatch(/<area|<map|usemap|evil\.example/i);
    expect(parse(html).querySelector("img")).not.toBeNull(); // the picture itself stays
  });

  it("drops usemap from any image, also with a map elsewhere in the note", () => {
    const html = renderMarkdown('<p><img src="data:image/png;base64,AAAA" usemap="#x" ismap></p>\n\n<map name="x"><area href="https://evil.example/x"></map>');
    expect(html).not.toContain("usemap");
    expect(html).not.toContain("evil.example");
  });

  it("makes a div holding the whole note no attachment trigger", () => {
    const html = renderMarkdown('<div data-attachment="q3.docx" class="attachment">The whole note</div>');
    const root = parse(html);
    expect(root.textContent).toContain("The whole note");
    expect(root.querySelector("[data-attachment]")).toBeNull();
    expect(root.querySelector(".attachment")).toBeNull();
  });

  it("makes a forged chip a plain link, and a real embed keeps its chip", () => {
    const html = renderMarkdown('<a href="#" class="attachment-chip" data-attachment="payload.odt">Q3.pdf</a> and ![[report.pdf]]');
    const root = parse(html);
    const chips = Array.from(root.querySelectorAll("a.attachment-chip[data-attachment]"));
    expect(chips.map((a) => a.getAttribute("data-attachment"))).toEqual(["report.pdf"]);
    expect(html).not.toContain("payload.odt");
    const forged = Array.from(root.querySelectorAll("a")).find((a) => a.textContent === "Q3.pdf");
    expect(forged?.hasAttribute("class")).toBe(false);
  });

  it("makes a forged wiki link a plain link", () => {
    const html = renderMarkdown('<a href="#" class="wikilink" data-wiki="Passwords">Runbook</a> [[Runbook]]');
    const links = Array.from(parse(html).querySelectorAll("a.wikilink[data-wiki]"));
    expect(links.map((a) => a.getAttribute("data-wiki"))).toEqual(["Runbook"]);
  });

  it("keeps none of the note's data attributes, ids or classes, nor the renderer's marker", () => {
    const html = renderMarkdown(
      '<span data-tacit-render="0123" data-attachment="x.pdf" data-x="1" id="app" class="modal toast">hi</span>\n\n```js\nx\n```',
    );
    expect(html).not.toMatch(/data-|id=|modal|toast/);
    expect(html).toContain('<code class="language-js">');
    // The renderer's own marker never reaches the page either.
    expect(renderMarkdown("![[a.pdf]] [[B]] ![[c.png]]")).not.toContain("data-tacit-render");
  });
});

// A member's note can be written to cost a renderer minutes or overflow its stack: each of
// these must render (the window would otherwise freeze or lose the note's view). Not timed:
// that they finish at all is the test (unbounded, the first took 28 s and the third threw).
describe("renderMarkdown on a hostile note", () => {
  it("formats a megabyte of half-open links only so far, then shows text", () => {
    const html = renderMarkdown("[a](".repeat(256 * 1024));
    expect(html).toContain('class="as-text"');
  });

  it("reads a few levels of a blockquote nested thousands deep", () => {
    const html = renderMarkdown(">".repeat(20_000) + " deep");
    expect(html).toContain("deep");
    expect((html.match(/<blockquote>/g) ?? []).length).toBe(16);
  });

  it("shows thousands of raw HTML tags as text", () => {
    const html = renderMarkdown("<div>".repeat(5_000) + "end");
    expect(html).toContain("&lt;div&gt;end");
    expect(html).not.toContain("<div>");
  });

  it("formats a large honest note whole, code fences with blank lines kept together", () => {
    const para = (i: number) => `## Part ${i}\n\nSome **bold** words and a [[Link ${i}]].\n\n- one\n- two`;
    const code = "```\nfirst\n\nafter a blank line\n```";
    const md = [code, ...Array.from({ length: 1_000 }, (_, i) => para(i))].join("\n\n");
    expect(md.length).toBeGreaterThan(64 * 1024);
    const html = renderMarkdown(md, 60_000);
    expect(html).toContain("<pre><code>first\n\nafter a blank line\n</code></pre>");
    expect(html).toContain("<h2>Part 999</h2>");
    expect(html).not.toContain('class="as-text"');
    // Past its time, the rest is shown as text, and nothing of it is lost.
    const late = renderMarkdown(md, 0);
    expect(late).toContain("too large to format quickly");
    expect(late).toContain("## Part 999");
  });
});
