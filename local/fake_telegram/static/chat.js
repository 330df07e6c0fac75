// The playground: you play a Telegram user through the fake's /_fake/ controls, and the page
// shows the chat as the fake holds it, which is what a Telegram client would show: messages in
// order, edits in place, deleted messages gone, inline keyboards as buttons.
//
// Safety: messages carry text that users wrote (a prompt may be "<img src=x onerror=...>"). The
// page never parses HTML: every text becomes DOM text nodes, formatted from the entities the fake
// parsed out of the bot's parse_mode, so markup in a message shows as the characters it is.
"use strict";

const $ = (id) => document.getElementById(id);
const messagesBox = $("messages");
const scroller = $("scroller");
const who = {user: $("user"), name: $("name"), lang: $("lang")};
const POLL_SECONDS = 25; // one long poll; the fake answers at once when the chat changes
const ACTION_SECONDS = 5; // Telegram shows a chat action for 5 s, or until the next message
const ACTIONS = {typing: "typing…", upload_photo: "sending a photo…", upload_document: "sending a file…"};

// -- who you are: ?user=ID&name=N&lang=L, so a reload (or a test) opens the same chat --------

const query = new URLSearchParams(location.search);
who.user.value = query.get("user") || "1001";
who.name.value = query.get("name") || "Ann";
who.lang.value = query.has("lang") ? query.get("lang") : "en";

function me() {
  const id = Number(who.user.value);
  // A private chat's id is the user's id; language_code is left out when empty, as Telegram does.
  return {chat_id: id, user_id: id, first_name: who.name.value || "Ann", language_code: who.lang.value || undefined};
}

$("who").addEventListener("change", () => {
  const url = new URL(location.href);
  for (const [key, input] of Object.entries(who)) url.searchParams.set(key, input.value);
  history.replaceState(null, "", url);
  follow();
});
$("who").addEventListener("submit", (event) => event.preventDefault());

// -- what you do: each control delivers an Update to the bot's webhook, as Telegram would ------

async function control(path, body) {
  try {
    const response = await fetch(path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
    const outcome = await response.json();
    if (!response.ok) toast(outcome.description, {error: true});
    else if (!outcome.delivered) toast(outcome.error, {error: true});
    else if (outcome.status !== 200) toast(`the webhook answered ${outcome.status}`, {error: true});
  } catch (error) {
    toast(`the fake Bot API is unreachable (${error.message})`, {error: true});
  }
}

function say(text) {
  return control("/_fake/messages", {...me(), text});
}

function press(message, button) {
  return control("/_fake/callbacks", {...me(), message_id: message.message_id, data: button.callback_data});
}

// Pay under an invoice: the fake asks the bot (pre_checkout_query) and, if it says ok, charges
// and tells it (successful_payment). A refusal shows the bot's error_message, as Telegram does.
async function pay(message) {
  try {
    const response = await fetch("/_fake/payments", {
      method: "POST", headers: {"Content-Type": "application/json"},
      body: JSON.stringify({...me(), message_id: message.message_id}),
    });
    const outcome = await response.json();
    if (!response.ok) toast(outcome.description, {error: true});
    else if (outcome.accepted) toast(`Paid ⭐${message.invoice.total_amount}`);
    else if (outcome.answered) toast(outcome.error_message, {error: true, kind: "refusal"});
    else toast(outcome.pre_checkout.error || "the bot did not answer the payment in time", {error: true});
  } catch (error) {
    toast(`the fake Bot API is unreachable (${error.message})`, {error: true});
  }
}

$("composer").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = $("text");
  if (!input.value.trim()) return;
  say(input.value);
  input.value = "";
});
$("start").addEventListener("click", () => say("/start"));

// Photos from the browser: each file is one photo message (the text box is the first one's
// caption); several at once share a media_group_id, as an album from a Telegram app does.
$("file").addEventListener("change", async (event) => {
  const files = [...event.target.files];
  event.target.value = "";
  const input = $("text");
  const caption = input.value.trim() ? input.value : undefined;
  input.value = "";
  const group = files.length > 1 ? String(Date.now()) : undefined;
  for (const [index, file] of files.entries()) {
    const photo = await base64Of(file);
    await control("/_fake/messages", {
      ...me(), photo, caption: index === 0 ? caption : undefined, media_group_id: group,
      file_name: file.name, mime_type: file.type || undefined,
    });
  }
});

