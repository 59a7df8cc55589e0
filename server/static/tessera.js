// Passkey (WebAuthn) ceremonies for Tessera's pages. A button with data-webauthn="create" or
// "get" asks the server for options (data-begin), runs the browser ceremony, sends the answer
// (data-finish) and follows the redirect the server returns. The only other script is signing.js,
// which keeps a signing request's page current.
"use strict";

(function () {
  function b64uToBuf(s) {
    const pad = "=".repeat((4 - (s.length % 4)) % 4);
    const bin = atob((s + pad).replace(/-/g, "+").replace(/_/g, "/"));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function bufToB64u(buf) {
    const bytes = new Uint8Array(buf);
    let bin = "";
    for (let i = 0; i < bytes.length; i++) bin += String.fromCharCode(bytes[i]);
    return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function creationOptions(o) {
    const pk = Object.assign({}, o.publicKey);
    pk.challenge = b64uToBuf(pk.challenge);
    pk.user = Object.assign({}, pk.user, { id: b64uToBuf(pk.user.id) });
    pk.excludeCredentials = (pk.excludeCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: b64uToBuf(c.id) });
    });
    return { publicKey: pk };
  }

  function requestOptions(o) {
    const pk = Object.assign({}, o.publicKey);
    pk.challenge = b64uToBuf(pk.challenge);
    pk.allowCredentials = (pk.allowCredentials || []).map(function (c) {
      return Object.assign({}, c, { id: b64uToBuf(c.id) });
    });
    const opts = { publicKey: pk };
    if (o.mediation) opts.mediation = o.mediation;
    return opts;
  }

  function registrationJson(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: bufToB64u(cred.rawId),
      type: cred.type,
      response: {
        attestationObject: bufToB64u(r.attestationObject),
        clientDataJSON: bufToB64u(r.clientDataJSON),
        transports: typeof r.getTransports === "function" ? r.getTransports() : undefined,
      },
      extensions: cred.getClientExtensionResults(),
    };
  }

  function assertionJson(cred) {
    const r = cred.response;
    return {
      id: cred.id,
      rawId: bufToB64u(cred.rawId),
      type: cred.type,
      response: {
        authenticatorData: bufToB64u(r.authenticatorData),
        clientDataJSON: bufToB64u(r.clientDataJSON),
        signature: bufToB64u(r.signature),
        userHandle: r.userHandle ? bufToB64u(r.userHandle) : null,
      },
      extensions: cred.getClientExtensionResults(),
    };
  }

  async function post(url, fields) {
    const body = new URLSearchParams();
    Object.keys(fields).forEach(function (k) {
      if (fields[k] !== undefined && fields[k] !== null) body.append(k, fields[k]);
    });
    const resp = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
      body: body,
    });
    let data = {};
    try {
      data = await resp.json();
    } catch (e) {
      data = { error: "HTTP " + resp.status };
    }
    if (!resp.ok || data.error) throw new Error(data.error || "HTTP " + resp.status);
    return data;
  }

  function status(text) {
    const el = document.getElementById("webauthn-status");
    if (el) el.textContent = text;
  }

  async function run(button) {
    const mode = button.dataset.webauthn;
    const common = { csrf_token: button.dataset.csrf, req: button.dataset.req };
    const begun = await post(button.dataset.begin, common);
    let answer;
    if (mode === "create") {
      const cred = await navigator.credentials.create(creationOptions(begun.options));
      answer = registrationJson(cred);
    } else {
      const cred = await navigator.credentials.get(requestOptions(begun.options));
      answer = assertionJson(cred);
    }
    const nameInput = button.dataset.nameInput
      ? document.getElementById(button.dataset.nameInput)
      : null;
    const done = await post(
      button.dataset.finish,
      Object.assign({}, common, {
        ceremony: begun.ceremony,
        name: nameInput ? nameInput.value : undefined,
        credential: JSON.stringify(answer),
      })
    );
    window.location.assign(done.redirect);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("button[data-webauthn]").forEach(function (button) {
      if (!window.PublicKeyCredential) {
        button.disabled = true;
        return;
      }
      button.addEventListener("click", function () {
        button.disabled = true;
        status("…");
        run(button).catch(function (e) {
          status(e && e.message ? e.message : String(e));
          button.disabled = false;
        });
      });
    });
  });
})();
