"use strict";
// wschat browser client. Speaks the JSON subprotocol; renders all user text with textContent
// (never as HTML); reconnects with exponential backoff and says so.
(() => {
  const PROTOCOL = "wschat.v1.json";
  const GROUP_WINDOW_MS = 3 * 60 * 1000;
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 15000;
  const SEEN_LIMIT = 600;

  const $ = (id) => document.getElementById(id);
  const ui = {
    messages: $("messages"),
    empty: $("empty"),
    input: $("input"),
    composer: $("composer"),
    users: $("users"),
    count: $("count"),
    sidebar: document.querySelector(".sidebar"),
    me: $("me"),
    meName: $("me-name"),
    meAvatar: $("me-avatar"),
    status: $("status"),
    statusText: $("status-text"),
    retry: $("retry"),
    jump: $("jump"),
  };

  const state = {
    ws: null,
    me: null,
    users: [],
    attempt: 0,
    retryTimer: null,
    countdownTimer: null,
    welcomed: false,
    everWelcomed: false,
    outageShown: false,
    historyBuffer: [],
    seen: new Map(), // seq -> "from\0text" of messages already shown
    last: null, // { from, ts, kind } of the last chat line, for grouping
    lastDay: null,
    unread: 0,
    unseenBelow: 0,
    sent: [],
    sentIndex: -1,
  };

  // ----- helpers -------------------------------------------------------------------------

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function hue(name) {
    let h = 0;
    for (const c of name.toLowerCase()) h = (h * 31 + c.codePointAt(0)) >>> 0;
    return h % 360;
  }

  function avatar(name, small) {
    const node = el("span", small ? "avatar small" : "avatar");
    const guest = /^user(\d+)$/i.exec(name);
    node.textContent = guest ? guest[1].slice(-3) : name.slice(0, 1).toUpperCase();
    const h = hue(name);
    node.style.background = `linear-gradient(135deg, hsl(${h} 70% 56%), hsl(${(h + 35) % 360} 70% 46%))`;
    node.setAttribute("aria-hidden", "true");
    return node;
  }

  function timeLabel(ts) {
    return new Date(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function dayLabel(ts) {
    const d = new Date(ts);
    const today = new Date();
    const yesterday = new Date(Date.now() - 86400000);
    if (d.toDateString() === today.toDateString()) return "Today";
    if (d.toDateString() === yesterday.toDateString()) return "Yesterday";
    return d.toLocaleDateString([], { weekday: "long", month: "short", day: "numeric" });
  }

  function timeNode(ts) {
    const node = el("time", "time", timeLabel(ts));
    node.dateTime = new Date(ts).toISOString();
    node.title = new Date(ts).toLocaleString();
    return node;
  }

  // Text with web links made clickable; everything goes in as text nodes.
  const LINK = /\bhttps?:\/\/[^\s<>"']*[^\s<>"'.,;:!?)\]}]/g;
  function renderText(parent, text) {
    let at = 0;
    for (const match of text.matchAll(LINK)) {
      parent.append(text.slice(at, match.index));
      const a = el("a", "", match[0]);
      a.href = match[0];
      a.target = "_blank";
      a.rel = "noopener noreferrer nofollow";
      parent.append(a);
      at = match.index + match[0].length;
    }
    parent.append(text.slice(at));
  }

  function mentionsMe(text) {
    if (!state.me) return false;
    const escaped = state.me.replace(/[-_]/g, "\\$&");
    return new RegExp(`(^|[^A-Za-z0-9_-])@?${escaped}($|[^A-Za-z0-9_-])`, "i").test(text);
  }

  // ----- the message list ----------------------------------------------------------------

  function nearBottom() {
    const m = ui.messages;
    return m.scrollHeight - m.scrollTop - m.clientHeight < 80;
  }

  function append(node, ts, counts) {
    if (ui.empty) {
      ui.empty.remove();
      ui.empty = null;
    }
    const stick = nearBottom();
    const day = new Date(ts).toDateString();
    if (day !== state.lastDay) {
      state.lastDay = day;
      ui.messages.append(el("div", "day", dayLabel(ts)));
      state.last = null;
    }
    ui.messages.append(node);
    if (stick) {
      ui.messages.scrollTop = ui.messages.scrollHeight;
    } else if (counts) {
      state.unseenBelow += 1;
      ui.jump.textContent = `${state.unseenBelow} new message${state.unseenBelow === 1 ? "" : "s"} ↓`;
      ui.jump.hidden = false;
    }
    if (counts && document.hidden) {
      state.unread += 1;
      document.title = `(${state.unread}) wschat`;
    }
  }

  function nameButton(name) {
    const button = el("button", "name", name);
    button.type = "button";
    button.title = `Whisper to ${name}`;
    button.style.color = `hsl(${hue(name)} 60% 48%)`;
    button.addEventListener("click", () => startWhisper(name));
    return button;
  }

  function chatLine(msg) {
    const whisper = msg.type === "whisper";
    const mine = msg.from === state.me;
    const last = state.last;
    const grouped =
      !whisper && last && last.kind === "message" && last.from === msg.from && msg.ts - last.ts < GROUP_WINDOW_MS;
    const row = el("div", "msg " + msg.type);
    if (mine) row.classList.add("mine");
    if (grouped) row.classList.add("cont");
    if (!mine && !whisper && mentionsMe(msg.text)) row.classList.add("mention");
    if (msg.seq !== undefined) row.dataset.seq = String(msg.seq);
    row.dataset.from = msg.from;

    row.append(avatar(msg.from));
    const body = el("div", "body");
    const meta = el("div", "meta");
    meta.append(nameButton(msg.from));
    if (whisper) {
      meta.append(el("span", "arrow", "→"));
      meta.append(nameButton(msg.to));
      const badge = el("span", "badge");
      const lock = document.createElementNS("http://www.w3.org/2000/svg", "svg");
      lock.setAttribute("viewBox", "0 0 24 24");
      const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
      path.setAttribute("d", "M6 10V8a6 6 0 1 1 12 0v2h1a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H5a1 1 0 0 1-1-1V11a1 1 0 0 1 1-1zm2 0h8V8a4 4 0 1 0-8 0z");
      lock.append(path);
      badge.append(lock, "private");
      meta.append(badge);
    }
    meta.append(timeNode(msg.ts));
    body.append(meta);
    const text = el("div", "text");
    renderText(text, msg.text);
    body.append(text);
    row.append(body);

    append(row, msg.ts, !mine);
    state.last = whisper ? null : { kind: "message", from: msg.from, ts: msg.ts };
  }

  function sysLine(kind, text, ts) {
    const row = el("div", "sys " + kind);
    row.append(el("span", "sys-text", text));
    if (ts) row.append(timeNode(ts));
    append(row, ts || Date.now(), false);
    state.last = null;
  }

  // ----- presence ------------------------------------------------------------------------

  function byName(a, b) {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }

  function setUsers(names) {
    state.users = [...names].sort(byName);
    renderUsers();
  }

  function renderUsers() {
    ui.users.replaceChildren();
    for (const name of state.users) {
      const li = el("li");
      li.dataset.name = name;
      li.title = name === state.me ? "You" : `Whisper to ${name}`;
      if (name === state.me) li.classList.add("me-row");
      li.append(avatar(name, true), el("span", "who", name));
      li.addEventListener("click", () => (name === state.me ? startRename() : startWhisper(name)));
      ui.users.append(li);
    }
    ui.count.textContent = String(state.users.length);
  }

  function setMe(name) {
    state.me = name;
    ui.meName.textContent = name;
    ui.meAvatar.replaceWith((ui.meAvatar = avatar(name, true)));
    ui.input.placeholder = `Message everyone as ${name}`;
    renderUsers();
  }

  // ----- status and reconnecting ----------------------------------------------------------

  function setStatus(kind, parts) {
    ui.status.dataset.state = kind;
    ui.statusText.replaceChildren(...parts);
    ui.retry.hidden = kind !== "offline";
    ui.composer.classList.toggle("offline", kind !== "online");
    ui.sidebar.classList.toggle("stale", kind !== "online");
  }

  function bold(text) {
    return el("b", "", text);
  }

  function scheduleReconnect() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdownTimer);
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** state.attempt);
    const delay = Math.round(base * (0.8 + Math.random() * 0.4));
    state.attempt += 1;
    const due = Date.now() + delay;
    const tick = () => {
      const left = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      setStatus("offline", [
        "Connection lost — reconnecting in ",
        bold(`${left} s`),
        state.attempt > 1 ? ` (attempt ${state.attempt})` : "",
      ]);
    };
    tick();
    state.countdownTimer = setInterval(tick, 250);
    state.retryTimer = setTimeout(connect, delay);
  }

  function connect() {
    clearTimeout(state.retryTimer);
    clearInterval(state.countdownTimer);
    if (state.ws) return;
    setStatus("connecting", [state.everWelcomed ? "Reconnecting…" : "Connecting…"]);
    const url = `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/chat`;
    let ws;
    try {
      ws = new WebSocket(url, PROTOCOL);
    } catch (error) {
      scheduleReconnect();
      return;
    }
    state.ws = ws;
    state.welcomed = false;
    state.historyBuffer = [];
    ws.onmessage = (event) => {
      if (state.ws !== ws) return;
      let msg;
      try {
        msg = JSON.parse(event.data);
      } catch (error) {
        return;
      }
      if (msg && typeof msg === "object") handle(msg);
    };
    ws.onclose = (event) => {
      if (state.ws !== ws) return;
      state.ws = null;
      disconnected(event);
    };
  }

  function disconnected(event) {
    if (state.welcomed && !state.outageShown) {
      const why = event.reason ? `${event.reason} (${event.code})` : `code ${event.code}`;
      sysLine("connection", `Disconnected: ${why}. Reconnecting…`, Date.now());
      state.outageShown = true;
    }
    state.welcomed = false;
    scheduleReconnect();
  }

  function send(payload) {
    if (!state.ws || state.ws.readyState !== WebSocket.OPEN || !state.welcomed) return false;
    state.ws.send(JSON.stringify(payload));
    return true;
  }

  // ----- protocol ------------------------------------------------------------------------

  function remember(msg) {
    if (msg.seq === undefined) return;
    state.seen.set(msg.seq, `${msg.from}\u0000${msg.text}`);
    if (state.seen.size > SEEN_LIMIT) state.seen.delete(state.seen.keys().next().value);
  }

  function alreadyShown(msg) {
    return msg.seq !== undefined && state.seen.get(msg.seq) === `${msg.from}\u0000${msg.text}`;
  }

  function welcome(msg) {
    const reconnected = state.everWelcomed;
    // History arrives before the greeting; after a reconnect, skip what is already on screen.
    for (const old of state.historyBuffer) {
      if (!alreadyShown(old)) {
        chatLine(old);
        remember(old);
      }
    }
    state.historyBuffer = [];
    state.welcomed = true;
    state.everWelcomed = true;
    state.outageShown = false;
    state.attempt = 0;
    setMe(msg.you);
    setUsers(msg.users || []);
    setStatus("online", ["Connected as ", bold(msg.you)]);
    sysLine("system", reconnected ? `Reconnected. ${msg.text}` : msg.text, msg.ts);
    let wanted = null;
    try {
      wanted = sessionStorage.getItem("wschat.nick");
    } catch (error) {
      wanted = null;
    }
    if (wanted && wanted !== msg.you) send({ type: "command", text: `/nick ${wanted}` });
  }

  function handle(msg) {
    if (typeof msg.text !== "string") msg.text = "";
    if (typeof msg.ts !== "number") msg.ts = Date.now();
    if (!state.welcomed) {
      if (msg.type === "system" && typeof msg.you === "string") welcome(msg);
      else if (msg.type === "message") state.historyBuffer.push(msg);
      return;
    }
    switch (msg.type) {
      case "message":
      case "whisper":
        chatLine(msg);
        remember(msg);
        break;
      case "join":
        if (!state.users.includes(msg.from)) setUsers([...state.users, msg.from]);
        sysLine("join", msg.text, msg.ts);
        break;
      case "leave":
        setUsers(state.users.filter((name) => name !== msg.from));
        sysLine("leave", msg.text, msg.ts);
        break;
      case "nick":
        setUsers(state.users.map((name) => (name === msg.from ? msg.to : name)));
        if (msg.from === state.me) {
          setMe(msg.to);
          setStatus("online", ["Connected as ", bold(msg.to)]);
          try {
            sessionStorage.setItem("wschat.nick", msg.to);
          } catch (error) {
            // Storage may be disabled; the name just won't survive a reconnect.
          }
        }
        sysLine("nick", msg.text, msg.ts);
        break;
      case "users":
        if (Array.isArray(msg.users)) setUsers(msg.users);
        sysLine("users", msg.text, msg.ts);
        break;
      case "error":
        sysLine("error", msg.text, msg.ts);
        break;
      default:
        sysLine("system", msg.text, msg.ts);
    }
  }

  // ----- composing -----------------------------------------------------------------------

  function submit() {
    const raw = ui.input.value;
    const text = raw.replace(/\s+$/, "");
    if (!text.trim()) return;
    let payload;
    if (text.startsWith("//")) payload = { type: "message", text: text.slice(1) };
    else if (text.startsWith("/")) payload = { type: "command", text };
    else payload = { type: "message", text };
    if (!send(payload)) {
      ui.status.animate([{ transform: "scale(1)" }, { transform: "scale(1.08)" }, { transform: "scale(1)" }], 300);
      return;
    }
    state.sent.push(text);
    if (state.sent.length > 50) state.sent.shift();
    state.sentIndex = -1;
    ui.input.value = "";
    autosize();
  }

  function autosize() {
    ui.input.style.height = "auto";
    ui.input.style.height = `${Math.min(ui.input.scrollHeight, 160)}px`;
  }

  function startWhisper(name) {
    if (name === state.me) return startRename();
    ui.input.value = `/whisper ${name} `;
    ui.input.focus();
    autosize();
  }

  function startRename() {
    ui.input.value = "/nick ";
    ui.input.focus();
  }

  function completeName() {
    const value = ui.input.value;
    const caret = ui.input.selectionStart;
    const before = value.slice(0, caret);
    const word = /[A-Za-z0-9_-]+$/.exec(before);
    if (!word) return false;
    const prefix = word[0].toLowerCase();
    const match = state.users.find((name) => name !== state.me && name.toLowerCase().startsWith(prefix));
    if (!match) return false;
    const start = caret - word[0].length;
    const suffix = start === 0 ? ": " : " ";
    ui.input.value = value.slice(0, start) + match + suffix + value.slice(caret);
    const at = start + match.length + suffix.length;
    ui.input.setSelectionRange(at, at);
    return true;
  }

  ui.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });

  ui.input.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    } else if (event.key === "Tab" && !event.shiftKey) {
      if (completeName()) event.preventDefault();
    } else if (event.key === "ArrowUp" && (ui.input.value === "" || state.sentIndex >= 0) && state.sent.length) {
      event.preventDefault();
      state.sentIndex = state.sentIndex < 0 ? state.sent.length - 1 : Math.max(0, state.sentIndex - 1);
      ui.input.value = state.sent[state.sentIndex];
    } else if (event.key === "ArrowDown" && state.sentIndex >= 0) {
      event.preventDefault();
      state.sentIndex += 1;
      ui.input.value = state.sentIndex < state.sent.length ? state.sent[state.sentIndex] : "";
      if (state.sentIndex >= state.sent.length) state.sentIndex = -1;
    }
  });
  ui.input.addEventListener("input", autosize);

  ui.me.addEventListener("click", startRename);
  ui.retry.addEventListener("click", () => {
    state.attempt = 0;
    connect();
  });
  ui.jump.addEventListener("click", () => {
    ui.messages.scrollTop = ui.messages.scrollHeight;
  });
  ui.messages.addEventListener("scroll", () => {
    if (nearBottom()) {
      state.unseenBelow = 0;
      ui.jump.hidden = true;
    }
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) {
      state.unread = 0;
      document.title = "wschat";
    }
  });
  window.addEventListener("online", () => {
    if (!state.ws) connect();
  });

  connect();
  ui.input.focus();
})();
