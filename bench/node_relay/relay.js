// The bare Node relay: socket.io 4 on Node's own http server, with nothing of peerrooms.
//
// It is the anchor a team would otherwise pick, so it keeps socket.io's defaults (no
// permessage-deflate, the same ping interval and timeout as python-socketio's) and adds
// nothing but what the light client (bench/client.py) needs. It speaks exactly what the
// python relay (bench/relay.py) speaks: `join` enters the socket room `room:<id>` and acks
// {"ok": true}; `send` emits a message-shaped object to the room (the sender included) and
// acks {"ok": true, "message": ...}; GET /healthz answers 200 for the readiness wait.
// One process, no Redis: the fanout scenario runs one server process per system.
//
//     node bench/node_relay/relay.js --port 9000 [--host 127.0.0.1]

import { createServer } from "node:http";
import { parseArgs } from "node:util";
import { Server } from "socket.io";

const AUTHOR = { id: 0, display_name: "relay", role: "patient" };

function listenAddress() {
  const { values } = parseArgs({
    options: {
      host: { type: "string", default: "127.0.0.1" },
      port: { type: "string" },
    },
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) {
    throw new Error(`--port must be a TCP port, not ${values.port}`);
  }
  return { host: values.host, port };
}

// Python's datetime.isoformat(timespec="milliseconds") in UTC ends in "+00:00" where
// toISOString ends in "Z": the same text keeps the payloads the same size for both relays.
function createdAt() {
  return new Date().toISOString().replace("Z", "+00:00");
}

function roomName(roomId) {
  return `room:${roomId}`;
}

// Requests socket.io does not take (anything outside /socket.io/) come here.
function answerHttp(request, response) {
  if (request.method === "GET" && request.url === "/healthz") {
    response.writeHead(200, { "content-type": "application/json" });
    response.end('{"ok":true}');
    return;
  }
  response.writeHead(404);
  response.end();
}

function relayEvents(io) {
  let nextId = 1;
  io.on("connection", (socket) => {
    socket.on("join", (data, ack) => {
      socket.join(roomName(data.room_id));
      if (typeof ack === "function") ack({ ok: true });
    });
    socket.on("send", (data, ack) => {
      const message = {
        id: nextId++,
        room_id: data.room_id,
        author: AUTHOR,
        body: data.body,
        client_id: data.client_id,
        created_at: createdAt(),
        edited_at: null,
        deleted: false,
        reactions: {},
      };
      // io.to, not socket.to: the sender gets its own message too, as from both servers.
      io.to(roomName(data.room_id)).emit("message", message);
      if (typeof ack === "function") ack({ ok: true, message });
    });
  });
}

function main() {
  const { host, port } = listenAddress();
  const http = createServer(answerHttp);
  relayEvents(new Server(http));
  http.listen(port, host);
}

main();
