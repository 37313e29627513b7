// Preload for servers that listen on a bare port (server-everything's `app.listen(PORT)` binds
// every interface): bind 127.0.0.1 instead and print the real address to stderr, so tests
// only ever use loopback and can start it with PORT=0.
//   PORT=0 node --import ./loopback.mjs node_modules/@modelcontextprotocol/server-everything/dist/index.js streamableHttp
import net from "node:net";

const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  if (/^\d+$/.test(String(args[0])) && typeof args[1] !== "string") {
    args.splice(1, 0, "127.0.0.1");
    this.once("listening", () =>
      console.error(`listening on http://127.0.0.1:${this.address().port}/mcp`),
    );
  }
  return listen.apply(this, args);
};
