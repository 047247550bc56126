// Markdown to safe HTML: marked renders, DOMPurify sanitises. A single line break shows as one,
// as in Obsidian and Joplin (not joined into the paragraph's line). Links keep their href as a
// tooltip (the preview never navigates: see Markdown.svelte); remote images are not loaded
// (the CSP refuses them anyway), so they are shown as their alt text. `[[wiki links]]` become
// links carrying their target in `data-wiki` (Markdown.svelte opens the note they name).
// `![[file]]` embeds name a note's attachment: an image becomes an `<img data-attachment>`
// without a source (Markdown.svelte asks the shell for its bytes as a data URL), any other file
// a chip `<a data-attachment>` that opens it with the system's handler; `![[Note]]` (no file
// extension, or `.md`) stays a link to the note.
//
// A note comes from any member of a space, and its raw HTML must not be able to pass for what
// the renderer makes: the embeds and wiki links carry a marker that changes with every render
// ([`RENDERER_MARK`]), and after sanitising only elements with this render's marker keep
// `data-attachment`, `data-wiki` and the renderer's classes (the note's own elements keep no
// class but marked's `language-*`, and no `data-*` or `id`). Image maps are dropped: a click
// on an `<area>` would navigate the window (the shell refuses that too: `app.rs`).

import DOMPurify from "dompurify";
import { Marked, type MarkedExtension } from "marked";

const OPTIONS = { gfm: true, breaks: true, async: false } as const;

/** The attribute carrying the marker of the render that made an element (removed when
 *  sanitising). */
const RENDERER_MARK = "data-tacit-render";
/** The attributes the preview acts on when clicked or shown: only the renderer sets them. */
const RENDERER_ATTRS = ["data-attachment", "data-wiki"];
/** The classes the renderer gives its embeds and links (styled by Markdown.svelte and app.css). */
const RENDERER_CLASSES = ["wikilink", "attachment", "attachment-chip"];
/** The classes a note's own HTML keeps: marked's code fence languages. */
const NOTE_CLASS = /^language-[A-Za-z0-9_+#.-]{1,40}$/;

/** This render's marker: random, so that a note cannot write it (set by `renderMarkdown`). */
let marker = "";

function newMarker(): string {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The attribute that marks an element as the renderer's, for this render. */
function mark(): string {
  return `${RENDERER_MARK}="${marker}"`;
}
const marked = new Marked(OPTIONS);

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c);
}

/** The note a `[[target]]`, `[[target|label]]` or `[[target#heading]]` names, and its text. */
export function parseWikiLink(inner: string): { target: string; label: string } {
  const [ref, ...rest] = inner.split("|");
  const target = ref.split("#")[0].trim();
  const label = rest.length > 0 ? rest.join("|").trim() : ref.trim();
  return { target, label: label || target };
}

/** File extensions the preview shows inline as images. */
const IMAGE_EXTENSIONS = ["png", "jpg", "jpeg", "gif", "webp", "svg", "bmp", "avif"];

/** The extension of a file name, lowercased ("" when none). */
function extension(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(dot + 1).toLowerCase() : "";
}

/** Whether `![[name]]` names an image the preview shows inline. */
export function isImageName(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extension(name));
}

/** Whether `![[name]]` names a file (an attachment) rather than a note. */
export function isAttachmentName(name: string): boolean {
  const ext = extension(name);
  return ext !== "" && ext !== "md" && ext !== "markdown";
}

