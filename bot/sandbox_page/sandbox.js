// The LearnLoop sandbox page: a small Slack client for the local emulator.
// Everything it shows comes from /api/state (polled); everything it does is one POST to the
// sandbox's API, which acts in the emulator as a person would act in Slack.
"use strict";

const POLL_MS = 800;
const EMOJI = {
  bar_chart: "📊", books: "📚", bulb: "💡", eyes: "👀", hourglass_flowing_sand: "⏳",
  link: "🔗", mag: "🔍", ok_hand: "👌", package: "📦", raising_hand: "🙋", seedling: "🌱",
  sos: "🆘", warning: "⚠️", wave: "👋", white_check_mark: "✅", "+1": "👍", thumbsup: "👍",
  tada: "🎉", heart: "❤️", raised_hands: "🙌", pray: "🙏", rocket: "🚀", thinking_face: "🤔",
  question: "❓", x: "❌", star: "⭐", memo: "📝", calendar: "📅", clock1: "🕐",
};
const PICKER = ["bulb", "white_check_mark", "+1", "eyes", "tada", "heart", "books"];

const page = {
  me: localStorage.getItem("learnloop-sandbox-as") || "",  // "" lets the sandbox choose
  open: "",            // a conversation id, "home", or "" for the sandbox's choice (#general)
  thread: null,        // ts of the open thread's root
  version: "",
  state: null,
  seen: {},            // "person conversation" -> ts of the latest message they saw
  loadedAt: Date.now() / 1000,
  timer: 0,
  polling: null,       // the poll under way, if any
  again: false,
};
const $ = (id) => document.getElementById(id);

// -- talking to the sandbox ------------------------------------------------------------------

async function post(path, body) {
  say("");
  let answer;
  try {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ as: page.me, ...body }),
    });
    answer = await response.json();
  } catch (error) {
    answer = { ok: false, error: "The sandbox did not answer: is it still running?" };
  }
  if (!answer.ok) say(answer.error, true);
  else if (answer.notice) say(answer.notice, true);
  await refresh();
  return answer.ok;
}

// One poll at a time: a refresh asked for during one runs again right after it.
function refresh() {
  clearTimeout(page.timer);
  if (page.polling) {
    page.again = true;
    return page.polling;
  }
  page.polling = (async () => {
    do {
      page.again = false;
      await fetchState();
    } while (page.again);
    page.polling = null;
    page.timer = setTimeout(refresh, POLL_MS);
  })();
  return page.polling;
}

async function fetchState() {
  const asked = { as: page.me, open: page.open, since: page.version };
  try {
    const response = await fetch("/api/state?" + new URLSearchParams(asked));
    const state = await response.json();
    const current = asked.as === page.me && asked.open === page.open;
    if (!current) {
      // The person or the conversation changed meanwhile: this answer is about another view.
    } else if (response.ok && state.users) {
      page.version = state.version;
      render(state);
    } else if (!response.ok) {
      page.open = "";          // gone, or not visible to this person: back to #general
      page.version = "";
    }
  } catch (error) {
    say("Lost the sandbox: retrying…", true);
  }
}

function say(text, important = false) {
  const notice = $("notice");
  notice.textContent = text || "";
  notice.classList.toggle("important", Boolean(text) && important);
}

// -- the page --------------------------------------------------------------------------------

function render(state) {
  page.me = state.me;
  page.open = state.open;
  page.state = state;
  localStorage.setItem("learnloop-sandbox-as", page.me);
  page.names = Object.fromEntries(state.users.map((u) => [u.id, u]));
  page.channelNames = Object.fromEntries(state.channels.map((c) => [c.id, c.name]));
  if (state.latest[page.open]) page.seen[page.me + " " + page.open] = state.latest[page.open];
  $("team").textContent = state.team;
  renderPeople(state);
  renderSidebar(state);
  if (page.open === "home") renderHome(state.home);
  else renderConversation(state);
}

function renderPeople(state) {
  const select = $("acting");
  const people = state.users.filter((u) => !u.is_bot);
  if (select.options.length !== people.length) {
    select.replaceChildren(...people.map((u) => new Option(`${u.real_name || u.name} (@${u.name})`, u.id)));
  }
  select.value = page.me;
}

function renderSidebar(state) {
  const list = $("channels");
  const items = state.channels.map((c) => {
    const li = document.createElement("li");
    li.append(conversationButton(c.id, (c.is_private ? "🔒 " : "# ") + c.name, state));
    return li;
  });
  list.replaceChildren(...items);
  for (const fixed of [$("open-home"), $("open-dm")]) {
    const id = fixed.dataset.open === "dm" ? state.dm : "home";
    fixed.dataset.id = id;
    markConversation(fixed, id, state);
  }
}

