// The official MCP client SDK against an MCP server protected by Grantor, driven by
// tests/it/mcp.rs: `node client.mjs <mcp server url>`.
//
// It connects with StreamableHTTPClientTransport and an OAuthClientProvider. The SDK finds
// the server's protected-resource metadata from its 401, Grantor from that, registers
// dynamically (RFC 7591, no initial access token) and starts the authorization code flow
// with PKCE and `resource`. Where a real client would open a browser, this prints
// `AUTHORIZE <url>` and reads the redirect back (the URL Grantor sent the browser to) from
// standard input. Then it finishes auth, lists the tools, calls one, and prints
// `RESULT <text>`. Anything else goes to standard error.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js";
import readline from "node:readline";

const serverUrl = new URL(process.argv[2]);
// Nothing listens here: the test reads where Grantor redirects and hands it back.
const REDIRECT = "http://127.0.0.1:43117/callback";

class Provider {
  constructor() {
    this.client = undefined;
    this.stored = undefined;
    this.verifier = undefined;
  }
  get redirectUrl() {
    return REDIRECT;
  }
  get clientMetadata() {
    return {
      client_name: "Grantor MCP test client",
      redirect_uris: [REDIRECT],
      grant_types: ["authorization_code", "refresh_token"],
      response_types: ["code"],
      token_endpoint_auth_method: "none",
    };
  }
  state() {
    return "mcp-state";
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info) {
    this.client = info;
    console.error(`registered ${info.client_id}`);
    console.log(`REGISTERED ${info.client_id}`);
  }
  tokens() {
    return this.stored;
  }
  saveTokens(tokens) {
    this.stored = tokens;
  }
  redirectToAuthorization(url) {
    console.log(`AUTHORIZE ${url.toString()}`);
  }
  saveCodeVerifier(verifier) {
    this.verifier = verifier;
  }
  codeVerifier() {
    return this.verifier;
  }
}

const lines = readline.createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));

const provider = new Provider();

async function connect(transport) {
  const client = new Client({ name: "grantor-mcp-test", version: "1.0.0" });
  await client.connect(transport);
  return { client, transport };
}

const newTransport = () => new StreamableHTTPClientTransport(serverUrl, { authProvider: provider });

async function main() {
  let connected;
  const first = newTransport();
  try {
    connected = await connect(first);
  } catch (e) {
    if (!(e instanceof UnauthorizedError)) throw e;
    const redirect = new URL(await nextLine());
    const error = redirect.searchParams.get("error");
    if (error) throw new Error(`authorization refused: ${error}: ${redirect.searchParams.get("error_description")}`);
    if (redirect.searchParams.get("state") !== "mcp-state") throw new Error("state mismatch");
    await first.finishAuth(redirect.searchParams.get("code"));
    connected = await connect(newTransport());
  }
  const { client } = connected;
  const { tools } = await client.listTools();
  console.error(`tools: ${tools.map((t) => t.name).join(", ")}`);
  const result = await client.callTool({ name: "whoami", arguments: {} });
  console.log(`RESULT ${result.content.map((c) => c.text).join(" ")}`);
  await client.close();
  lines.close();
}

main().catch((e) => {
  console.error(e?.stack ?? String(e));
  process.exit(1);
});
