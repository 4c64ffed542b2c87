// Trợ lý số on a commune website: <script src="https://<bot address>/embed.js" defer></script>
// adds a round button in the corner that opens the chat (the bot's own page) in a frame.
(function () {
  "use strict";
  const T = __TEXTS__;
  const script = document.currentScript;
  const origin = new URL(script ? script.src : "/", location.href).origin;
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = "\uD83D\uDCAC " + T.open;
  button.setAttribute("aria-expanded", "false");
  button.style.cssText = "position:fixed;right:16px;bottom:16px;z-index:2147483646;" +
    "font:600 17px system-ui,sans-serif;color:#fff;background:#0a5bd3;border:0;" +
    "border-radius:28px;padding:14px 20px;box-shadow:0 4px 14px rgba(0,0,0,.25);cursor:pointer";
  let frame = null;
  button.addEventListener("click", function () {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.src = origin + "/";
      frame.title = T.title;
      frame.style.cssText = "position:fixed;right:16px;bottom:84px;z-index:2147483647;" +
        "width:min(400px,calc(100vw - 32px));height:min(640px,calc(100vh - 110px));" +
        "border:0;border-radius:14px;background:#fff;box-shadow:0 6px 24px rgba(0,0,0,.3)";
      document.body.appendChild(frame);
    } else {
      frame.hidden = !frame.hidden;
    }
    const open = !frame.hidden;
    button.setAttribute("aria-expanded", open ? "true" : "false");
    button.textContent = open ? "\u2715 " + T.close : "\uD83D\uDCAC " + T.open;
  });
  document.body.appendChild(button);
})();
