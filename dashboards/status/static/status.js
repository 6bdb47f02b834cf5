/* pubnet status page: plain JavaScript, no framework, nothing fetched but pubnet's own API.
 *
 * Every REFRESH seconds it asks /api/v1/status (one cached document for every client); when
 * a site changed (sites_version) it fetches the map colours from /api/v1/site-status, one
 * letter per site in the order of /api/v1/sites.geojson (fetched once). The open drill-down
 * (province, district or site) is refreshed with it. A failed or late answer shows the
 * "connection lost" banner until pubnet answers again.
 */
"use strict";
(function () {
  // Every text in Thai and English side by side, one line a key (t() picks the language).
  const T = {
    title: { th: "สถานะเครือข่ายอินเทอร์เน็ตหมู่บ้าน", en: "Village internet network status" },
    updated: { th: "อัปเดต", en: "Updated" },
    sites_up: { th: "จุดบริการใช้งานได้", en: "Sites up" },
    sites_down: { th: "จุดบริการขัดข้อง", en: "Sites down" },
    sites_unknown: { th: "ยังไม่ทราบสถานะ", en: "Sites not yet polled" },
    villages_without: { th: "หมู่บ้านไม่มีบริการ", en: "Villages without service" },
    devices_down: { th: "อุปกรณ์ไม่ตอบสนอง", en: "Devices not answering" },
    open_incidents: { th: "เหตุขัดข้องที่เปิดอยู่", en: "Open incidents" },
    up: { th: "ใช้งานได้", en: "Up" },
    down: { th: "ขัดข้อง", en: "Down" },
    unknown: { th: "ไม่ทราบ", en: "Unknown" },
    whole_country: { th: "ทั้งประเทศ", en: "Whole country" },
    thailand: { th: "ประเทศไทย", en: "Thailand" },
    incidents: { th: "เหตุขัดข้องที่เปิดอยู่", en: "Open incidents" },
    incident: { th: "เหตุ", en: "Incident" },
    kind: { th: "ประเภท", en: "Kind" },
    root: { th: "ต้นเหตุ", en: "Root" },
    where: { th: "พื้นที่", en: "Where" },
    affected: { th: "จุดบริการ/หมู่บ้าน", en: "Sites/villages" },
    started: { th: "เริ่มเมื่อ", en: "Started" },
    acked_by: { th: "รับเรื่องโดย", en: "Acknowledged by" },
    messages: { th: "ข้อความแจ้งเตือนล่าสุด", en: "Latest alert messages" },
    action_ack: { th: "รับเรื่อง", en: "Acknowledged" },
    action_enroute: { th: "กำลังเดินทาง", en: "On my way" },
    action_fixed: { th: "แก้ไขแล้วที่หน้างาน", en: "Fixed on site" },
    via_line: { th: "ทาง LINE", en: "via LINE" },
    via_telegram: { th: "ทาง Telegram", en: "via Telegram" },
    via_web: { th: "ทางหน้านี้", en: "on this page" },
    via_cli: { th: "ทางคำสั่ง", en: "from the CLI" },
    province: { th: "จังหวัด", en: "Province" },
    district: { th: "อำเภอ", en: "District" },
    subdistrict: { th: "ตำบล", en: "Subdistrict" },
    site: { th: "จุดบริการ", en: "Site" },
    village: { th: "หมู่บ้าน", en: "Village" },
    sites: { th: "จุดบริการ", en: "Sites" },
    pct_up: { th: "% ใช้งานได้", en: "% up" },
    status: { th: "สถานะ", en: "Status" },
    since: { th: "ตั้งแต่", en: "Since" },
    device: { th: "อุปกรณ์", en: "Device" },
    role: { th: "หน้าที่", en: "Role" },
    last_poll: { th: "สำรวจล่าสุด", en: "Last poll" },
    poll_status: { th: "ผลการสำรวจ", en: "Poll result" },
    devices: { th: "อุปกรณ์", en: "Devices" },
    ack: { th: "รับเรื่อง", en: "Acknowledge" },
    ack_title: { th: "รับเรื่องเหตุขัดข้อง", en: "Acknowledge incident" },
    operator: { th: "ผู้ปฏิบัติงาน (บัญชี)", en: "Operator (account)" },
    password: { th: "รหัสผ่าน", en: "Password" },
    ack_by: { th: "ชื่อผู้รับเรื่อง", en: "Your name" },
    note: { th: "บันทึก", en: "Note" },
    cancel: { th: "ยกเลิก", en: "Cancel" },
    acknowledge: { th: "รับเรื่อง", en: "Acknowledge" },
    connected: { th: "เชื่อมต่อแล้ว", en: "Connected" },
    lost: { th: "ขาดการเชื่อมต่อ", en: "Connection lost" },
    lost_banner: {
      th: "ขาดการเชื่อมต่อกับ pubnet ตั้งแต่ {t} — ข้อมูลบนหน้านี้อาจไม่เป็นปัจจุบัน กำลังลองใหม่…",
      en: "Connection to pubnet lost since {t} — this page may be out of date. Retrying…",
    },
    collectors_ok: { th: "ตัวเก็บข้อมูลปกติ", en: "Collectors healthy" },
    collectors_bad: { th: "ตัวเก็บข้อมูลมีปัญหา", en: "Collectors unhealthy" },
    lag: { th: "ความล่าช้าการสำรวจ {s} วินาที", en: "poll lag {s} s" },
    mqtt_off: { th: "MQTT ไม่ได้เชื่อมต่อ", en: "MQTT disconnected" },
    no_incidents: { th: "ไม่มีเหตุขัดข้องที่เปิดอยู่", en: "No open incidents" },
    no_messages: { th: "ยังไม่มีข้อความ", en: "No messages yet" },
    read_only: { th: "(อ่านอย่างเดียว)", en: "(read-only)" },
    alerting_off: { th: "(ระบบแจ้งเตือนปิดอยู่)", en: "(alerting is off)" },
    ack_failed: { th: "รับเรื่องไม่สำเร็จ: {e}", en: "Not acknowledged: {e}" },
    villages_n: { th: "{n} หมู่บ้าน", en: "{n} villages" },
    era_be: { th: "พ.ศ.", en: "BE" },
    era_ce: { th: "ค.ศ.", en: "CE" },
    address: { th: "ที่อยู่", en: "Address" },
    coords: { th: "พิกัด", en: "Coordinates" },
    kind_site: { th: "ประเภท", en: "Kind" },
    delivered: { th: "ส่งแล้ว", en: "sent" },
    pending: { th: "รอส่ง", en: "queued" },
    none: { th: "—", en: "—" },
  };
  const MONTHS = {
    th: ["ม.ค.", "ก.พ.", "มี.ค.", "เม.ย.", "พ.ค.", "มิ.ย.", "ก.ค.", "ส.ค.", "ก.ย.", "ต.ค.", "พ.ย.", "ธ.ค."],
    en: ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"],
  };
  const COLORS = { u: "#3fb950", d: "#f85149", n: "#6e7681" };
  const BBOX = { minLon: 97.3, maxLon: 105.7, minLat: 5.6, maxLat: 20.5 };
  const TIMEOUT_MS = 8000;
  const BANGKOK = new Intl.DateTimeFormat("en-GB", {
    timeZone: "Asia/Bangkok", year: "numeric", month: "numeric", day: "numeric",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });

  const stored = (key) => { try { return localStorage.getItem(key); } catch (e) { return null; } };
  const store = (key, value) => { try { localStorage.setItem(key, value); } catch (e) { /* private mode */ } };

  const state = {
    lang: stored("pubnet.lang") === "en" ? "en" : "th",
    era: stored("pubnet.era"),
    refresh: 2000,
    status: null, geo: null, codes: null, sitesVersion: -1,
    view: { level: "nation", code: null, data: null },
    lostSince: null, timer: null, busy: false, again: false, projection: null, grid: null, focus: null,
  };
  const $ = (id) => document.getElementById(id);
  // the text `key` in the page's language; undefined when there is none
  const known = (key) => (Object.hasOwn(T, key) ? T[key][state.lang] : undefined);
  const t = (key, vars) => {
    let text = known(key) ?? key;
    for (const [k, v] of Object.entries(vars || {})) text = text.replace("{" + k + "}", v);
    return text;
  };
  // what the latest acknowledgement said: a chat button's action in words, else the note
  const action = (note) => known("action_" + note) ?? note;
  // and where it came from: LINE, Telegram, this page or the CLI
  const via = (channel) => (channel && known("via_" + channel)) ?? (channel || "");
  const era = () => state.era || (state.lang === "th" ? "be" : "ce");
  const NUMBERS = { th: new Intl.NumberFormat("th-TH"), en: new Intl.NumberFormat("en-US") };
  const num = (n) => NUMBERS[state.lang].format(n);
  const areaName = (a) => (state.lang === "th" ? a.name_th : a.name_en) || a.name_en || a.name_th || a.code;
  const otherName = (a) => (state.lang === "th" ? a.name_en : a.name_th) || "";

  function fmtTime(iso, withDate) {
    if (!iso) return t("none");
    const date = new Date(iso);
    if (isNaN(date)) return iso;
    const p = {};
    for (const part of BANGKOK.formatToParts(date)) p[part.type] = part.value;
    const year = Number(p.year) + (era() === "be" ? 543 : 0);
    const clock = `${p.hour}:${p.minute}:${p.second}`;
    if (withDate === false) return clock;
    return `${Number(p.day)} ${MONTHS[state.lang][Number(p.month) - 1]} ${year} ${clock}`;
  }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "on") for (const [ev, fn] of Object.entries(v)) node.addEventListener(ev, fn);
      else if (k === "data") for (const [dk, dv] of Object.entries(v)) node.dataset[dk] = dv;
      else node.setAttribute(k, v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }
  const badge = (status) => el("span", { class: "st " + status, data: { status } }, t(status) || status);

  async function get(path) {
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), TIMEOUT_MS);
    try {
      const resp = await fetch(path, { signal: ctrl.signal, cache: "no-store" });
      if (!resp.ok) throw new Error(`${path}: HTTP ${resp.status}`);
      return await resp.json();
    } finally {
      clearTimeout(timer);
    }
  }

  // -- connection state ------------------------------------------------------------------

  function connected() {
    state.lostSince = null;
    document.body.classList.remove("stale");
    $("lost").hidden = true;
    $("conn").className = "conn ok";
    $("conn-text").textContent = t("connected");
  }

  function lost() {
    if (!state.lostSince) state.lostSince = new Date().toISOString();
    document.body.classList.add("stale");
    const banner = $("lost");
    banner.textContent = t("lost_banner", { t: fmtTime(state.lostSince, false) });
    banner.hidden = false;
    $("conn").className = "conn bad";
    $("conn-text").textContent = t("lost");
  }

  // -- headline ----------------------------------------------------------------------------

  function renderHeadline() {
    const s = state.status;
    if (!s) return;
    $("n-up").textContent = num(s.sites.up);
    $("n-down").textContent = num(s.sites.down);
    $("n-unknown").textContent = num(s.sites.unknown);
    $("n-villages").textContent = num(s.villages_without_service);
    $("n-villages").classList.toggle("bad", s.villages_without_service > 0);
    $("n-devices").textContent = num(s.devices.down);
    $("n-devices").classList.toggle("bad", s.devices.down > 0);
    $("n-incidents").textContent = num(s.incidents.length);
    $("n-incidents").classList.toggle("bad", s.incidents.length > 0);
    const updated = $("updated");
    updated.textContent = fmtTime(s.generated_at);
    updated.setAttribute("datetime", s.generated_at);
    const c = s.collectors || {};
    const box = $("collectors");
    box.className = "collectors " + (c.healthy ? "ok" : "bad");
    const bits = [t(c.healthy ? "collectors_ok" : "collectors_bad")];
    if (c.poll_lag_seconds !== null && c.poll_lag_seconds !== undefined) bits.push(t("lag", { s: c.poll_lag_seconds.toFixed(1) }));
    if (c.mqtt_connected === false) bits.push(t("mqtt_off"));
    $("collectors-text").textContent = bits.join(" · ");
  }

  // -- map -----------------------------------------------------------------------------------

  function extent() {
    const f = state.focus;
    if (!f || !state.geo) return BBOX;
    let minLon = 180, maxLon = -180, minLat = 90, maxLat = -90, n = 0;
    state.geo.features.forEach((feat) => {
      const p = feat.properties;
      if ((f.level === "province" && p.province === f.code) || (f.level === "district" && p.district === f.code)
        || (f.level === "site" && p.id === f.code)) {
        const [lon, lat] = feat.geometry.coordinates;
        minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon);
        minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat); n++;
      }
    });
    if (!n) return BBOX;
    const pad = Math.max(0.08, (maxLat - minLat) * 0.15, (maxLon - minLon) * 0.15);
    return { minLon: minLon - pad, maxLon: maxLon + pad, minLat: minLat - pad, maxLat: maxLat + pad };
  }

  function project(width, height) {
    const b = extent();
    const midLat = (b.minLat + b.maxLat) / 2;
    const kx = Math.cos(midLat * Math.PI / 180);
    const spanX = (b.maxLon - b.minLon) * kx, spanY = b.maxLat - b.minLat;
    const scale = Math.min((width - 20) / spanX, (height - 20) / spanY);
    const offX = (width - spanX * scale) / 2, offY = (height - spanY * scale) / 2;
    return (lon, lat) => [offX + (lon - b.minLon) * kx * scale, offY + (b.maxLat - lat) * scale];
  }

  function drawMap() {
    const canvas = $("map");
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio) || canvas.height !== Math.round(height * ratio)) {
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#0a0f14";
    ctx.fillRect(0, 0, width, height);
    if (!state.geo) return;
    const proj = project(width, height);
    state.projection = proj;
    const feats = state.geo.features, codes = state.codes || "";
    const focused = state.focus && state.focus.level !== "site";
    const zoomed = !!state.focus;
    // points shrink as the fleet grows: 4 px for a few hundred sites, 2 px for 25,000
    const small = Math.max(2, Math.min(4, 40 / Math.sqrt(feats.length))) + (zoomed ? 1 : 0);
    // graticule: every degree, faint
    ctx.strokeStyle = "#161f29";
    ctx.lineWidth = 1;
    ctx.beginPath();
    for (let lon = 97; lon <= 106; lon++) { const [x] = proj(lon, 0); ctx.moveTo(x, 0); ctx.lineTo(x, height); }
    for (let lat = 5; lat <= 21; lat++) { const [, y] = proj(100, lat); ctx.moveTo(0, y); ctx.lineTo(width, y); }
    ctx.stroke();
    const grid = new Map();
    const cell = 10;
    const xy = new Float32Array(feats.length * 2);
    const inFocus = (p) => !focused || (state.focus.level === "province" ? p.province === state.focus.code : p.district === state.focus.code);
    // one pass to place every point, then one path per colour (and focus): a software
    // canvas fills one path of 25,000 squares far faster than 25,000 fillRect calls
    const paths = {};
    for (let i = 0; i < feats.length; i++) {
      const f = feats[i];
      const c = f.geometry.coordinates;
      const [x, y] = proj(c[0], c[1]);
      xy[2 * i] = x; xy[2 * i + 1] = y;
      if (x < -5 || y < -5 || x > width + 5 || y > height + 5) continue;
      const key = (codes[i] || "n") + (inFocus(f.properties) ? "" : "-");
      (paths[key] || (paths[key] = [])).push(i);
      const cellKey = Math.floor(x / cell) * 4096 + Math.floor(y / cell);
      const bucket = grid.get(cellKey);
      if (bucket) bucket.push(i); else grid.set(cellKey, [i]);
    }
    for (const key of ["n-", "u-", "d-", "n", "u", "d"]) {
      const members = paths[key];
      if (!members) continue;
      const code = key[0];
      ctx.globalAlpha = key.length > 1 ? 0.25 : 1;
      ctx.fillStyle = COLORS[code];
      ctx.beginPath();
      if (code === "d") {
        for (const i of members) {
          ctx.moveTo(xy[2 * i] + small + 2, xy[2 * i + 1]);
          ctx.arc(xy[2 * i], xy[2 * i + 1], small + 2, 0, 2 * Math.PI);
        }
        ctx.fill();
        ctx.strokeStyle = "rgba(248,81,73,.45)";
        ctx.lineWidth = 2;
        ctx.beginPath();
        for (const i of members) {
          ctx.moveTo(xy[2 * i] + small + 6, xy[2 * i + 1]);
          ctx.arc(xy[2 * i], xy[2 * i + 1], small + 6, 0, 2 * Math.PI);
        }
        ctx.stroke();
      } else {
        for (const i of members) ctx.rect(xy[2 * i] - small / 2, xy[2 * i + 1] - small / 2, small, small);
        ctx.fill();
      }
    }
    ctx.globalAlpha = 1;
    if (state.focus && state.focus.level === "site") {
      const i = feats.findIndex((f) => f.properties.id === state.focus.code);
      if (i >= 0) {
        const [x, y] = proj(feats[i].geometry.coordinates[0], feats[i].geometry.coordinates[1]);
        ctx.strokeStyle = "#58a6ff"; ctx.lineWidth = 2;
        ctx.beginPath(); ctx.arc(x, y, 10, 0, 2 * Math.PI); ctx.stroke();
      }
    }
    state.grid = { map: grid, cell, xy };
    // where a site is drawn, in CSS pixels of the canvas (for tests and bookmarklets)
    window.pubnetPoint = (id) => {
      const i = feats.findIndex((f) => f.properties.id === id);
      return i < 0 ? null : proj(feats[i].geometry.coordinates[0], feats[i].geometry.coordinates[1]);
    };
    drawLabels(ctx, proj, width, height);
    document.body.dataset.rendered = String(feats.length);
    if (window.pubnetFirstRender === undefined) window.pubnetFirstRender = performance.now();
  }

  function drawLabels(ctx, proj, width, height) {
    const down = {};
    const s = state.status;
    if (s) for (const p of s.provinces) down[p.code] = p.down;
    const provinces = (state.geo.provinces || []).slice().sort((a, b) => (down[b.code] || 0) - (down[a.code] || 0));
    const taken = [];
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    const family = getComputedStyle(document.body).fontFamily;
    for (const p of provinces) {
      const [x, y] = proj(p.lon, p.lat);
      if (x < 0 || y < 0 || x > width || y > height) continue;
      const hot = (down[p.code] || 0) > 0;
      ctx.font = (hot ? "600 12px " : "11px ") + family;
      const label = areaName(p);
      const w = ctx.measureText(label).width + 4, h = 14;
      const box = [x - w / 2, y - h / 2, x + w / 2, y + h / 2];
      if (taken.some((r) => box[0] < r[2] && box[2] > r[0] && box[1] < r[3] && box[3] > r[1])) continue;
      taken.push(box);
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(10,15,20,.85)";
      ctx.strokeText(label, x, y);
      ctx.fillStyle = hot ? "#ffb4ae" : "#c9d1d9";
      ctx.fillText(label, x, y);
    }
  }

  function nearest(evt) {
    const g = state.grid;
    if (!g) return -1;
    const rect = $("map").getBoundingClientRect();
    const x = evt.clientX - rect.left, y = evt.clientY - rect.top;
    let best = -1, bestD = 64;
    const cx = Math.floor(x / g.cell), cy = Math.floor(y / g.cell);
    for (let dx = -1; dx <= 1; dx++) for (let dy = -1; dy <= 1; dy++) {
      for (const i of g.map.get((cx + dx) * 4096 + cy + dy) || []) {
        const d = (g.xy[2 * i] - x) ** 2 + (g.xy[2 * i + 1] - y) ** 2;
        const downBonus = (state.codes || "")[i] === "d" ? 0.5 : 1;
        if (d * downBonus < bestD) { bestD = d * downBonus; best = i; }
      }
    }
    return best;
  }

  function showTip(evt) {
    const i = nearest(evt);
    const tip = $("tip");
    if (i < 0) { tip.hidden = true; return; }
    const p = state.geo.features[i].properties;
    const d = (state.geo.districts || {})[p.district] || ["", ""];
    const prov = (state.geo.provinces || []).find((x) => x.code === p.province) || { name_th: "", name_en: "" };
    const code = (state.codes || "")[i] || "n";
    const status = { u: "up", d: "down", n: "unknown" }[code];
    tip.replaceChildren(
      el("b", {}, `${p.name} (${p.id})`),
      el("div", {}, `${T.village.th} ${p.village} · ${T.subdistrict.th}${p.subdistrict}`),
      el("div", {}, `${T.district.th}${d[0]} ${T.province.th}${prov.name_th}`),
      el("div", { class: "en" }, `Village ${p.village} · ${d[1]} district, ${prov.name_en} province`),
      el("div", {}, badge(status)),
    );
    tip.hidden = false;
    const box = $("map").getBoundingClientRect();
    const x = evt.clientX - box.left, y = evt.clientY - box.top;
    tip.style.left = Math.min(x + 14, box.width - 330) + "px";
    tip.style.top = Math.min(y + 14, box.height - 110) + "px";
    $("map").dataset.hover = p.id;
  }

  // -- panel (drill-down) --------------------------------------------------------------------

  function crumbs() {
    const nav = $("crumbs");
    const parts = [el("button", { type: "button", on: { click: () => open("nation") } }, t("thailand"))];
    const d = state.view.data;
    const add = (label, level, code) => {
      parts.push(el("span", { class: "sep" }, "›"));
      parts.push(code ? el("button", { type: "button", on: { click: () => open(level, code) } }, label) : el("span", {}, label));
    };
    if (d && state.view.level === "province") add(areaName(d), "province", null);
    if (d && state.view.level === "district") { add(areaName(d.province), "province", d.province.code); add(areaName(d), "district", null); }
    if (d && state.view.level === "site") {
      add(areaName(d.province), "province", d.province.code);
      add(areaName(d.district), "district", d.district.code);
      add(d.name, "site", null);
    }
    nav.replaceChildren(...parts);
  }

  const pctUp = (a) => (a.sites ? (100 * a.up) / a.sites : 0);
  const worstFirst = (a, b) => pctUp(a) - pctUp(b) || b.down - a.down || a.code.localeCompare(b.code);

  function areaTable(areas, level, headKey) {
    const rows = areas.slice().sort(worstFirst).map((a) => {
      const bar = el("i");
      bar.style.width = pctUp(a).toFixed(1) + "%";
      return el("tr", { class: "click", data: { code: a.code, level }, on: { click: () => open(level, a.code) } },
        el("td", {}, areaName(a), el("div", { class: "sub" }, otherName(a))),
        el("td", { class: "num" }, num(a.sites)),
        el("td", { class: "num" + (a.down ? " bad" : "") }, num(a.down)),
        el("td", { class: "num" }, pctUp(a).toFixed(1), el("span", { class: "bar" }, bar)));
    });
    return el("table", { class: "tbl", id: "areas" },
      el("thead", {}, el("tr", {}, el("th", {}, t(headKey)), el("th", { class: "num" }, t("sites")),
        el("th", { class: "num" }, t("down")), el("th", { class: "num" }, t("pct_up")))),
      el("tbody", {}, rows));
  }

  function renderView() {
    const view = $("view");
    const d = state.view.data;
    crumbs();
    if (state.view.level === "nation") {
      if (state.status) view.replaceChildren(areaTable(state.status.provinces, "province", "province"));
      return;
    }
    if (!d) return;
    if (state.view.level === "province") {
      view.replaceChildren(el("h2", {}, `${areaName(d)} · ${otherName(d)}`), areaTable(d.districts, "district", "district"));
    } else if (state.view.level === "district") {
      const rows = d.sites.slice().sort((a, b) => statusRank(a.status) - statusRank(b.status) || a.name.localeCompare(b.name, "th"))
        .map((s) => el("tr", { class: "click", data: { site: s.site_id }, on: { click: () => open("site", s.site_id) } },
          el("td", {}, s.name, el("div", { class: "sub" }, `${s.site_id} · ${s.village}`)),
          el("td", {}, badge(s.status)),
          el("td", {}, fmtTime(s.since)),
          el("td", { class: "num" }, `${num(s.devices - s.devices_down)}/${num(s.devices)}`)));
      view.replaceChildren(el("h2", {}, `${areaName(d)} · ${otherName(d)}`),
        el("table", { class: "tbl", id: "sites" },
          el("thead", {}, el("tr", {}, el("th", {}, t("site")), el("th", {}, t("status")), el("th", {}, t("since")), el("th", { class: "num" }, t("devices")))),
          el("tbody", {}, rows)));
    } else if (state.view.level === "site") {
      const rows = d.devices.map((v) => el("tr", { data: { device: v.device_id } },
        el("td", {}, v.device_id, el("div", { class: "sub" }, v.address)),
        el("td", {}, v.role.replace("_", " ")),
        el("td", {}, badge(v.status)),
        el("td", {}, v.poll_status || t("none"), v.detail ? el("div", { class: "sub" }, v.detail) : null),
        el("td", {}, fmtTime(v.since)),
        el("td", {}, fmtTime(v.last_poll))));
      view.replaceChildren(
        el("h2", {}, `${d.name} (${d.site_id})`, " ", badge(d.status)),
        el("dl", { class: "kv" },
          el("dt", {}, t("village")), el("dd", {}, d.village),
          el("dt", {}, t("subdistrict")), el("dd", {}, `${areaName(d.subdistrict)} · ${otherName(d.subdistrict)}`),
          el("dt", {}, t("district")), el("dd", {}, `${areaName(d.district)} · ${otherName(d.district)}`),
          el("dt", {}, t("province")), el("dd", {}, `${areaName(d.province)} · ${otherName(d.province)}`),
          el("dt", {}, t("since")), el("dd", {}, fmtTime(d.since)),
          el("dt", {}, t("coords")), el("dd", {}, `${d.lat.toFixed(5)}, ${d.lon.toFixed(5)}`)),
        el("table", { class: "tbl", id: "devices" },
          el("thead", {}, el("tr", {}, el("th", {}, t("device")), el("th", {}, t("role")), el("th", {}, t("status")),
            el("th", {}, t("poll_status")), el("th", {}, t("since")), el("th", {}, t("last_poll")))),
          el("tbody", {}, rows)));
    }
  }
  const statusRank = (s) => ({ down: 0, unknown: 1, up: 2 }[s]);

  async function open(level, code) {
    state.view = { level, code: code || null, data: null };
    state.focus = level === "nation" ? null : { level, code };
    if (level !== "nation") {
      try {
        state.view.data = await get(`/api/v1/${level === "province" ? "provinces" : level === "district" ? "districts" : "sites"}/${encodeURIComponent(code)}`);
        connected();
      } catch (e) {
        lost();
      }
    }
    renderView();
    drawMap();
  }

  // -- incidents and messages ------------------------------------------------------------------

  function renderIncidents() {
    const s = state.status;
    if (!s) return;
    $("ro").textContent = !s.alerting ? t("alerting_off") : s.can_acknowledge ? "" : t("read_only");
    const body = $("incidents").tBodies[0];
    if (!s.incidents.length) {
      body.replaceChildren(el("tr", {}, el("td", { colspan: 8, class: "empty" }, t("no_incidents"))));
    } else {
      const districts = (state.geo && state.geo.districts) || {};
      const provs = {};
      for (const p of s.provinces) provs[p.code] = p;
      body.replaceChildren(...s.incidents.slice().reverse().map((i) => {
        const root = i.root_device || i.root_link || i.root_site || "";
        const dn = districts[i.district];
        const where = [i.root_site, dn ? (state.lang === "th" ? dn[0] : dn[1]) : i.district,
          provs[i.province] ? areaName(provs[i.province]) : i.province].filter(Boolean).join(" · ");
        const ackBtn = s.can_acknowledge
          ? el("button", { type: "button", class: "ackbtn", data: { incident: i.incident_id }, on: { click: () => askAck(i) } }, t("ack"))
          : null;
        return el("tr", { data: { incident: i.incident_id } },
          el("td", {}, i.incident_id, el("div", {}, badge(i.status))),
          el("td", {}, i.kind.replace("_", " "), el("div", { class: "sub" }, i.severity)),
          el("td", {}, root, el("div", { class: "sub" }, i.summary)),
          el("td", {}, where),
          el("td", { class: "num" }, `${num(i.affected_sites)} / ${num(i.affected_villages || 0)}`),
          el("td", {}, fmtTime(i.started_at)),
          el("td", { class: "acked" }, i.acknowledged_by
            ? [i.acknowledged_by, i.ack_note ? action(i.ack_note) : "", via(i.ack_channel)]
              .filter(Boolean).join(" · ")
            : t("none")),
          el("td", {}, ackBtn));
      }));
    }
    const list = $("messages");
    if (!s.messages || !s.messages.length) {
      list.replaceChildren(el("li", { class: "empty" }, t("no_messages")));
    } else {
      list.replaceChildren(...s.messages.map((m) => el("li", {},
        el("div", { class: "sub" }, `${fmtTime(m.created_at)} · ${m.channel} · ${m.incident_id} · ${m.status} · ${m.delivered_at ? t("delivered") : t("pending")}`),
        el("div", { class: "text", title: m.text }, (m.text || "").split("\n")[0]))));
    }
  }

  let acking = null;
  function askAck(incident) {
    acking = incident;
    $("ack-id").textContent = incident.incident_id;
    $("ack-summary").textContent = incident.summary;
    $("ack-error").hidden = true;
    $("ack").showModal();
    $("ack-user").focus();
  }

  async function submitAck(evt) {
    evt.preventDefault();
    if (!acking) return;
    const user = $("ack-user").value.trim(), pass = $("ack-pass").value;
    const by = $("ack-by").value.trim() || user;
    const auth = "Basic " + btoa(String.fromCharCode(...new TextEncoder().encode(user + ":" + pass)));
    try {
      const resp = await fetch(`/api/v1/incidents/${encodeURIComponent(acking.incident_id)}/ack`, {
        method: "POST", headers: { "Content-Type": "application/json", Authorization: auth },
        body: JSON.stringify({ by, note: $("ack-note").value }),
      });
      const data = await resp.json().catch(() => ({ error: `HTTP ${resp.status}` }));
      if (!resp.ok) throw new Error(data.error || `HTTP ${resp.status}`);
      $("ack-pass").value = "";
      $("ack").close();
      acking = null;
      refresh();
    } catch (e) {
      const box = $("ack-error");
      box.textContent = t("ack_failed", { e: e.message });
      box.hidden = false;
    }
  }

  // -- language, era, refresh --------------------------------------------------------------------

  function applyTexts() {
    document.documentElement.lang = state.lang;
    document.title = "pubnet — " + t("title");
    for (const node of document.querySelectorAll("[data-t]")) node.textContent = t(node.dataset.t);
    $("era-be").textContent = t("era_be");
    $("era-ce").textContent = t("era_ce");
    for (const b of document.querySelectorAll("[data-lang]")) b.classList.toggle("on", b.dataset.lang === state.lang);
    for (const b of document.querySelectorAll("[data-era]")) b.classList.toggle("on", b.dataset.era === era());
  }

  function renderAll() {
    applyTexts();
    renderHeadline();
    renderView();
    renderIncidents();
    drawMap();
    if (state.lostSince) lost(); else if (state.status) connected();
  }

  async function refresh() {
    clearTimeout(state.timer);
    if (state.busy) { state.again = true; return; }
    state.busy = true;
    try {
      // the first time, the map's points come with the status, in parallel
      const [status, geo] = await Promise.all([
        get("/api/v1/status"), state.geo ? null : get("/api/v1/sites.geojson")]);
      state.status = status;
      state.refresh = Math.max(1000, (status.refresh_seconds || 2) * 1000);
      if (geo) {
        state.geo = geo;
        state.sitesVersion = -1;
      }
      if (status.sites_version !== state.sitesVersion) {
        const codes = await get("/api/v1/site-status");
        state.codes = codes.status;
        state.sitesVersion = codes.sites_version;
      }
      if (state.view.level !== "nation") {
        const path = { province: "provinces", district: "districts", site: "sites" }[state.view.level];
        state.view.data = await get(`/api/v1/${path}/${encodeURIComponent(state.view.code)}`);
      }
      connected();
      if (window.pubnetFirstRender === undefined) performance.mark("pubnet-data");
      renderHeadline();
      renderView();
      if (window.pubnetFirstRender === undefined) performance.mark("pubnet-view");
      renderIncidents();
      if (window.pubnetFirstRender === undefined) performance.mark("pubnet-incidents");
      drawMap();
    } catch (e) {
      lost();
    }
    state.busy = false;
    state.timer = setTimeout(refresh, state.again ? 0 : state.refresh);
    state.again = false;
  }

  async function start() {
    applyTexts();
    for (const b of document.querySelectorAll("[data-lang]")) b.addEventListener("click", () => {
      state.lang = b.dataset.lang; store("pubnet.lang", state.lang); renderAll();
    });
    for (const b of document.querySelectorAll("[data-era]")) b.addEventListener("click", () => {
      state.era = b.dataset.era; store("pubnet.era", state.era); renderAll();
    });
    $("map-all").addEventListener("click", () => open("nation"));
    const canvas = $("map");
    canvas.addEventListener("mousemove", showTip);
    canvas.addEventListener("mouseleave", () => { $("tip").hidden = true; });
    canvas.addEventListener("click", (evt) => {
      const i = nearest(evt);
      if (i >= 0) open("site", state.geo.features[i].properties.id);
    });
    $("ack-form").addEventListener("submit", submitAck);
    $("ack-cancel").addEventListener("click", () => { $("ack").close(); acking = null; });
    window.addEventListener("resize", () => drawMap());
    await refresh();
  }

  start();
})();
