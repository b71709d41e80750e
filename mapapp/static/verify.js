/* /verify: check a file and its minisign signature (.minisig) with the site's public key, in
 * the browser. Ed25519 from WebCrypto; BLAKE2b-512 (minisign hashes the file with it before
 * signing) below, after RFC 7693. Nothing is sent anywhere. */
(function () {
  "use strict";

  // --- BLAKE2b-512 (RFC 7693), 64-bit words as BigInt ---
  var MASK = (1n << 64n) - 1n;
  var IV = [
    0x6a09e667f3bcc908n, 0xbb67ae8584caa73bn, 0x3c6ef372fe94f82bn, 0xa54ff53a5f1d36f1n,
    0x510e527fade682d1n, 0x9b05688c2b3e6c1fn, 0x1f83d9abfb41bd6bn, 0x5be0cd19137e2179n
  ];
  var SIGMA = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
    [14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3],
    [11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4],
    [7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8],
    [9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13],
    [2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9],
    [12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11],
    [13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10],
    [6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5],
    [10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0]
  ];

  function rotr(x, n) { return ((x >> n) | (x << (64n - n))) & MASK; }

  function compress(h, block, counter, last) {
    var v = h.concat(IV);
    var m = new Array(16);
    for (var i = 0; i < 16; i++) m[i] = block.getBigUint64(i * 8, true);
    v[12] ^= BigInt(counter) & MASK;
    v[13] ^= BigInt(counter) >> 64n;
    if (last) v[14] ^= MASK;
    function g(a, b, c, d, x, y) {
      v[a] = (v[a] + v[b] + x) & MASK; v[d] = rotr(v[d] ^ v[a], 32n);
      v[c] = (v[c] + v[d]) & MASK; v[b] = rotr(v[b] ^ v[c], 24n);
      v[a] = (v[a] + v[b] + y) & MASK; v[d] = rotr(v[d] ^ v[a], 16n);
      v[c] = (v[c] + v[d]) & MASK; v[b] = rotr(v[b] ^ v[c], 63n);
    }
    for (var r = 0; r < 12; r++) {
      var s = SIGMA[r % 10];
      g(0, 4, 8, 12, m[s[0]], m[s[1]]); g(1, 5, 9, 13, m[s[2]], m[s[3]]);
      g(2, 6, 10, 14, m[s[4]], m[s[5]]); g(3, 7, 11, 15, m[s[6]], m[s[7]]);
      g(0, 5, 10, 15, m[s[8]], m[s[9]]); g(1, 6, 11, 12, m[s[10]], m[s[11]]);
      g(2, 7, 8, 13, m[s[12]], m[s[13]]); g(3, 4, 9, 14, m[s[14]], m[s[15]]);
    }
    for (var k = 0; k < 8; k++) h[k] ^= v[k] ^ v[k + 8];
  }

  function blake2b512(bytes) {
    var h = IV.slice();
    h[0] ^= 0x01010040n;  // no key, 64-byte digest
    var blocks = Math.max(1, Math.ceil(bytes.length / 128));
    var buffer = new Uint8Array(128);
    var view = new DataView(buffer.buffer);
    for (var b = 0; b < blocks; b++) {
      var start = b * 128;
      var end = Math.min(start + 128, bytes.length);
      buffer.fill(0);
      buffer.set(bytes.subarray(start, end));
      compress(h, view, end, b === blocks - 1);
    }
    var out = new Uint8Array(64);
    var outView = new DataView(out.buffer);
    for (var i = 0; i < 8; i++) outView.setBigUint64(i * 8, h[i], true);
    return out;
  }
  window.RallyBlake2b = blake2b512;  // for the tests, against Python's hashlib

  // --- minisign ---
  function fromBase64(text) {
    var raw = atob(text.trim());
    var out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out;
  }

  function equal(a, b) {
    if (a.length !== b.length) return false;
    for (var i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }

  function parseSignature(text) {
    var lines = text.replace(/\r/g, "").split("\n");
    if (lines.length < 4 || lines[2].indexOf("trusted comment: ") !== 0) return null;
    try {
      var main = fromBase64(lines[1]);
      var global = fromBase64(lines[3]);
    } catch (e) {
      return null;
    }
    if (main.length !== 74 || global.length !== 64) return null;
    var algorithm = String.fromCharCode(main[0], main[1]);
    if (algorithm !== "ED" && algorithm !== "Ed") return null;
    return {
      prehashed: algorithm === "ED", keyId: main.subarray(2, 10), signature: main.subarray(10),
      comment: lines[2].slice("trusted comment: ".length), global: global
    };
  }

  // Whether `data` verifies with the minisign public key (base64) and signature text;
  // resolves to {ok, comment} or {ok: false, reason}.
  async function check(publicKeyBase64, data, signatureText) {
    var signature = parseSignature(signatureText);
    if (!signature) return { ok: false, reason: "unreadable" };
    var pk = fromBase64(publicKeyBase64);
    if (!equal(pk.subarray(2, 10), signature.keyId)) return { ok: false, reason: "bad" };
    var key;
    try {
      key = await crypto.subtle.importKey("raw", pk.subarray(10), { name: "Ed25519" }, false, ["verify"]);
    } catch (e) {
      return { ok: false, reason: "unsupported" };
    }
    var message = signature.prehashed ? blake2b512(data) : data;
    var fileOk = await crypto.subtle.verify({ name: "Ed25519" }, key, signature.signature, message);
    var comment = new TextEncoder().encode(signature.comment);
    var both = new Uint8Array(64 + comment.length);
    both.set(signature.signature);
    both.set(comment, 64);
    var commentOk = await crypto.subtle.verify({ name: "Ed25519" }, key, signature.global, both);
    if (!fileOk || !commentOk) return { ok: false, reason: "bad" };
    return { ok: true, comment: signature.comment };
  }
  window.RallyVerify = check;

  var form = document.getElementById("verify-form");
  if (!form) return;
  var input = document.getElementById("verify-files");
  var result = document.getElementById("verify-result");

  function say(kind, text, detail) {
    result.textContent = "";
    result.className = "verify-" + kind;
    var p = document.createElement("p");
    p.textContent = text;
    result.appendChild(p);
    if (detail) {
      var d = document.createElement("p");
      d.textContent = detail;
      result.appendChild(d);
    }
  }

  async function run(files) {
    files = Array.prototype.slice.call(files || []);
    var sig = files.filter(function (f) { return /\.minisig$/i.test(f.name); })[0];
    var file = files.filter(function (f) { return f !== sig; })[0];
    if (!sig || !file) return say("bad", form.getAttribute("data-missing"));
    var outcome = await check(
      form.getAttribute("data-public-key"),
      new Uint8Array(await file.arrayBuffer()),
      await sig.text()
    );
    if (outcome.ok) {
      say("ok", form.getAttribute("data-ok"), form.getAttribute("data-signed") + " " + outcome.comment);
    } else {
      say("bad", form.getAttribute("data-" + outcome.reason));
    }
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    run(input.files);
  });
  input.addEventListener("change", function () { if (input.files.length >= 2) run(input.files); });
  document.addEventListener("dragover", function (event) { event.preventDefault(); });
  document.addEventListener("drop", function (event) {
    event.preventDefault();
    run(event.dataTransfer && event.dataTransfer.files);
  });
})();
