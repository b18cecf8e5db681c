// Passkeys: forms marked data-passkey are shown only when this runs in a browser with
// WebAuthn. On submit it asks the authenticator, fills the form's hidden fields (base64url)
// and posts the form; the server checks everything.
(function () {
  if (!window.PublicKeyCredential) {
    return;
  }
  function bytes(b64) {
    var s = atob(b64.replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) {
      out[i] = s.charCodeAt(i);
    }
    return out;
  }
  function encode(buffer) {
    var s = "";
    var b = new Uint8Array(buffer);
    for (var i = 0; i < b.length; i++) {
      s += String.fromCharCode(b[i]);
    }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function credentials(list) {
    return list ? list.split(" ").map(function (id) {
      return { type: "public-key", id: bytes(id) };
    }) : [];
  }
  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    form.hidden = false;
    var d = form.dataset;
    var f = form.elements;
    form.addEventListener("submit", function (event) {
      // Without a name the server says so before any authenticator is asked.
      if (f.name && !f.name.value.trim()) {
        return;
      }
      event.preventDefault();
      var asked;
      if (d.passkey === "register") {
        asked = navigator.credentials.create({ publicKey: {
          rp: { id: d.rp, name: d.rp },
          user: { id: bytes(d.userId), name: d.userName, displayName: d.userName },
          challenge: bytes(d.challenge),
          pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }],
          excludeCredentials: credentials(d.known),
          authenticatorSelection: { residentKey: "required", userVerification: "required" },
          attestation: "none",
          timeout: 300000
        } }).then(function (c) {
          f.client_data.value = encode(c.response.clientDataJSON);
          f.attestation.value = encode(c.response.attestationObject);
        });
      } else {
        asked = navigator.credentials.get({ publicKey: {
          rpId: d.rp,
          challenge: bytes(d.challenge),
          allowCredentials: credentials(d.known),
          userVerification: "required",
          timeout: 300000
        } }).then(function (c) {
          f.credential_id.value = encode(c.rawId);
          f.client_data.value = encode(c.response.clientDataJSON);
          f.authenticator_data.value = encode(c.response.authenticatorData);
          f.signature.value = encode(c.response.signature);
          f.user_handle.value = c.response.userHandle ? encode(c.response.userHandle) : "";
        });
      }
      asked.then(function () {
        form.submit();
      }, function () {
        form.querySelector("[data-passkey-status]").textContent =
          "The passkey was not used. Try again, or use another way.";
      });
    });
  });
})();