function base64Of(file) {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).split(",", 2)[1]); // after "data:…;base64,"
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });
}

// -- following the chat: long polls on the chat's version ----------------------------------------

let following = null; // the AbortController of the current chat's poll loop
let rendered = new Map(); // message_id -> {key, node}
let handledEntry = null; // seq of the newest transcript entry reacted to; null before the first view
let paidInvoices = new Set(); // message ids of invoices paid in this chat: their Pay is done

async function follow() {
  if (following) following.abort();
  const stop = (following = new AbortController());
  const chatId = Number(who.user.value);
  rendered = new Map();
  handledEntry = null;
  messagesBox.replaceChildren();
  let seen = null; // the version shown; null: ask without waiting
  while (!stop.signal.aborted) {
    try {
      const wait = seen === null ? "" : `?wait=${POLL_SECONDS}&seen=${seen}`;
      const response = await fetch(`/_fake/chats/${chatId}${wait}`, {signal: stop.signal});
      if (stop.signal.aborted) return; // another chat is shown now
      if (response.status === 404) { // nobody wrote in this chat yet
        show({version: 0, messages: [], transcript: []});
        seen = 0;
        continue;
      }
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const view = await response.json();
      if (stop.signal.aborted) return;
      show(view);
      seen = view.version;
    } catch (error) {
      if (stop.signal.aborted) return;
      toast(`lost the fake Bot API (${error.message}); retrying`, {error: true});
      await new Promise((resolve) => setTimeout(resolve, 2000));
    }
  }
}

function show(view) {
  const stick = handledEntry === null || scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  $("empty").hidden = view.messages.length > 0;
  const present = new Set();
  let previous = null;
  paidInvoices = new Set(view.transcript.filter((e) => e.event === "successful_payment").map((e) => e.invoice_message_id));
  for (const message of view.messages) {
    const key = JSON.stringify(message) + (paidInvoices.has(message.message_id) ? " paid" : "");
    let entry = rendered.get(message.message_id);
    if (!entry || entry.key !== key) { // new, or edited: (re)draw it where it stands
      const node = renderMessage(message);
      if (entry) entry.node.replaceWith(node);
      entry = {key, node};
      rendered.set(message.message_id, entry);
    }
    const wanted = previous ? previous.nextSibling : messagesBox.firstChild;
    if (entry.node !== wanted) messagesBox.insertBefore(entry.node, wanted);
    present.add(message.message_id);
    previous = entry.node;
  }
  for (const [id, entry] of rendered) { // deleted messages disappear, as in Telegram
    if (!present.has(id)) {
      entry.node.remove();
      rendered.delete(id);
    }
  }
  react(view.transcript);
  if (stick) scrollToBottom();
}

// What a client shows beside the messages: chat actions and callback answers (toasts).
function react(transcript) {
  const newest = transcript.length ? transcript[transcript.length - 1].seq : 0;
  const replaying = handledEntry === null; // opening a chat: its history raises no toasts
  for (const entry of transcript) {
    if (replaying || entry.seq <= handledEntry || entry.from !== "bot") continue;
    if (entry.event === "chat_action") setAction(entry.action);
    else if (entry.event === "message") setAction(null);
    else if (entry.event === "callback_answer" && entry.text) toast(entry.text, {alert: entry.show_alert});
  }
  handledEntry = Math.max(handledEntry ?? 0, newest);
}

let actionTimer;
function setAction(action) {
  clearTimeout(actionTimer);
  const subtitle = $("subtitle");
  subtitle.textContent = action ? ACTIONS[action] || `${action.replaceAll("_", " ")}…` : "bot";
  subtitle.classList.toggle("active", Boolean(action));
  if (action) actionTimer = setTimeout(() => setAction(null), ACTION_SECONDS * 1000);
}

let toastTimer;
function toast(text, {error = false, alert = false, kind = ""} = {}) {
  const box = $("toast");
  box.textContent = text;
  box.dataset.kind = kind;
  box.classList.toggle("error", error);
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { box.hidden = true; }, alert || error ? 6000 : 2500);
}