function conversationButton(id, label, state) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "conversation";
  button.dataset.id = id;
  button.append(label);
  markConversation(button, id, state);
  button.addEventListener("click", () => openConversation(id));
  return button;
}

function markConversation(button, id, state) {
  const seen = page.seen[page.me + " " + id] ?? page.loadedAt;
  const unread = id !== page.open && Number(state.latest[id] || 0) > Number(seen);
  if (id === page.open) button.setAttribute("aria-current", "page");
  else button.removeAttribute("aria-current");
  button.classList.toggle("unread", Boolean(unread));
  button.querySelector(".visually-hidden")?.remove();
  if (unread) button.append(hidden(" (new messages)"));
}

function openConversation(id) {
  if (id === page.open) return;
  page.open = id;
  page.thread = null;
  page.version = "";
  $("thread").hidden = true;
  $("messages").replaceChildren();
  if (id === "home") post("/api/home", {});
  else refresh();
}

function renderHome(view) {
  $("title").textContent = "LearnLoop · Home";
  $("messages").hidden = true;
  $("composer").hidden = true;
  $("join").hidden = true;
  const home = $("home");
  home.hidden = false;
  if (!view) {
    home.replaceChildren(paragraph("LearnLoop is drawing your Home tab…"));
    return;
  }
  home.replaceChildren(renderBlocks(view.blocks || [], null));
}

function renderConversation(state) {
  const dm = page.open === state.dm;
  const channel = state.channels.find((c) => c.id === page.open);
  const name = dm ? "LearnLoop · Messages" : `${channel.is_private ? "🔒" : "#"}${channel.name}`;
  $("title").textContent = name;
  $("home").hidden = true;
  $("messages").hidden = false;
  const member = dm || channel.is_member;
  $("composer").hidden = false;
  $("composer-label").textContent = dm ? "Message LearnLoop" : `Message #${channel.name}`;
  $("join").hidden = member;
  $("join-text").textContent = member ? "" : `You are not in #${channel.name}: join it to post messages (commands work anyway).`;

  const byThread = {};
  for (const m of state.messages) {
    if (m.thread_ts && m.thread_ts !== m.ts) (byThread[m.thread_ts] ||= []).push(m);
  }
  const top = state.messages.filter((m) => !m.thread_ts || m.thread_ts === m.ts);
  patchList($("messages"), top, (m) => byThread[m.ts] || [], false);
  if (page.thread) {
    const root = state.messages.find((m) => m.ts === page.thread);
    if (!root) closeThread();
    else patchList($("thread-messages"), [root, ...(byThread[root.ts] || [])], () => [], true);
  }
}

// Redraw only the messages that changed, so focus and scroll stay where the person left them.
function patchList(list, messages, repliesOf, inThread) {
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  const existing = new Map([...list.children].map((li) => [li.dataset.key, li]));
  let position = 0;
  for (const message of messages) {
    const replies = repliesOf(message);
    const key = JSON.stringify([message, replies.length]);
    let li = existing.get(key);
    if (!li) {
      li = renderMessage(message, replies, inThread);
      li.dataset.key = key;
    }
    existing.delete(key);
    if (list.children[position] !== li) list.insertBefore(li, list.children[position] || null);
    position += 1;
  }
  for (const stale of existing.values()) stale.remove();
  if (atBottom) list.scrollTop = list.scrollHeight;
}

function renderMessage(m, replies, inThread) {
  const li = document.createElement("li");
  li.className = "message" + (m.bot ? " bot" : "") + (m.ephemeral ? " ephemeral" : "");
  li.dataset.ts = m.ts;
  const meta = document.createElement("p");
  meta.className = "meta";
  const author = document.createElement("strong");
  author.textContent = m.bot ? "LearnLoop" : personName(m.user);
  meta.append(author);
  if (m.bot) meta.append(" ", badge("app"));
  const time = document.createElement("time");
  const when = new Date(Number(m.ts) * 1000);
  time.dateTime = when.toISOString();
  time.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  meta.append(" ", time);
  if (m.edited) meta.append(" ", badge("edited"));
  if (m.ephemeral) meta.append(" ", badge("only visible to you"));
  li.append(meta);

  const body = document.createElement("div");
  body.className = "body";
  if (m.blocks && m.blocks.length) body.append(renderBlocks(m.blocks, { ...m, channel: page.open }));
  else body.append(mrkdwn(m.text));
  for (const file of m.files) {
    const figure = document.createElement("figure");
    const img = document.createElement("img");
    img.src = file.url;
    img.alt = file.title;
    const caption = document.createElement("figcaption");
    caption.textContent = file.title;
    figure.append(img, caption);
    body.append(figure);
  }
  li.append(body);
  if (!m.ephemeral) li.append(reactionBar(m), messageTools(m, inThread));
  if (!inThread && replies.length) {
    const open = document.createElement("button");
    open.type = "button";
    open.className = "replies";
    open.textContent = `${replies.length} ${replies.length === 1 ? "reply" : "replies"}`;
    open.addEventListener("click", () => openThread(m.ts));
    li.append(open);
  }
  return li;
}

