// Once loaded, ask to be shown (WebKitGTK gives a hidden window no animation frames), then, two
// frames later, when the page is on screen, report the first paint.
const invoke = (cmd) => window.__TAURI_INTERNALS__.invoke(cmd);
window.addEventListener('load', async () => {
  await invoke('show');
  requestAnimationFrame(() => requestAnimationFrame(() => invoke('ready')));
});