function scrollToBottom() {
  scroller.scrollTop = scroller.scrollHeight;
}

// -- drawing a message ---------------------------------------------------------------------------

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function renderMessage(message) {
  if (message.successful_payment || message.refunded_payment) return paymentNotice(message);
  const fromBot = Boolean(message.from && message.from.is_bot);
  if (fromBot) $("bot-name").textContent = message.from.first_name;
  const node = el("div", fromBot ? "msg theirs" : "msg mine");
  node.dataset.messageId = message.message_id;
  if (message.media_group_id) { // an album: its photos stand together
    node.dataset.mediaGroup = message.media_group_id;
    node.classList.add("album");
  }
  if (message.reply_to_message) node.dataset.replyTo = message.reply_to_message.message_id;
  const bubble = el("div", "bubble");
  node.append(bubble);
  if (message.reply_to_message) bubble.append(replyQuote(message.reply_to_message));
  if (message.via_bot) bubble.append(el("div", "via", `via @${message.via_bot.username}`));

  const time = new Date(message.date * 1000).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"});
  const meta = el("span", "meta", (message.edit_date ? "edited " : "") + time);
  const text = message.text ?? message.caption;
  if (message.photo) bubble.append(photo(message, text === undefined ? meta : null));
  if (message.sticker) bubble.append(el("div", "sticker", message.sticker.emoji || "🖼"));
  if (message.animation) bubble.append(el("div", "medium", "🎞 GIF"));
  else if (message.video) bubble.append(el("div", "medium", "🎬 Video"));
  else if (message.video_note) bubble.append(el("div", "medium", "⏺ Video message"));
  else if (message.document) bubble.append(documentLink(message.document));
  if (message.invoice) bubble.append(invoiceCard(message.invoice, meta));
  if (text !== undefined) {
    const body = el("div", "text");
    const content = el("span", "content");
    content.append(formatted(text, message.entities || message.caption_entities || [], fromBot));
    body.append(content, meta);
    bubble.append(body);
  } else if (!message.photo && !message.invoice) {
    bubble.append(meta);
  }
  let rows = (message.reply_markup && message.reply_markup.inline_keyboard) || [];
  // An invoice sent without a keyboard gets Telegram's own Pay button.
  if (message.invoice && !rows.length) rows = [[{text: `Pay ⭐${message.invoice.total_amount}`, pay: true}]];
  if (rows.length) node.append(keyboard(message, rows));
  return node;
}

function invoiceCard(invoice, meta) {
  const card = el("div", "invoice");
  card.append(el("b", "invoice-title", invoice.title));
  card.append(el("div", "invoice-description", invoice.description));
  const price = el("div", "invoice-price", `⭐ ${invoice.total_amount}`);
  price.title = `${invoice.total_amount} Telegram Stars (${invoice.currency})`;
  card.append(price, meta);
  return card;
}

// Telegram's service messages about Stars: centred, not a bubble of either side.
function paymentNotice(message) {
  const node = el("div", "msg service");
  node.dataset.messageId = message.message_id;
  const paid = message.successful_payment;
  const text = paid
    ? `You paid ⭐${paid.total_amount} to ${$("bot-name").textContent}`
    : `⭐${message.refunded_payment.total_amount} refunded to you`;
  node.append(el("span", "notice", text));
  return node;
}

function photo(message, meta) {
  const box = el("div", "photo");
  // The largest size is the last; in the fake it is the uploaded file, byte for byte.
  const size = message.photo[message.photo.length - 1];
  const img = el("img");
  img.width = size.width; // reserves the space before the bytes arrive: no jump while loading
  img.height = size.height;
  img.alt = message.caption || "photo";
  img.src = `/_fake/files/${encodeURIComponent(size.file_id)}`;
  img.addEventListener("load", () => {
    if (scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < size.height + 80) scrollToBottom();
  });
  box.append(img);
  if (meta) {
    meta.classList.add("over");
    box.append(meta);
  }
  return box;
}

function documentLink(document_) {
  const link = el("a", "document", `📄 ${document_.file_name || "file"}`);
  link.href = `/_fake/files/${encodeURIComponent(document_.file_id)}`;
  link.download = document_.file_name || "";
  return link;
}