function reactionBar(m) {
  const bar = document.createElement("div");
  bar.className = "reactions";
  bar.setAttribute("role", "group");
  bar.setAttribute("aria-label", "Reactions");
  for (const r of m.reactions) {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "reaction";
    button.setAttribute("aria-pressed", String(r.mine));
    button.setAttribute("aria-label", `:${r.name}: ${r.count}, ${r.mine ? "remove your reaction" : "react too"}`);
    button.title = `:${r.name}:`;
    button.append(emoji(r.name), " " + r.count);
    button.addEventListener("click", () => react(m, r.name, !r.mine));
    bar.append(button);
  }
  return bar;
}

function messageTools(m, inThread) {
  const tools = document.createElement("div");
  tools.className = "tools";
  tools.append(menuButton("Add reaction", "☺＋", PICKER.map((name) => ({
    label: [emoji(name), ` :${name}:`],
    run: () => react(m, name, true),
  }))));
  if (!inThread) {
    const reply = document.createElement("button");
    reply.type = "button";
    reply.textContent = "Reply in thread";
    reply.addEventListener("click", () => openThread(m.ts));
    tools.append(reply);
  }
  tools.append(menuButton("More actions", "⋯", page.state.shortcuts.map((s) => ({
    label: [s.name],
    run: () => post("/api/shortcut", { channel: page.open, ts: m.ts, callback_id: s.callback_id }),
  }))));
  return tools;
}

// A button opening a small menu; arrow keys move, Escape closes and returns focus.
function menuButton(label, face, items) {
  const wrap = document.createElement("div");
  wrap.className = "menu-wrap";
  const button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-haspopup", "menu");
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-label", label);
  button.title = label;
  button.textContent = face;
  const menu = document.createElement("div");
  menu.setAttribute("role", "menu");
  menu.setAttribute("aria-label", label);
  menu.className = "menu";
  menu.hidden = true;
  const close = (focus) => {
    menu.hidden = true;
    button.setAttribute("aria-expanded", "false");
    if (focus) button.focus();
  };
  for (const item of items) {
    const entry = document.createElement("button");
    entry.type = "button";
    entry.setAttribute("role", "menuitem");
    entry.append(...item.label);
    entry.addEventListener("click", () => { close(false); item.run(); });
    menu.append(entry);
  }
  button.addEventListener("click", () => {
    const opening = menu.hidden;
    document.querySelectorAll(".menu:not([hidden])").forEach((open) => { open.hidden = true; });
    menu.hidden = !opening;
    button.setAttribute("aria-expanded", String(opening));
    if (opening) menu.querySelector("button")?.focus();
  });
  menu.addEventListener("keydown", (event) => {
    const entries = [...menu.querySelectorAll("button")];
    const at = entries.indexOf(document.activeElement);
    if (event.key === "Escape") close(true);
    else if (event.key === "ArrowDown") entries[(at + 1) % entries.length].focus();
    else if (event.key === "ArrowUp") entries[(at - 1 + entries.length) % entries.length].focus();
    else return;
    event.preventDefault();
  });
  wrap.append(button, menu);
  return wrap;
}

function react(m, name, add) {
  return post("/api/react", { channel: page.open, ts: m.ts, name, add });
}

function openThread(ts) {
  page.thread = ts;
  $("thread").hidden = false;
  $("thread-messages").replaceChildren();
  page.version = "";
  refresh().then(() => $("reply-text").focus());
}

function closeThread() {
  page.thread = null;
  $("thread").hidden = true;
}

// -- Block Kit -------------------------------------------------------------------------------

// Draws blocks; `message` (null for the App Home) is where a button's click is sent from.
function renderBlocks(blocks, message) {
  const out = document.createDocumentFragment();
  for (const block of blocks) out.append(renderBlock(block, message));
  return out;
}

