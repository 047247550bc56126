// Markdown to safe HTML: marked renders, DOMPurify sanitises. Links keep their href as a
// tooltip (the preview never navigates: see Markdown.svelte); remote images are not loaded
// (the CSP refuses them anyway), so they are shown as their alt text.

import DOMPurify from "dompurify";
import { Marked } from "marked";

const marked = new Marked({ gfm: true, breaks: false, async: false });

let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
      const href = node.getAttribute("href");
      if (href) node.setAttribute("title", href);
      node.setAttribute("rel", "noopener noreferrer");
    }
    if (node.tagName === "IMG") {
      const src = node.getAttribute("src") ?? "";
      if (!src.startsWith("data:")) {
        node.removeAttribute("src");
        node.setAttribute("data-blocked", src);
      }
    }
  });
}

/** `md` as sanitised HTML, safe for `{@html}`. */
export function renderMarkdown(md: string): string {
  hook();
  const html = marked.parse(md) as string;
  return DOMPurify.sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["style", "form", "button", "textarea", "select", "iframe"],
    FORBID_ATTR: ["style"],
  });
}