function replyQuote(replied) {
  const quote = el("div", "reply");
  quote.append(el("b", "", replied.from ? replied.from.first_name : ""));
  const gist = replied.text ?? replied.caption ?? (replied.photo ? "Photo" : replied.sticker ? `${replied.sticker.emoji} Sticker` : "Message");
  quote.append(el("span", "", gist));
  quote.addEventListener("click", () => {
    const target = rendered.get(replied.message_id);
    if (!target) return toast("that message was deleted");
    target.node.scrollIntoView({block: "center", behavior: "smooth"});
    target.node.classList.remove("flash");
    void target.node.offsetWidth; // restart the animation
    target.node.classList.add("flash");
  });
  return quote;
}

function keyboard(message, rows) {
  const box = el("div", "keyboard");
  for (const row of rows) {
    const line = el("div", "row");
    for (const button of row) {
      const node = el("button", "", button.text);
      node.type = "button";
      if (button.pay) {
        if (paidInvoices.has(message.message_id)) {
          node.disabled = true;
          node.classList.add("paid");
          node.textContent = "Paid ✓";
        } else {
          node.classList.add("pay");
          node.addEventListener("click", async () => {
            node.disabled = true;
            await pay(message);
            node.disabled = false;
          });
        }
      } else if (button.callback_data !== undefined) {
        node.addEventListener("click", async () => {
          node.disabled = true; // until the webhook answered, as Telegram shows a pressed button
          await press(message, button);
          node.disabled = false;
        });
      } else if (button.url) {
        node.title = button.url;
        node.addEventListener("click", () => window.open(button.url, "_blank", "noopener"));
      } else {
        node.disabled = true;
        node.title = "this kind of button does nothing in the playground";
      }
      line.append(node);
    }
    box.append(line);
  }
  return box;
}

// -- entities: Telegram's formatting, drawn with elements around text nodes ------------------

const ENTITY_TAGS = {
  bold: "b", italic: "i", underline: "u", strikethrough: "s", code: "code", pre: "pre",
  blockquote: "blockquote", expandable_blockquote: "blockquote",
};

// Offsets and lengths count UTF-16 code units, as JavaScript strings do, so slices line up.
function formatted(text, entities, fromBot) {
  const root = document.createDocumentFragment();
  // Entities nest (HTML guarantees it): by offset, an outer one before the inner ones it holds.
  const sorted = entities.filter((e) => e.length > 0).sort((a, b) => a.offset - b.offset || b.length - a.length);
  let next = 0;
  const fill = (parent, from, to) => {
    let at = from;
    while (next < sorted.length && sorted[next].offset < to) {
      const entity = sorted[next++];
      const start = Math.max(entity.offset, at);
      const end = Math.min(entity.offset + entity.length, to);
      if (end <= start) continue; // overlaps one already drawn: Telegram's Markdown never makes these
      if (start > at) parent.append(text.slice(at, start));
      const node = entityNode(entity, text.slice(start, end), fromBot);
      fill(node, start, end);
      parent.append(node);
      at = end;
    }
    if (at < to) parent.append(text.slice(at, to));
  };
  fill(root, 0, text.length);
  return root;
}

function entityNode(entity, covered, fromBot) {
  if (ENTITY_TAGS[entity.type]) return el(ENTITY_TAGS[entity.type]);
  if (entity.type === "text_link" || entity.type === "url") {
    const href = entity.type === "url" ? covered : entity.url;
    if (!/^(https?|tg):/i.test(href)) return el("span"); // never a javascript: link
    const link = el("a");
    link.href = href;
    link.target = "_blank";
    link.rel = "noopener noreferrer";
    return link;
  }
  if (entity.type === "spoiler") {
    const spoiler = el("span", "spoiler");
    spoiler.addEventListener("click", () => spoiler.classList.add("revealed"));
    return spoiler;
  }
  if (entity.type === "bot_command") {
    const command = el("span", "command");
    if (fromBot) { // in Telegram, tapping a command in the bot's message sends it
      command.classList.add("clickable");
      command.addEventListener("click", () => say(covered));
    }
    return command;
  }
  return el("span"); // mentions, hashtags, custom emoji…: their text, unstyled
}

follow();
