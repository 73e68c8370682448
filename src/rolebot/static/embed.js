/* rolebot chat widget: <script src="https://HOST/embed.js" data-title="…" data-color="#…"
   data-greeting="…" data-position="right"></script> adds a floating button that opens the chat. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__rolebotWidget) return;
  window.__rolebotWidget = true;
  var base = new URL(script.src, window.location.href).origin;
  var title = script.getAttribute("data-title") || "Ask about this article";
  var color = script.getAttribute("data-color") || "#2563eb";
  if (!/^#[0-9a-fA-F]{3,8}$/.test(color)) color = "#2563eb";
  var greeting = script.getAttribute("data-greeting") || "";
  var side = script.getAttribute("data-position") === "left" ? "left" : "right";

  var css = [
    ".rolebot-button{position:fixed;bottom:20px;" + side + ":20px;z-index:2147483000;width:56px;height:56px;",
    "border-radius:50%;border:none;background:" + color + ";color:#fff;cursor:pointer;display:flex;align-items:center;justify-content:center;",
    "box-shadow:0 4px 14px rgba(0,0,0,.25)}",
    ".rolebot-button:focus-visible{outline:3px solid #000;outline-offset:2px}",
    ".rolebot-panel{position:fixed;bottom:88px;" + side + ":20px;z-index:2147483001;width:400px;height:600px;",
    "max-height:calc(100vh - 108px);background:#fff;border-radius:12px;overflow:hidden;display:none;",
    "flex-direction:column;box-shadow:0 8px 30px rgba(0,0,0,.3);font-family:system-ui,sans-serif}",
    ".rolebot-panel.open{display:flex}",
    ".rolebot-head{display:flex;align-items:center;gap:8px;padding:10px 12px;background:" + color + ";color:#fff}",
    ".rolebot-head strong{flex:1;font-size:15px}",
    ".rolebot-head small{display:block;font-weight:normal;opacity:.9}",
    ".rolebot-close{background:none;border:none;color:#fff;font-size:24px;line-height:1;cursor:pointer}",
    ".rolebot-panel iframe{flex:1;border:0;width:100%}",
    "@media (max-width:480px){.rolebot-panel{left:0;right:0;bottom:0;top:0;width:100%;height:100%;",
    "max-height:none;border-radius:0}}"
  ].join("");
  var style = document.createElement("style");
  style.textContent = css;
  document.head.appendChild(style);

  var button = document.createElement("button");
  button.className = "rolebot-button";
  button.type = "button";
  button.setAttribute("aria-label", title);
  button.setAttribute("aria-expanded", "false");
  // An inline SVG, not an emoji: emoji fonts are missing on many machines.
  button.innerHTML = '<svg width="28" height="28" viewBox="0 0 24 24" fill="none" stroke="currentColor" ' +
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true">' +
    '<path d="M21 15a2 2 0 0 1-2 2H7l-4 4V5a2 2 0 0 1 2-2h14a2 2 0 0 1 2 2z"/></svg>';

  var panel = document.createElement("div");
  panel.className = "rolebot-panel";
  panel.setAttribute("role", "dialog");
  panel.setAttribute("aria-label", title);
  var head = document.createElement("div");
  head.className = "rolebot-head";
  var label = document.createElement("strong");
  label.textContent = title;
  if (greeting) {
    var sub = document.createElement("small");
    sub.textContent = greeting;
    label.appendChild(sub);
  }
  var close = document.createElement("button");
  close.className = "rolebot-close";
  close.type = "button";
  close.setAttribute("aria-label", "Close chat");
  close.textContent = "×";
  head.appendChild(label);
  head.appendChild(close);
  panel.appendChild(head);

  var frame = null;  // created on first open and kept, so the conversation survives closing
  function open() {
    if (!frame) {
      frame = document.createElement("iframe");
      frame.id = "rolebot-frame";
      frame.title = title;
      frame.src = base + "/chat/?compact=1";
      panel.appendChild(frame);
    }
    panel.classList.add("open");
    button.setAttribute("aria-expanded", "true");
  }
  function hide() {
    panel.classList.remove("open");
    button.setAttribute("aria-expanded", "false");
    button.focus();
  }
  button.addEventListener("click", function () { panel.classList.contains("open") ? hide() : open(); });
  close.addEventListener("click", hide);
  document.addEventListener("keydown", function (e) {
    if (e.key === "Escape" && panel.classList.contains("open")) hide();
  });
  window.addEventListener("message", function (e) {
    if (e.origin === base && e.data === "rolebot:close") hide();
  });
  function mount() {
    document.body.appendChild(panel);
    document.body.appendChild(button);
  }
  // A <script> in <head> runs before <body> exists: wait for it.
  if (document.body) mount(); else document.addEventListener("DOMContentLoaded", mount);
})();
