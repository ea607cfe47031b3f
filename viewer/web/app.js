/* app.js - the page of `ivcs serve` (docs/VIEWER.md). Plain JS, no build step.
 * Talks to the server's JSON API (/api/...); media comes from the bucket
 * through presigned URLs (or /api/segment with --proxy), played by hls.js
 * (vendor/hls.min.js) or natively where the browser plays HLS (Safari).
 * The timeline is in the browser's local zone; object keys stay UTC. */
'use strict';
(function () {
  const $ = (id) => document.getElementById(id);
  const video = $('video');
  const S = {
    info: null, days: [], day: null, from: 0, to: 0, tl: null,
    hls: null, playing: null, liveTimer: 0, loadSeq: 0, codecError: false,
  };
  window.ivcsView = S; /* for people (and tests) poking at the page */

  /* ------------------------------------------------------------ messages */
  function say(text, kind) {
    const m = $('msg');
    m.textContent = text || '';
    m.className = kind || 'info';
  }
  const fmtTime = (ms) => new Date(ms).toLocaleTimeString([], { hour12: false });
  const fmtDay = (d) => d.toLocaleDateString([], { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' });
  const pad = (n) => String(n).padStart(2, '0');
  const localKey = (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const parseLocal = (k) => { const [y, m, d] = k.split('-').map(Number); return new Date(y, m - 1, d); };

  /* One API call: the JSON (or text), or an Error whose message a person can
   * read: the server's own error text for a 4xx/5xx, or that it is gone. */
  async function api(path, asText) {
    let r;
    try {
      r = await fetch(path, { cache: 'no-store' });
    } catch (e) {
      throw new Error('The ivcs server does not answer (it may have stopped): start `ivcs serve` again, then reload this page.');
    }
    if (!r.ok) {
      let msg = `The server answered HTTP ${r.status}.`;
      let code = '';
      try { const j = await r.json(); if (j && j.error) { msg = j.error; code = j.code || ''; } } catch (e) { /* not JSON */ }
      const err = new Error(msg);
      err.status = r.status;
      err.code = code;
      throw err;
    }
    return asText ? r.text() : r.json();
  }

  /* ------------------------------------------------------------ days */
  async function loadDays() {
    const j = await api('/api/days');
    const set = new Set();
    for (const k of j.days) { /* a UTC day covers up to two local days */
      const t = Date.parse(k + 'T00:00:00Z');
      set.add(localKey(new Date(t)));
      set.add(localKey(new Date(t + 86400000 - 1)));
    }
    S.days = [...set].sort();
    const sel = $('days');
    sel.textContent = '';
    for (const k of S.days) {
      const o = document.createElement('option');
      o.value = k;
      o.textContent = fmtDay(parseLocal(k));
      sel.appendChild(o);
    }
    if (!S.days.length) sel.appendChild(new Option('no recordings yet', ''));
  }

  async function showDay(key) {
    if (!key) return;
    S.day = key;
    $('pick').value = key;
    if (S.days.includes(key)) $('days').value = key;
    const d = parseLocal(key);
    S.from = d.getTime();
    S.to = new Date(d.getFullYear(), d.getMonth(), d.getDate() + 1).getTime();
    if (!(S.vFrom >= S.from && S.vTo <= S.to)) { S.vFrom = S.from; S.vTo = S.to; }
    const seq = ++S.loadSeq;
    drawTicks();
    try {
      const tl = await api(`/api/timeline?from=${S.from}&to=${S.to}`);
      if (seq !== S.loadSeq) return;
      S.tl = tl;
      drawTimeline();
      const nr = tl.ranges.length, ne = tl.events.length;
      say(`${fmtDay(d)}: ${nr} recorded range${nr === 1 ? '' : 's'}, ${tl.gaps.length} gap${tl.gaps.length === 1 ? '' : 's'}, ${ne} event${ne === 1 ? '' : 's'}.`, 'info');
    } catch (e) {
      if (seq !== S.loadSeq) return;
      S.tl = null;
      drawTimeline();
      if (e.status === 404 && e.code === 'empty')
        say(`Nothing was recorded on ${fmtDay(d)}. Pick a day from the list.`, 'error');
      else
        say(e.message, 'error');
    }
  }

  /* ------------------------------------------------------------ timeline */
  /* The timeline shows [vFrom, vTo) of the day: 24 h at first; the wheel,
   * + and - zoom around a point, "fit" zooms to the day's recordings. */
  const pct = (ms) => ((ms - S.vFrom) / (S.vTo - S.vFrom)) * 100;
  const atX = (clientX) => {
    const box = $('track').getBoundingClientRect();
    return S.vFrom + ((clientX - box.left) / box.width) * (S.vTo - S.vFrom);
  };
  const STEPS = [1e3, 2e3, 5e3, 1e4, 3e4, 6e4, 3e5, 6e5, 18e5, 36e5, 108e5];

  function drawTicks() {
    const t = $('ticks');
    t.textContent = '';
    const d = parseLocal(S.day);
    const span = S.vTo - S.vFrom;
    if (span >= S.to - S.from) { /* the whole day: local hours (DST-proof) */
      for (let h = 0; h < 24; h += 1) {
        const ms = new Date(d.getFullYear(), d.getMonth(), d.getDate(), h).getTime();
        const el = document.createElement('div');
        el.className = 'tick';
        el.style.left = pct(ms) + '%';
        if (h % 3 === 0) { const sp = document.createElement('span'); sp.textContent = pad(h) + ':00'; el.appendChild(sp); }
        t.appendChild(el);
      }
      return;
    }
    const step = STEPS.find((x) => span / x <= 24) || STEPS[STEPS.length - 1];
    const every = span / step > 12 ? 2 : 1;
    let k = Math.ceil((S.vFrom - S.from) / step);
    for (let ms = S.from + k * step; ms < S.vTo; ms += step, k++) {
      const el = document.createElement('div');
      el.className = 'tick';
      el.style.left = pct(ms) + '%';
      if (k % every === 0) {
        const sp = document.createElement('span');
        const dt = new Date(ms);
        sp.textContent = `${pad(dt.getHours())}:${pad(dt.getMinutes())}` + (step < 6e4 ? `:${pad(dt.getSeconds())}` : '');
        el.appendChild(sp);
      }
      t.appendChild(el);
    }
  }

  function zoom(factor, centerMs) {
    const day = S.to - S.from;
    let span = Math.min(day, Math.max(10000, (S.vTo - S.vFrom) * factor));
    const c = centerMs === undefined ? (S.vFrom + S.vTo) / 2 : centerMs;
    const f = (c - S.vFrom) / (S.vTo - S.vFrom);
    let a = c - f * span;
    a = Math.max(S.from, Math.min(a, S.to - span));
    S.vFrom = a;
    S.vTo = a + span;
    drawTicks();
    drawTimeline();
  }

  function fit() {
    if (!S.tl) return;
    const ts = [];
    for (const r of S.tl.ranges) ts.push(r.start_ms, r.end_ms);
    for (const e of S.tl.events) ts.push(e.stream_start_ms, e.event_stop_ms || e.event_start_ms);
    if (!ts.length) return;
    const a = Math.max(S.from, Math.min(...ts)), b = Math.min(S.to, Math.max(...ts));
    const span = Math.max(20000, (b - a) * 1.2);
    S.vFrom = Math.max(S.from, Math.min((a + b) / 2 - span / 2, S.to - span));
    S.vTo = Math.min(S.to, S.vFrom + span);
    drawTicks();
    drawTimeline();
  }
  S.zoom = zoom;
  S.fit = fit;

  function drawTimeline() {
    const track = $('track');
    track.textContent = '';
    if (!S.tl) { drawEvents(); return; }
    for (const r of S.tl.ranges) {
      const a = Math.max(r.start_ms, S.vFrom), b = Math.min(r.end_ms, S.vTo);
      if (b <= a) continue;
      const el = document.createElement('div');
      el.className = 'range';
      el.style.left = pct(a) + '%';
      el.style.width = Math.max(pct(b) - pct(a), 0) + '%';
      el.title = `recorded ${fmtTime(r.start_ms)} - ${fmtTime(r.end_ms)}`;
      el.addEventListener('click', (ev) => {
        ev.stopPropagation();
        const t = atX(ev.clientX);
        playRange(Math.max(r.start_ms, Math.floor(t)), r.end_ms, r.start_ms);
      });
      track.appendChild(el);
    }
    for (const e of S.tl.events) {
      const el = document.createElement('div');
      el.className = 'event' + (e.event_stop_ms === null ? ' open' : '');
      if (e.event_start_ms >= S.vTo || (e.event_stop_ms !== null && e.event_stop_ms < S.vFrom)) continue;
      el.style.left = pct(Math.max(e.event_start_ms, S.vFrom)) + '%';
      el.dataset.key = e.key;
      el.addEventListener('mouseenter', () => showTip(el, e));
      el.addEventListener('mouseleave', () => { $('tip').hidden = true; });
      el.addEventListener('click', (ev) => { ev.stopPropagation(); playEvent(e); });
      track.appendChild(el);
    }
    drawEvents();
  }

  function drawEvents() {
    const ol = $('events');
    ol.textContent = '';
    if (!S.tl) return;
    for (const e of S.tl.events) {
      const li = document.createElement('li');
      li.dataset.key = e.key;
      if (e.picture_url) { const im = document.createElement('img'); im.src = e.picture_url; im.alt = ''; li.appendChild(im); }
      const stop = e.event_stop_ms === null ? 'open' : fmtTime(e.event_stop_ms);
      li.appendChild(document.createTextNode(`event ${e.id} ${fmtTime(e.event_start_ms)} - ${stop}${e.info ? ' ' + e.info : ''}`));
      li.title = e.key;
      li.addEventListener('click', () => playEvent(e));
      ol.appendChild(li);
    }
  }

  function showTip(el, e) {
    const tip = $('tip');
    $('tip-img').src = e.picture_url || '';
    const stop = e.event_stop_ms === null ? 'still open' : fmtTime(e.event_stop_ms);
    $('tip-text').textContent = `event ${e.id}: ${fmtTime(e.event_start_ms)} - ${stop}` +
      (e.info ? ` "${e.info}"` : '') + (e.picture_url ? '' : ' (no picture)') + `\n${e.key}`;
    const r = el.getBoundingClientRect();
    tip.style.left = Math.min(r.left, window.innerWidth - 350) + 'px';
    tip.style.top = (r.bottom + 8) + 'px';
    tip.hidden = false;
  }

  $('track').addEventListener('click', (ev) => {
    const t = atX(ev.clientX);
    say(`Nothing was recorded at ${fmtTime(t)}: click a green range or a marker.`, 'error');
  });

  /* ------------------------------------------------------------ playback */
  function stopPlayer() {
    if (S.hls) { S.hls.destroy(); S.hls = null; }
    video.pause();
    video.removeAttribute('src');
    video.load();
  }

  /* Plays an HLS playlist given as text (segment lines made absolute).
   * startMs: the wall-clock time to seek to (PROGRAM-DATE-TIME based). */
  function playText(text, label, startMs) {
    const base = location.href;
    const lines = text.split('\n').map((l) => (l && l[0] !== '#' ? new URL(l, base).href : l));
    const url = URL.createObjectURL(new Blob([lines.join('\n')], { type: 'application/vnd.apple.mpegurl' }));
    stopPlayer();
    S.codecError = false;
    S.codec = '';
    S.playing = { label, startMs, pdt0: null, endMs: null };
    const m = /#EXT-X-PROGRAM-DATE-TIME:(\S+)/.exec(text);
    if (m) S.playing.pdt0 = Date.parse(m[1]);
    let dur = 0;
    for (const x of text.matchAll(/#EXTINF:([\d.]+)/g)) dur += parseFloat(x[1]);
    if (S.playing.pdt0 !== null) S.playing.endMs = S.playing.pdt0 + dur * 1000;
    const seek = () => {
      if (startMs && S.playing && S.playing.pdt0 !== null && startMs > S.playing.pdt0)
        video.currentTime = (startMs - S.playing.pdt0) / 1000;
    };
    if (window.Hls && Hls.isSupported()) {
      /* a refused or expired link is told within seconds, not after a minute of retries */
      const retry = { maxNumRetry: 2, retryDelayMs: 500, maxRetryDelayMs: 2000 };
      const policy = { default: { maxTimeToFirstByteMs: 10000, maxLoadTimeMs: 60000, timeoutRetry: retry, errorRetry: retry } };
      const hls = new Hls({ enableWorker: true, lowLatencyMode: false, fragLoadPolicy: policy });
      S.hls = hls;
      hls.on(Hls.Events.BUFFER_CODECS, (ev, data) => {
        const v = data.video || (data.audiovideo);
        const codec = v ? (v.codec || '') : '';
        S.codec = codec;
        if (/^(hvc1|hev1)/.test(codec) && !MediaSource.isTypeSupported(`video/mp4; codecs="${codec}"`)) codecFail('H.265 (HEVC)');
      });
      hls.on(Hls.Events.ERROR, (ev, data) => onHlsError(data));
      hls.on(Hls.Events.MANIFEST_PARSED, () => { seek(); video.play().catch(() => {}); });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (video.canPlayType('application/vnd.apple.mpegurl')) {
      video.src = url;
      video.addEventListener('loadedmetadata', seek, { once: true });
      video.play().catch(() => {});
    } else {
      say('This browser cannot play HLS (no Media Source Extensions): use `ivcs export` and a video player.', 'error');
      return;
    }
    say(`Playing ${label}.`, 'info');
  }

  function codecFail(what) {
    if (S.codecError) return;
    S.codecError = true;
    stopPlayer();
    say(`This recording is ${what} video, which this browser cannot decode. ` +
      'Play it in Safari or Edge with HEVC support, or use `ivcs export` and a player such as VLC or ffplay.', 'error');
  }

  function onHlsError(d) {
    if (S.codecError) return;
    const reason = (d.reason || d.error && d.error.message || '') + '';
    if (d.details === 'bufferAddCodecError' || d.details === 'bufferIncompatibleCodecsError' ||
        d.details === 'manifestIncompatibleCodecsError' || /hevc|hvc1|hev1|codec/i.test(reason)) {
      codecFail(S.codec ? codecName() : /avc/i.test(reason) ? 'this' : 'H.265 (HEVC)');
      return;
    }
    if (!d.fatal) return;
    if (d.type === 'networkError') {
      const code = d.response && d.response.code;
      const expires = S.info ? S.info.expires : 0;
      say(`Could not fetch the recording from the bucket (${d.details}${code ? `, HTTP ${code}` : ''}): its presigned link ` +
        `may have expired (links last ${expires} s), or the bucket refused it or has no CORS rule for this page ` +
        '(run `ivcs cors` or `ivcs serve --cors`, or use --proxy). Click the range again for fresh links.', 'error');
    } else if (d.type === 'mediaError') {
      say(`The browser could not decode the recording (${d.details}).`, 'error');
    } else {
      say(`Playback failed (${d.details}).`, 'error');
    }
    stopPlayer();
  }

  async function playRange(t, end, rangeStart) {
    say(`Loading ${fmtTime(t)} ...`, 'info');
    const to = Math.min(end, t + 6 * 3600 * 1000);
    try {
      const from = Math.max(rangeStart || t, t - 1);
      const text = await api(`/api/playlist.m3u8?from=${from}&to=${Math.max(to, from + 1)}`, true);
      playText(text, `from ${fmtTime(t)}`, t);
    } catch (e) {
      if (e.status === 404 && e.code === 'empty') say(`Nothing was recorded from ${fmtTime(t)} to ${fmtTime(to)}.`, 'error');
      else say(e.message, 'error');
    }
  }

  async function playEvent(e) {
    say(`Loading event ${e.id} ...`, 'info');
    try {
      const text = await api(`/api/event.m3u8?key=${encodeURIComponent(e.key)}`, true);
      playText(text, `event ${e.id} of ${fmtTime(e.event_start_ms)} (from ${fmtTime(e.stream_start_ms)}, with its pre-record)`, 0);
    } catch (err) {
      if (err.status === 404 && err.code === 'empty') say(`Event ${e.id} has no recording in the bucket.`, 'error');
      else say(err.message, 'error');
    }
  }
  S.playRange = playRange;
  S.playText = playText;
  S.showDay = showDay;

  /* The wall-clock time at the playhead. */
  function playheadMs() {
    if (S.hls && S.hls.playingDate) return S.hls.playingDate.getTime();
    if (S.playing && S.playing.pdt0 !== null) return S.playing.pdt0 + video.currentTime * 1000;
    return null;
  }

  const codecName = () => (/^(hvc1|hev1)/.test(S.codec || '') ? 'H.265 (HEVC)' : /^avc/.test(S.codec || '') ? 'H.264' : 'this');
  video.addEventListener('timeupdate', () => {
    /* time runs but no picture came: the browser took the stream and cannot
     * decode it (no black box: say so) */
    if (!S.codecError && video.currentTime > 1 && video.videoWidth === 0 && S.playing) codecFail(codecName());
    const t = playheadMs();
    const ph = $('playhead');
    if (t === null || !S.tl) { ph.hidden = true; return; }
    $('clock').textContent = `${new Date(t).toLocaleString()} (${S.playing ? S.playing.label : ''})`;
    if (t >= S.vFrom && t < S.vTo) { ph.style.left = pct(t) + '%'; ph.hidden = false; } else ph.hidden = true;
  });
  video.addEventListener('error', () => {
    if (video.error && !S.codecError) say(`The video element reports an error (${video.error.message || video.error.code}).`, 'error');
  });

  /* ------------------------------------------------------------ live edge */
  /* With "follow live": the timeline is reloaded every 5 s, and when the
   * playlist ends while more was recorded after it, playback goes on from
   * there. */
  video.addEventListener('ended', () => {
    if (!$('live').checked || !S.playing || S.playing.endMs === null || !S.tl) return;
    const after = S.tl.ranges.find((r) => r.end_ms > S.playing.endMs + 500);
    if (after) playRange(Math.max(after.start_ms, S.playing.endMs), after.end_ms, after.start_ms);
  });
  $('live').addEventListener('change', () => {
    clearInterval(S.liveTimer);
    if (!$('live').checked) return;
    const today = localKey(new Date());
    if (S.day !== today) showDay(today);
    S.liveTimer = setInterval(async () => {
      if (S.day !== localKey(new Date())) return;
      await showDay(S.day);
      if (video.paused && video.ended && S.playing) video.dispatchEvent(new Event('ended'));
    }, 5000);
  });

  /* ------------------------------------------------------------ controls */
  function stepDay(dir) {
    const i = S.days.indexOf(S.day);
    let k = null;
    if (i >= 0) k = S.days[i + dir];
    else k = dir > 0 ? S.days.find((d) => d > S.day) : [...S.days].reverse().find((d) => d < S.day);
    if (k) showDay(k);
  }
  $('days').addEventListener('change', () => showDay($('days').value));
  $('pick').addEventListener('change', () => showDay($('pick').value));
  $('prev').addEventListener('click', () => stepDay(-1));
  $('next').addEventListener('click', () => stepDay(1));
  $('reload').addEventListener('click', () => init(S.day));
  $('zin').addEventListener('click', () => zoom(1 / 4));
  $('zout').addEventListener('click', () => zoom(4));
  $('zfit').addEventListener('click', fit);
  $('timeline').addEventListener('wheel', (ev) => {
    ev.preventDefault();
    if (ev.shiftKey) { /* pan */
      const span = S.vTo - S.vFrom, d = (Math.sign(ev.deltaY || ev.deltaX) * span) / 10;
      S.vFrom = Math.max(S.from, Math.min(S.vFrom + d, S.to - span));
      S.vTo = S.vFrom + span;
      drawTicks();
      drawTimeline();
    } else {
      zoom(ev.deltaY < 0 ? 1 / 2 : 2, atX(ev.clientX));
    }
  }, { passive: false });
  document.addEventListener('keydown', (ev) => {
    if (ev.target.tagName === 'INPUT' || ev.target.tagName === 'SELECT') return;
    const step = ev.shiftKey ? 60 : 5;
    if (ev.key === 'ArrowRight') video.currentTime = Math.min(video.currentTime + step, video.duration || 0);
    else if (ev.key === 'ArrowLeft') video.currentTime = Math.max(video.currentTime - step, 0);
    else if (ev.key === ' ') { if (video.paused) video.play().catch(() => {}); else video.pause(); }
    else if (ev.key === '[') stepDay(-1);
    else if (ev.key === ']') stepDay(1);
    else if (ev.key === 'r') init(S.day);
    else if (ev.key === '+' || ev.key === '=') zoom(1 / 4);
    else if (ev.key === '-') zoom(4);
    else if (ev.key === '0') { S.vFrom = S.from; S.vTo = S.to; drawTicks(); drawTimeline(); }
    else if (ev.key === 'f') fit();
    else return;
    ev.preventDefault();
  });

  async function init(keepDay) {
    $('tz').textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || 'local';
    try {
      S.info = await api('/api/info');
      $('device').textContent = `device ${S.info.device}, channel ${S.info.channel}` + (S.info.proxy ? ' (media through the server)' : '');
      await loadDays();
    } catch (e) {
      say(e.message, 'error');
      return;
    }
    const want = (location.hash.match(/day=(\d{4}-\d{2}-\d{2})/) || [])[1];
    const day = want || keepDay || S.days[S.days.length - 1];
    if (day) await showDay(day);
    else say(`Device ${S.info.device} has no recordings or events yet.`, 'error');
  }
  init(null);
})();