const extensions: MarkedExtension = {
  extensions: [
    {
      name: "embed",
      level: "inline",
      start: (src: string) => src.indexOf("![["),
      tokenizer(src: string) {
        const m = /^!\[\[([^\[\]\n]+)\]\]/.exec(src);
        if (!m) return undefined;
        const { target, label } = parseWikiLink(m[1]);
        if (target === "") return undefined;
        return { type: "embed", raw: m[0], target, label };
      },
      renderer(token) {
        const { target, label } = token as unknown as { target: string; label: string };
        const name = escapeHtml(target.split("/").pop() ?? target);
        if (!isAttachmentName(target)) {
          return `<a href="#" class="wikilink" data-wiki="${escapeHtml(target)}" ${mark()}>${escapeHtml(label)}</a>`;
        }
        if (isImageName(target)) {
          return `<img class="attachment" data-attachment="${name}" alt="${name}" ${mark()}>`;
        }
        return `<a href="#" class="attachment-chip" data-attachment="${name}" ${mark()}>${name}</a>`;
      },
    },
    {
      name: "wikilink",
      level: "inline",
      start: (src: string) => src.indexOf("[["),
      tokenizer(src: string) {
        const m = /^\[\[([^\[\]\n]+)\]\]/.exec(src);
        if (!m) return undefined;
        const { target, label } = parseWikiLink(m[1]);
        if (target === "") return undefined;
        return { type: "wikilink", raw: m[0], target, label };
      },
      renderer(token) {
        const { target, label } = token as unknown as { target: string; label: string };
        return `<a href="#" class="wikilink" data-wiki="${escapeHtml(target)}" ${mark()}>${escapeHtml(label)}</a>`;
      },
    },
  ],
};
marked.use(extensions);
/** The same, with raw HTML shown as text (see [`HTML_TAGS_MAX`]). */
const markedNoHtml = new Marked(OPTIONS);
markedNoHtml.use(extensions, { renderer: { html: ({ text }) => escapeHtml(text) } });

let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    // Only the renderer's own embeds and links keep the attributes and classes it acts on.
    const ours = marker !== "" && node.getAttribute(RENDERER_MARK) === marker;
    node.removeAttribute(RENDERER_MARK);
    if (!ours) for (const attr of RENDERER_ATTRS) node.removeAttribute(attr);
    const classes = node.getAttribute("class");
    if (classes !== null) {
      const kept = classes
        .split(/\s+/)
        .filter((c) => (ours ? RENDERER_CLASSES.includes(c) : NOTE_CLASS.test(c)));
      if (kept.length > 0) node.setAttribute("class", kept.join(" "));
      else node.removeAttribute("class");
    }
    if (node.tagName === "A") {
      const href = node.getAttribute("href");
      const wiki = node.getAttribute("data-wiki");
      const file = node.getAttribute("data-attachment");
      if (file) node.setAttribute("title", `Open “${file}”`);
      else if (wiki) node.setAttribute("title", `Open “${wiki}”`);
      else if (href) node.setAttribute("title", href);
      node.setAttribute("rel", "noopener noreferrer");
    }
    if (node.tagName === "IMG" && node.hasAttribute("data-attachment")) {
      node.removeAttribute("src"); // its bytes come from the shell, never from the text
    } else if (node.tagName === "IMG") {
      const src = node.getAttribute("src") ?? "";
      if (!src.startsWith("data:")) {
        node.removeAttribute("src");
        node.setAttribute("data-blocked", src);
      }
    }
  });
}

// A note comes from any member of a space, and a hostile one can write Markdown that takes a
// renderer seconds or minutes, or overflows its stack (measured with marked 18 and DOMPurify:
// 400 KB of `[a](` took 28 s, 100,000 nested `<div>` 67 s, a line of 16,000 `>` threw).
// Opening such a note must not freeze the window, so the text is defused and the work bounded:

/** Blockquote markers read at the start of a line: marked recurses once per level. */
const QUOTE_DEPTH_MAX = 16;
/** Past this many raw HTML tags, a note's raw HTML is shown as text (sanitising deeply nested
 *  HTML costs more than quadratic time). */
const HTML_TAGS_MAX = 1_000;
/** A note up to this size is rendered whole (about 1 s at worst, measured). */
const WHOLE_MAX = 64 * 1024;
/** A larger one is rendered in runs of blocks (split at blank lines outside code fences) of
 *  about this size; a single block larger than this is shown as text. */
