import { mount } from "svelte";
import "./app.css";
import App from "./App.svelte";
import { mark } from "./lib/api";

async function start(): Promise<void> {
  mark("script runs");
  // A stand-in node for working on the UI in a browser; never part of a production build.
  if (import.meta.env.DEV && import.meta.env.VITE_TACIT_MOCK === "1") {
    const { installMock } = await import("./lib/mock");
    installMock();
  }
  const target = document.getElementById("app");
  if (!target) return;
  if (location.hash === "#capture") {
    // The quick capture window: its own small page, not the app.
    const { default: Capture } = await import("./components/Capture.svelte");
    mount(Capture, { target });
    return;
  }
  mount(App, { target });
  mark("mounted");
}

void start();