function renderBlock(block, message) {
  const div = document.createElement("div");
  div.className = "block block-" + block.type;
  switch (block.type) {
    case "section":
      if (block.text) div.append(textObject(block.text, "div"));
      if (block.fields) {
        const fields = document.createElement("div");
        fields.className = "fields";
        for (const field of block.fields) fields.append(textObject(field, "div"));
        div.append(fields);
      }
      if (block.accessory) div.append(element(block.accessory, block, message));
      return div;
    case "header": {
      const h = document.createElement("h3");
      h.textContent = block.text?.text || "";
      return h;
    }
    case "context":
      for (const item of block.elements || []) {
        div.append(item.type === "image" ? image(item) : textObject(item, "span"), " ");
      }
      return div;
    case "divider":
      return document.createElement("hr");
    case "actions":
      for (const item of block.elements || []) div.append(element(item, block, message));
      return div;
    case "image":
      div.append(image(block));
      return div;
    case "rich_text":
      div.append(richText(block));
      return div;
    default:
      div.append(paragraph(`(a ${block.type} block, which the sandbox does not draw)`));
      div.classList.add("unsupported");
      return div;
  }
}

function element(item, block, message) {
  if (item.type === "image") return image(item);
  if (item.type !== "button") {
    const note = document.createElement("span");
    note.className = "unsupported";
    note.textContent = `(a ${item.type}, which the sandbox does not draw)`;
    return note;
  }
  const label = item.text?.text || item.action_id;
  if (item.url) {
    const a = document.createElement("a");
    a.className = "button";
    a.href = safeUrl(item.url) || "#";
    a.target = "_blank";
    a.rel = "noopener noreferrer";
    a.textContent = label;
    return a;
  }
  const button = document.createElement("button");
  button.type = "button";
  button.className = "block-button" + (item.style ? " " + item.style : "");
  button.textContent = label;
  if (!message) {
    button.disabled = true;
    button.title = "Buttons on the Home tab are not emulated";
    return button;
  }
  button.addEventListener("click", () => {
    const confirm = item.confirm;
    if (confirm && !window.confirm(`${confirm.title?.text || ""}\n\n${confirm.text?.text || ""}`)) return;
    post("/api/click", {
      channel: message.channel,
      ts: message.ts,
      action: { action_id: item.action_id, block_id: block.block_id, value: item.value },
    });
  });
  return button;
}

function textObject(text, tag) {
  const node = document.createElement(tag);
  node.className = "text";
  if (text.type === "mrkdwn") node.append(mrkdwn(text.text || ""));
  else node.append(emojiText(text.text || ""));
  return node;
}

function image(item) {
  const img = document.createElement("img");
  img.src = safeUrl(item.image_url) || "";
  img.alt = item.alt_text || "";
  img.className = "block-image";
  return img;
}

function richText(block) {
  const out = document.createDocumentFragment();
  for (const section of block.elements || []) {
    const p = document.createElement("p");
    for (const part of section.elements || []) {
      if (part.type === "user") p.append(mention("@" + personName(part.user_id)));
      else if (part.type === "channel") p.append(mention("#" + (page.channelNames[part.channel_id] || part.channel_id)));
      else if (part.type === "emoji") p.append(emoji(part.name));
      else if (part.type === "link") p.append(link(part.url, part.text || part.url));
      else p.append(styled(document.createTextNode(part.text || ""), part.style || {}));
    }
    out.append(p);
  }
  return out;
}

function styled(node, style) {
  for (const [flag, tag] of [["code", "code"], ["bold", "strong"], ["italic", "em"], ["strike", "s"]]) {
    if (style[flag]) {
      const wrap = document.createElement(tag);
      wrap.append(node);
      node = wrap;
    }
  }
  return node;
}

// -- mrkdwn: Slack's markup, drawn as DOM nodes (never as HTML) ------------------------------

const INLINE = new RegExp([
  "<([^<>\\n]+)>",                                         // 1 link, mention, channel
  "`([^`\\n]+)`",                                          // 2 code
  "(?<![\\w*])\\*(?=\\S)([^*\\n]+?)(?<=\\S)\\*(?![\\w*])", // 3 bold
  "(?<![\\w_])_(?=\\S)([^_\\n]+?)(?<=\\S)_(?![\\w_])",     // 4 italic
  "(?<![\\w~])~(?=\\S)([^~\\n]+?)(?<=\\S)~(?![\\w~])",     // 5 strike
  ":([a-z0-9_+'-]+):",                                     // 6 emoji
  "(\\n)",                                                 // 7 line break
].join("|"), "g");

