/** NATS subjects and KV buckets shared by edges and media nodes. */
export const subjects = {
  /** Request/reply commands to one node. */
  nodeRpc: (nodeId: string) => `weir.node.${nodeId}.rpc`,
  /** Node -> node requests (room snapshots, data bridges, liveness); never from the edge. */
  nodePeer: (nodeId: string) => `weir.node.${nodeId}.peer`,
  /** Node -> node media relay commands (`relay.*`); never from the edge. */
  nodeRelay: (nodeId: string) => `weir.node.${nodeId}.relay`,
  /** Node -> edge events for one client session (WebSocket). */
  sessionEvents: (sessionId: string) => `weir.session.${sessionId}.events`,
  /** Room-wide events; every node with sessions in the room listens. */
  roomEvents: (room: string) => `weir.room.${room}.events`,
  /** Each node's speaking participants of a room (RoomSpeakersMessage); nodes only. */
  roomSpeakers: (room: string) => `weir.room.${room}.speakers`,
  /** The messages of one DataPublisher, for the nodes that asked for them (`data.want`). */
  dataMessages: (room: string, dataPublisherId: string) => `weir.data.${room}.${dataPublisherId}`,
} as const;

export const KV_NODES = "weir-nodes";
export const KV_ROOMS = "weir-rooms";