const RUN_MAX = 16 * 1024;
/** A larger note stops being formatted after this long; the rest is shown as text. */
const BUDGET_MS = 1_500;

const SANITISE = {
  USE_PROFILES: { html: true },
  // `area` and `map` (with `usemap`): an image map's areas are links that a click follows.
  FORBID_TAGS: ["style", "form", "button", "textarea", "select", "iframe", "area", "map"],
  // `id`: the app's own elements are found by id; `popover*`: they would open the app's.
  FORBID_ATTR: ["style", "usemap", "id", "popover", "popovertarget", "popovertargetaction"],
  // No `data-*` from the note; the renderer's own are let through to the hook, which keeps them
  // only on the elements this render made.
  ALLOW_DATA_ATTR: false,
  ADD_ATTR: [RENDERER_MARK, ...RENDERER_ATTRS],
};

/** `md` as sanitised HTML, safe for `{@html}`, in bounded time (see above); `budgetMs` for
 *  tests. */
export function renderMarkdown(md: string, budgetMs = BUDGET_MS): string {
  hook();
  marker = newMarker();
  try {
    return render(md, budgetMs);
  } finally {
    marker = "";
  }
}

function render(md: string, budgetMs: number): string {
  const src = defuse(md);
  const parser = tooManyTags(src) ? markedNoHtml : marked;
  const formatted = (text: string): string => {
    try {
      return DOMPurify.sanitize(parser.parse(text) as string, SANITISE);
    } catch {
      return asText(text); // the renderer failed on it
    }
  };
  if (src.length <= WHOLE_MAX) return formatted(src);
  const started = performance.now();
  const out: string[] = [];
  const runs = splitRuns(src);
  for (let i = 0; i < runs.length; i++) {
    if (performance.now() - started > budgetMs) {
      out.push('<p class="as-text-note">The rest of this note is too large to format quickly; it is shown as text.</p>');
      out.push(asText(runs.slice(i).join("\n\n")));
      break;
    }
    out.push(runs[i].length > RUN_MAX ? asText(runs[i]) : formatted(runs[i]));
  }
  return out.join("\n");
}

/** Markdown without blockquotes nested past [`QUOTE_DEPTH_MAX`]. */
function defuse(md: string): string {
  const deep = new RegExp(`^((?:[ \\t]*>){${QUOTE_DEPTH_MAX}})(?:[ \\t]*>)+`, "gm");
  return md.replace(deep, "$1");
}

/** Whether `md` holds more than [`HTML_TAGS_MAX`] raw HTML tags. */
function tooManyTags(md: string): boolean {
  let tags = 0;
  const tag = /<[A-Za-z/!?]/g;
  while (tag.exec(md) !== null) {
    if (++tags > HTML_TAGS_MAX) return true;
  }
  return false;
}

/** Blocks of `md` (split at blank lines outside code fences), joined into runs of about
 *  [`RUN_MAX`]. */
function splitRuns(md: string): string[] {
  const runs: string[] = [];
  let run: string[] = [];
  let size = 0;
  let block: string[] = [];
  let fence: string | null = null;
  const endBlock = (): void => {
    if (block.length === 0) return;
    const text = block.join("\n");
    block = [];
    if (size > 0 && size + text.length > RUN_MAX) {
      runs.push(run.join("\n\n"));
      run = [];
      size = 0;
    }
    run.push(text);
    size += text.length + 2;
  };
  for (const line of md.split("\n")) {
    const open = /^ {0,3}(`{3,}|~{3,})/.exec(line);
    if (fence === null && open) fence = open[1][0];
    else if (fence !== null && open && open[1][0] === fence) fence = null;
    if (fence === null && line.trim() === "") endBlock();
    else block.push(line);
  }
  endBlock();
  if (run.length > 0) runs.push(run.join("\n\n"));
  return runs;
}

/** Text shown as it is, escaped. */
function asText(text: string): string {
  return `<pre class="as-text">${escapeHtml(text)}</pre>`;
}