function mrkdwn(text) {
  const out = document.createDocumentFragment();
  const parts = text.split(/```/);
  parts.forEach((part, index) => {
    if (index % 2 === 1 && index < parts.length - 1) {
      const pre = document.createElement("pre");
      pre.textContent = unescape(part.replace(/^\n/, ""));
      out.append(pre);
    } else {
      out.append(inline(index % 2 === 1 ? "```" + part : part));
    }
  });
  return out;
}

function inline(text) {
  const out = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(INLINE)) {
    out.append(unescape(text.slice(last, match.index)));
    last = match.index + match[0].length;
    const [, special, code, bold, italic, strike, name] = match;
    if (special !== undefined) out.append(angle(special));
    else if (code !== undefined) out.append(wrap("code", document.createTextNode(unescape(code))));
    else if (bold !== undefined) out.append(wrap("strong", inline(bold)));
    else if (italic !== undefined) out.append(wrap("em", inline(italic)));
    else if (strike !== undefined) out.append(wrap("s", inline(strike)));
    else if (name !== undefined) out.append(emoji(name));
    else out.append(document.createElement("br"));
  }
  out.append(unescape(text.slice(last)));
  return out;
}

function angle(inside) {
  const [target, label] = splitOnce(inside, "|");
  if (target.startsWith("@")) return mention("@" + (label || personName(target.slice(1))));
  if (target.startsWith("#")) return mention("#" + (label || page.channelNames[target.slice(1)] || target.slice(1)));
  if (target.startsWith("!")) {
    const special = target.slice(1).split("^")[0];
    return mention(label ? unescape(label) : "@" + special);
  }
  return link(unescape(target), unescape(label || target));
}

function link(url, label) {
  const safe = safeUrl(url);
  if (!safe) return document.createTextNode(label);
  const a = document.createElement("a");
  a.href = safe;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  a.textContent = label;
  return a;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url, location.href);
    return ["http:", "https:", "mailto:"].includes(parsed.protocol) ? parsed.href : null;
  } catch (error) {
    return null;
  }
}

function splitOnce(text, separator) {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

function unescape(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function emojiText(text) {
  return text.replace(/:([a-z0-9_+'-]+):/g, (all, name) => EMOJI[name] || all);
}

function emoji(name) {
  const span = document.createElement("span");
  span.className = "emoji";
  span.title = `:${name}:`;
  span.textContent = EMOJI[name] || `:${name}:`;
  return span;
}

// -- small helpers ---------------------------------------------------------------------------

function personName(id) {
  const person = page.names[id];
  return person ? person.real_name || person.name : id || "someone";
}

function mention(text) {
  const span = document.createElement("span");
  span.className = "mention";
  span.textContent = text;
  return span;
}

function wrap(tag, child) {
  const node = document.createElement(tag);
  node.append(child);
  return node;
}

function badge(text) {
  const span = document.createElement("span");
  span.className = "badge";
  span.textContent = text;
  return span;
}

function hidden(text) {
  const span = document.createElement("span");
  span.className = "visually-hidden";
  span.textContent = text;
  return span;
}

function paragraph(text) {
  const p = document.createElement("p");
  p.textContent = text;
  return p;
}

// -- composers -------------------------------------------------------------------------------

function composer(form, field, threadTs) {
  const send = async () => {
    const text = field.value;
    if (!text.trim()) return;
    field.value = "";
    const sent = await post("/api/send", { channel: page.open, text, thread_ts: threadTs() });
    if (!sent) field.value = text;
    field.focus();
  };
  form.addEventListener("submit", (event) => { event.preventDefault(); send(); });
  field.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      send();
    }
  });
}

async function start() {
  composer($("composer"), $("composer-text"), () => null);
  composer($("reply"), $("reply-text"), () => page.thread);
  $("thread-close").addEventListener("click", () => { closeThread(); $("composer-text").focus(); });
  $("join-button").addEventListener("click", () => post("/api/join", { channel: page.open }));
  for (const fixed of [$("open-home"), $("open-dm")]) {
    fixed.addEventListener("click", () => openConversation(fixed.dataset.id));
  }
  $("acting").addEventListener("change", (event) => {
    page.me = event.target.value;
    const keep = page.open === "home" || page.state?.channels.some((c) => c.id === page.open);
    page.open = keep ? page.open : "";
    page.version = "";
    closeThread();
    $("messages").replaceChildren();
    if (page.open === "home") post("/api/home", {});
    else refresh();
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".menu-wrap")) {
      document.querySelectorAll(".menu:not([hidden])").forEach((menu) => {
        menu.hidden = true;
        menu.previousElementSibling.setAttribute("aria-expanded", "false");
      });
    }
  });
  await refresh();
}

start();
