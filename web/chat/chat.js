// Parley's web chat: Converse.js (served from web/node_modules by the
// server at /web/converse/) configured for the server that serves this
// page. Its domain comes from /web/config.js; the endpoints are this
// page's own origin. Nothing is loaded from anywhere else: every setting
// below that would fetch from the internet is turned off or pointed here.

import converse from "/web/converse/converse.min.js";
import parley from "/web/config.js";

const secure = location.protocol === "https:";
const assets = "/web/converse/";

// Converse's full-page footer shows its sponsors' logos, fetched from
// conversejs.org. Converse keeps an element defined before it starts, so
// this plain one takes the footer's place.
customElements.define(
  "converse-footer",
  class extends HTMLElement {
    connectedCallback() {
      const p = document.createElement("p");
      p.className = "brand-subtitle subdued text-center mt-auto py-3";
      p.textContent = "Converse.js, served by Parley";
      this.replaceChildren(p);
    }
  },
);

// ?transport=bosh connects over BOSH only (networks that block WebSocket).
const boshOnly = new URLSearchParams(location.search).get("transport") === "bosh";

converse.initialize({
  // Where to connect: WebSocket; BOSH when the WebSocket connection fails
  // (or always, with ?transport=bosh).
  websocket_url: boshOnly ? undefined : `${secure ? "wss" : "ws"}://${location.host}/xmpp-websocket`,
  bosh_service_url: `${location.origin}/http-bind`,
  discover_connection_methods: false,

  // Who may log in: accounts of this server, by username alone.
  authentication: "login",
  locked_domain: parley.domain,
  domain_placeholder: parley.domain,
  allow_registration: false,
  auto_reconnect: true,

  // The chat: full page, roster, one-to-one chats with their history
  // from the server's archive (XEP-0313).
  view_mode: "fullscreen",
  show_controlbox_by_default: true,
  message_archiving: "always",
  archived_messages_page_size: 50,
  allow_non_roster_messaging: true,
  // OMEMO needs PEP (XEP-0163), which Parley does not offer yet.
  blacklisted_plugins: ["converse-omemo", "converse-omemo-views", "converse-omemo-profile", "converse-omemo-fingerprints"],

  // Everything from this server.
  assets_path: assets,
  sounds_path: `${assets}sounds/`,
  notification_icon: `${assets}images/logo/conversejs-filled.svg`,
  use_system_emojis: true,
  emoji_image_path: `${assets}images/`, // unused with system emojis
  autocomplete_providers_url: "",
  xmpp_providers_url: "",
  providers_link: "",
  show_client_info: false, // its About box shows sponsors' logos from conversejs.org
  embed_3rd_party_media_players: false,
  fetch_url_headers: false,
  play_sounds: false,

  loglevel: new URLSearchParams(location.search).has("debug") ? "debug" : "warn",
});
